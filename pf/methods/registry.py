"""Method name -> implementing class, imported lazily.

Adding a method = writing its module and adding one entry here; no other method changes.
This module imports no torch, so the workflow can read each method's exit rule cheaply.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pf.errors import unknown

if TYPE_CHECKING:
    from pf.backbones import LayerwiseEncoder


@dataclass(frozen=True)
class MethodEntry:
    target: str          # "module:Class"
    exit_rule: str       # entropy | patience | last (must equal the class's `exit_rule`)
    per_target: bool = False   # one model per speed-up target (m = n / r layers)
    teacher: bool = False      # needs a fine-tuned `full` teacher


REGISTRY: dict[str, MethodEntry] = {
    "pf": MethodEntry("pf.methods.past_future:PastFutureModel", "entropy"),
    "deebert": MethodEntry("pf.methods.deebert:DeebertModel", "entropy"),
    "pabee": MethodEntry("pf.methods.pabee:PabeeModel", "patience"),
    "full": MethodEntry("pf.methods.single_exit:SingleExitModel", "last"),
    "truncated": MethodEntry("pf.methods.single_exit:TruncatedModel", "last", per_target=True),
    "kd": MethodEntry("pf.methods.distill:KdModel", "last", per_target=True, teacher=True),
    "pkd": MethodEntry("pf.methods.distill:PkdModel", "last", per_target=True, teacher=True),
    "tinybert": MethodEntry("pf.methods.distill:TinyBertModel", "last", per_target=True,
                            teacher=True),
}
METHODS: dict[str, str] = {name: entry.target for name, entry in REGISTRY.items()}


def method_names() -> tuple[str, ...]:
    return tuple(METHODS)


def get_method(name: str):
    """The MultiExitModel subclass registered as `name` (PfError with a suggestion if unknown)."""
    if name not in METHODS:
        raise unknown("method", name, METHODS)
    module, cls = METHODS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def parse_method_options(name: str, options: dict[str, Any] | None):
    """Validate `options` for method `name` without building a model."""
    from pf.methods.options import parse_options

    cls = get_method(name)
    return parse_options(name, cls.options_class, options)


def build_model(method: str, options: dict[str, Any] | None, encoder: "LayerwiseEncoder",
                num_labels: int, *, load_teacher: bool = True):
    """Build method `method` around `encoder`; heads are initialised from the global torch RNG
    (seed it first). Distillation students load their teacher unless load_teacher=False
    (used when restoring a trained student, whose teacher is not needed)."""
    cls = get_method(method)
    return cls.create(encoder, num_labels, options, load_teacher=load_teacher)
