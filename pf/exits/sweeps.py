"""`Sweep`: the outcome of a rule for many parameter values at once, over recorded logits.

`decision_sweep` applies a rule's decision once per parameter (any rule); a rule may instead
evaluate every parameter at once (`ExitRule.exact_sweep`, the entropy rule's breakpoints).
The dispatch between the two is `pf.exits.registry.sweep`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pf.errors import PfError
from pf.exits.decision import check_logits
from pf.exits.scoring import confusion, metrics_from_confusion


@dataclass(frozen=True)
class Sweep:
    """The outcome of a rule for several parameter values (one row each), sorted by speed-up."""

    rule: str
    params: np.ndarray          # [P] the rule's parameter values; [None] without one
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

    def subset(self, idx: np.ndarray) -> "Sweep":
        idx = np.asarray(idx, dtype=np.int64)
        params = self.params[idx] if self.params.size else self.params
        return Sweep(self.rule, params, self.total_layers[idx], self.speedups[idx],
                     {k: v[idx] for k, v in self.metrics.items()}, self.n_examples,
                     self.n_layers)


def check_inputs(logits: np.ndarray, labels: np.ndarray, exit_layers, n_layers: int):
    """(logits, labels, exit layers) as arrays, checked against each other."""
    logits = check_logits(logits)
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


def check_metric_names(metrics: Sequence[str], num_labels: int = 2) -> None:
    """PfError for an unknown metric name, before any work is done."""
    metrics_from_confusion(np.zeros((num_labels, num_labels)), metrics)


def decision_sweep(logits: np.ndarray, labels: np.ndarray, layers: np.ndarray, n_layers: int,
                   rule, params, metrics: Sequence[str]) -> Sweep:
    """Apply `rule` (an ExitRule) at each of `params` (checked inputs, see check_inputs)."""
    n, e, c = logits.shape
    totals, confs = [], []
    for p in params:
        dec = rule.decide(logits, rule.check_param(p))
        totals.append(int(layers[dec.exit_index - 1].sum()))
        confs.append(confusion(dec.prediction, labels, c))
    total = np.asarray(totals, dtype=np.int64)
    mets = metrics_from_confusion(np.stack(confs), metrics)
    speed = n_layers * n / total.astype(np.float64)
    return Sweep(rule.name, np.asarray(params), total, speed, mets, n, int(n_layers))
