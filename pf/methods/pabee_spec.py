"""Spec and options of `pabee` (torch-free; the model: pabee.py)."""

from __future__ import annotations

from dataclasses import dataclass

from pf.methods.cost_model import HeadShape, linear_params, pooler_classifier_flops
from pf.methods.options import MethodOptions, check_range
from pf.methods.spec import MethodSpec


@dataclass(frozen=True)
class PabeeOptions(MethodOptions):
    dropout: float | None = None      # classifier dropout; None = the backbone's (dropout_p)

    def check(self, method: str) -> None:
        check_range(method, "dropout", self.dropout, 0.0, 1.0)


def head_cost(dims, options) -> HeadShape:
    """A classifier per layer on the shared (pretrained) pooler."""
    n = dims.layers
    return HeadShape(n * linear_params(dims.hidden, dims.labels), list(range(1, n + 1)),
                     [pooler_classifier_flops(dims)] * n)


PABEE = MethodSpec(
    name="pabee", model="pf.methods.pabee:PabeeModel", options=PabeeOptions,
    exit_rule="patience", label="PABEE", head_cost=head_cost,
    description="PABEE (Zhou et al. 2020): patience-based early exit")
