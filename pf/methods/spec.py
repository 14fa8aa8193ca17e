"""`MethodSpec`: everything pf knows about a method, in one torch-free descriptor.

The workflow, the config checks, `pf costs`, the reports and the engine read a method from its
spec and from nowhere else; only building the model imports its (torch) class. Built-in
specs live beside their models (pf/methods/*_spec.py); a plug-in registers its own with
`pf.methods.registry.register_method` (README, "Add your own method").
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pf.errors import PfError
from pf.methods.cost_model import Dims, HeadShape
from pf.methods.options import MethodOptions

Label = str | Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True)
class MethodSpec:
    name: str                # registry key: `method:` in a config, `pf train --method`
    model: str               # "module:Class" of its MultiExitModel, imported on first use
    options: type            # its options dataclass (a MethodOptions; must not import torch)
    exit_rule: str           # the exit rule its exits use (a pf.exits.registry name)
    # Default row label in tables and figures, or a function of the variant's options giving
    # one; may use {backbone} (the backbone's label), {n} (its layers), {m} (layers kept).
    label: Label
    # (Dims, options) -> HeadShape: parameters and FLOPs its heads add (`pf costs`)
    head_cost: Callable[[Dims, Mapping[str, Any]], HeadShape] | None = None
    # Dims -> [(row name, options)]: its rows in `pf costs` (default: one row, no options)
    cost_rows: Callable[[Dims], list[tuple[str, dict[str, Any]]]] | None = None
    per_target: bool = False           # one model per target speed-up r (m = n / r layers)
    teacher: bool = False              # trained from a fine-tuned teacher variant
    uses_frozen_layers: bool = False   # takes the workflow's `frozen_layers` option
    reference: bool = False            # the unaccelerated model of a table (never bold)
    description: str = ""

    def __post_init__(self) -> None:
        where = f"method '{self.name}'"
        if not self.name or not isinstance(self.name, str):
            raise PfError("a method needs a non-empty name")
        if not (dataclasses.is_dataclass(self.options) and isinstance(self.options, type)
                and issubclass(self.options, MethodOptions)):
            raise PfError(f"{where}: options must be a dataclass subclassing "
                          f"pf.methods.options.MethodOptions")
        if ":" not in self.model:
            raise PfError(f"{where}: model must be 'module:Class', got {self.model!r}")

    def model_class(self):
        """The MultiExitModel subclass (imports its module, and torch)."""
        module, _, cls = self.model.partition(":")
        try:
            return getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError) as err:
            raise PfError(f"method '{self.name}': cannot import its model {self.model} "
                          f"({err})") from None

    def label_for(self, options: Mapping[str, Any] | None = None) -> str:
        """The default label template of a variant of this method with `options`."""
        return self.label(dict(options or {})) if callable(self.label) else self.label

    def option_default(self, key: str) -> Any:
        """The default of one field of the options dataclass."""
        for f in dataclasses.fields(self.options):
            if f.name == key:
                return f.default
        raise PfError(f"method '{self.name}' has no option '{key}'")

    def costs(self, dims: Dims, options: Mapping[str, Any] | None = None) -> HeadShape:
        if self.head_cost is None:
            raise PfError(f"method '{self.name}' declares no head cost (MethodSpec.head_cost)")
        return self.head_cost(dims, dict(options or {}))

    def rows_of_costs(self, dims: Dims) -> list[tuple[str, dict[str, Any]]]:
        if self.head_cost is None:
            return []
        return [(self.name, {})] if self.cost_rows is None else self.cost_rows(dims)
