"""Exit decisions over recorded logits [N, E, C], and the speed-up they give (numpy only).

Exit indices are 1-based over the E exits; `exit_layers[exit_index - 1]` is the backbone
layer (also 1-based). Speed-up is equation 15 of the paper: n·N / Σ_i i·m_i.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pf.errors import PfError


@dataclass(frozen=True)
class ExitDecision:
    """Where each example exits and what it predicts there."""

    exit_index: np.ndarray  # [N] int64, 1-based over the E exits
    prediction: np.ndarray  # [N] int64 class ids

    def layers(self, exit_layers: Sequence[int] | np.ndarray) -> np.ndarray:
        """The backbone layer (1-based) at which each example exits."""
        return np.asarray(exit_layers, dtype=np.int64)[self.exit_index - 1]


def check_logits(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits)
    if logits.ndim != 3 or logits.shape[1] < 1 or logits.shape[2] < 1:
        raise PfError(f"logits must have shape [N, E, C] with E, C >= 1; got {logits.shape}")
    return logits


def take(arr: np.ndarray, exit_index: np.ndarray) -> np.ndarray:
    """arr[n, exit_index[n] - 1] for every row n."""
    return arr[np.arange(arr.shape[0]), exit_index - 1]


def first_true(mask: np.ndarray) -> np.ndarray:
    """1-based index of the first True per row; the last column is forced True."""
    mask = mask.copy()
    mask[:, -1] = True
    return mask.argmax(axis=1).astype(np.int64) + 1


def first_exit(logits: np.ndarray, leave: np.ndarray) -> ExitDecision:
    """Every example exits at the first exit where `leave` [N, E] holds, else at the last,
    and predicts that exit's argmax: the decision of any rule that looks at one exit at a
    time."""
    idx = first_true(leave)
    return ExitDecision(idx, take(logits, idx).argmax(axis=-1).astype(np.int64))


def up_to_exit(decision: ExitDecision, n_exits: int) -> np.ndarray:
    """[N, E] bool: the exits an example passed through, the one it left at included."""
    return np.arange(1, n_exits + 1)[None, :] <= decision.exit_index[:, None]


def top2_tied(logits: np.ndarray, eps: float) -> np.ndarray:
    """[N, E] bool: the two largest logits of an exit are within `eps` (its argmax could
    flip); all False with a single class."""
    if logits.shape[-1] < 2:
        return np.zeros(logits.shape[:2], dtype=bool)
    top2 = np.sort(logits.astype(np.float64), axis=-1)[..., -2:]
    return (top2[..., 1] - top2[..., 0]) <= eps


def near_tie(logits: np.ndarray, param, decision: ExitDecision, eps: float) -> np.ndarray:
    """The default near-threshold flags of a rule: a near tie of the top two logits at an
    exit up to the one taken (the argmax could flip there)."""
    return (top2_tied(logits, eps) & up_to_exit(decision, logits.shape[1])).any(axis=1)


def speedup(exit_layers: Sequence[int] | np.ndarray, n_layers: int) -> float:
    """Equation 15: n·N / Σ_i i·m_i, from the 1-based exit layer of every example."""
    layers = np.asarray(exit_layers, dtype=np.int64).ravel()
    if layers.size == 0:
        raise PfError("speed-up of zero examples is undefined")
    if layers.min() < 1 or layers.max() > n_layers:
        raise PfError(f"exit layers must lie in 1..{n_layers}; got {layers.min()}..{layers.max()}")
    return float(n_layers) * layers.size / float(layers.sum())


def exit_counts(exit_layer: np.ndarray, n_layers: int) -> list[int]:
    """Number of examples exiting at each layer 1..n_layers."""
    layer = np.asarray(exit_layer, dtype=np.int64)
    return np.bincount(layer - 1, minlength=n_layers)[:n_layers].astype(int).tolist()
