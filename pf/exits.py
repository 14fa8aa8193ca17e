"""Exit rules, speed-up, calibration and trade-off curves over recorded logits (numpy only).

Everything here works on the per-layer logits of one forward pass, `logits [N, E, C]`
(N examples, E exits, C labels; see `pf.outputs`). Because an exit decision at exit k only
depends on exits 1..k, these logits give the outcome of any threshold exactly (SPEC §5).

Rules (SPEC §3-4)
-----------------
- ``entropy`` (pf, deebert): exit at the first exit whose prediction entropy
  H(softmax(z)) is *strictly* below tau; otherwise at the last exit. Entropy is computed
  in float64 through a stable log-softmax.
- ``patience`` (pabee): a counter starts at 0 at the first exit, rises by one when an
  exit's argmax equals the previous exit's and resets to 0 otherwise; the example exits at
  the first exit where the counter reaches `patience` (so the earliest exit is number
  patience+1); otherwise at the last exit. Patience 0 means no early exit (everyone at the
  last exit), as in PABEE's original code; sweeps leave it out unless asked.
- ``last``: everyone at the last exit (full, truncated and distilled models).

Exit indices are 1-based over the E exits; `exit_layers[exit_index - 1]` is the backbone
layer (also 1-based). Speed-up is equation 15 of the paper: n·N / Σ_i i·m_i.

Exact calibration and curves
----------------------------
For the entropy rule let M[n,k] = min_{j<=k} H[n,j] (running minimum over the first E-1
exits). Example n exits at exit 1 + #{k < E-1 : M[n,k] >= tau}, because M is non-increasing
in k. Every quantity we need (total layers, the confusion matrix) is therefore a base value
plus a sum of per-(n,k) increments over the entries with M[n,k] >= tau. Sorting the N·(E-1)
running minima once gives these sums for *any* tau by one `searchsorted`, so calibration
examines every distinct decision (the exact breakpoints), and a curve of hundreds of
thresholds costs a few milliseconds. Representative thresholds are midpoints between
neighbouring breakpoints (the τ farthest from both), 0 (nobody exits early) and a value
above the largest breakpoint (everybody exits at exit 1).

Metrics are fractions in [0, 1]: ``accuracy`` and ``f1`` (positive class = label 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pf.errors import PfError, unknown

RULES: tuple[str, ...] = ("entropy", "patience", "last")
PARAM_NAMES: dict[str, str | None] = {"entropy": "tau", "patience": "patience", "last": None}
METRICS: tuple[str, ...] = ("accuracy", "f1")


# --------------------------------------------------------------------------------------
# basic pieces
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExitDecision:
    """Where each example exits and what it predicts there."""

    exit_index: np.ndarray  # [N] int64, 1-based over the E exits
    prediction: np.ndarray  # [N] int64 class ids

    def layers(self, exit_layers: Sequence[int] | np.ndarray) -> np.ndarray:
        """The backbone layer (1-based) at which each example exits."""
        return np.asarray(exit_layers, dtype=np.int64)[self.exit_index - 1]


def _check_logits(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits)
    if logits.ndim != 3 or logits.shape[1] < 1 or logits.shape[2] < 1:
        raise PfError(f"logits must have shape [N, E, C] with E, C >= 1; got {logits.shape}")
    return logits


def entropies(logits: np.ndarray) -> np.ndarray:
    """Prediction entropy H(softmax(z)) of every exit, [N, E] float64 (natural log)."""
    z = _check_logits(logits).astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return -(np.exp(logp) * logp).sum(axis=-1)


def _take(arr: np.ndarray, exit_index: np.ndarray) -> np.ndarray:
    return arr[np.arange(arr.shape[0]), exit_index - 1]


def _first_true(mask: np.ndarray) -> np.ndarray:
    """1-based index of the first True per row; the last column is forced True."""
    mask = mask.copy()
    mask[:, -1] = True
    return mask.argmax(axis=1).astype(np.int64) + 1


def entropy_exits(logits: np.ndarray, tau: float) -> ExitDecision:
    """First exit with entropy strictly below `tau`, else the last exit."""
    logits = _check_logits(logits)
    ent = entropies(logits)
    idx = _first_true(ent < float(tau))
    return ExitDecision(idx, _take(logits, idx).argmax(axis=-1).astype(np.int64))


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
    logits = _check_logits(logits)
    patience = int(patience)
    if patience < 0:
        raise PfError(f"patience must be >= 0; got {patience}")
    preds = logits.argmax(axis=-1).astype(np.int64)
    if patience == 0:                       # PABEE: "use all layers for inference"
        return ExitDecision(np.full(preds.shape[0], preds.shape[1], dtype=np.int64), preds[:, -1])
    idx = _first_true(patience_counters(preds) >= patience)
    return ExitDecision(idx, _take(preds, idx))


def last_exits(logits: np.ndarray) -> ExitDecision:
    """Everyone at the last exit."""
    logits = _check_logits(logits)
    idx = np.full(logits.shape[0], logits.shape[1], dtype=np.int64)
    return ExitDecision(idx, logits[:, -1].argmax(axis=-1).astype(np.int64))


def apply_rule(logits: np.ndarray, rule: str, param: float | int | None = None) -> ExitDecision:
    if rule == "entropy":
        if param is None:
            raise PfError("the entropy rule needs a threshold tau")
        return entropy_exits(logits, float(param))
    if rule == "patience":
        if param is None:
            raise PfError("the patience rule needs a patience")
        return patience_exits(logits, int(param))
    if rule == "last":
        return last_exits(logits)
    raise unknown("exit rule", rule, RULES)


def near_threshold(logits: np.ndarray, rule: str, param: float | int | None,
                   eps: float = 1e-6) -> np.ndarray:
    """[N] bool: examples whose decision could flip under a perturbation of size `eps`.

    entropy: some exit at or before the simulated exit has |H - tau| <= eps;
    patience: some exit at or before the simulated exit has a top-2 logit margin <= eps
    (its argmax is nearly tied); last: the last exit's argmax is nearly tied.
    """
    logits = _check_logits(logits)
    dec = apply_rule(logits, rule, param)
    n, e, c = logits.shape
    upto = np.arange(1, e + 1)[None, :] <= dec.exit_index[:, None]
    if rule == "entropy":
        close = np.abs(entropies(logits) - float(param)) <= eps
        close[:, -1] = False  # the last exit is forced, its entropy decides nothing
        return (close & upto).any(axis=1)
    if c < 2:
        return np.zeros(n, dtype=bool)
    top2 = np.sort(logits.astype(np.float64), axis=-1)[..., -2:]
    tied = (top2[..., 1] - top2[..., 0]) <= eps
    if rule == "last":
        return tied[:, -1]
    return (tied & upto).any(axis=1)


def speedup(exit_layers: Sequence[int] | np.ndarray, n_layers: int) -> float:
    """Equation 15: n·N / Σ_i i·m_i, from the 1-based exit layer of every example."""
    layers = np.asarray(exit_layers, dtype=np.int64).ravel()
    if layers.size == 0:
        raise PfError("speed-up of zero examples is undefined")
    if layers.min() < 1 or layers.max() > n_layers:
        raise PfError(f"exit layers must lie in 1..{n_layers}; got {layers.min()}..{layers.max()}")
    return float(n_layers) * layers.size / float(layers.sum())


# --------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------
def _metrics_from_confusion(conf: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """conf [..., C, C] (rows = label, columns = prediction) -> {name: [...] float64}."""
    conf = conf.astype(np.float64)
    total = conf.sum(axis=(-2, -1))
    out: dict[str, np.ndarray] = {}
    for name in names:
        if name == "accuracy":
            out[name] = np.trace(conf, axis1=-2, axis2=-1) / np.maximum(total, 1)
        elif name == "f1":
            if conf.shape[-1] < 2:
                raise PfError("f1 needs at least two classes")
            tp = conf[..., 1, 1]
            fp = conf[..., :, 1].sum(axis=-1) - tp
            fn = conf[..., 1, :].sum(axis=-1) - tp
            den = 2 * tp + fp + fn
            out[name] = np.where(den > 0, 2 * tp / np.where(den > 0, den, 1), 0.0)
        else:
            raise unknown("metric", name, METRICS)
    return out


def confusion(prediction: np.ndarray, labels: np.ndarray, num_labels: int) -> np.ndarray:
    prediction = np.asarray(prediction, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    if prediction.shape != labels.shape:
        raise PfError(f"{prediction.shape[0]} predictions but {labels.shape[0]} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= num_labels):
        raise PfError(f"labels must lie in 0..{num_labels - 1}")
    return np.bincount(labels * num_labels + prediction,
                       minlength=num_labels * num_labels).reshape(num_labels, num_labels)


def compute_metrics(prediction: np.ndarray, labels: np.ndarray,
                    names: Sequence[str] = ("accuracy",), num_labels: int | None = None
                    ) -> dict[str, float]:
    """{metric: value in [0, 1]} for the given predictions."""
    prediction = np.asarray(prediction, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    if num_labels is None:
        num_labels = int(max(prediction.max(initial=0), labels.max(initial=0))) + 1
        num_labels = max(num_labels, 2)
    conf = confusion(prediction, labels, num_labels)
    return {k: float(v) for k, v in _metrics_from_confusion(conf, names).items()}


def accuracy(prediction: np.ndarray, labels: np.ndarray) -> float:
    return compute_metrics(prediction, labels, ("accuracy",))["accuracy"]


def f1(prediction: np.ndarray, labels: np.ndarray) -> float:
    """F1 of the positive class (label 1)."""
    return compute_metrics(prediction, labels, ("f1",))["f1"]


# --------------------------------------------------------------------------------------
# sweeps: the outcome of many parameters at once
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sweep:
    """The outcome of a rule for several parameter values (one row each), sorted by speed-up."""

    rule: str
    params: np.ndarray          # [P] tau (float64) or patience (int64); empty for 'last'
    total_layers: np.ndarray    # [P] Σ over examples of the exit layer (int64)
    speedups: np.ndarray        # [P] equation 15
    metrics: dict[str, np.ndarray]  # name -> [P]
    n_examples: int
    n_layers: int

    def __len__(self) -> int:
        return int(self.speedups.shape[0])

    @property
    def avg_exit_layers(self) -> np.ndarray:
        return self.total_layers / self.n_examples


def _prepare(logits: np.ndarray, labels: np.ndarray, exit_layers, n_layers: int):
    logits = _check_logits(logits)
    labels = np.asarray(labels, dtype=np.int64).ravel()
    n, e, c = logits.shape
    if labels.shape[0] != n:
        raise PfError(f"{n} examples of logits but {labels.shape[0]} labels")
    if n == 0:
        raise PfError("no examples")
    layers = np.asarray(exit_layers, dtype=np.int64).ravel()
    if layers.shape[0] != e:
        raise PfError(f"{e} exits in the logits but {layers.shape[0]} exit layers")
    if np.any(np.diff(layers) <= 0) or layers[0] < 1 or layers[-1] > n_layers:
        raise PfError(f"exit layers {layers.tolist()} must be ascending within 1..{n_layers}")
    if labels.min() < 0 or labels.max() >= c:
        raise PfError(f"labels must lie in 0..{c - 1}")
    return logits, labels, layers


class EntropySweeper:
    """Evaluates the entropy rule at any tau in O(log(N·E)) after one O(N·E log) sort."""

    def __init__(self, logits: np.ndarray, labels: np.ndarray, exit_layers, n_layers: int,
                 metrics: Sequence[str] = ("accuracy",)):
        logits, labels, layers = _prepare(logits, labels, exit_layers, n_layers)
        n, e, c = logits.shape
        self.n, self.e, self.c, self.n_layers = n, e, c, int(n_layers)
        self.metric_names = tuple(metrics)
        _metrics_from_confusion(np.zeros((c, c)), self.metric_names)  # validate names early
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
        metrics = _metrics_from_confusion(conf, self.metric_names)
        speed = self.n_layers * self.n / total.astype(np.float64)
        return Sweep("entropy", taus, total.astype(np.int64), speed, metrics, self.n, self.n_layers)

    def all_candidates(self) -> Sweep:
        return self.evaluate(self.candidate_taus())


def _decision_sweep(logits, labels, layers, n_layers, rule, params, metrics) -> Sweep:
    n, e, c = logits.shape
    totals, confs = [], []
    for p in params:
        dec = apply_rule(logits, rule, p)
        totals.append(int(layers[dec.exit_index - 1].sum()))
        confs.append(confusion(dec.prediction, labels, c))
    total = np.asarray(totals, dtype=np.int64)
    mets = _metrics_from_confusion(np.stack(confs), metrics)
    speed = n_layers * n / total.astype(np.float64)
    return Sweep(rule, np.asarray(params), total, speed, mets, n, int(n_layers))


def sweep(logits: np.ndarray, labels: np.ndarray, rule: str, exit_layers, n_layers: int,
          metrics: Sequence[str] = ("accuracy",), params=None) -> Sweep:
    """Outcome of `rule` at `params` (default: every distinct decision) on recorded logits."""
    if rule == "entropy":
        sw = EntropySweeper(logits, labels, exit_layers, n_layers, metrics)
        return sw.all_candidates() if params is None else sw.evaluate(params)
    logits, labels, layers = _prepare(logits, labels, exit_layers, n_layers)
    _metrics_from_confusion(np.zeros((2, 2)), metrics)
    if rule == "patience":
        # patience 1..E-1; patience 0 (no early exit) equals E-1 (everyone at the last
        # exit), so the default sweep adds no point the original could not produce
        if params is None:
            params = np.arange(1, max(2, logits.shape[1]), dtype=np.int64)
        return _decision_sweep(logits, labels, layers, n_layers, rule,
                               np.asarray(params, dtype=np.int64).ravel(), metrics)
    if rule == "last":
        return _decision_sweep(logits, labels, layers, n_layers, rule, [None], metrics)
    raise unknown("exit rule", rule, RULES)


# --------------------------------------------------------------------------------------
# calibration
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """A rule's parameter chosen for a target speed-up and what it achieves."""

    rule: str
    param_name: str | None          # "tau" | "patience" | None
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


