"""Calibration: the parameter of a rule whose speed-up on recorded logits is closest to a
target (every distinct decision is examined; ties to the faster speed-up, then to the
parameter that keeps examples longer, so the choice never depends on the labels)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pf.errors import PfError
from pf.exits.registry import get_rule, sweep
from pf.exits.sweeps import Sweep


@dataclass(frozen=True)
class Calibration:
    """A rule's parameter chosen for a target speed-up and what it achieves."""

    rule: str
    param_name: str | None          # the rule's parameter ("tau", "patience", ...)
    param: float | int | None
    target: float
    speedup: float                  # achieved on the calibration logits
    avg_exit_layer: float
    metric: str
    score: float                    # the metric on the calibration logits
    metrics: dict[str, float] = field(default_factory=dict)
    # set when the parameter was then applied to other (evaluation) logits:
    eval_speedup: float | None = None
    eval_score: float | None = None
    eval_metrics: dict[str, float] | None = None


def check_target(target: float, n_layers: int) -> float:
    target = float(target)
    if not np.isfinite(target) or target <= 1.0 or target > n_layers:
        raise PfError(f"target speed-up must lie in (1, {n_layers}] for a {n_layers}-layer "
                      f"backbone; got {target}")
    return target


def pick(sw: Sweep, target: float, conservative: str) -> int:
    """Index of the point closest to `target`; ties to the faster, then to the parameter
    that keeps examples longer (`conservative`: "smaller" or "larger" values do)."""
    diff = np.abs(sw.speedups - target)
    best = diff.min()
    tied = np.flatnonzero(diff <= best + 1e-12 * max(1.0, target))
    fastest = sw.speedups[tied].max()
    tied = tied[sw.speedups[tied] >= fastest - 1e-12 * max(1.0, target)]
    if sw.params.size == 0 or any(p is None for p in sw.params[tied]):
        return int(tied[0])          # a rule without a parameter: one decision
    keys = sw.params[tied].astype(np.float64)
    return int(tied[np.argmin(keys)] if conservative == "smaller" else tied[np.argmax(keys)])


def calibrate(logits: np.ndarray, labels: np.ndarray, rule: str, target: float,
              exit_layers, n_layers: int, metric: str = "accuracy",
              metrics: Sequence[str] | None = None,
              eval_logits: np.ndarray | None = None, eval_labels: np.ndarray | None = None
              ) -> Calibration:
    """Choose the parameter of `rule` (tau, patience, ...) whose speed-up on `logits` is
    closest to `target`.

    Every distinct decision is examined (exact breakpoints), ties go to the faster speed-up.
    With `eval_logits`/`eval_labels` (e.g. dev, when `logits` are a held-out slice) the
    chosen parameter is also applied there and its speed-up and scores are reported.
    """
    r = get_rule(rule)
    if not r.has_param:
        raise PfError(f"rule '{rule}' has no parameter to calibrate")
    target = check_target(target, n_layers)
    names = tuple(dict.fromkeys([metric, *(metrics or ())]))
    sw = sweep(logits, labels, rule, exit_layers, n_layers, names)
    i = pick(sw, target, r.conservative)
    param = r.param_type(sw.params[i])
    mets = {k: float(v[i]) for k, v in sw.metrics.items()}
    cal = Calibration(rule, r.param_name, param, target, float(sw.speedups[i]),
                      float(sw.avg_exit_layers[i]), metric, mets[metric], mets)
    if eval_logits is None:
        return cal
    if eval_labels is None:
        raise PfError("eval_logits given without eval_labels")
    ev = sweep(eval_logits, eval_labels, rule, exit_layers, n_layers, names, params=[param])
    ev_mets = {k: float(v[0]) for k, v in ev.metrics.items()}
    return Calibration(**{**cal.__dict__, "eval_speedup": float(ev.speedups[0]),
                          "eval_score": ev_mets[metric], "eval_metrics": ev_mets})
