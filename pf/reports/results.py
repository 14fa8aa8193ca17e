"""Exact look-up of results for tables and figures.

A report names every result it reads by its key (backbone, task, concrete variant, seed,
target) — the coordinates of `{results}/metrics/{backbone}/{task}/{variant}/seed{seed}/
target{target}.json`. `MetricsIndex.require` returns exactly those rows or raises one
PfError listing every missing result with its path; nothing is chosen by method, by nearest
speed-up or from another target.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pf.errors import PfError
from pf.layout import fmt_target, metrics_path

MAX_LISTED = 12   # missing results named in one error message


@dataclass(frozen=True, order=True)
class ResultKey:
    backbone: str
    task: str
    variant: str
    seed: int
    target: float

    def path(self) -> str:
        return metrics_path(self.backbone, self.task, self.variant, self.seed, self.target)

    def describe(self) -> str:
        return (f"{self.backbone}/{self.task}/{self.variant} seed {self.seed} target "
                f"{fmt_target(self.target)} ({self.path()})")


def _target_key(target: Any) -> float | None:
    if target is None or (isinstance(target, float) and math.isnan(target)):
        return None
    return round(float(target), 6)


class MetricsIndex:
    """The rows of a tidy metrics frame (pf.reports.collect), by ResultKey."""

    def __init__(self, frame):
        self._rows: dict[tuple, dict[str, Any]] = {}
        for rec in frame.to_dict("records"):
            key = (str(rec["backbone"]), str(rec["task"]), str(rec["variant"]),
                   int(rec["seed"]), _target_key(rec["target"]))
            if key in self._rows:
                raise PfError(f"metrics: the result {'/'.join(map(str, key))} is given twice")
            self._rows[key] = rec
        self.seeds: tuple[int, ...] = tuple(sorted({k[3] for k in self._rows}))

    def get(self, key: ResultKey) -> dict[str, Any] | None:
        return self._rows.get((key.backbone, key.task, key.variant, key.seed,
                               _target_key(key.target)))

    def require(self, keys: Iterable[ResultKey], what: str) -> dict[ResultKey, dict[str, Any]]:
        """Every key's row; a PfError naming each missing result (job) otherwise."""
        found, missing = {}, []
        for key in keys:
            rec = self.get(key)
            if rec is None:
                missing.append(key)
            else:
                found[key] = rec
        if missing:
            missing = sorted(set(missing))
            listed = "; ".join(k.describe() for k in missing[:MAX_LISTED])
            more = f"; and {len(missing) - MAX_LISTED} more" if len(missing) > MAX_LISTED else ""
            raise PfError(f"{what}: {len(missing)} result(s) missing from the inputs: "
                          f"{listed}{more}. Build them (e.g. snakemake <that metrics file>) "
                          f"or remove the row, table or seed from the config")
        return found


def resolve_seeds(declared: tuple[int, ...] | None, fallback: tuple[int, ...] | None,
                  index: MetricsIndex) -> tuple[int, ...]:
    """The seeds a table or figure reads: its own, else the spec's, else every seed given."""
    seeds = declared or fallback or index.seeds
    if not seeds:
        raise PfError("no seeds: the inputs hold no results")
    return tuple(seeds)


def degenerate_results(records: Iterable[tuple[ResultKey, dict[str, Any]]]) -> list[str]:
    """'key: reason' of every degenerate result among `records`, sorted."""
    out = []
    for key, rec in records:
        if rec.get("degenerate"):
            reason = rec.get("degenerate_reason") or "degenerate"
            out.append(f"{key.describe()}: {reason}")
    return sorted(set(out))