def _pick(sw: Sweep, target: float) -> int:
    """Index of the point closest to `target`; ties to the faster, then to the smaller param."""
    diff = np.abs(sw.speedups - target)
    best = diff.min()
    tied = np.flatnonzero(diff <= best + 1e-12 * max(1.0, target))
    fastest = sw.speedups[tied].max()
    tied = tied[sw.speedups[tied] >= fastest - 1e-12 * max(1.0, target)]
    if sw.rule == "last" or sw.params.size == 0:
        return int(tied[0])
    # same speed-up, different decisions: take the most conservative parameter
    # (smallest tau / largest patience) so the choice never depends on the labels
    keys = sw.params[tied].astype(np.float64)
    return int(tied[np.argmin(keys)] if sw.rule == "entropy" else tied[np.argmax(keys)])


def calibrate(logits: np.ndarray, labels: np.ndarray, rule: str, target: float,
              exit_layers, n_layers: int, metric: str = "accuracy",
              metrics: Sequence[str] | None = None,
              eval_logits: np.ndarray | None = None, eval_labels: np.ndarray | None = None
              ) -> Calibration:
    """Choose tau (entropy) or patience whose speed-up on `logits` is closest to `target`.

    Every distinct decision is examined (exact breakpoints), ties go to the faster speed-up.
    With `eval_logits`/`eval_labels` (e.g. dev, when `logits` are a held-out slice) the
    chosen parameter is also applied there and its speed-up and scores are reported.
    """
    if rule not in ("entropy", "patience"):
        raise PfError(f"only the entropy and patience rules have a parameter to calibrate; "
                      f"got '{rule}'")
    target = check_target(target, n_layers)
    names = tuple(dict.fromkeys([metric, *(metrics or ())]))
    sw = sweep(logits, labels, rule, exit_layers, n_layers, names)
    i = _pick(sw, target)
    param = float(sw.params[i]) if rule == "entropy" else int(sw.params[i])
    mets = {k: float(v[i]) for k, v in sw.metrics.items()}
    cal = Calibration(rule, PARAM_NAMES[rule], param, target, float(sw.speedups[i]),
                      float(sw.avg_exit_layers[i]), metric, mets[metric], mets)
    if eval_logits is None:
        return cal
    if eval_labels is None:
        raise PfError("eval_logits given without eval_labels")
    ev = sweep(eval_logits, eval_labels, rule, exit_layers, n_layers, names, params=[param])
    ev_mets = {k: float(v[0]) for k, v in ev.metrics.items()}
    return Calibration(**{**cal.__dict__, "eval_speedup": float(ev.speedups[0]),
                          "eval_score": ev_mets[metric], "eval_metrics": ev_mets})


