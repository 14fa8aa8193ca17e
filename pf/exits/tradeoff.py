"""Trade-off curves: score against speed-up over every distinct decision of a rule."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pf.exits.registry import sweep
from pf.exits.sweeps import Sweep


def thin_by_speedup(speedups: np.ndarray, max_gap: float) -> np.ndarray:
    """Indices (into ascending `speedups`) of a subset keeping every gap <= max_gap where
    the full set allows it: greedily jump to the farthest point within max_gap."""
    s = np.asarray(speedups, dtype=np.float64)
    if s.size <= 2:
        return np.arange(s.size)
    keep = [0]
    i = 0
    last = s.size - 1
    while i < last:
        j = int(np.searchsorted(s, s[i] + max_gap, side="right")) - 1
        j = max(j, i + 1)   # a gap in the data itself: take the next point
        j = min(j, last)
        keep.append(j)
        i = j
    return np.asarray(keep, dtype=np.int64)


def tradeoff_curve(logits: np.ndarray, labels: np.ndarray, rule: str, exit_layers,
                   n_layers: int, metrics: Sequence[str] = ("accuracy",),
                   params=None, max_gap: float = 0.05, max_points: int | None = None
                   ) -> Sweep:
    """Score against speed-up, ascending in speed-up.

    `params` given: exactly those thresholds. Otherwise the points are chosen from every
    distinct decision (exact breakpoints) so that neighbouring speed-ups are at most
    `max_gap` apart wherever the data allow it (a gap larger than that means no threshold
    gives a speed-up in between). `max_points` optionally caps the count by widening the gap.
    """
    sw = sweep(logits, labels, rule, exit_layers, n_layers, metrics, params=params)
    # speed-up is monotone in the parameter; a stable sort keeps parameter order in ties
    sw = sw.subset(np.argsort(sw.speedups, kind="stable"))
    if params is not None or len(sw) <= 2:
        return sw
    # drop repeated speed-ups (different decisions with the same total layers): keep the
    # most conservative (first in tau order)
    _, first = np.unique(sw.total_layers, return_index=True)
    sw = sw.subset(np.sort(first))
    gap = float(max_gap)
    keep = thin_by_speedup(sw.speedups, gap)
    while max_points is not None and keep.size > max_points:
        gap *= 1.25
        keep = thin_by_speedup(sw.speedups, gap)
    return sw.subset(keep)
