"""The smoke configuration end to end, as CI runs it: every table and figure, the committed
reference tables, resume after SIGKILL, and bit-for-bit determinism of the metrics JSON.

Each run happens in its own directory (`snakemake --directory`), starting from nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def run(workdir: Path, *targets: str, timeout: int = 900) -> float:
    started = time.perf_counter()
    proc = subprocess.run(snakemake_cmd(workdir, *targets), env=env(), capture_output=True,
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


def test_same_seed_gives_byte_identical_metrics(smoke_run, tmp_path):
    """A second run from scratch (Table 2's jobs) writes the very same metrics JSON bytes."""
    run(tmp_path, "reports/smoke/table2.tex")
    second = metrics_files(tmp_path)
    first = metrics_files(smoke_run)
    assert second, "no metrics written"
    different = [name for name, data in second.items() if first.get(name) != data]
    assert not different, different


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


def test_sigkill_midway_then_rerun_gives_identical_tables(smoke_run, tmp_path):
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
    assert table_files(tmp_path) == table_files(smoke_run)
    assert metrics_files(tmp_path) == metrics_files(smoke_run)