# --------------------------------------------------------------------------------------
# trade-off curves
# --------------------------------------------------------------------------------------
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
    sw = _subset(sw, np.argsort(sw.speedups, kind="stable"))
    if params is not None or len(sw) <= 2:
        return sw
    # drop repeated speed-ups (different decisions with the same total layers): keep the
    # most conservative (first in tau order)
    _, first = np.unique(sw.total_layers, return_index=True)
    sw = _subset(sw, np.sort(first))
    gap = float(max_gap)
    keep = thin_by_speedup(sw.speedups, gap)
    while max_points is not None and keep.size > max_points:
        gap *= 1.25
        keep = thin_by_speedup(sw.speedups, gap)
    return _subset(sw, keep)


def _subset(sw: Sweep, idx: np.ndarray) -> Sweep:
    idx = np.asarray(idx, dtype=np.int64)
    params = sw.params[idx] if sw.params.size else sw.params
    return Sweep(sw.rule, params, sw.total_layers[idx], sw.speedups[idx],
                 {k: v[idx] for k, v in sw.metrics.items()}, sw.n_examples, sw.n_layers)


def exit_counts(exit_layer: np.ndarray, n_layers: int) -> list[int]:
    """Number of examples exiting at each layer 1..n_layers."""
    layer = np.asarray(exit_layer, dtype=np.int64)
    return np.bincount(layer - 1, minlength=n_layers)[:n_layers].astype(int).tolist()
