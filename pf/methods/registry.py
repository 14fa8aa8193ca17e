"""Method name -> implementing class, imported lazily.

Adding a method = writing its module and adding one line here; no other method changes.
"""

from __future__ import annotations

import importlib
from typing import Any

from pf.backbones import LayerwiseEncoder
from pf.errors import unknown

# name -> "module:Class"
METHODS: dict[str, str] = {
    "pf": "pf.methods.past_future:PastFutureModel",
    "deebert": "pf.methods.deebert:DeebertModel",
    "pabee": "pf.methods.pabee:PabeeModel",
    "full": "pf.methods.single_exit:SingleExitModel",
    "truncated": "pf.methods.single_exit:TruncatedModel",
    "kd": "pf.methods.distill:KdModel",
    "pkd": "pf.methods.distill:PkdModel",
    "tinybert": "pf.methods.distill:TinyBertModel",
}


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


def build_model(method: str, options: dict[str, Any] | None, encoder: LayerwiseEncoder,
                num_labels: int, *, load_teacher: bool = True):
    """Build method `method` around `encoder`; heads are initialised from the global torch RNG
    (seed it first). Distillation students load their teacher unless load_teacher=False
    (used when restoring a trained student, whose teacher is not needed)."""
    cls = get_method(method)
    return cls.create(encoder, num_labels, options, load_teacher=load_teacher)
