"""The real early-exit engine: layer by layer, exited rows leave the batch.

`run_engine(model, inputs, rule, param, batch_size)` runs a trained `MultiExitModel`
(`pf.methods.base`) on batches: embed, attention bias, then for every layer
`encoder.layer(i, ...)` and `model.exit_step(i, ...)`. After each exit the examples that
exit are removed from the batch together with their hidden states, attention-bias rows and
every tensor of the method's per-example exit state (and, for the patience rule, the
engine's own counter and previous prediction), so the work per layer falls as examples
leave. A batch stops as soon as it is empty.

The decisions are the rules of `pf.exits` (entropy strictly below tau, in float64 through
a log-softmax; PABEE's patience counter; the last exit), so the engine's exit layers and
predictions equal the simulation over recorded logits. The only admissible differences are
examples whose entropy lies within `near_eps` of tau (or whose top-2 logits are within
`near_eps`, for patience) at an exit they passed: different batch compositions may change
logits in the last bits. The engine flags those examples (`EngineResult.near`), and
`compare_to_simulation` counts agreements, near-threshold cases and real mismatches.

Batches are formed as everywhere else (pf.train.data): rows grouped by length and each
batch cut to its longest row; results come back in the rows' original order. Dropping the
exited rows costs one index per exit (`nonzero`, the only host synchronisation of an
exit); every tensor is then selected with it, and exits are recorded by indexed writes
that need no host value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pf.errors import PfError, unknown

RULES = ("entropy", "patience", "last")


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


def _check_rule(rule: str, param) -> None:
    if rule not in RULES:
        raise unknown("exit rule", rule, RULES)
    if rule == "entropy" and param is None:
        raise PfError("the entropy rule needs a threshold tau")
    if rule == "patience":
        if param is None or int(param) < 0:
            raise PfError(f"the patience rule needs a patience >= 0; got {param}")


def _entropy64(logits: torch.Tensor) -> torch.Tensor:
    logp = torch.log_softmax(logits.double(), dim=-1)
    return -(logp.exp() * logp).sum(dim=-1)


def _top2_tied(logits: torch.Tensor, eps: float) -> torch.Tensor:
    if logits.shape[-1] < 2:
        return torch.zeros(logits.shape[0], dtype=torch.bool, device=logits.device)
    top = logits.double().topk(2, dim=-1).values
    return (top[:, 0] - top[:, 1]) <= eps


@torch.inference_mode()
def run_batch(model, inputs, rule: str, param, near_eps: float = 1e-6, track_near: bool = True
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """One batch -> (exit_index [B], prediction [B], near [B]) on the model's device, and
    the number of layer-rows computed. `track_near=False` skips the near-threshold flags
    (diagnostics only; the timed runs of `pf latency` leave them out)."""
    enc = model.encoder
    h = enc.embed(inputs)
    bias = enc.attention_bias(inputs.attention_mask, h.dtype)
    b = h.shape[0]
    dev = h.device
    state = model.start_state(inputs)
    rows = torch.arange(b, device=dev)                  # original row of each remaining row
    exit_index = torch.zeros(b, dtype=torch.long, device=dev)
    prediction = torch.zeros(b, dtype=torch.long, device=dev)
    near = torch.zeros(b, dtype=torch.bool, device=dev)
    n_exits = len(model.exit_layers)
    tau = float(param) if rule == "entropy" else 0.0
    patience = int(param) if rule == "patience" else 0
    counter = prev = None
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
        if e == n_exits:
            if rule == "last" and track_near:
                near[rows] |= _top2_tied(logits, near_eps)
            exit_index[rows] = e
            prediction[rows] = pred
            break
        if rule == "entropy":
            ent = _entropy64(logits)
            out = ent < tau
            if track_near:
                near[rows] |= (ent - tau).abs() <= near_eps
        elif rule == "patience":
            if track_near:
                near[rows] |= _top2_tied(logits, near_eps)
            if counter is None:
                counter = torch.zeros_like(pred)
            else:
                counter = torch.where(pred == prev, counter + 1, torch.zeros_like(counter))
            prev = pred
            out = counter >= patience if patience > 0 else torch.zeros_like(pred, dtype=torch.bool)
        else:
            continue
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
        if counter is not None:
            counter = counter.index_select(0, keep)
            prev = prev.index_select(0, keep)
    return exit_index, prediction, near, layer_rows


def plan_batches(inputs, batch_size: int, group_by_length: bool = True) -> list[torch.Tensor]:
    """Row indices of each batch: grouped by length (pf.train.data) or in order."""
    from pf.train.data import length_grouped

    n = inputs.input_ids.shape[0]
    if group_by_length:
        return length_grouped(inputs.lengths(), batch_size)
    return [torch.arange(s, min(n, s + batch_size)) for s in range(0, n, batch_size)]


def form_batches(inputs, batches: list[torch.Tensor], device, trim: bool = True) -> list:
    """The `EncoderInputs` of each batch on `device`, cut to its longest row."""
    lengths = inputs.lengths()
    out = []
    for rows in batches:
        b = inputs.select(rows)
        if trim:
            b = b.trim(int(lengths[rows].max()))
        out.append(b.to(device))
    return out


def _restore(chunks: list[torch.Tensor], batches: list[torch.Tensor]) -> torch.Tensor:
    from pf.train.data import restore_order

    return restore_order(chunks, batches)


def run_engine(model, inputs, rule: str, param=None, batch_size: int = 32,
               near_eps: float = 1e-6, device: torch.device | str | None = None,
               group_by_length: bool = True) -> EngineResult:
    """Early-exit inference over all rows of `inputs` (an `EncoderInputs`), results in the
    rows' order."""
    _check_rule(rule, param)
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
    for batch in form_batches(inputs, batches, device):
        ei, p, nr, lr = run_batch(model, batch, rule, param, near_eps)
        chunks.append(torch.stack([ei, p, nr.long()], dim=1))
        layer_rows += lr
    res = _restore(chunks, batches).cpu().numpy().astype(np.int64)   # one copy
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
    out = [model(b).logits.float() for b in form_batches(inputs, batches, device, trim)]
    return _restore(out, batches).cpu().numpy()
