"""The arithmetic of exit-head costs, shared by every method's cost function (torch-free).

Conventions (stated once, used for every method; `pf costs` prints the table):
- FLOPs are per example, at inference; a multiply-add counts as 2 FLOPs. Only matrix
  products are counted: biases, activations (tanh, sigmoid, GELU, softmax), LayerNorm and
  element-wise max/mean/add are ignored, for heads and transformer layers alike.
- One transformer layer at sequence length L: 2 * (L * (4 d^2 + 2 d d_ff) + 2 L^2 d)
  (Q, K, V, output projections; feed-forward; attention scores and context).
- Head FLOPs at exit i are the work done after layer i for that exit: heads read the [CLS]
  vector only. Poolers are counted (including the backbone's own pooler where a method uses
  it), since they run once per exit.
- Parameters added = parameters outside the backbone (the pretrained pooler is part of the
  backbone; copies of it in a head count).
A method's cost function (`MethodSpec.head_cost`) maps (Dims, options) to a `HeadShape`;
tests check its parameter count against the real model.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dims:
    hidden: int = 768
    layers: int = 12
    seq_len: int = 128
    labels: int = 2
    intermediate: int | None = None      # default 4 * hidden

    @property
    def d_ff(self) -> int:
        return self.intermediate or 4 * self.hidden


@dataclass(frozen=True)
class HeadShape:
    """What a method's heads add: parameters, and FLOPs at each of its exits."""

    params: int                      # parameters added to the backbone
    exit_layers: list[int]           # 1-based
    flops_per_exit: list[int]        # head FLOPs at each exit, per example


def layer_flops(dims: Dims) -> int:
    d, L = dims.hidden, dims.seq_len
    return 2 * (L * (4 * d * d + 2 * d * dims.d_ff) + 2 * L * L * d)


def linear_params(i: int, o: int) -> int:
    """Parameters of Linear(i, o) with bias."""
    return i * o + o


def pooler_classifier_flops(dims: Dims) -> int:
    """A pooler (d -> d) and a classifier (d -> C) on the [CLS] vector."""
    return 2 * dims.hidden * dims.hidden + 2 * dims.hidden * dims.labels


def single_exit_head(dims: Dims, m: int) -> HeadShape:
    """The backbone's pooler and a new classifier after layer m (full, truncated, students)."""
    return HeadShape(linear_params(dims.hidden, dims.labels), [m], [pooler_classifier_flops(dims)])
