"""The real early-exit engine: layer by layer, exited rows leave the batch.

`run_engine(model, inputs, rule, param, batch_size)` runs a trained `MultiExitModel`
(`pf.methods.base`) on batches: embed, attention bias, then for every layer
`encoder.layer(i, ...)` and `model.exit_step(i, ...)`. After each exit the examples that
exit are removed from the batch together with their hidden states, attention-bias rows and
every tensor of the method's per-example exit state (and, for the patience rule, the
engine's own counter and previous prediction), so the work per layer falls as examples
leave. A batch stops as soon as it is empty.

The decisions are the rule's own engine step (`ExitRule.engine_step`, pf/exits/rule.py:
entropy strictly below tau in float64 through a log-softmax; PABEE's patience counter,
carried per row; the last exit; or a plug-in's rule), which must equal the rule's decision
over recorded logits, so the engine's exit layers and predictions equal the simulation. The
only admissible differences are examples the step flags as near a decision (entropy within
`near_eps` of tau, top-2 logits within `near_eps`, ...) at an exit they passed: different
batch compositions may change logits in the last bits. The engine flags those examples
(`EngineResult.near`), and `compare_to_simulation` counts agreements, near-threshold cases
and real mismatches.

Batches are formed as everywhere else (pf.train.data.encoder_batches): rows grouped by
length and each batch cut to its longest row; results come back in the rows' original
order. Dropping the exited rows costs one index per exit (`nonzero`, the only host
synchronisation of an exit); every tensor is then selected with it, and exits are recorded
by indexed writes that need no host value.

Public API: `run_engine` (a whole split), `run_batch` (one formed batch: what `pf latency`
times), `compare_to_simulation`, `record_logits`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pf.errors import PfError
from pf.exits.registry import get_rule
from pf.train.data import encoder_batches, plan_batches, restore_order


@dataclass(frozen=True)
class EngineResult:
    exit_index: np.ndarray   # [N] int64, 1-based over the model's exits
    exit_layer: np.ndarray   # [N] int64, 1-based backbone layer
    prediction: np.ndarray   # [N] int64
    near: np.ndarray         # [N] bool: a decision of this example was within near_eps
    layer_rows: int          # Σ over layers of the rows the layer was run on
    n_layers: int            # backbone depth used for the speed-up (n_layers_full)

    @property
    def speedup(self) -> float:
        """Equation 15 from the exits actually taken."""
        return float(self.n_layers) * self.exit_layer.size / float(self.exit_layer.sum())


@dataclass(frozen=True)
class Agreement:
    n: int
    n_equal: int             # same exit and same prediction
    n_near: int              # flagged near-threshold (by the engine or by the simulation)
    n_mismatch_near: int     # differ, but flagged near-threshold (admissible)
    n_mismatch_far: int      # differ and not near the threshold: a bug

    @property
    def ok(self) -> bool:
        return self.n_mismatch_far == 0


@torch.inference_mode()
def run_batch(model, inputs, rule: str, param, near_eps: float = 1e-6, track_near: bool = True
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """One batch -> (exit_index [B], prediction [B], near [B]) on the model's device, and
    the number of layer-rows computed. `track_near=False` skips the near-threshold flags
    (diagnostics only; the timed runs of `pf latency` leave them out)."""
    exit_rule = get_rule(rule)
    param = exit_rule.check_param(param)
    rule_step = exit_rule.engine()
    enc = model.encoder
    h = enc.embed(inputs)
    bias = enc.attention_bias(inputs.attention_mask, h.dtype)
    b = h.shape[0]
    dev = h.device
    state = model.start_state(inputs)
    carry: dict[str, torch.Tensor] = {}                 # the rule's own per-row state
    rows = torch.arange(b, device=dev)                  # original row of each remaining row
    exit_index = torch.zeros(b, dtype=torch.long, device=dev)
    prediction = torch.zeros(b, dtype=torch.long, device=dev)
    near = torch.zeros(b, dtype=torch.bool, device=dev)
    n_exits = len(model.exit_layers)
    e = 0
    layer_rows = 0
    for i in range(enc.n_layers):
        h = enc.layer(i, h, bias)
        layer_rows += h.shape[0]
        logits, state = model.exit_step(i, h, state)
        if logits is None:
            continue
        e += 1
        pred = logits.argmax(dim=-1)
        step = rule_step(logits, pred, param, carry, last=e == n_exits, eps=near_eps,
                         track_near=track_near)
        if track_near and step.near is not None:
            near[rows] |= step.near
        if e == n_exits:
            exit_index[rows] = e
            prediction[rows] = pred
            break
        carry = step.carry
        if step.exits is None:                      # nobody leaves here
            continue
        out = step.exits
        keep = (~out).nonzero().squeeze(1)          # the one host synchronisation here
        n_keep = int(keep.shape[0])
        if n_keep == rows.shape[0]:
            continue
        # rows still running get e and pred too, and overwrite them when they exit
        exit_index[rows] = out.long() * e
        prediction[rows] = pred
        if n_keep == 0:
            break
        rows = rows.index_select(0, keep)
        h = h.index_select(0, keep)
        bias = bias.index_select(0, keep)
        state = {k: v.index_select(0, keep) for k, v in state.items()}
        carry = {k: v.index_select(0, keep) for k, v in carry.items()}
    return exit_index, prediction, near, layer_rows


def run_engine(model, inputs, rule: str, param=None, batch_size: int = 32,
               near_eps: float = 1e-6, device: torch.device | str | None = None,
               group_by_length: bool = True) -> EngineResult:
    """Early-exit inference over all rows of `inputs` (an `EncoderInputs`), results in the
    rows' order."""
    param = get_rule(rule).check_param(param)
    if batch_size < 1:
        raise PfError(f"batch size must be >= 1; got {batch_size}")
    if device is None:
        device = next(model.parameters()).device
    model.eval()
    n = inputs.input_ids.shape[0]
    layers = np.asarray(model.exit_layers, dtype=np.int64)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return EngineResult(empty, empty, empty, np.zeros(0, bool), 0, int(model.n_layers_full))
    batches = plan_batches(inputs, batch_size, group_by_length)
    chunks = []
    layer_rows = 0
    for batch in encoder_batches(inputs, batches, device):
        ei, p, nr, lr = run_batch(model, batch, rule, param, near_eps)
        chunks.append(torch.stack([ei, p, nr.long()], dim=1))
        layer_rows += lr
    res = restore_order(chunks, batches).cpu().numpy().astype(np.int64)   # one copy
    exit_index = res[:, 0]
    return EngineResult(
        exit_index=exit_index,
        exit_layer=layers[exit_index - 1],
        prediction=res[:, 1],
        near=res[:, 2].astype(bool),
        layer_rows=layer_rows,
        n_layers=int(model.n_layers_full),
    )


