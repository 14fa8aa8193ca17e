"""Snakemake through a real SLURM: a single-node cluster on localhost (scripts/local_slurm.sh).

The cluster is brought up once for the module and torn down at the end, also when a test
fails or pytest receives SIGTERM. It has two partitions on its one node, `cpu` and `gpu`, so
that the profiles' per-rule partitions are exercised: `sacct` shows which partition each job
ran in (prepare: cpu; train, outputs: gpu; the local rules: no job at all). Every Snakemake
run is bounded by `timeout -k` (Snakemake can ignore SIGTERM while it waits for a job). Each
test checks its outputs and what `sacct` recorded of every job Snakemake submitted.

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
        # At least 4 CPUs (slurmd accepts a node larger than the machine): the failing-DAG
        # test needs 3 jobs at once, whatever the machine or its OMP_NUM_THREADS.
        cpus = str(max(4, os.cpu_count() or 1))
        up = subprocess.run([str(SCRIPT), "up", str(slurm_dir)], capture_output=True,
                            text=True, timeout=240, env={**os.environ, "PF_SLURM_CPUS": cpus})
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


def run_snakemake(cluster: Cluster, args: list[str], workdir: Path, limit: int,
                  env: dict[str, str] | None = None, expect_failure: bool = False
                  ) -> tuple[subprocess.CompletedProcess, list[str], float]:
    """Run Snakemake bounded by `timeout -k`; return the result, the SLURM job ids it
    submitted and its wall time. `env` is added to the cluster's environment."""
    cmd = ["timeout", "-k", "15", str(limit), sys.executable, "-m", "snakemake",
           "--directory", str(workdir), *args]
    t0 = time.monotonic()
    # Own process group: on an interruption (Ctrl-C, SIGTERM, the outer timeout) the whole
    # group goes, Snakemake and its local jobs included, not only `timeout`.
    popen = subprocess.Popen(cmd, env={**cluster.env, **(env or {})}, cwd=workdir, stdout=subprocess.PIPE,
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
    if (proc.returncode != 0) != expect_failure or proc.returncode in (124, 137):
        slurm_logs = "\n".join(
            f"---- {p}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log")))
        timed_out = " (timed out)" if proc.returncode in (124, 137) else ""
        pytest.fail(f"snakemake exited {proc.returncode}{timed_out} after {wall:.0f} s: "
                    f"{' '.join(cmd)}\n{log[-8000:]}\n{slurm_logs[-6000:]}")
    return proc, SUBMITTED.findall(log), wall


@dataclass(frozen=True)
class SlurmJob:
    """What sacct recorded of one allocation (sacct -X)."""

    id: str
    state: str
    rule: str
    partition: str
    account: str


def rule_of(comment: str) -> str:
    """The plugin's sbatch --comment is rule_<name>[_wildcards_<values>]."""
    return re.sub(r"^rule_(\w+?)(_wildcards_.*)?$", r"\1", comment)


def sacct_jobs(cluster: Cluster, job_ids: list[str]) -> dict[str, SlurmJob]:
    """job id -> its sacct record; every submitted id must be known to sacct."""
    assert job_ids, "Snakemake submitted no SLURM job"
    res = cluster.run("sacct", "-X", "-n", "-P", "-j", ",".join(job_ids),
                      "-o", "JobIdRaw,State,Partition,Account,Comment")
    assert res.returncode == 0, res.stderr
    jobs = {}
    for line in res.stdout.splitlines():
        jid, state, partition, account, comment = line.split("|", 4)
        jobs[jid] = SlurmJob(jid, state, rule_of(comment), partition, account)
    print("[slurm] sacct: " + ", ".join(f"{j.id} {j.rule} {j.state} {j.partition}"
                                         for j in jobs.values()))
    assert sorted(jobs) == sorted(job_ids), f"sacct lists {sorted(jobs)}, not {job_ids}"
    return jobs


def assert_completed(cluster: Cluster, job_ids: list[str]) -> dict[str, SlurmJob]:
    """Every submitted job is known to sacct as COMPLETED; returns the records."""
    jobs = sacct_jobs(cluster, job_ids)
    bad = {j.id: j.state for j in jobs.values() if j.state != "COMPLETED"}
    assert not bad, f"jobs not COMPLETED: {bad}"
    return jobs


