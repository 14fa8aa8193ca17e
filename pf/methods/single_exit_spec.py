"""Specs and options of `full` and `truncated` (torch-free; the models: single_exit.py)."""

from __future__ import annotations

from dataclasses import dataclass

from pf.errors import PfError
from pf.methods.cost_model import Dims, single_exit_head
from pf.methods.options import MethodOptions, check_range
from pf.methods.spec import MethodSpec


@dataclass(frozen=True)
class FullOptions(MethodOptions):
    dropout: float | None = None      # classifier dropout; None = the backbone's (dropout_p)

    def check(self, method: str) -> None:
        check_range(method, "dropout", self.dropout, 0.0, 1.0)


@dataclass(frozen=True)
class TruncatedOptions(FullOptions):
    layers: int | None = None         # m, the number of lower layers kept (required)

    def check(self, method: str) -> None:
        super().check(method)
        if self.layers is None:
            raise PfError(f"method '{method}': option 'layers' (number of layers kept) is required")
        check_range(method, "layers", self.layers, 1)


def kept_layers(dims: Dims, options) -> int:
    """m of a model keeping the lower layers (truncated, students); n/2 when not given."""
    return int(options.get("layers", max(1, dims.layers // 2)))


FULL = MethodSpec(
    name="full", model="pf.methods.single_exit:SingleExitModel", options=FullOptions,
    exit_rule="last", label="{backbone}", reference=True,
    head_cost=lambda dims, options: single_exit_head(dims, dims.layers),
    description="the fine-tuned backbone, one classifier after the last layer (1.00x)")

TRUNCATED = MethodSpec(
    name="truncated", model="pf.methods.single_exit:TruncatedModel", options=TruncatedOptions,
    exit_rule="last", label="{backbone}-{m}L", per_target=True,
    head_cost=lambda dims, options: single_exit_head(dims, kept_layers(dims, options)),
    cost_rows=lambda dims: [(f"truncated ({max(1, dims.layers // 2)}L)",
                             {"layers": max(1, dims.layers // 2)})],
    description="the lower m layers of the backbone, fine-tuned (BERT-mL)")
