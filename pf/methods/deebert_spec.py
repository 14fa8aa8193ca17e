"""Spec and options of `deebert` (torch-free; the model: deebert.py)."""

from __future__ import annotations

from dataclasses import dataclass

from pf.methods.cost_model import HeadShape, linear_params, pooler_classifier_flops
from pf.methods.options import MethodOptions, check_range
from pf.methods.spec import MethodSpec


@dataclass(frozen=True)
class DeebertOptions(MethodOptions):
    dropout: float | None = None      # off-ramp/classifier dropout; None = the backbone's (dropout_p)

    def check(self, method: str) -> None:
        check_range(method, "dropout", self.dropout, 0.0, 1.0)


def head_cost(dims, options) -> HeadShape:
    """Off-ramps 1..n-1 (a pooler copy and a classifier each) and the final classifier."""
    d, n, C = dims.hidden, dims.layers, dims.labels
    params = (n - 1) * (linear_params(d, d) + linear_params(d, C)) + linear_params(d, C)
    return HeadShape(params, list(range(1, n + 1)), [pooler_classifier_flops(dims)] * n)


DEEBERT = MethodSpec(
    name="deebert", model="pf.methods.deebert:DeebertModel", options=DeebertOptions,
    exit_rule="entropy", label="DeeBERT", head_cost=head_cost,
    description="DeeBERT (Xin et al. 2020): off-ramps trained in a second stage")
