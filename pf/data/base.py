"""The data model every source returns: examples, splits and synthetic sizes."""

from __future__ import annotations

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
