"""The smoke configuration end to end, as CI runs it: every table and figure, the committed
reference tables (which a run with broken training must fail to match), stale results that
change nothing, and a second run, SIGKILLed mid-way and resumed, whose metrics JSON equal the
first run's bit for bit.

Each run happens in its own directory (`snakemake --directory`), starting from nothing.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "config" / "smoke.yaml"
REFERENCE = ROOT / "reference" / "smoke"
# Cells are percentages with one decimal and speed-ups with two; a different CPU may move
# a float in the last place, never by a tenth of a point unless something really changed.
TOLERANCE = "0.15"

pytestmark = pytest.mark.slow


def snakemake_cmd(workdir: Path, *targets: str, cores: int = 2) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
            "--profile", str(ROOT / "workflow/profiles/default"), "--cores", str(cores),
            "--configfile", str(SMOKE), "--directory", str(workdir), *targets]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e.get('PATH', '')}"
    e.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return e


def run(workdir: Path, *targets: str, timeout: int = 900, config: Path = SMOKE) -> float:
    started = time.perf_counter()
    cmd = snakemake_cmd(workdir, *targets)
    cmd[cmd.index(str(SMOKE))] = str(config)
    proc = subprocess.run(cmd, env=env(), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return time.perf_counter() - started


def metrics_files(workdir: Path) -> dict[str, bytes]:
    root = workdir / "results" / "smoke" / "metrics"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.json"))}


def table_files(workdir: Path) -> dict[str, bytes]:
    root = workdir / "reports" / "smoke"
    return {p.name: p.read_bytes() for p in sorted(root.glob("table*.*"))}


def pf_diff(old: Path, new: Path, tol: str) -> subprocess.CompletedProcess:
    # latency.csv holds wall-clock ratios: compared by no tolerance, only checked to exist
    return subprocess.run([sys.executable, "-m", "pf", "diff", str(old), str(new), "--tol", tol,
                           "--ignore", "latency.csv"],
                          capture_output=True, text=True, env=env(), timeout=120)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """One uninterrupted smoke run of the whole DAG, from scratch."""
    workdir = tmp_path_factory.mktemp("smoke_a")
    seconds = run(workdir, "all")
    print(f"\nsmoke DAG, all tables and figures: {seconds:.0f} s")
    return workdir


def test_smoke_builds_every_table_and_figure(smoke_run):
    reports = smoke_run / "reports" / "smoke"
    expected = [f"table{i}.{ext}" for i in range(1, 7) for ext in ("tex", "csv", "md")]
    expected += [f"figure{i}.png" for i in range(3, 7)]
    expected += ["latency.tex", "latency.csv", "latency.md", "metrics.csv"]
    missing = [name for name in expected if not (reports / name).is_file()]
    assert not missing, missing
    for i in range(3, 7):
        assert (reports / f"figure{i}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_smoke_tables_match_the_committed_reference(smoke_run):
    proc = pf_diff(REFERENCE, smoke_run / "reports" / "smoke", TOLERANCE)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_smoke_reference_is_a_real_result():
    """A reference of untrained models cannot catch training that stops learning: the
    committed smoke metrics hold no degenerate model and differ across methods."""
    with (REFERENCE / "metrics.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and "degenerate" in rows[0], (
        f"{REFERENCE}/metrics.csv predates the degenerate flag: regenerate it "
        f"(make reference-smoke)")
    degenerate = [f"{r['backbone']}/{r['task']}/{r['variant']} seed {r['seed']} "
                  f"target {r['target']}" for r in rows if r["degenerate"] == "True"]
    assert not degenerate, f"degenerate models in {REFERENCE}: {degenerate}"
    assert len({r["score"] for r in rows}) >= 5


def _break_training(config: dict) -> dict:
    """Learning rate ~0 at every level of the training section: models stay as initialised
    (and one epoch, since more would move nothing either)."""
    training = config["training"]
    blocks = [training.get("defaults") or {}]
    for level in ("backbones", "tasks", "variants"):
        blocks += list((training.get(level) or {}).values())
    for block in blocks:
        block["lr"] = 1e-12
        block["epochs"] = 1
    training["defaults"] = blocks[0]
    return config


def test_reference_diff_fails_when_training_is_broken(tmp_path):
    """The CI check can fail: Table 2 of a smoke run whose models do not learn differs from
    the committed reference beyond the tolerance, in its scores."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(_break_training(yaml.safe_load(SMOKE.read_text()))))
    work = tmp_path / "run"
    run(work, "reports/smoke/table2.csv", config=broken)
    built = work / "reports" / "smoke" / "table2.csv"
    proc = pf_diff(REFERENCE / "table2.csv", built, TOLERANCE)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    moved = [ln for ln in proc.stdout.splitlines() if "] mean:" in ln
             and "Speed-up" not in ln]
    assert len(moved) >= 3, proc.stdout


