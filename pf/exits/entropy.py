"""The entropy rule (DeeBERT, Past-Future): exit at the first exit whose prediction entropy
H(softmax(z)) is *strictly* below tau; otherwise at the last exit (SPEC §3-4). Entropy is
computed in float64 through a stable log-softmax, by the simulation and the engine alike.

Exact sweeps: let M[n,k] = min_{j<=k} H[n,j] (running minimum over the first E-1 exits).
Example n exits at exit 1 + #{k < E-1 : M[n,k] >= tau}, because M is non-increasing in k.
Every quantity we need (total layers, the confusion matrix) is therefore a base value plus a
sum of per-(n,k) increments over the entries with M[n,k] >= tau. Sorting the N·(E-1) running
minima once gives these sums for *any* tau by one `searchsorted`, so calibration examines
every distinct decision (the exact breakpoints), and a curve of hundreds of thresholds costs a
few milliseconds. Representative thresholds are midpoints between neighbouring breakpoints
(the tau farthest from both), 0 (nobody exits early) and a value above the largest
breakpoint (everybody exits at exit 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pf.exits.decision import ExitDecision, check_logits, first_exit, up_to_exit
from pf.exits.rule import EngineExit, ExitRule
from pf.exits.scoring import metrics_from_confusion
from pf.exits.sweeps import Sweep, check_inputs

NAME = "entropy"


def entropies(logits: np.ndarray) -> np.ndarray:
    """Prediction entropy H(softmax(z)) of every exit, [N, E] float64 (natural log)."""
    z = check_logits(logits).astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return -(np.exp(logp) * logp).sum(axis=-1)


def entropy_exits(logits: np.ndarray, tau: float) -> ExitDecision:
    """First exit with entropy strictly below `tau`, else the last exit."""
    logits = check_logits(logits)
    return first_exit(logits, entropies(logits) < float(tau))


def near(logits: np.ndarray, tau: float, decision: ExitDecision, eps: float) -> np.ndarray:
    """Some exit at or before the one taken has |H - tau| <= eps (the last exit is forced:
    its entropy decides nothing)."""
    close = np.abs(entropies(logits) - float(tau)) <= eps
    close[:, -1] = False
    return (close & up_to_exit(decision, logits.shape[1])).any(axis=1)


class EntropySweeper:
    """Evaluates the entropy rule at any tau in O(log(N·E)) after one O(N·E log) sort."""

    def __init__(self, logits: np.ndarray, labels: np.ndarray, exit_layers, n_layers: int,
                 metrics: Sequence[str] = ("accuracy",)):
        logits, labels, layers = check_inputs(logits, labels, exit_layers, n_layers)
        n, e, c = logits.shape
        self.n, self.e, self.c, self.n_layers = n, e, c, int(n_layers)
        self.metric_names = tuple(metrics)
        metrics_from_confusion(np.zeros((c, c)), self.metric_names)  # validate names early
        preds = logits.argmax(axis=-1).astype(np.int64)               # [N, E]
        cells = labels[:, None] * c + preds                             # confusion cell per exit
        self._base_layers = int(layers[0]) * n
        self._base_conf = np.bincount(cells[:, 0], minlength=c * c).astype(np.int64)
        if e == 1:
            self._values = np.zeros(0)
            self._suffix_layers = np.zeros(1, dtype=np.int64)
            self._suffix_conf = np.zeros((1, c * c), dtype=np.int64)
            return
        running_min = np.minimum.accumulate(entropies(logits)[:, :-1], axis=1)  # [N, E-1]
        values = running_min.ravel()
        order = np.argsort(values, kind="stable")
        self._values = values[order]
        # Entry (n,k) with M >= tau means "did not exit at exit k+1": adds the layer gap
        # to the next exit and moves the example's confusion cell from exit k+1 to k+2.
        dlayers = np.broadcast_to(np.diff(layers), (n, e - 1)).ravel()[order]
        self._suffix_layers = np.concatenate([np.cumsum(dlayers[::-1])[::-1], [0]])
        src = cells[:, :-1].ravel()[order]
        dst = cells[:, 1:].ravel()[order]
        m = src.shape[0]
        delta = np.zeros((m + 1, c * c), dtype=np.int64)
        rows = np.arange(m)
        delta[rows, dst] += 1     # (row, cell) pairs are unique, so no np.add.at needed
        delta[rows, src] -= 1
        self._suffix_conf = np.cumsum(delta[::-1], axis=0)[::-1]        # [m+1, C²]

    # thresholds ----------------------------------------------------------------------
    def candidate_taus(self) -> np.ndarray:
        """One representative tau per distinct decision (ascending, exact)."""
        uniq = np.unique(self._values)
        if uniq.size == 0:
            return np.array([0.0])
        mids = (uniq[:-1] + uniq[1:]) / 2.0
        top = uniq[-1] + max(1e-3, 0.5 * (np.log(self.c) - uniq[-1]))
        taus = np.concatenate([[min(0.0, uniq[0])], mids, [top]])
        # Keep taus that really separate the breakpoints (a midpoint of two adjacent
        # floats rounds onto one of them); each kept tau is then a distinct decision.
        idx = self._index(taus)
        _, first = np.unique(idx, return_index=True)
        return taus[np.sort(first)]

    def _index(self, taus: np.ndarray) -> np.ndarray:
        # entries with M >= tau are those from searchsorted(values, tau, 'left') on
        return np.searchsorted(self._values, np.asarray(taus, dtype=np.float64), side="left")

    def evaluate(self, taus: np.ndarray | Sequence[float]) -> Sweep:
        taus = np.asarray(taus, dtype=np.float64).ravel()
        idx = self._index(taus)
        total = self._base_layers + self._suffix_layers[idx]
        conf = (self._base_conf[None, :] + self._suffix_conf[idx]).reshape(-1, self.c, self.c)
        metrics = metrics_from_confusion(conf, self.metric_names)
        speed = self.n_layers * self.n / total.astype(np.float64)
        return Sweep(NAME, taus, total.astype(np.int64), speed, metrics, self.n, self.n_layers)

    def all_candidates(self) -> Sweep:
        return self.evaluate(self.candidate_taus())


def exact_sweep(logits, labels, exit_layers, n_layers: int, metrics: Sequence[str],
                params=None) -> Sweep:
    sw = EntropySweeper(logits, labels, exit_layers, n_layers, metrics)
    return sw.all_candidates() if params is None else sw.evaluate(params)


def engine_step(logits, prediction, tau: float, carry, *, last: bool, eps: float,
                track_near: bool) -> EngineExit:
    """The engine's decision after one exit (pf.exits.rule); nothing at the last exit."""
    import torch

    if last:
        return EngineExit(None, None, carry)
    logp = torch.log_softmax(logits.double(), dim=-1)
    ent = -(logp.exp() * logp).sum(dim=-1)
    return EngineExit(ent < tau, (ent - tau).abs() <= eps if track_near else None, carry)


ENTROPY = ExitRule(
    name=NAME, decide=entropy_exits, engine_step=engine_step, param_name="tau",
    param_type=float, param_help="entropy threshold tau (exit when H < tau)",
    conservative="smaller", exact_sweep=exact_sweep, near=near,
    description="first exit whose prediction entropy is below tau (DeeBERT, Past-Future)")
