"""The Snakemake DAG: dry-run job sets per table, lint, config errors, smoke end to end."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
BACKBONES = ("bert", "roberta", "albert")
TASKS = ("mnli", "mrpc", "qnli", "qqp", "rte", "sst2")

pytestmark = pytest.mark.skipif(not SNAKEMAKE.exists(), reason="snakemake not installed")


def snakemake(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               PATH=f"{SNAKEMAKE.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(
        [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(cwd), *args],
        capture_output=True, text=True, timeout=timeout, env=env)


def dry_run(tmp_path: Path, *targets: str, configfile: str = "config/config.yaml"):
    # targets first: --configfile takes every value that follows it
    proc = snakemake([*targets, "-n", "--cores", "8", "--configfile", str(ROOT / configfile)],
                     tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def job_counts(out: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> count."""
    block = out.split("Job stats:", 1)[1]
    counts: dict[str, int] = {}
    for line in block.splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


def jobs_of(out: str, rule: str) -> set[tuple[str, ...]]:
    """Wildcard tuples (backbone, task, variant, seed) of every job of `rule`."""
    found = set()
    for block in re.split(r"\n(?=\[[^\n]*\]\n(?:local)?rule )", out):
        m = re.search(rf"^(?:local)?rule {rule}:$", block, re.M)
        w = re.search(r"wildcards: (.*)", block)
        if m and w:
            d = dict(kv.split("=", 1) for kv in w.group(1).split(", "))
            found.add((d["backbone"], d["task"], d["variant"], d["seed"]))
    return found


def test_table2_dry_run_lists_exactly_its_jobs(tmp_path):
    out = dry_run(tmp_path, "reports/table2.tex")
    counts = job_counts(out)
    # the train job records the dev logits itself: no separate outputs job
    assert counts == {"prepare": 18, "train": 90, "evaluate": 90,
                      "report_spec": 1, "table": 1}, counts
    variants = ("full", "truncated-3x", "deebert", "pabee", "pf")
    expected = set(itertools.product(BACKBONES, TASKS, variants, ("42",)))
    assert jobs_of(out, "train") == expected


def test_table3_dry_run_only_bert_analysis_tasks(tmp_path):
    out = dry_run(tmp_path, "reports/table3.tex")
    train = jobs_of(out, "train")
    strategies = ("pf-voting", "pf-ensemble", "pf-max", "pf-avg", "pf-attn", "pf", "pf-lstm")
    assert train == set(itertools.product(("bert",), ("mnli", "mrpc"), strategies, ("42",)))


def test_table5_trains_teacher_and_students(tmp_path):
    out = dry_run(tmp_path, "reports/table5.tex")
    train = {(t, v) for _, t, v, _ in jobs_of(out, "train")}
    assert train == set(itertools.product(TASKS, ("full", "kd-2x", "pkd-2x", "tinybert-2x", "pf")))


def test_full_dag_dry_run(tmp_path):
    counts = job_counts(dry_run(tmp_path))
    assert counts["table"] == 6 and counts["figure"] == 4 and counts["latency_table"] == 1
    assert counts["collect"] == 1 and counts["all"] == 1
    assert "outputs" not in counts      # recorded by the train jobs (evaluation split dev)


@pytest.mark.parametrize("configfile", ["config/smoke.yaml", "config/paper.yaml"])
def test_other_configs_dry_run(tmp_path, configfile):
    counts = job_counts(dry_run(tmp_path, configfile=configfile))
    assert counts["table"] == 6 and counts["figure"] == 4


def test_heldout_calibration_adds_outputs_jobs(tmp_path):
    cfg = (ROOT / "config" / "config.yaml").read_text()
    cfg = cfg.replace("calibration: {split: dev}", "calibration: {split: heldout}")
    cfg = cfg.replace("heldout_fraction: 0.0", "heldout_fraction: 0.1")
    (tmp_path / "heldout.yaml").write_text(cfg)
    proc = snakemake(["reports/table2.tex", "-n", "--cores", "8", "--configfile",
                      str(tmp_path / "heldout.yaml")], tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    counts = job_counts(out)
    # held-out logits only for the calibrated variants (deebert, pabee, pf), not for the
    # last-exit models (full, truncated-3x): 3 backbones x 6 tasks x 3
    assert counts["outputs"] == 54, counts
    assert counts["train"] == 90, counts

    out = snakemake(["results/latency/bert/mrpc/pf/seed42.json", "-n", "-p", "--cores", "8",
                     "--configfile", str(ROOT / "config/config.yaml")], tmp_path)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    for cmd in ("pf train", "pf latency"):
        line = next(ln for ln in text.splitlines() if cmd in ln)
        assert "--threads 1" in line, line


def test_misspelled_key_fails_the_workflow(tmp_path):
    cfg = (ROOT / "config" / "config.yaml").read_text().replace("results_dir:", "result_dir:")
    (tmp_path / "bad.yaml").write_text(cfg)
    proc = snakemake(["-n", "--cores", "1", "--configfile", str(tmp_path / "bad.yaml")], tmp_path)
    assert proc.returncode != 0
    assert "unknown key 'result_dir' (did you mean 'results_dir'?)" in proc.stdout + proc.stderr


def test_lint_is_clean():
    proc = subprocess.run([str(SNAKEMAKE), "--lint"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Lints for" not in out, out

# The smoke run end to end lives in tests/test_e2e.py.
