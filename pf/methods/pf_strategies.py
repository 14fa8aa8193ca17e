"""Vector-level aggregation strategies G of Past-Future, with incremental state.

`past(i, s, state, keep_grad)` folds the state s_i of exit i (1-based) into what the head
carries from layers 1..i-1 and returns s_p = G(s_1..s_i) plus the new state, touching
O(1) states per layer (running max/sum, LSTM (h, c)) or the stacked past states (attn and the
paper's concat, which need them all by definition). `keep_grad=False` stores the detached
state, so that at exit i only s_i carries gradient (released code); the paper variant keeps
the graph.
`future(i, shat, query)` aggregates the imitated states s_hat_{i+1..n} [B, n-i, d] with the
same strategy family (separate parameters where the family has any).

Definitions (d = hidden size):
  max    element-wise max;  avg  mean
  attn   parameter-free scaled dot-product attention, softmax over the states, query = s_i
         (for the future term the query is also s_i, the state the imitation starts from)
  concat linear map of the concatenated states to d: exit i owns the blocks A[i, k] (k <= i)
         for the past and A[i, j] (j > i) for the future, stored as one [n, n, d, d] tensor
  lstm   unidirectional LSTM cell over the states in layer order, last hidden output
"""

from __future__ import annotations

import math

import torch
from torch import nn

from pf.methods.base import ExitState


def _keep(t: torch.Tensor, keep_grad: bool) -> torch.Tensor:
    return t if keep_grad else t.detach()


def _attend(keys: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    scores = torch.einsum("bkd,bd->bk", keys, query) / math.sqrt(query.shape[-1])
    return torch.einsum("bk,bkd->bd", scores.softmax(-1), keys)


class Strategy(nn.Module):
    name = ""

    def __init__(self, n: int, d: int, init_range: float):
        super().__init__()
        self.n, self.d = n, d

    def past(self, i: int, s: torch.Tensor, state: ExitState, keep_grad: bool
             ) -> tuple[torch.Tensor, ExitState]:
        raise NotImplementedError

    def future(self, i: int, shat: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class MaxStrategy(Strategy):
    name = "max"

    def past(self, i, s, state, keep_grad):
        prev = state.get("g_max")
        sp = s if prev is None else torch.maximum(prev, s)
        stored = _keep(s, keep_grad)
        new = stored if prev is None else torch.maximum(prev, stored)
        return sp, {**state, "g_max": new}

    def future(self, i, shat, query):
        return shat.max(dim=1).values


class AvgStrategy(Strategy):
    name = "avg"

    def past(self, i, s, state, keep_grad):
        prev = state.get("g_sum")
        total = s if prev is None else prev + s
        stored = _keep(s, keep_grad)
        return total / i, {**state, "g_sum": stored if prev is None else prev + stored}

    def future(self, i, shat, query):
        return shat.mean(dim=1)


class AttnStrategy(Strategy):
    name = "attn"

    def past(self, i, s, state, keep_grad):
        prev = state.get("g_stack")
        keys = s[:, None] if prev is None else torch.cat([prev, s[:, None]], dim=1)
        stored = _keep(s, keep_grad)[:, None]
        new = stored if prev is None else torch.cat([prev, stored], dim=1)
        return _attend(keys, s), {**state, "g_stack": new}

    def future(self, i, shat, query):
        return _attend(shat, query)


class ConcatStrategy(Strategy):
    """The paper's concat: per-exit linear map of the concatenated states (see module doc)."""

    name = "concat"

    def __init__(self, n, d, init_range):
        super().__init__(n, d, init_range)
        self.blocks = nn.Parameter(torch.randn(n, n, d, d) * init_range)   # [exit, layer, out, in]
        self.past_bias = nn.Parameter(torch.zeros(n, d))
        self.future_bias = nn.Parameter(torch.zeros(n, d))

    def past(self, i, s, state, keep_grad):
        prev = state.get("g_stack")
        keys = s[:, None] if prev is None else torch.cat([prev, s[:, None]], dim=1)
        stored = _keep(s, keep_grad)[:, None]
        new = stored if prev is None else torch.cat([prev, stored], dim=1)
        sp = torch.einsum("bkd,ked->be", keys, self.blocks[i - 1, :i]) + self.past_bias[i - 1]
        return sp, {**state, "g_stack": new}

    def future(self, i, shat, query):
        return torch.einsum("bjd,jed->be", shat, self.blocks[i - 1, i:]) + self.future_bias[i - 1]


class LstmStrategy(Strategy):
    name = "lstm"

    def __init__(self, n, d, init_range):
        super().__init__(n, d, init_range)
        self.past_cell = nn.LSTMCell(d, d)
        self.future_cell = nn.LSTMCell(d, d)

    def past(self, i, s, state, keep_grad):
        hc = (state["g_h"], state["g_c"]) if "g_h" in state else None
        h, c = self.past_cell(s, hc)
        return h, {**state, "g_h": _keep(h, keep_grad), "g_c": _keep(c, keep_grad)}

    def future(self, i, shat, query):
        hc = None
        for j in range(shat.shape[1]):
            hc = self.future_cell(shat[:, j], hc)
        return hc[0]


STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (MaxStrategy, AvgStrategy, AttnStrategy, ConcatStrategy, LstmStrategy)
}
