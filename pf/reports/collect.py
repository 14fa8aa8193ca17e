"""Collect result JSON files into tidy frames (`pf collect`).

Metrics: every `{results}/metrics/{backbone}/{task}/{variant}/seed{seed}/target{target}.json`
is checked with `pf.metrics_schema.validate_metrics` and becomes one row. Scalar fields keep
their names (`target` is empty for files without a target; `outputs` paths are dropped); the `metrics` dict is flattened to
`metric_<name>` columns; `exit_counts`, `method_options` and `versions` are stored as
canonical JSON strings (parsed back by `read_metrics_csv`). A `source` column holds the
file's path relative to the results directory.

Latency: every `{results}/latency/{backbone}/{task}/{variant}/seed{seed}.json` becomes one
row per batch size (`collect_latency`), with columns backbone, task, variant, seed,
rule_param, layer_speedup, batch_size, full_seconds, engine_seconds, measured_speedup.
The reader tolerates the usual spellings of the per-batch-size block (see
`_latency_batches`).

    pf collect --results DIR --out reports/metrics.csv [--latency-out reports/latency_raw.csv]
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pf.errors import PfError
from pf.io import atomic_path, read_json

# Fields every metrics JSON must hold (the contract with pf/evaluate.py; the full list with
# types lives in pf/metrics_schema.FIELDS, whose validator is called on every file).
REQUIRED_FIELDS: tuple[str, ...] = (
    "backbone", "n_layers", "task", "method", "variant", "method_options", "seed",
    "target", "speedup", "rule", "rule_param", "metric", "score", "metrics",
    "exit_counts", "n_examples", "split", "calibration_split", "versions",
)
JSON_COLUMNS: tuple[str, ...] = ("method_options", "exit_counts", "versions")
# Column order of the tidy frame: these first (when present), then the other scalar fields
# of the JSON in schema order, then the metric_* columns (sorted), then `source`.
BASE_COLUMNS: tuple[str, ...] = (
    "backbone", "n_layers", "task", "method", "variant", "seed", "target",
    "speedup", "rule", "rule_param", "metric", "score", "n_examples", "split",
    "calibration_split", "method_options", "exit_counts", "versions",
)
SORT_KEYS: tuple[str, ...] = ("backbone", "task", "variant", "seed", "target")
# Columns a metrics CSV must hold to build reports.
REPORT_COLUMNS: tuple[str, ...] = (
    "backbone", "n_layers", "task", "method", "variant", "seed", "target",
    "speedup", "rule", "metric", "score", "exit_counts",
)
# Fields not copied into the frame (paths of the machine that ran evaluate).
_DROPPED = ("outputs", "calibration_outputs")


def _validate(obj: Any, path: Path) -> None:
    """pf.metrics_schema's validator; then the fields the reports need, whatever it checked."""
    try:
        from pf.metrics_schema import validate_metrics
    except ImportError:  # pragma: no cover - the schema module ships with pf
        validate_metrics = None
    if validate_metrics is not None:
        validate_metrics(obj, str(path))
    if not isinstance(obj, dict):
        raise PfError(f"{path}: expected a JSON object, got {type(obj).__name__}")
    for field in REQUIRED_FIELDS:
        if field not in obj:
            raise PfError(f"{path}: missing field '{field}'")
    if not isinstance(obj["metrics"], dict):
        raise PfError(f"{path}: field 'metrics' must be an object")
    if not isinstance(obj["exit_counts"], list):
        raise PfError(f"{path}: field 'exit_counts' must be a list")
    for field in ("score", "speedup"):
        value = obj[field]
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise PfError(f"{path}: field '{field}' must be a number, got {value!r}")


def _check_path_agrees(obj: dict, rel: Path, path: Path) -> None:
    """The directory coordinates must match the JSON's own fields."""
    parts = rel.parts  # metrics/backbone/task/variant/seedS/targetT.json
    if len(parts) != 6:
        return
    _, backbone, task, variant, seed_dir, target_file = parts
    expect = {"backbone": backbone, "task": task, "variant": variant}
    for field, value in expect.items():
        if str(obj[field]) != value:
            raise PfError(f"{path}: field '{field}' is {obj[field]!r} but the path says {value!r}")
    if seed_dir.startswith("seed") and seed_dir[4:].lstrip("-").isdigit():
        if int(seed_dir[4:]) != int(obj["seed"]):
            raise PfError(f"{path}: field 'seed' is {obj['seed']!r} but the path says {seed_dir}")
    stem = target_file[: -len(".json")] if target_file.endswith(".json") else target_file
    if stem.startswith("target") and obj["target"] is not None:
        try:
            t = float(stem[len("target"):].rstrip("x"))
        except ValueError:
            return
        if not math.isclose(t, float(obj["target"]), rel_tol=1e-6, abs_tol=1e-6):
            raise PfError(f"{path}: field 'target' is {obj['target']!r} "
                          f"but the path says {stem}")


