"""The data model every source returns: examples, splits and synthetic sizes."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pf.errors import PfError
from pf.tasks import TaskSpec

SPLITS: tuple[str, ...] = ("train", "dev")


@dataclass(frozen=True)
class Example:
    guid: str                 # unique within the task: "<split>-<n>"
    text_a: str
    text_b: str | None
    label: int                # index into TaskSpec.labels


@dataclass(frozen=True)
class SyntheticSizes:
    """Sizes of the built-in synthetic splits."""

    train_size: int = 3000
    dev_size: int = 500

    @classmethod
    def from_any(cls, value: "SyntheticSizes | dict[str, Any] | None") -> "SyntheticSizes":
        if value is None:
            return cls()
        if isinstance(value, SyntheticSizes):
            sizes = value
        elif isinstance(value, dict):
            allowed = set(cls.__dataclass_fields__)
            bad = set(value) - allowed
            if bad:
                raise PfError(f"synthetic: unknown key(s) {sorted(bad)}; allowed: {sorted(allowed)}")
            sizes = cls(**value)
        else:
            raise PfError(f"synthetic: expected a mapping with {sorted(cls.__dataclass_fields__)}, "
                          f"got {type(value).__name__}")
        for name in cls.__dataclass_fields__:
            v = getattr(sizes, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise PfError(f"synthetic: '{name}' must be a positive integer, got {v!r}")
        return sizes


@dataclass(frozen=True)
class TaskData:
    task: TaskSpec
    source: str
    splits: dict[str, list[Example]] = field(default_factory=dict)

    def label_counts(self, split: str) -> dict[str, int]:
        counts = Counter(ex.label for ex in self.splits[split])
        return {name: counts.get(i, 0) for i, name in enumerate(self.task.labels)}

    def summary(self) -> dict[str, Any]:
        return {
            "task": self.task.name,
            "source": self.source,
            "labels": list(self.task.labels),
            "splits": {
                split: {"size": len(examples), "label_counts": self.label_counts(split)}
                for split, examples in self.splits.items()
            },
        }


def stratified_subsample(examples: list[Example], limit: int | None, seed: int) -> list[Example]:
    """A seeded, stratified sample of `limit` examples (all of them when `limit` is None or
    not smaller than the list), in their original order.

    Each label keeps its share of the list: label c gets floor(limit * n_c / N) examples;
    the examples still missing go first to labels that would otherwise get none, then to
    the largest remainders (ties: the lower label id). So the sample has exactly `limit`
    examples, and every label of the list keeps at least one while `limit` allows it. Within a label the
    examples are drawn with `random.Random("pf-train-limit/<seed>/<label>")`: the same seed
    gives the same sample on every machine and Python version."""
    if limit is None:
        return list(examples)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise PfError(f"train_limit must be a positive integer (or null for the whole "
                      f"training set), got {limit!r}")
    n = len(examples)
    if limit >= n:
        return list(examples)
    by_label: dict[int, list[int]] = {}
    for i, ex in enumerate(examples):
        by_label.setdefault(ex.label, []).append(i)
    labels = sorted(by_label)
    quota = {c: limit * len(by_label[c]) // n for c in labels}
    missing = limit - sum(quota.values())
    # largest remainder first; labels with nothing yet before others with the same remainder
    order = sorted(labels, key=lambda c: (quota[c] > 0, -(limit * len(by_label[c]) % n), c))
    for c in order[:missing]:
        quota[c] += 1
    chosen: list[int] = []
    for c in labels:
        rows = list(by_label[c])
        random.Random(f"pf-train-limit/{seed}/{c}").shuffle(rows)
        chosen.extend(rows[:quota[c]])
    return [examples[i] for i in sorted(chosen)]
