"""Progress of long jobs (training, recording outputs, latency), visible while they run.

On a terminal: a tqdm bar on stderr. Otherwise (a Snakemake or SLURM job whose output goes
to a log file) a plain line on stdout, flushed, every `every_steps` steps and at least
every `every_seconds` seconds of work, plus one at the end: `tail -f` on the job's log shows
it alive. Each line comes from a record (a dict) that the caller may also append to a
JSON-lines file (`pf train` streams its train_log.jsonl this way).

`Progress.due()` is host-side arithmetic only, so a loop can ask every step without
synchronising with the GPU; the caller gathers its device values only when a line is due.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

EVERY_STEPS = 50
EVERY_SECONDS = 30.0


def format_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """Counts `done` of `total` units; see the module docstring.

    display: None = bar on a terminal, plain lines otherwise; True = plain lines even on a
    terminal; False = nothing printed (records are still made).
    """

    def __init__(self, label: str, total: int, *, unit: str = "step", done: int = 0,
                 display: bool | None = None, every_steps: int = EVERY_STEPS,
                 every_seconds: float = EVERY_SECONDS):
        self.label = label
        self.total = int(total)
        self.unit = unit
        self.every_steps = max(1, int(every_steps))
        self.every_seconds = float(every_seconds)
        self.started = time.perf_counter()
        self.done = self.first = int(done)
        self.last_done = self.done
        self.last_time = self.started
        self.items = 0              # examples since the start (for examples/s)
        self.last_items = 0
        self.bar = None
        self.lines = display is True or (display is None and not stdout_is_terminal())
        if display is None and not self.lines:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, initial=self.done, desc=label, leave=False,
                            dynamic_ncols=True, file=sys.stderr)

    def advance(self, units: int = 1, items: int = 0) -> None:
        self.done += units
        self.items += items
        if self.bar is not None:
            self.bar.update(units)

    def due(self) -> bool:
        """Time for a record: every `every_steps` units, every `every_seconds`, or the end."""
        if self.done == self.last_done:
            return False
        return (self.done - self.last_done >= self.every_steps or self.done >= self.total
                or time.perf_counter() - self.last_time >= self.every_seconds)

    def record(self, **fields: Any) -> dict[str, Any]:
        """The progress record now (and print it): units done/total, rate, elapsed, ETA."""
        now = time.perf_counter()
        elapsed = now - self.started
        window = max(now - self.last_time, 1e-9)
        rate = (self.done - self.first) / max(elapsed, 1e-9)
        remaining = self.total - self.done
        rec: dict[str, Any] = {"kind": "progress", self.unit: self.done, "total": self.total,
                               **fields}
        if self.items:
            rec["examples_per_s"] = (self.items - self.last_items) / window
        rec["elapsed_s"] = elapsed
        rec["eta_s"] = remaining / rate if rate > 0 else None
        self.last_done, self.last_time, self.last_items = self.done, now, self.items
        self.show(rec)
        return rec

    def show(self, rec: dict[str, Any]) -> None:
        if self.bar is not None:
            post = {k: v for k, v in rec.items() if k in ("loss", "epoch", "examples_per_s")}
            self.bar.set_postfix({k: f"{v:.4g}" if isinstance(v, float) else v
                                  for k, v in post.items()}, refresh=False)
        elif self.lines:
            print(self.line(rec), flush=True)

    def line(self, rec: dict[str, Any]) -> str:
        pct = 100.0 * rec[self.unit] / self.total if self.total else 100.0
        parts = [f"{self.label}: {self.unit} {rec[self.unit]}/{self.total} ({pct:.0f}%)"]
        for key, value in rec.items():
            if key in ("kind", self.unit, "total", "elapsed_s", "eta_s", "examples_per_s",
                       "epochs") or value is None:
                continue
            if key == "epoch" and "epochs" in rec:
                parts.append(f"epoch {value}/{rec['epochs']}")
                continue
            parts.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
        if "examples_per_s" in rec:
            parts.append(f"{rec['examples_per_s']:.1f} examples/s")
        parts.append(f"elapsed {format_seconds(rec['elapsed_s'])}")
        eta = rec["eta_s"]
        parts.append(f"ETA {format_seconds(eta) if eta is not None else '?'}")
        return " | ".join(parts)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class JsonLines:
    """An append-only JSON-lines file, flushed to the OS after every write (for `tail -f`);
    `offset` is where a resumed run truncates it back to."""

    def __init__(self, path: str | os.PathLike, *, keep: int | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        mode = "r+" if keep is not None and self.path.is_file() else "w"
        self._f = open(self.path, mode, encoding="utf-8")
        if keep is not None and mode == "r+":
            self._f.truncate(keep)
            self._f.seek(keep)

    @property
    def offset(self) -> int:
        return self._f.tell()

    def write(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        self._f.write("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
        self._f.flush()

    def close(self) -> None:
        self._f.close()