def compare_to_simulation(result: EngineResult, logits: np.ndarray, rule: str, param,
                          near_eps: float = 1e-6) -> Agreement:
    """Compare engine exits with `pf.exits` applied to recorded logits of the same rows."""
    from pf import exits

    dec = exits.apply_rule(logits, rule, param)
    sim_near = exits.near_threshold(logits, rule, param, near_eps)
    if dec.exit_index.shape != result.exit_index.shape:
        raise PfError(f"engine ran {result.exit_index.size} examples, simulation "
                      f"{dec.exit_index.size}")
    equal = (dec.exit_index == result.exit_index) & (dec.prediction == result.prediction)
    near = sim_near | result.near
    return Agreement(n=int(equal.size), n_equal=int(equal.sum()), n_near=int(near.sum()),
                     n_mismatch_near=int((~equal & near).sum()),
                     n_mismatch_far=int((~equal & ~near).sum()))


@torch.inference_mode()
def record_logits(model, inputs, batch_size: int = 32,
                  device: torch.device | str | None = None, group_by_length: bool = True,
                  trim: bool = True) -> np.ndarray:
    """Every exit's logits [N, E, C] through `model.forward` (what `pf outputs` records), in
    the rows' order. `group_by_length=False, trim=False` is the fully padded computation."""
    if device is None:
        device = next(model.parameters()).device
    model.eval()
    batches = plan_batches(inputs, batch_size, group_by_length)
    out = [model(b).logits.float() for b in encoder_batches(inputs, batches, device, trim)]
    return restore_order(out, batches).cpu().numpy()
