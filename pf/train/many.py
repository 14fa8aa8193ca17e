"""`pf train-many`: several models of one prepared dataset and seed, one after another, in
one process.

pf train-many --prepared DIR --seed S --runs JSON [--device ...] [--threads N]
              [--record-batch-size N] [--checkpoint-every WHEN] [--progress-every STEPS]

Why: importing torch and transformers costs 4-5 s per process, a third of a job of the
embedded default (tiny models, ~10 s of training each). The workflow trains the variants of
`resources.train_together` this way, one job per backbone x task x seed. Each model is
exactly what `pf train` alone writes with the same arguments (everything random is
re-seeded per model; a test compares the bytes).

--runs is a JSON list (text or file) of objects, trained in that order:
  {"variant": NAME, "method": M, "options": {...}, "training": {...}, "out": DIR,
   "record": {"dev": FILE, ...}}
`variant` only names the run in messages; `options`, `training` and `record` may be left
out. Every run is checked before the first one starts. Each model has its own resume
directory (OUT.resume): after a kill, the same command retrains the finished models (the
workflow deletes a failed job's outputs) and resumes the interrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pf.errors import PfError, did_you_mean
from pf.jsonargs import json_arg
from pf.train.args import TrainingArgs, add_device_options
from pf.train.cli import add_run_options, check_run_options, train_and_record

RUN_KEYS = ("variant", "method", "options", "training", "out", "record")
REQUIRED = ("method", "out")


@dataclass(frozen=True)
class Run:
    """One model of `pf train-many --runs`."""

    method: str
    out: str
    variant: str
    options: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    record: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Any, index: int) -> "Run":
        where = f"--runs[{index}]"
        if not isinstance(raw, dict):
            raise PfError(f"{where}: expected a JSON object, got {type(raw).__name__}")
        for key in raw:
            if key not in RUN_KEYS:
                raise PfError(f"{where}: unknown key '{key}'{did_you_mean(key, RUN_KEYS)}; "
                              f"allowed: {', '.join(RUN_KEYS)}")
        for key in REQUIRED:
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise PfError(f"{where}: '{key}' must be a non-empty string")
        for key in ("options", "training", "record"):
            if not isinstance(raw.get(key, {}), dict):
                raise PfError(f"{where}: '{key}' must be a JSON object")
        record = raw.get("record", {})
        for split, path in record.items():
            if not isinstance(path, str) or not path:
                raise PfError(f"{where}: record.{split} must be a file path")
        return cls(method=raw["method"], out=raw["out"],
                   variant=str(raw.get("variant") or raw["method"]),
                   options=dict(raw.get("options", {})),
                   training=dict(raw.get("training", {})), record=dict(record))

    def check(self, index: int) -> None:
        """Fail before any training: unknown method, bad options, bad training arguments."""
        from pf.methods.registry import method_spec, parse_method_options

        try:
            if method_spec(self.method).teacher:
                raise PfError(f"method '{self.method}' needs a teacher; train it with "
                              f"`pf train --teacher`, not in a group")
            parse_method_options(self.method, dict(self.options))
            TrainingArgs.from_dict(self.training)
        except PfError as err:
            raise PfError(f"--runs[{index}] ({self.variant}): {err}") from None


def parse_runs(text: str) -> list[Run]:
    raw = json_arg("--runs", text, kind=list)
    if not raw:
        raise PfError("--runs: the list is empty")
    runs = [Run.from_dict(r, i) for i, r in enumerate(raw)]
    outs = [r.out for r in runs]
    duplicate = next((o for o in outs if outs.count(o) > 1), None)
    if duplicate is not None:
        raise PfError(f"--runs: two runs write to the same directory '{duplicate}'")
    for i, run in enumerate(runs):
        run.check(i)
    return runs


def _run(args) -> int:
    check_run_options(args)
    runs = parse_runs(args.runs)
    for i, run in enumerate(runs, 1):
        print(f"== {run.variant} ({i}/{len(runs)}): {run.method} -> {run.out}", flush=True)
        train_and_record(args, run.method, run.options, run.training, run.out, None,
                         list(run.record.items()))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train-many", help="fine-tune several methods on one prepared dataset, one process",
        description=__doc__,
        epilog="example:\n  pf train-many --prepared results/prepared/bert/rte --seed 42 "
               "--runs '[{\"method\": \"full\", \"out\": \"m/full\"}, "
               "{\"method\": \"pabee\", \"out\": \"m/pabee\"}]'\n")
    p.add_argument("--prepared", required=True, help="directory written by `pf prepare`")
    p.add_argument("--seed", type=int, required=True,
                   help="seed of every run (each is re-seeded before it starts)")
    p.add_argument("--runs", required=True, help="the runs: JSON text or file (see above)")
    add_device_options(p, precision=False)
    add_run_options(p)
    p.set_defaults(func=_run)