def metrics_row(obj: dict, source: str) -> dict[str, Any]:
    """One tidy row from one (validated) metrics JSON object."""
    row: dict[str, Any] = {}
    for col in BASE_COLUMNS:
        row[col] = json.dumps(obj[col], sort_keys=True) if col in JSON_COLUMNS else obj[col]
    for col, value in obj.items():
        if col in row or col in _DROPPED or col == "metrics":
            continue
        row[col] = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) \
            else value
    for name, value in sorted(obj["metrics"].items()):
        row[f"metric_{name}"] = value
    row["source"] = source
    return row


def find_metrics_files(results: str | os.PathLike) -> list[Path]:
    root = Path(results) / "metrics"
    if not root.is_dir():
        raise PfError(f"{results}: no 'metrics' directory (expected {root})")
    return sorted(root.rglob("*.json"))


def collect_metrics(results: str | os.PathLike):
    """Read every metrics JSON under `results`/metrics into one tidy frame (sorted rows)."""
    results = Path(results)
    files = find_metrics_files(results)
    if not files:
        raise PfError(f"{results}/metrics: no metrics JSON files found")
    rows = []
    for path in files:
        obj = read_json(path)
        _validate(obj, path)
        rel = path.relative_to(results)
        _check_path_agrees(obj, rel, path)
        rows.append(metrics_row(obj, rel.as_posix()))
    return tidy_frame(rows)


def tidy_frame(rows: list[Mapping[str, Any]]):
    """A frame with the standard column order and row order from row dicts."""
    import pandas as pd

    frame = pd.DataFrame(list(rows))
    metric_cols = sorted(c for c in frame.columns if c.startswith("metric_"))
    cols = [c for c in BASE_COLUMNS if c in frame.columns]
    cols += [c for c in frame.columns if c not in cols and c not in metric_cols
             and c != "source"]
    cols += metric_cols + (["source"] if "source" in frame.columns else [])
    frame = frame[cols]
    keys = [k for k in SORT_KEYS if k in frame.columns]
    return frame.sort_values(keys, kind="stable", na_position="first").reset_index(drop=True)


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
            raise PfError(f"{path}: missing column '{col}'")
    return normalise_frame(frame, str(path))


def normalise_frame(frame, where: str = "metrics frame"):
    """Parse JSON columns into Python objects and fix dtypes (frame or CSV alike)."""
    frame = frame.copy()
    for col in JSON_COLUMNS:
        if col in frame.columns:
            frame[col] = [_parse_json_cell(v, col, where) for v in frame[col]]
    for col in ("score", "speedup", "target"):
        if col in frame.columns:
            frame[col] = frame[col].astype(float)
    for col in ("seed", "n_layers"):
        if col in frame.columns:
            frame[col] = frame[col].astype(int)
    for col in ("backbone", "task", "variant", "method", "rule"):
        if col in frame.columns:
            frame[col] = frame[col].astype(str)
    return frame


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

_BATCH_KEYS = ("batch_size", "batch", "bs")
_FULL_KEYS = ("full_seconds", "full_s", "full_time", "full", "baseline_seconds")
_ENGINE_KEYS = ("engine_seconds", "engine_s", "engine_time", "engine", "early_exit_seconds")
_MEASURED_KEYS = ("measured_speedup", "speedup", "wall_speedup", "wallclock_speedup")
_LAYER_KEYS = ("layer_speedup", "speedup_layers", "layer_count_speedup")
_PARAM_KEYS = ("rule_param", "tau", "threshold", "patience")


