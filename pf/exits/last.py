"""The `last` rule: everyone exits at the last exit (full, truncated and distilled models)."""

from __future__ import annotations

import numpy as np

from pf.exits.decision import ExitDecision, check_logits, top2_tied
from pf.exits.rule import EngineExit, ExitRule

NAME = "last"


def last_exits(logits: np.ndarray, param=None) -> ExitDecision:
    """Everyone at the last exit."""
    logits = check_logits(logits)
    idx = np.full(logits.shape[0], logits.shape[1], dtype=np.int64)
    return ExitDecision(idx, logits[:, -1].argmax(axis=-1).astype(np.int64))


def near(logits: np.ndarray, param, decision: ExitDecision, eps: float) -> np.ndarray:
    """The last exit's argmax is nearly tied."""
    return top2_tied(logits, eps)[:, -1]


def engine_step(logits, prediction, param, carry, *, last: bool, eps: float,
                track_near: bool) -> EngineExit:
    """Nobody leaves early; at the last exit a near tie of the top two logits is flagged."""
    from pf.exits.torch_ops import top2_tied as torch_top2_tied

    flagged = torch_top2_tied(logits, eps) if last and track_near else None
    return EngineExit(None, flagged, carry)


LAST = ExitRule(name=NAME, decide=last_exits, engine_step=engine_step, near=near,
                description="no early exit: every example leaves at the last exit")
