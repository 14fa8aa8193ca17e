"""Atomic file output.

Everything the pipeline writes goes through these helpers: the content is written to a
temporary file in the destination directory and renamed into place only once complete,
so an interrupted job never leaves a file that looks finished. The finished file gets the
mode a plain open() would have given it under the process's umask (0644 under umask 022,
0664 under 002), not the 0600 of the private temporary file, so the rest of a research
group can read the results on a shared file system.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def current_umask() -> int:
    """The process's umask. Linux reports it in /proc; elsewhere it can only be read by
    setting it, so it is set back at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def honour_umask(path: str | os.PathLike, directory: bool = False) -> None:
    """Give a file (0666) or directory (0777) made by tempfile (0600 / 0700) the mode that
    open() or mkdir() would have given it under the current umask."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


def honour_umask_tree(root: str | os.PathLike) -> None:
    """honour_umask on a directory built aside and everything in it, whoever wrote the
    files (safetensors writes 0600 files of its own)."""
    mask = current_umask()
    os.chmod(root, 0o777 & ~mask)
    for parent, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(parent, name), 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(parent, name), 0o666 & ~mask)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        honour_umask(tmp_path)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _finite(obj: Any) -> Any:
    """Replace non-finite floats by None so the JSON stays standard."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def dumps_json(obj: Any) -> str:
    """Canonical JSON: sorted keys, two-space indent, trailing newline (bitwise reproducible)."""
    return json.dumps(_finite(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, dumps_json(obj))


def _read(path: str | os.PathLike, parse, errors: tuple[type[Exception], ...], fmt: str) -> Any:
    from pf.errors import PfError

    path = Path(path)
    if not path.is_file():
        raise PfError(f"{path}: file not found")
    try:
        return parse(path.read_text(encoding="utf-8"))
    except errors as err:
        raise PfError(f"{path}: not valid {fmt} ({err})") from None


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file; a missing or malformed file raises PfError naming it."""
    return _read(path, json.loads, (json.JSONDecodeError, UnicodeDecodeError), "JSON")


def read_yaml(path: str | os.PathLike) -> Any:
    """Read a YAML file; a missing or malformed file raises PfError naming it."""
    import yaml

    return _read(path, yaml.safe_load, (yaml.YAMLError, UnicodeDecodeError), "YAML")


def write_safetensors(path: str | os.PathLike, tensors: dict[str, Any],
                      metadata: dict[str, str]) -> None:
    """Write `tensors` (all numpy arrays, or all torch tensors) to `path` atomically, with the
    metadata keys sorted: safetensors writes a metadata map in an order that changes from
    process to process, and same-seed runs must give byte-identical files. numpy arrays go
    through safetensors' numpy writer, so that numpy-only callers never import torch."""
    import numpy as np

    if all(isinstance(t, np.ndarray) for t in tensors.values()):
        from safetensors.numpy import save_file
    else:
        from safetensors.torch import save_file
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
        _sort_metadata(tmp)


def _sort_metadata(path: Path) -> None:
    """Rewrite a safetensors header with its metadata keys sorted, in place. Same keys and
    values, so the header keeps its length."""
    import struct

    with open(path, "r+b") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        header["__metadata__"] = dict(sorted(header.get("__metadata__", {}).items()))
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if len(text) > n:       # not expected; the file stays valid, only its order varies
            return
        f.seek(8)
        f.write(text + b" " * (n - len(text)))
