"""Snakemake through a real SLURM: a single-node cluster on localhost (scripts/local_slurm.sh).

The cluster is brought up once for the module and torn down at the end, also when a test
fails or pytest receives SIGTERM. Every Snakemake run is bounded by `timeout -k` (Snakemake
can ignore SIGTERM while it waits for a job). Each test checks its outputs and that `sacct`
lists every job Snakemake submitted as COMPLETED.

Skipped, saying why, when the SLURM/munge/MariaDB packages are missing or we are not root
(`sudo scripts/local_slurm.sh install` installs them; .ci/run does it on CI).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "local_slurm.sh"
TEST_PROFILE = REPO / "workflow" / "profiles" / "slurm-test"
SLURM_PROFILE = REPO / "workflow" / "profiles" / "slurm"
SMOKE_CONFIG = REPO / "config" / "smoke.yaml"
SMOKE_TARGET = "table2.tex"  # under the smoke config's reports_dir

# Wall-clock bounds (seconds): the Snakemake runs, and the whole smoke DAG.
TINY_LIMIT = 240
SMOKE_LIMIT = 600

SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+)")


@dataclass
class Cluster:
    dir: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True,
                              timeout=timeout)


def _cluster_env(slurm_dir: Path) -> dict[str, str]:
    """os.environ + the script's `env` lines + this interpreter's bin/ first on PATH, so the
    jobs (which inherit the environment: sbatch --export=ALL) run this venv's python/pf."""
    out = subprocess.run([str(SCRIPT), "env", str(slurm_dir)], capture_output=True, text=True,
                         check=True).stdout
    env = dict(os.environ)
    for line in out.splitlines():
        m = re.fullmatch(r"export (\w+)=(.*)", line.strip())
        if m:
            env[m[1]] = os.path.expandvars(m[2].replace("$PATH", env.get("PATH", "")))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               PYTHONUNBUFFERED="1")
    return env


@pytest.fixture(scope="module")
def cluster():
    check = subprocess.run([str(SCRIPT), "check"], capture_output=True, text=True)
    if check.returncode != 0:
        pytest.skip("no local SLURM: " + (check.stderr.strip() or check.stdout.strip())
                    + " (sudo scripts/local_slurm.sh install)")
    # Short path: the daemons' unix sockets live under it.
    slurm_dir = Path(tempfile.mkdtemp(prefix="pfslurm.", dir="/tmp"))

    # Tear down also when pytest is terminated (SIGTERM would skip the finaliser).
    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, on_term)
    t0 = time.monotonic()
    try:
        up = subprocess.run([str(SCRIPT), "up", str(slurm_dir)], capture_output=True,
                            text=True, timeout=240)
        if up.returncode != 0:
            pytest.fail(f"scripts/local_slurm.sh up failed (exit {up.returncode}):\n"
                        f"{up.stdout}\n{up.stderr}")
        print(f"[slurm] up in {time.monotonic() - t0:.1f} s: {slurm_dir}")
        yield Cluster(slurm_dir, _cluster_env(slurm_dir))
    finally:
        down = subprocess.run([str(SCRIPT), "down", str(slurm_dir)], capture_output=True,
                              text=True, timeout=180)
        if down.returncode == 0:
            shutil.rmtree(slurm_dir, ignore_errors=True)
        else:  # keep the logs
            print(f"[slurm] down failed, logs kept in {slurm_dir}:\n{down.stderr}")
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def workdir(request):
    """A working directory of our own, not tmp_path: a concurrent pytest of the same user
    prunes old tmp_path trees, which would pull the files from under running jobs. Removed
    when the test passes, kept (path printed) when it fails."""
    path = Path(tempfile.mkdtemp(prefix="pf_slurm_test."))
    failed_before = request.session.testsfailed
    yield path
    # the call phase has been reported (and counted) when the fixture is torn down
    if request.session.testsfailed == failed_before:
        shutil.rmtree(path, ignore_errors=True)
    else:
        print(f"[slurm] working directory kept: {path}")


def run_snakemake(cluster: Cluster, args: list[str], workdir: Path, limit: int
                  ) -> tuple[subprocess.CompletedProcess, list[str], float]:
    """Run Snakemake bounded by `timeout -k`; return the result, the SLURM job ids it
    submitted and its wall time."""
    cmd = ["timeout", "-k", "15", str(limit), sys.executable, "-m", "snakemake",
           "--directory", str(workdir), *args]
    t0 = time.monotonic()
    # Own process group: on an interruption (Ctrl-C, SIGTERM, the outer timeout) the whole
    # group goes, Snakemake and its local jobs included, not only `timeout`.
    popen = subprocess.Popen(cmd, env=cluster.env, cwd=workdir, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = popen.communicate(timeout=limit + 60)
    except BaseException:
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(popen.pid, sig)
                popen.wait(wait)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        raise
    proc = subprocess.CompletedProcess(cmd, popen.returncode, out, err)
    wall = time.monotonic() - t0
    log = proc.stdout + proc.stderr
    (workdir / "snakemake.out").write_text(log)
    if proc.returncode != 0:
        slurm_logs = "\n".join(
            f"---- {p}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log")))
        timed_out = " (timed out)" if proc.returncode in (124, 137) else ""
        pytest.fail(f"snakemake exited {proc.returncode}{timed_out} after {wall:.0f} s: "
                    f"{' '.join(cmd)}\n{log[-8000:]}\n{slurm_logs[-6000:]}")
    return proc, SUBMITTED.findall(log), wall


