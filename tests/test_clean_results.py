"""`make clean-results` on a temporary copy of the checkout: what the DAG computed goes,
what git tracks (the committed references above all) stays."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not (shutil.which("make") and shutil.which("git")),
                                reason="needs make and git")

TRACKED = ["results/README.md", "reference/default/table2.csv", "reference/smoke/table2.csv",
           "reports/smoke/table1.csv"]
GENERATED = ["results/prepared/bert/rte/meta.json", "results/smoke/metrics/x.json",
             "results/paper/models/m.safetensors", "results/report_spec.json",
             "logs/train/bert.log", "logs/smoke/prepare/a.log", "logs/paper/download.log",
             ".snakemake/metadata/cmVzdWx0cw==", ".snakemake/incomplete/x",
             ".snakemake/log/2026.snakemake.log", ".snakemake/slurm_logs/rule_train/1.log",
             "reports/table2.tex", "reports/smoke/table2.tex", "reports/paper/figure3.png"]
KEPT = [".snakemake/conda/env/bin/python", "reference/smoke/untracked-note.txt", "notes.txt",
        "docs/draft.md"]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=pf", "-c", "user.email=pf@example.org", *args],
                   cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    copy = tmp_path / "pf"
    copy.mkdir()
    shutil.copy(REPO / "Makefile", copy / "Makefile")
    shutil.copytree(REPO / "config", copy / "config")
    for name in TRACKED:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_text("committed\n")
    _git(copy, "init", "-q")
    _git(copy, "add", "-A")
    _git(copy, "commit", "-qm", "copy")
    return copy


def _touch(root: Path, names: list[str]) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x\n")


def _make(copy: Path, *args: str, home: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, HOME=str(home)) if home else None
    return subprocess.run(["make", "-s", "clean-results", *args], cwd=copy, capture_output=True,
                          text=True, timeout=120, env=env)


def test_clean_results_removes_what_the_dag_made_and_keeps_references(checkout: Path, tmp_path):
    elsewhere = tmp_path / "scratch" / "my-results"
    (checkout / "config" / "mine.yaml").write_text(
        f"results_dir: '{elsewhere}'   # on scratch\nlogs_dir: logs/mine\nreports_dir: reports/mine\n")
    _touch(checkout, GENERATED + KEPT + ["logs/mine/x.log"])
    _touch(elsewhere, ["metrics/a.json"])
    res = _make(checkout)
    assert res.returncode == 0, res.stderr
    for name in GENERATED + ["logs/mine/x.log"]:
        assert not (checkout / name).exists(), name
    assert not elsewhere.exists(), res.stdout + res.stderr
    for name in TRACKED + KEPT:
        assert (checkout / name).read_text(), name
    assert sorted(p.name for p in (checkout / "results").iterdir()) == ["README.md"]
    assert "removed results" in res.stdout and "removed logs" in res.stdout
    # nothing left to do: a second run succeeds too
    assert _make(checkout).returncode == 0


def test_clean_results_for_a_config_given_on_the_command_line(checkout: Path, tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text(f"results_dir: {tmp_path / 'out'}\nlogs_dir: {tmp_path / 'log'}\n")
    _touch(tmp_path, ["out/a", "log/b"])
    res = _make(checkout, f"CONFIG={other}")
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "log").exists()


@pytest.mark.parametrize("bad", ["reference", "reference/smoke", ".", "/"])
def test_clean_results_refuses_a_results_dir_over_the_references(checkout: Path, bad):
    (checkout / "config" / "bad.yaml").write_text(f"results_dir: {bad}\n")
    res = _make(checkout)
    assert res.returncode != 0 and "refusing to remove" in res.stderr
    for name in TRACKED:
        assert (checkout / name).exists(), name


def test_clean_results_refuses_a_directory_holding_the_checkout(checkout: Path):
    (checkout / "config" / "bad.yaml").write_text(f"results_dir: {checkout}\n")
    res = _make(checkout)
    assert res.returncode != 0 and "refusing to remove" in res.stderr
    assert (checkout / "Makefile").exists()


def test_clean_results_expands_a_home_relative_results_dir(checkout: Path, tmp_path):
    """`~/...` means the home folder, as pf.config.load_config expands it for the DAG; a
    folder literally named '~' in the checkout is not what the DAG made."""
    home = tmp_path / "home"
    (checkout / "config" / "mine.yaml").write_text("results_dir: ~/pf-results\n")
    _touch(home, ["pf-results/metrics/a.json"])
    _touch(checkout, ["~/pf-results/keep.txt"])
    res = _make(checkout, home=home)
    assert res.returncode == 0, res.stderr
    assert not (home / "pf-results").exists()
    assert (checkout / "~" / "pf-results" / "keep.txt").exists()
    assert f"removed {home}/pf-results" in res.stdout
