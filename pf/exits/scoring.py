"""Scores of predictions: accuracy and F1 (positive class = label 1), fractions in [0, 1]."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pf.errors import PfError, unknown

METRICS: tuple[str, ...] = ("accuracy", "f1")


def metrics_from_confusion(conf: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
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
    return {k: float(v) for k, v in metrics_from_confusion(conf, names).items()}


def accuracy(prediction: np.ndarray, labels: np.ndarray) -> float:
    return compute_metrics(prediction, labels, ("accuracy",))["accuracy"]


def f1(prediction: np.ndarray, labels: np.ndarray) -> float:
    """F1 of the positive class (label 1)."""
    return compute_metrics(prediction, labels, ("f1",))["f1"]