def _first(d: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        if k in d and not isinstance(d[k], (dict, list)):
            return d[k]
    return None


def _latency_batches(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per-batch-size records from the usual shapes:

    - a list of objects with a batch-size key, under any top-level key
      (`{"batches": [{"batch_size": 1, ...}, ...]}`),
    - an object keyed by batch size (`{"by_batch_size": {"1": {...}, "64": {...}}}`),
    - flat keys suffixed with the batch size (`measured_speedup_bs1`).
    """
    out: list[dict[str, Any]] = []
    for value in obj.values():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for v in value:
                bs = _first(v, _BATCH_KEYS)
                if bs is not None:
                    out.append({**v, "batch_size": bs})
        elif isinstance(value, dict) and value and all(
                str(k).lstrip("bs").isdigit() and isinstance(v, dict) for k, v in value.items()):
            for k, v in value.items():
                out.append({**v, "batch_size": int(str(k).lstrip("bs"))})
    if out:
        return out
    flat: dict[int, dict[str, Any]] = {}
    for key, value in obj.items():
        for sep in ("_bs", "_batch"):
            if sep in key and key.rsplit(sep, 1)[1].isdigit():
                base, bs = key.rsplit(sep, 1)
                flat.setdefault(int(bs), {"batch_size": int(bs)})[base] = value
    return [flat[k] for k in sorted(flat)]


def latency_rows(obj: Mapping[str, Any], path: Path) -> list[dict[str, Any]]:
    if not isinstance(obj, dict):
        raise PfError(f"{path}: expected a JSON object")
    for field in ("backbone", "task", "variant"):
        if field not in obj:
            raise PfError(f"{path}: missing field '{field}'")
    batches = _latency_batches(obj)
    if not batches:
        raise PfError(f"{path}: no per-batch-size timings found (expected e.g. a list of "
                      f"objects with 'batch_size', 'full_seconds', 'engine_seconds')")
    layer = _first(obj, _LAYER_KEYS)
    rows = []
    for b in batches:
        full = _first(b, _FULL_KEYS)
        engine = _first(b, _ENGINE_KEYS)
        measured = _first(b, _MEASURED_KEYS)
        if measured is None and full is not None and engine:
            measured = float(full) / float(engine)
        if measured is None:
            raise PfError(f"{path}: batch size {b['batch_size']}: missing field "
                          f"'measured_speedup' (or 'full_seconds' and 'engine_seconds')")
        lay = _first(b, _LAYER_KEYS) if layer is None else layer
        rows.append({
            "backbone": str(obj["backbone"]), "task": str(obj["task"]),
            "variant": str(obj["variant"]), "seed": obj.get("seed"),
            "rule_param": _first(obj, _PARAM_KEYS),
            "layer_speedup": None if lay is None else float(lay),
            "batch_size": int(b["batch_size"]),
            "full_seconds": None if full is None else float(full),
            "engine_seconds": None if engine is None else float(engine),
            "measured_speedup": float(measured),
        })
    return rows


def collect_latency(results: str | os.PathLike):
    """Latency JSONs under `results`/latency -> tidy frame (one row per batch size)."""
    import pandas as pd

    results = Path(results)
    root = results / "latency"
    files = sorted(root.rglob("*.json")) if root.is_dir() else []
    if not files:
        raise PfError(f"{root}: no latency JSON files found")
    rows = []
    for path in files:
        obj = read_json(path)
        if isinstance(obj, dict) and obj.get("seed") is None:
            stem = path.stem
            if stem.startswith("seed") and stem[4:].isdigit():
                obj = {**obj, "seed": int(stem[4:])}
        rows.extend(latency_rows(obj, path))
    frame = pd.DataFrame(rows)
    return frame.sort_values(["backbone", "task", "variant", "seed", "batch_size"],
                             kind="stable").reset_index(drop=True)


def read_latency_csv(path: str | os.PathLike):
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise PfError(f"{path}: file not found")
    frame = pd.read_csv(path)
    for col in ("backbone", "task", "variant", "batch_size", "measured_speedup"):
        if col not in frame.columns:
            raise PfError(f"{path}: missing column '{col}'")
    return frame


# --------------------------------------------------------------------------- CLI

def register(subparsers) -> None:
    p = subparsers.add_parser(
        "collect", help="gather metrics JSON files into one tidy CSV",
        description="Read every {results}/metrics/**/target*.json into one tidy CSV "
                    "(one row per file).",
        epilog="example:\n  pf collect --results results --out reports/metrics.csv "
               "--latency-out reports/latency_raw.csv\n")
    p.add_argument("--results", required=True, help="results directory")
    p.add_argument("--out", required=True, help="output CSV (metrics)")
    p.add_argument("--latency-out", default=None,
                   help="also gather {results}/latency/**.json into this CSV")
    p.set_defaults(func=_run)


def _run(args) -> int:
    frame = collect_metrics(args.results)
    write_csv(frame, args.out)
    msg = f"pf collect: {len(frame)} metrics files -> {args.out}"
    if args.latency_out:
        lat = collect_latency(args.results)
        write_csv(lat, args.latency_out)
        msg += f"; {len(lat)} latency rows -> {args.latency_out}"
    print(msg)
    return 0
