"""Metrics (and latency) JSON files -> one tidy pandas frame / CSV.

Only the files named are read: the workflow passes exactly the metrics files of the tables
and figures it builds, so a stale file of an earlier config lying in the results folder never
reaches a report.

Metrics: one row per file, validated with pf.metrics_schema. The first columns are
`backbone, task, variant, seed, target, metric, score, n_examples, majority, degenerate`
(`majority` = the JSON's `majority_score`, on the same 0-1 scale as `score`), then the other
fields of the JSON (`outputs` paths are dropped); the `metrics` dict is flattened to
`metric_<name>` columns; `exit_counts`, `prediction_counts`, `label_counts`, `method_options`
and `versions` are canonical JSON strings (parsed back by `read_metrics_csv`). `source` is
the file's path from its `metrics/` folder on (`metrics/bert/mrpc/pf/seed42/target2.json`).

Latency: each `{results}/latency/{backbone}/{task}/{variant}/seed{seed}.json` (format
`pf-latency/1`, written by `pf latency`) becomes one row per batch size (`collect_latency`):
backbone, task, variant, seed, rule_param, layer_speedup, batch_size, full_seconds,
engine_seconds, measured_speedup.

    pf collect results/metrics/bert/mrpc/pf/seed42/target2.json ... --out reports/metrics.csv
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pf.errors import PfError
from pf.io import atomic_path, read_json

JSON_COLUMNS: tuple[str, ...] = ("method_options", "exit_counts", "prediction_counts",
                                 "label_counts", "versions")
# Column order of the tidy frame: these first, then the other fields of the JSON in schema
# order, then the metric_* columns (sorted), then `source`.
BASE_COLUMNS: tuple[str, ...] = (
    "backbone", "task", "variant", "seed", "target", "metric", "score", "n_examples",
    "majority", "degenerate", "method", "n_layers", "speedup", "rule", "rule_param", "split",
    "calibration_split", "majority_class", "top_prediction_share", "degenerate_reason",
    "prediction_counts", "label_counts", "method_options", "exit_counts", "versions",
)
# JSON field -> frame column, where they differ.
RENAMED: dict[str, str] = {"majority_score": "majority"}
KEY_COLUMNS: tuple[str, ...] = ("backbone", "task", "variant", "seed", "target")
# Columns a metrics CSV must hold to build reports.
REPORT_COLUMNS: tuple[str, ...] = (
    "backbone", "n_layers", "task", "method", "variant", "seed", "target", "speedup",
    "rule", "metric", "score", "n_examples", "majority", "degenerate", "exit_counts",
)
# Fields not copied into the frame (paths of the machine that ran evaluate).
_DROPPED = ("outputs", "calibration_outputs", "schema")


def existing(paths: Iterable[str | os.PathLike], what: str) -> list[Path]:
    """`paths` as Paths, every one an existing file (PfError naming the first that is not)."""
    out = [Path(p) for p in paths]
    for path in out:
        if not path.is_file():
            raise PfError(f"{path}: {what} file not found")
    return out


def metrics_source(path: Path) -> str:
    """`path` from its `metrics/` folder on (stable whatever the results folder is)."""
    parts = path.parts
    if len(parts) >= 6 and parts[-6] == "metrics":
        return Path(*parts[-6:]).as_posix()
    return path.as_posix()


def _check_path_agrees(obj: dict, path: Path) -> None:
    """A file at metrics/{backbone}/{task}/{variant}/seed{seed}/target{target}.json must say
    the same in its fields."""
    parts = path.parts
    if len(parts) < 6 or parts[-6] != "metrics":
        return
    backbone, task, variant, seed_dir, target_file = parts[-5:]
    for field, value in (("backbone", backbone), ("task", task), ("variant", variant)):
        if str(obj[field]) != value:
            raise PfError(f"{path}: field '{field}' is {obj[field]!r} but the path says {value!r}")
    if seed_dir.startswith("seed") and seed_dir[4:].isdigit() and int(seed_dir[4:]) != obj["seed"]:
        raise PfError(f"{path}: field 'seed' is {obj['seed']!r} but the path says {seed_dir}")
    stem = target_file.removesuffix(".json")
    if stem.startswith("target") and obj["target"] is not None:
        try:
            t = float(stem[len("target"):])
        except ValueError:
            return
        if not math.isclose(t, float(obj["target"]), rel_tol=1e-6, abs_tol=1e-6):
            raise PfError(f"{path}: field 'target' is {obj['target']!r} "
                          f"but the path says {stem}")


def metrics_row(obj: dict, source: str) -> dict[str, Any]:
    """One tidy row from one (validated) metrics JSON object."""
    row: dict[str, Any] = {}
    fields = {RENAMED.get(k, k): v for k, v in obj.items() if k not in _DROPPED}
    for col in BASE_COLUMNS:
        row[col] = fields[col]
    for col, value in fields.items():
        if col not in row and col != "metrics":
            row[col] = value
    for col in row:
        if isinstance(row[col], (dict, list)):
            row[col] = json.dumps(row[col], sort_keys=True)
    for name, value in sorted(obj["metrics"].items()):
        row[f"metric_{name}"] = value
    row["source"] = source
    return row


def collect_metrics(paths: Iterable[str | os.PathLike]):
    """The metrics JSON files `paths` (exactly those) as one tidy frame, sorted by key."""
    from pf.metrics_schema import validate_metrics

    rows = []
    for path in existing(paths, "metrics"):
        obj = validate_metrics(read_json(path), str(path))
        _check_path_agrees(obj, path)
        rows.append(metrics_row(obj, metrics_source(path)))
    if not rows:
        raise PfError("no metrics files given")
    return tidy_frame(rows)


def tidy_frame(rows: list[Mapping[str, Any]]):
    """A frame with the standard column order and row order from row dicts; a key
    (backbone, task, variant, seed, target) given twice is an error naming both sources."""
    import pandas as pd

    frame = pd.DataFrame(list(rows))
    metric_cols = sorted(c for c in frame.columns if c.startswith("metric_"))
    cols = [c for c in BASE_COLUMNS if c in frame.columns]
    cols += [c for c in frame.columns if c not in cols and c not in metric_cols
             and c != "source"]
    cols += metric_cols + (["source"] if "source" in frame.columns else [])
    frame = frame[cols]
    _check_unique(frame)
    return frame.sort_values(list(KEY_COLUMNS), kind="stable",
                             na_position="first").reset_index(drop=True)


def _check_unique(frame, where: str = "metrics") -> None:
    keys = frame[list(KEY_COLUMNS)].astype(str)
    dup = keys.duplicated(keep=False)
    if dup.any():
        first = frame[dup].iloc[:2]
        sources = list(first["source"]) if "source" in frame.columns else []
        key = "/".join(str(v) for v in first[list(KEY_COLUMNS)].iloc[0])
        raise PfError(f"{where}: the result {key} (backbone/task/variant/seed/target) is "
                      f"given twice{': ' + ' and '.join(sources) if sources else ''}")


def write_csv(frame, path: str | os.PathLike) -> None:
    """Write a frame as CSV atomically (deterministic float formatting)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, lineterminator="\n")