def test_stale_results_leave_tables_and_figures_unchanged(smoke_run, tmp_path):
    """Results an earlier config left behind (another seed of ours, a stale truncated variant
    at the same speed-up, another seed's curve) do not reach any table or figure."""
    work = tmp_path / "copy"
    shutil.copytree(smoke_run, work, symlinks=True)
    reports = work / "reports" / "smoke"
    outputs = sorted(p.name for p in reports.glob("table*.*")) + \
        sorted(p.name for p in reports.glob("figure*.png")) + ["metrics.csv"]
    before = {name: (reports / name).read_bytes() for name in outputs}
    results = work / "results" / "smoke"
    from pf.metrics_schema import degenerate_reason

    def stale(src: Path, dest: Path, **changes) -> None:
        obj = {**json.loads(src.read_text()), **changes}
        obj["score"] = obj["metrics"][obj["metric"]] = 0.99
        reason = degenerate_reason(obj["prediction_counts"], obj["score"],
                                   obj["majority_score"])
        obj["degenerate"], obj["degenerate_reason"] = reason is not None, reason
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(obj))

    metrics = results / "metrics" / "bert" / "sst2"
    for target in ("2", "3"):
        stale(metrics / f"pf/seed42/target{target}.json",
              metrics / f"pf/seed7/target{target}.json", seed=7)
    stale(metrics / "truncated-3x/seed42/target3.json",
          metrics / "truncated-2.9x/seed42/target3.json", variant="truncated-2.9x")
    curve = results / "curves" / "bert" / "sst2" / "pf"
    lines = (curve / "seed42.csv").read_text().splitlines()
    header = lines[0].split(",")
    col = header.index("accuracy")
    rows = [ln.split(",") for ln in lines[1:]]
    for r in rows:
        r[col] = "0.99"
    (curve / "seed7.csv").write_text("\n".join([lines[0]] + [",".join(r) for r in rows]) + "\n")
    for name in outputs:
        (reports / name).unlink()
    run(work, "all")
    after = {name: (reports / name).read_bytes() for name in outputs}
    assert after == before


def _job_processes(workdir: Path) -> list[tuple[int, str]]:
    """(pid, command line) of every process running in `workdir` (Snakemake's jobs run
    there; they may sit in process groups of their own)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if Path(os.readlink(proc / "cwd")) != workdir.resolve():
                continue
            args = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found.append((int(proc.name), args))
    return found


def _kill_everything(snakemake: subprocess.Popen, workdir: Path) -> None:
    """SIGKILL Snakemake's process group and every job process, as a node crash would."""
    os.killpg(snakemake.pid, signal.SIGKILL)
    for pid, _ in _job_processes(workdir):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_second_run_killed_midway_gives_identical_metrics_and_tables(smoke_run, tmp_path):
    """A second run of the whole DAG from scratch, SIGKILLed mid-way and rerun, writes the
    very same metrics JSON bytes and tables as the uninterrupted first one. Most of its jobs
    run uninterrupted, so this is also the check that the same seed gives the same metrics,
    bit for bit."""
    cmd = snakemake_cmd(tmp_path, "all")
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    models = tmp_path / "results" / "smoke" / "models"
    deadline = time.monotonic() + 600
    try:
        # Wait until some checkpoints exist and a training job is in flight, then kill the
        # whole process group (Snakemake and its jobs) without warning.
        while time.monotonic() < deadline:
            done = len(list(models.rglob("model.json"))) if models.exists() else 0
            training = [a for _, a in _job_processes(tmp_path) if "pf train" in a]
            if done >= 3 and training:
                break
            assert proc.poll() is None, "the run finished before it could be killed"
            time.sleep(0.1)
        else:
            pytest.fail("no training job seen within 10 minutes")
        _kill_everything(proc, tmp_path)
    finally:
        proc.wait(timeout=60)
    assert not (tmp_path / "reports" / "smoke" / "table1.tex").exists()
    # A SIGKILL leaves Snakemake's directory lock behind; --unlock is its documented way back
    # (it removes the lock only, not the incomplete-job markers). The profile's
    # rerun-incomplete then reruns the job that was killed mid-way.
    run(tmp_path, "--unlock")
    run(tmp_path, "all")
    first, second = metrics_files(smoke_run), metrics_files(tmp_path)
    assert second, "no metrics written"
    different = sorted(name for name in first.keys() | second.keys()
                       if first.get(name) != second.get(name))
    assert not different, f"metrics JSON that differ between two runs of the same seed: {different}"
    assert table_files(tmp_path) == table_files(smoke_run)
