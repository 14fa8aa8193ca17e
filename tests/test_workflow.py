"""The Snakemake DAG: dry-run job sets per table, lint, config errors, smoke end to end."""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
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


def wildcards_of(out: str, rule: str) -> list[dict[str, str]]:
    """The wildcards of every job of `rule` in a dry run."""
    found = []
    for block in re.split(r"\n(?=\[[^\n]*\]\n(?:local)?rule )", out):
        m = re.search(rf"^(?:local)?rule {rule}:$", block, re.M)
        w = re.search(r"wildcards: (.*)", block)
        if m and w:
            found.append(dict(kv.split("=", 1) for kv in w.group(1).split(", ")))
    return found


def jobs_of(out: str, rule: str) -> set[tuple[str, ...]]:
    """(backbone, task, variant, seed) of every job of `rule`."""
    return {(d["backbone"], d["task"], d["variant"], d["seed"]) for d in wildcards_of(out, rule)}


def together_of(out: str) -> set[tuple[str, ...]]:
    """(backbone, task, seed) of every train_together job (resources.train_together)."""
    return {(d["backbone"], d["task"], d["seed"]) for d in wildcards_of(out, "train_together")}


def test_table2_dry_run_lists_exactly_its_jobs(tmp_path):
    out = dry_run(tmp_path, "reports/table2.tex", "-p")
    counts = job_counts(out)
    # the train job records the dev logits itself: no separate outputs job; the models of
    # Tables 1 and 2 (resources.train_together) train in one job per backbone x task x seed
    assert counts == {"prepare": 18, "train_together": 54, "evaluate": 270,
                      "report_spec": 1, "table": 1}, counts
    assert together_of(out) == set(itertools.product(BACKBONES, TASKS, ("42", "43", "44")))
    line = next(ln for ln in out.splitlines() if "pf train-many" in ln)
    runs = json.loads(shlex.split(line)[shlex.split(line).index("--runs") + 1])
    assert [r["variant"] for r in runs] == ["full", "truncated-2x", "truncated-3x", "deebert",
                                            "pabee", "pf"]
    assert runs[2]["options"] == {"layers": 2} and "--threads 1" in line


def test_without_train_together_one_job_per_model(tmp_path):
    cfg = (ROOT / "config" / "config.yaml").read_text()
    cfg = cfg.replace("train_together: [full, truncated, deebert, pabee, pf]", "train_together: []")
    (tmp_path / "separate.yaml").write_text(cfg)
    out = dry_run(tmp_path, "reports/table2.tex", configfile=str(tmp_path / "separate.yaml"))
    assert job_counts(out)["train"] == 270 and "train_together" not in job_counts(out)
    variants = ("full", "truncated-3x", "deebert", "pabee", "pf")
    expected = set(itertools.product(BACKBONES, TASKS, variants, ("42", "43", "44")))
    assert jobs_of(out, "train") == expected


def test_table3_dry_run_only_bert_analysis_tasks(tmp_path):
    out = dry_run(tmp_path, "reports/table3.tex")
    train = jobs_of(out, "train")
    strategies = ("pf-voting", "pf-ensemble", "pf-max", "pf-avg", "pf-attn", "pf-lstm")
    assert train == set(itertools.product(("bert",), ("mnli", "mrpc"), strategies, ("42",)))
    # concatenation (pf) comes with the other models of Tables 1 and 2
    assert together_of(out) == {("bert", "mnli", "42"), ("bert", "mrpc", "42")}


def test_table5_trains_teacher_and_students(tmp_path):
    out = dry_run(tmp_path, "reports/table5.tex")
    train = {(t, v) for _, t, v, _ in jobs_of(out, "train")}
    # Table 5 runs on the analysis tasks only (config.yaml: the 40-minute budget); the
    # teacher (full) and pf train in the train_together jobs
    assert train == set(itertools.product(("mnli", "mrpc"), ("kd-2x", "pkd-2x", "tinybert-2x")))
    assert together_of(out) == {("bert", "mnli", "42"), ("bert", "mrpc", "42")}


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
    # last-exit models (full, truncated-3x): 3 backbones x 6 tasks x 3 x 3 seeds
    assert counts["outputs"] == 162, counts
    assert counts["train_together"] == 54, counts

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


def test_table_rules_pass_exactly_their_declared_inputs(tmp_path):
    """The table and figure jobs give `pf report` their metrics files (and curves) by name,
    never a results folder to search."""
    out = dry_run(tmp_path, "reports/table3.tex", "reports/figure3.png", "-p")
    commands = [ln.split("Shell command:", 1)[-1].strip() for ln in out.splitlines()
                if "pf report" in ln]
    table = next(c for c in commands if "--table 3" in c)
    assert "--results" not in table
    listed = set(re.findall(r"results/metrics/\S+\.json", table))
    assert len(listed) == 1 * 2 * 7 and all("/seed42/" in p for p in listed)
    figure = next(c for c in commands if "--figure 3" in c)
    curves = set(re.findall(r"results/curves/\S+\.csv", figure))
    assert len(curves) == 2 * 3 * 3          # analysis tasks x curve variants x seeds


def _fresh_clone(tmp_path: Path) -> Path:
    """The tracked files of this checkout, and nothing else (what `git clone` gives)."""
    proc = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if proc.returncode != 0:
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    for name in proc.stdout.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    return clone


def test_outputs_are_not_tracked_and_stay_ignored():
    proc = subprocess.run(["git", "ls-files", "reports", "results"], cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip("not a git checkout")
    assert proc.stdout.split() == ["reports/README.md", "results/README.md"]
    ignored = subprocess.run(["git", "check-ignore", "reports/table2.tex",
                              "reports/smoke/table2.csv", "results/metrics/x.json"],
                             cwd=ROOT, capture_output=True, text=True)
    assert len(ignored.stdout.split()) == 3, ignored.stdout


def test_fresh_clone_plans_the_table2_jobs(tmp_path):
    """From a fresh clone the README's main commands have work to do: no committed output
    shadows a build target."""
    clone = _fresh_clone(tmp_path)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               PATH=f"{SNAKEMAKE.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run([str(SNAKEMAKE), "-n", "reports/table2.tex", "--cores", "2"],
                          cwd=clone, capture_output=True, text=True, timeout=300, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Nothing to be done" not in out
    counts = job_counts(out)
    total = sum(counts.values())
    assert total >= 20 and counts["table"] == 1, counts
    proc = subprocess.run([str(SNAKEMAKE), "-n", "all", "--cores", "2"], cwd=clone,
                          capture_output=True, text=True, timeout=300, env=env)
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts["table"] == 6 and counts["figure"] == 4 and counts["collect"] == 1


def test_lint_is_clean():
    proc = subprocess.run([str(SNAKEMAKE), "--lint"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Lints for" not in out, out

# The smoke run end to end lives in tests/test_e2e.py.