def read_metrics_csv(path: str | os.PathLike):
    """Read a tidy metrics CSV written by `pf collect`; JSON columns are parsed back."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise PfError(f"{path}: file not found")
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise PfError(f"{path}: not a readable CSV ({err})") from None
    for col in REPORT_COLUMNS:
        if col not in frame.columns:
            raise PfError(f"{path}: missing column '{col}' (a metrics CSV of `pf collect`)")
    return normalise_frame(frame, str(path))


def read_metrics(paths: Iterable[str | os.PathLike]):
    """Metrics JSON files and/or tidy CSVs of `pf collect` -> one normalised frame."""
    import pandas as pd

    paths = [Path(p) for p in paths]
    csvs = [p for p in paths if p.suffix == ".csv"]
    jsons = [p for p in paths if p.suffix != ".csv"]
    frames = [read_metrics_csv(p) for p in csvs]
    if jsons:
        frames.append(normalise_frame(collect_metrics(jsons), "metrics files"))
    if not frames:
        raise PfError("no metrics given (metrics JSON files or a metrics CSV)")
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    _check_unique(frame)
    return frame


def normalise_frame(frame, where: str = "metrics frame"):
    """Parse JSON columns into Python objects and fix dtypes (frame or CSV alike)."""
    frame = frame.copy()
    for col in JSON_COLUMNS:
        if col in frame.columns:
            frame[col] = [_parse_json_cell(v, col, where) for v in frame[col]]
    for col in ("score", "speedup", "target", "majority"):
        if col in frame.columns:
            frame[col] = frame[col].astype(float)
    for col in ("seed", "n_layers", "n_examples"):
        if col in frame.columns:
            frame[col] = frame[col].astype(int)
    if "degenerate" in frame.columns:
        frame["degenerate"] = [_bool(v, where) for v in frame["degenerate"]]
    for col in ("backbone", "task", "variant", "method", "rule"):
        if col in frame.columns:
            frame[col] = frame[col].astype(str)
    return frame


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, (bool, int)) or type(value).__name__ == "bool_":
        return bool(value)
    if str(value) in ("True", "False", "true", "false"):
        return str(value).lower() == "true"
    raise PfError(f"{where}: column 'degenerate' holds {value!r}, expected true or false")


def _parse_json_cell(value: Any, col: str, where: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise PfError(f"{where}: column '{col}' holds invalid JSON {value[:40]!r}") from None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


# --------------------------------------------------------------------------- latency

LATENCY_SCHEMA = "pf-latency/1"
# The fields of a `pf latency` JSON (pf/latency.py) the latency table reads.
_LATENCY_FIELDS = ("backbone", "task", "variant", "seed", "rule_param", "layer_speedup",
                   "batches")
_BATCH_FIELDS = ("batch_size", "full_s", "engine_s", "measured_speedup")


def latency_rows(obj: Mapping[str, Any], path: Path) -> list[dict[str, Any]]:
    """One row per batch size of a latency JSON written by `pf latency`."""
    if not isinstance(obj, dict):
        raise PfError(f"{path}: expected a JSON object")
    if obj.get("schema") != LATENCY_SCHEMA:
        raise PfError(f"{path}: field 'schema' is {obj.get('schema')!r}, expected "
                      f"'{LATENCY_SCHEMA}' (a file written by `pf latency`)")
    for field in _LATENCY_FIELDS:
        if field not in obj:
            raise PfError(f"{path}: missing field '{field}'")
    if not isinstance(obj["batches"], list) or not obj["batches"]:
        raise PfError(f"{path}: no per-batch-size timings found (field 'batches')")
    rows = []
    for b in obj["batches"]:
        missing = [f for f in _BATCH_FIELDS if not isinstance(b, dict) or f not in b]
        if missing:
            raise PfError(f"{path}: a 'batches' entry lacks field '{missing[0]}'")
        rows.append({
            "backbone": str(obj["backbone"]), "task": str(obj["task"]),
            "variant": str(obj["variant"]), "seed": int(obj["seed"]),
            "rule_param": obj["rule_param"],
            "layer_speedup": float(obj["layer_speedup"]),
            "batch_size": int(b["batch_size"]),
            "full_seconds": float(b["full_s"]),
            "engine_seconds": float(b["engine_s"]),
            "measured_speedup": float(b["measured_speedup"]),
        })
    return rows


def collect_latency(paths: Iterable[str | os.PathLike]):
    """The latency JSON files `paths` (exactly those) -> tidy frame, one row per batch size."""
    import pandas as pd

    rows = []
    for path in existing(paths, "latency"):
        rows.extend(latency_rows(read_json(path), path))
    if not rows:
        raise PfError("no latency files given")
    frame = pd.DataFrame(rows)
    return frame.sort_values(["backbone", "task", "variant", "seed", "batch_size"],
                             kind="stable").reset_index(drop=True)


def read_latency_csv(path: str | os.PathLike):
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise PfError(f"{path}: file not found")
    frame = pd.read_csv(path)
    for col in ("backbone", "task", "variant", "seed", "batch_size", "measured_speedup"):
        if col not in frame.columns:
            raise PfError(f"{path}: missing column '{col}'")
    return frame


def read_latency(paths: Iterable[str | os.PathLike]):
    """Latency JSON files and/or latency CSVs of `pf collect --latency-out` -> one frame."""
    import pandas as pd

    paths = [Path(p) for p in paths]
    frames = [read_latency_csv(p) for p in paths if p.suffix == ".csv"]
    jsons = [p for p in paths if p.suffix != ".csv"]
    if jsons:
        frames.append(collect_latency(jsons))
    if not frames:
        raise PfError("no latency results given (latency JSON files or a latency CSV)")
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


# --------------------------------------------------------------------------- CLI

def register(subparsers) -> None:
    p = subparsers.add_parser(
        "collect", help="gather the given metrics JSON files into one tidy CSV",
        description="Read exactly the metrics JSON files given (one row each, validated) "
                    "into one tidy CSV; optionally the given latency JSON files into another.",
        epilog="example: pf collect results/metrics/bert/*/pf/seed42/target2.json "
               "--out reports/metrics.csv")
    p.add_argument("metrics", nargs="*", metavar="METRICS_JSON",
                   help="metrics files written by `pf evaluate`")
    p.add_argument("--out", required=True, help="output CSV (one row per metrics file)")
    p.add_argument("--latency", nargs="+", default=[], metavar="LATENCY_JSON",
                   help="latency files written by `pf latency` (with --latency-out)")
    p.add_argument("--latency-out", default=None, help="output CSV of the latency rows")
    p.set_defaults(func=_run)


def _run(args) -> int:
    if bool(args.latency) != bool(args.latency_out):
        raise PfError("--latency and --latency-out go together")
    frame = collect_metrics(args.metrics)
    write_csv(frame, args.out)
    for rec in frame[frame["degenerate"].astype(bool)].to_dict("records"):
        print(f"pf collect: warning: degenerate model {rec['source']}: "
              f"{rec['degenerate_reason']}", file=sys.stderr)
    msg = f"pf collect: {len(frame)} metrics files -> {args.out}"
    if args.latency_out:
        lat = collect_latency(args.latency)
        write_csv(lat, args.latency_out)
        msg += f"; {len(lat)} latency rows -> {args.latency_out}"
    print(msg)
    return 0
