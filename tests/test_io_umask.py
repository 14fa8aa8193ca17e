"""Written outputs honour the umask: readable by the group on a shared cluster under 002,
by everyone under 022, as a plain open() would make them (not mkstemp's 0600)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

WRITE_ALL = r"""
import sys
from pathlib import Path
from pf.io import atomic_path, atomic_write_json, atomic_write_text
out = Path(sys.argv[1])
atomic_write_text(out / "a.txt", "text\n")
atomic_write_json(out / "sub" / "b.json", {"x": 1})
with atomic_path(out / "c.bin") as tmp:
    tmp.write_bytes(b"\0")
atomic_write_text(out / "a.txt", "replaced\n")     # over an existing file
"""


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode)
            for p in [root, *root.rglob("*")]}


def _run(args: list[str], mask: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, preexec_fn=lambda: os.umask(mask))


@pytest.mark.parametrize("mask, file_mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_get_the_mode_of_the_umask(tmp_path, mask, file_mode):
    res = _run(["-c", WRITE_ALL, str(tmp_path)], mask)
    assert res.returncode == 0, res.stderr
    modes = _modes(tmp_path)
    for name in ("a.txt", "sub/b.json", "c.bin"):
        assert modes[name] == file_mode, (name, oct(modes[name]))
    assert (tmp_path / "a.txt").read_text() == "replaced\n"
    assert not [n for n in modes if n.endswith(".tmp")]


@pytest.mark.parametrize("mask", [0o022, 0o002])
def test_prepared_directory_honours_the_umask(tmp_path, mask):
    out = tmp_path / "prepared"
    backbone = json.dumps({"name": "bert", "family": "bert", "tiny": {"n_layers": 2}})
    res = _run(["-m", "pf", "prepare", "--task", "rte", "--source", "synthetic",
                "--synthetic-json", '{"train_size": 40, "dev_size": 20}', "--backbone-json",
                backbone, "--max-length", "16", "--out", str(out)], mask)
    assert res.returncode == 0, res.stderr
    modes = _modes(out)
    assert {"meta.json", "train.safetensors", "dev.safetensors", "tokenizer"} <= set(modes)
    for name, mode in modes.items():
        want = (0o777 if (out / name).is_dir() else 0o666) & ~mask
        assert mode == want, (name, oct(mode), oct(want))


def test_current_umask_is_read_without_changing_it():
    from pf.io import current_umask

    before = os.umask(0o027)
    try:
        assert current_umask() == 0o027
        assert current_umask() == 0o027
    finally:
        os.umask(before)


def test_checkpoint_and_recorded_logits_honour_the_umask(tmp_path):
    """pf train writes its checkpoint and the recorded logits through pf.io (safetensors
    alone would make them 0600)."""
    mask = 0o002
    prepared, model = tmp_path / "prepared", tmp_path / "model"
    backbone = json.dumps({"name": "bert", "family": "bert",
                           "tiny": {"n_layers": 2, "hidden_size": 32, "n_heads": 2,
                                    "intermediate_size": 64}})
    res = _run(["-m", "pf", "prepare", "--task", "rte", "--source", "synthetic",
                "--synthetic-json", '{"train_size": 32, "dev_size": 16}', "--backbone-json",
                backbone, "--max-length", "16", "--out", str(prepared)], mask)
    assert res.returncode == 0, res.stderr
    res = _run(["-m", "pf", "train", "--prepared", str(prepared), "--method", "pabee",
                "--training", json.dumps({"lr": 1e-3, "batch_size": 16, "max_steps": 2}),
                "--seed", "0", "--threads", "1", "--out", str(model),
                "--record", f"dev={tmp_path / 'outputs' / 'dev.safetensors'}"], mask)
    assert res.returncode == 0, res.stderr
    for root in (model, tmp_path / "outputs"):
        modes = {n: m for n, m in _modes(root).items() if n != "."}
        assert modes and set(modes.values()) == {0o664}, {n: oct(m) for n, m in modes.items()}
