"""The per-layer outputs file (format "pf-outputs/1"): numpy-only writer and reader.

Tensors: `logits` float32 [N, E, C], `labels` int64 [N], `exit_layers` int64 [E] (1-based
layer numbers, ascending). Metadata (str -> str): format, ids (JSON list of N example ids),
n_layers (backbone depth for the speed-up), task, backbone, method, split.
This module imports no torch, so the light commands (evaluate, curves, reports) stay light.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pf.errors import PfError

FORMAT = "pf-outputs/1"
META_KEYS = ("format", "ids", "n_layers", "task", "backbone", "method", "split")


@dataclass
class LayerOutputs:
    logits: np.ndarray          # float32 [N, E, C]
    labels: np.ndarray          # int64 [N]
    exit_layers: np.ndarray     # int64 [E], 1-based
    ids: list[str]
    n_layers: int
    task: str
    backbone: str
    method: str
    split: str

    def metadata(self) -> dict[str, str]:
        return {"format": FORMAT, "ids": json.dumps(list(self.ids)), "n_layers": str(self.n_layers),
                "task": self.task, "backbone": self.backbone, "method": self.method,
                "split": self.split}


def validate(out: LayerOutputs, where: str) -> LayerOutputs:
    """Shape and value checks; PfError naming `where`."""
    lg, lb, el = out.logits, out.labels, out.exit_layers
    if lg.ndim != 3:
        raise PfError(f"{where}: 'logits' must be [N, E, C], got shape {list(lg.shape)}")
    n, e, c = lg.shape
    if lb.shape != (n,):
        raise PfError(f"{where}: 'labels' has shape {list(lb.shape)}, expected [{n}]")
    if el.shape != (e,):
        raise PfError(f"{where}: 'exit_layers' has shape {list(el.shape)}, expected [{e}]")
    if len(out.ids) != n:
        raise PfError(f"{where}: metadata 'ids' lists {len(out.ids)} ids for {n} examples")
    if e and (np.any(np.diff(el) <= 0) or el[0] < 1 or el[-1] > out.n_layers):
        raise PfError(f"{where}: 'exit_layers' {el.tolist()} must ascend within 1..{out.n_layers}")
    if n and (lb.min() < 0 or lb.max() >= c):
        raise PfError(f"{where}: 'labels' outside 0..{c - 1}")
    return out


def save_outputs(path: str | os.PathLike, out: LayerOutputs) -> None:
    """Write `out` atomically (numpy only)."""
    from pf.io import write_safetensors

    validate(out, str(path))
    tensors = {"logits": np.ascontiguousarray(out.logits, dtype=np.float32),
               "labels": np.ascontiguousarray(out.labels, dtype=np.int64),
               "exit_layers": np.ascontiguousarray(out.exit_layers, dtype=np.int64)}
    write_safetensors(path, tensors, out.metadata())


def load_outputs(path: str | os.PathLike) -> LayerOutputs:
    """Read and validate an outputs file (PfError naming the file on any problem)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise PfError(f"{path}: outputs file not found")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            keys = set(f.keys())
            missing = {"logits", "labels", "exit_layers"} - keys
            if missing:
                raise PfError(f"{path}: missing tensor(s) {sorted(missing)}")
            tensors = {k: f.get_tensor(k) for k in ("logits", "labels", "exit_layers")}
    except PfError:
        raise
    except Exception as err:
        raise PfError(f"{path}: not a readable safetensors outputs file ({type(err).__name__}: "
                      f"{str(err)[:200]})") from None
    if meta.get("format") != FORMAT:
        raise PfError(f"{path}: metadata 'format' is {meta.get('format')!r}, expected {FORMAT!r}")
    absent = [k for k in META_KEYS if k not in meta]
    if absent:
        raise PfError(f"{path}: metadata field(s) {absent} missing")
    try:
        ids = json.loads(meta["ids"])
        n_layers = int(meta["n_layers"])
    except (ValueError, TypeError):
        raise PfError(f"{path}: metadata 'ids' or 'n_layers' is malformed") from None
    if not isinstance(ids, list):
        raise PfError(f"{path}: metadata 'ids' must be a JSON list")
    if tensors["logits"].dtype != np.float32:
        raise PfError(f"{path}: 'logits' must be float32, got {tensors['logits'].dtype}")
    for k in ("labels", "exit_layers"):
        if tensors[k].dtype != np.int64:
            raise PfError(f"{path}: '{k}' must be int64, got {tensors[k].dtype}")
    out = LayerOutputs(tensors["logits"], tensors["labels"], tensors["exit_layers"],
                       [str(i) for i in ids], n_layers, meta["task"], meta["backbone"],
                       meta["method"], meta["split"])
    return validate(out, str(path))


def read_outputs(path: str | os.PathLike) -> LayerOutputs:
    """`load_outputs` for the commands that score a file (evaluate, curve, latency): also
    refuses an empty file and logits that are not finite, naming the file."""
    out = load_outputs(path)
    logits = np.asarray(out.logits)
    if logits.ndim != 3 or logits.shape[0] == 0:
        raise PfError(f"{path}: logits must be a non-empty [N, E, C] array, got {logits.shape}")
    if not np.isfinite(logits).all():
        raise PfError(f"{path}: logits contain NaN or infinite values")
    return out
