"""The patience rule (PABEE): a counter starts at 0 at the first exit, rises by one when an
exit's argmax equals the previous exit's and resets to 0 otherwise; the example exits at the
first exit where the counter reaches `patience` (so the earliest exit is number patience+1);
otherwise at the last exit. Patience 0 means no early exit (everyone at the last exit), as in
PABEE's original code; sweeps leave it out (it equals patience E-1).
"""

from __future__ import annotations

import numpy as np

from pf.exits.decision import ExitDecision, check_logits, first_true, near_tie, take
from pf.exits.rule import EngineExit, ExitRule

NAME = "patience"


def patience_counters(preds: np.ndarray) -> np.ndarray:
    """PABEE's counter at every exit for argmax predictions [N, E] -> [N, E] int64."""
    n, e = preds.shape
    pos = np.broadcast_to(np.arange(e, dtype=np.int64), (n, e))
    reset = np.ones((n, e), dtype=bool)
    reset[:, 1:] = preds[:, 1:] != preds[:, :-1]
    last_reset = np.maximum.accumulate(np.where(reset, pos, 0), axis=1)
    return pos - last_reset


def patience_exits(logits: np.ndarray, patience: int) -> ExitDecision:
    """First exit where the PABEE counter reaches `patience`, else the last exit."""
    logits = check_logits(logits)
    patience = PATIENCE.check_param(patience)
    preds = logits.argmax(axis=-1).astype(np.int64)
    if patience == 0:                       # PABEE: "use all layers for inference"
        return ExitDecision(np.full(preds.shape[0], preds.shape[1], dtype=np.int64), preds[:, -1])
    idx = first_true(patience_counters(preds) >= patience)
    return ExitDecision(idx, take(preds, idx))


def default_params(logits: np.ndarray) -> np.ndarray:
    """Patience 1..E-1; patience 0 (no early exit) equals E-1 (everyone at the last exit),
    so it adds no point the others cannot produce."""
    return np.arange(1, max(2, logits.shape[1]), dtype=np.int64)


def engine_step(logits, prediction, patience: int, carry, *, last: bool, eps: float,
                track_near: bool) -> EngineExit:
    """The engine's decision after one exit (pf.exits.rule): the counter and the previous
    prediction travel in `carry`; nothing at the last exit."""
    import torch

    from pf.exits.torch_ops import top2_tied

    if last:
        return EngineExit(None, None, carry)
    near = top2_tied(logits, eps) if track_near else None
    if "prev" not in carry:
        counter = torch.zeros_like(prediction)
    else:
        counter = torch.where(prediction == carry["prev"], carry["counter"] + 1,
                              torch.zeros_like(carry["counter"]))
    exits = (counter >= patience if patience > 0
             else torch.zeros_like(prediction, dtype=torch.bool))
    return EngineExit(exits, near, {"counter": counter, "prev": prediction})


PATIENCE = ExitRule(
    name=NAME, decide=patience_exits, engine_step=engine_step, param_name="patience",
    param_type=int, param_min=0, param_help="patience (consecutive agreeing exits)",
    conservative="larger", default_params=default_params, near=near_tie,
    description="PABEE's patience: exit once the prediction has not changed for `patience` exits")