def partitions_by_rule(jobs: dict[str, SlurmJob]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for job in jobs.values():
        out.setdefault(job.rule, set()).add(job.partition)
    return out


TINY_SNAKEFILE = r'''
# The pf rules' names and their roles: SLURM jobs (prepare; train and outputs, the GPU rules)
# and rules run on the submitting host (evaluate, collect). Each records where it ran.
localrules: all, evaluate, collect

rule all:
    input: "report.txt"

rule prepare:
    resources: mem_mb=100
    output: "prepared.txt"
    shell: "echo prepare job=${{SLURM_JOB_ID:-local}} > {output}"

rule train:
    resources: mem_mb=100
    input: "prepared.txt"
    output: "model.txt"
    shell: "python -c 'import sys; print(sys.executable)' > {output}; echo train job=${{SLURM_JOB_ID:-local}} >> {output}"

rule outputs:
    resources: mem_mb=100
    input: "model.txt"
    output: "outputs.txt"
    shell: "echo outputs job=${{SLURM_JOB_ID:-local}} > {output}"

rule evaluate:
    resources: mem_mb=100
    input: "outputs.txt"
    output: "metrics.txt"
    shell: "echo evaluate job=${{SLURM_JOB_ID:-local}} > {output}"

rule collect:
    resources: mem_mb=100
    input: "prepared.txt", "model.txt", "outputs.txt", "metrics.txt"
    output: "report.txt"
    shell: "cat {input} > {output}; echo collect job=${{SLURM_JOB_ID:-local}} >> {output}"
'''


def test_tiny_dag_slurm_profile(cluster: Cluster, workdir: Path):
    """The production profile (workflow/profiles/slurm), partitions and account from
    $PF_SLURM_PARTITION, $PF_SLURM_GPU_PARTITION and $PF_SLURM_ACCOUNT (`local_slurm.sh env`):
    prepare in cpu, train and outputs in gpu, evaluate and collect on this host."""
    (workdir / "Snakefile").write_text(TINY_SNAKEFILE)
    proc, job_ids, wall = run_snakemake(
        cluster, ["--profile", str(SLURM_PROFILE), "--snakefile", str(workdir / "Snakefile"),
                  "--slurm-init-seconds-before-status-checks", "2", "--latency-wait", "5"],
        workdir, TINY_LIMIT)
    print(f"[slurm] tiny DAG: {wall:.1f} s, jobs {job_ids}")
    lines = (workdir / "report.txt").read_text().split("\n")
    # the job ran this interpreter (the jobs inherit PATH), inside its own SLURM job
    assert Path(lines[1]).resolve() == Path(sys.executable).resolve()
    where = dict(line.split(" job=") for line in lines if " job=" in line)
    assert where["evaluate"] == where["collect"] == "local", where
    jobs = assert_completed(cluster, job_ids)
    assert {j.rule: j.id for j in jobs.values()} == {
        r: where[r] for r in ("prepare", "train", "outputs")}
    assert partitions_by_rule(jobs) == {"prepare": {"cpu"}, "train": {"gpu"},
                                        "outputs": {"gpu"}}
    assert {j.account for j in jobs.values()} == {"pf"}


FAILING_SNAKEFILE = r'''
rule all:
    input: "flaky.txt", "broken.txt", "after_slow.txt"

# fails on its first attempt only (a node that went away, a pre-emption)
rule flaky:
    resources: mem_mb=100
    output: "flaky.txt"
    shell: "if [ -e flaky.tried ]; then echo ok > {output}; else touch flaky.tried; exit 1; fi"

rule broken:
    resources: mem_mb=100
    output: "broken.txt"
    shell: "echo failing on purpose >&2; exit 3"

# still running when Snakemake has given `broken` up: it waits (3 minutes at most) until the
# Snakemake log reports the second failed attempt (the "    log: .../rule_broken/ID.log" line
# of the error, once per attempt). Without keep-going Snakemake then lets it
# finish but starts nothing more, so no after_slow.
rule slow:
    resources: mem_mb=100
    output: "slow.txt"
    shell: "for i in $(seq 180); do [ $(cat .snakemake/log/*.log 2>/dev/null | grep -c '^ *log: .*/rule_broken/') -ge 2 ] && break; sleep 1; done; sleep 3; echo ok > {output}"

rule after_slow:
    resources: mem_mb=100
    input: "slow.txt"
    output: "after_slow.txt"
    shell: "cp {input} {output}"
'''


def test_slurm_profile_keeps_going_and_retries(cluster: Cluster, workdir: Path):
    """A failed job neither stops the campaign (keep-going) nor fails at its first attempt
    (retries: 1): the flaky job succeeds when resubmitted, the independent branch finishes,
    and only the job that always fails is reported, after two attempts."""
    (workdir / "Snakefile").write_text(FAILING_SNAKEFILE)
    proc, job_ids, wall = run_snakemake(
        cluster, ["--profile", str(SLURM_PROFILE), "--snakefile", str(workdir / "Snakefile"),
                  "--slurm-init-seconds-before-status-checks", "2", "--latency-wait", "5"],
        workdir, TINY_LIMIT, expect_failure=True)
    print(f"[slurm] failing DAG: {wall:.1f} s, exit {proc.returncode}, jobs {job_ids}")
    assert (workdir / "flaky.txt").read_text() == "ok\n"
    assert (workdir / "after_slow.txt").read_text() == "ok\n"
    assert not (workdir / "broken.txt").exists()
    states: dict[str, list[str]] = {}
    for job in sorted(sacct_jobs(cluster, job_ids).values(), key=lambda j: int(j.id)):
        states.setdefault(job.rule, []).append(job.state)
    assert states == {"flaky": ["FAILED", "COMPLETED"], "broken": ["FAILED", "FAILED"],
                      "slow": ["COMPLETED"], "after_slow": ["COMPLETED"]}, states


def _smoke_reports_dir() -> str:
    import yaml

    return str(yaml.safe_load(SMOKE_CONFIG.read_text()).get("reports_dir", "reports"))


@pytest.mark.slow
def test_smoke_table2_slurm(cluster: Cluster, workdir: Path):
    """The smoke configuration's Table 2 on a cluster whose nodes cannot reach the hub: its
    BERT comes from the hub (a Hugging Face cache in a shared HF_HOME, built here), the
    `download` rule checks it on this host before any job, and every job runs with
    HF_HUB_OFFLINE=1 reading that cache (docs/SLURM.md). slurm-test profile: prepare in the
    cpu partition, train_together in the gpu partition, the local rules on this host."""
    from tests.fixtures_hub import hf_cache, hub_config

    hf_home = workdir / "hf-home"
    hf_cache(hf_home, n_layers=6)
    config = hub_config(workdir / "hub-smoke.yaml", n_layers=6)
    target = f"{_smoke_reports_dir()}/{SMOKE_TARGET}"
    proc, job_ids, wall = run_snakemake(
        # the target before --configfile, which would take it for a second config file
        cluster, [target, "--profile", str(TEST_PROFILE), "--snakefile", str(REPO / "Snakefile"),
                  "--configfile", str(config)],
        workdir, SMOKE_LIMIT, env={"HF_HOME": str(hf_home)})
    print(f"[slurm] smoke {target}: {wall:.1f} s, {len(job_ids)} SLURM jobs {job_ids}")
    table = workdir / target
    assert table.is_file() and table.stat().st_size > 0
    assert "tabular" in table.read_text()
    # the download rule ran here, before the jobs, and found the model in the cache
    assert "checking the cache only" in (workdir / "logs/smoke/download.log").read_text()
    assert (workdir / "results/smoke/prepared/bert/sst2/meta.json").is_file()
    jobs = assert_completed(cluster, job_ids)
    by_rule = partitions_by_rule(jobs)
    # prepare and train are SLURM jobs in their partitions; the localrules (download,
    # evaluate, table...) ran on this host
    # (the smoke config trains its five models per backbone x task x seed in one job)
    assert by_rule == {"prepare": {"cpu"}, "train_together": {"gpu"}}, by_rule
    assert sum(j.rule == "train_together" for j in jobs.values()) == 3