def sacct_states(cluster: Cluster, job_ids: list[str]) -> dict[str, tuple[str, str]]:
    """job id -> (State, Comment) of the allocations (sacct -X)."""
    res = cluster.run("sacct", "-X", "-n", "-P", "-j", ",".join(job_ids),
                      "-o", "JobIdRaw,State,Comment")
    assert res.returncode == 0, res.stderr
    out = {}
    for line in res.stdout.splitlines():
        jid, state, comment = line.split("|", 2)
        out[jid] = (state, comment)
    return out


def rule_of(comment: str) -> str:
    """The plugin's sbatch --comment is rule_<name>[_wildcards_<values>]."""
    return re.sub(r"^rule_(\w+?)(_wildcards_.*)?$", r"\1", comment)


def assert_completed(cluster: Cluster, job_ids: list[str]) -> set[str]:
    """Every submitted job is known to sacct as COMPLETED; returns the rules they ran."""
    assert job_ids, "Snakemake submitted no SLURM job"
    states = sacct_states(cluster, job_ids)
    print(f"[slurm] sacct: " + ", ".join(f"{j} {s} {c}" for j, (s, c) in states.items()))
    assert sorted(states) == sorted(job_ids), f"sacct lists {sorted(states)}, not {job_ids}"
    bad = {j: s for j, (s, _) in states.items() if s != "COMPLETED"}
    assert not bad, f"jobs not COMPLETED: {bad}"
    return {rule_of(c) for _, c in states.values()}


TINY_SNAKEFILE = r'''
rule all:
    input: "b.txt"

rule train:
    output: "a.txt"
    shell: "python -c 'import sys; print(sys.executable)' > {output}; echo job=$SLURM_JOB_ID >> {output}"

rule prepare:
    input: "a.txt"
    output: "b.txt"
    shell: "cat {input} > {output}; echo job=$SLURM_JOB_ID >> {output}"
'''


def test_tiny_dag_slurm_profile(cluster: Cluster, workdir: Path):
    """Two jobs through the production profile (workflow/profiles/slurm) reading partition and
    account from $PF_SLURM_PARTITION/$PF_SLURM_ACCOUNT (set by `local_slurm.sh env`)."""
    (workdir / "Snakefile").write_text(TINY_SNAKEFILE)
    proc, job_ids, wall = run_snakemake(
        cluster, ["--profile", str(SLURM_PROFILE), "--snakefile", str(workdir / "Snakefile"),
                  "--slurm-init-seconds-before-status-checks", "2", "--latency-wait", "5"],
        workdir, TINY_LIMIT)
    print(f"[slurm] tiny DAG: {wall:.1f} s, jobs {job_ids}")
    lines = (workdir / "b.txt").read_text().split()
    # the job ran this interpreter (the jobs inherit PATH), inside two distinct SLURM jobs
    assert Path(lines[0]).resolve() == Path(sys.executable).resolve()
    assert lines[1:] == [f"job={j}" for j in job_ids]
    assert assert_completed(cluster, job_ids) == {"train", "prepare"}
    # partition and account came from the environment variables
    res = cluster.run("sacct", "-X", "-n", "-P", "-j", ",".join(job_ids),
                      "-o", "Partition,Account")
    assert set(res.stdout.split()) == {"debug|pf"}, res.stdout


def _smoke_reports_dir() -> str:
    import yaml

    return str(yaml.safe_load(SMOKE_CONFIG.read_text()).get("reports_dir", "reports"))


@pytest.mark.slow
def test_smoke_table2_slurm(cluster: Cluster, workdir: Path):
    """The smoke configuration's Table 2, every remote rule a SLURM job (slurm-test profile)."""
    target = f"{_smoke_reports_dir()}/{SMOKE_TARGET}"
    proc, job_ids, wall = run_snakemake(
        # the target before --configfile, which would take it for a second config file
        cluster, [target, "--profile", str(TEST_PROFILE), "--snakefile", str(REPO / "Snakefile"),
                  "--configfile", str(SMOKE_CONFIG)],
        workdir, SMOKE_LIMIT)
    print(f"[slurm] smoke {target}: {wall:.1f} s, {len(job_ids)} SLURM jobs {job_ids}")
    table = workdir / target
    assert table.is_file() and table.stat().st_size > 0
    assert "tabular" in table.read_text()
    ran = assert_completed(cluster, job_ids)
    # prepare and train are SLURM jobs; the localrules (evaluate, table...) ran on this host
    assert {"prepare", "train"} <= ran, ran
    assert not ran & {"evaluate", "table", "collect", "report_spec"}, ran
