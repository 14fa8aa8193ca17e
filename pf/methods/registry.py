"""The methods pf knows, by name: the built-in ones and those plug-ins register.

    from pf.methods.registry import register_method
    from pf.methods.spec import MethodSpec
from pf.registry import Registry
    register_method(MethodSpec(name="berxit", model="my_models:Berxit", options=BerxitOptions,
                               exit_rule="entropy", label="BERxiT", head_cost=...))

Everything that names a method looks it up here. This module and the specs import no torch,
so the workflow reads the methods cheaply; `get_method` imports a model class when a model
is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pf.methods.deebert_spec import DEEBERT
from pf.methods.distill_spec import KD, PKD, TINYBERT
from pf.methods.options import parse_options
from pf.methods.pabee_spec import PABEE
from pf.methods.past_future_spec import PAST_FUTURE
from pf.methods.single_exit_spec import FULL, TRUNCATED
from pf.methods.spec import MethodSpec
from pf.registry import Registry

if TYPE_CHECKING:
    from pf.backbones import LayerwiseEncoder

METHODS: Registry[MethodSpec] = Registry("method", MethodSpec)
# Add a method (a plug-in's): PfError if its name is taken by another.
register_method = METHODS.register
# The spec registered as a name (PfError with a suggestion if unknown).
method_spec = METHODS.lookup


# in the order of the paper's tables (and of `pf costs`)
for _spec in (FULL, TRUNCATED, DEEBERT, PABEE, PAST_FUTURE, KD, PKD, TINYBERT):
    register_method(_spec)


def method_names() -> tuple[str, ...]:
    return tuple(METHODS)


def get_method(name: str):
    """The MultiExitModel subclass registered as `name` (imports torch)."""
    return method_spec(name).model_class()


def parse_method_options(name: str, options: dict[str, Any] | None):
    """Validate `options` for method `name` without building a model (torch-free)."""
    return parse_options(name, method_spec(name).options, options)


def build_model(method: str, options: dict[str, Any] | None, encoder: "LayerwiseEncoder",
                num_labels: int, *, load_teacher: bool = True):
    """Build method `method` around `encoder`; heads are initialised from the global torch RNG
    (seed it first). Distillation students load their teacher unless load_teacher=False
    (used when restoring a trained student, whose teacher is not needed)."""
    cls = get_method(method)
    return cls.create(encoder, num_labels, options, load_teacher=load_teacher)
