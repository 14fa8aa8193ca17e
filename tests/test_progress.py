"""Progress streams: a training job launched by Snakemake writes progress lines into its log
while it runs (stdout is a file there, not a terminal), and its train_log.jsonl grows."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pf.progress import Progress, format_seconds
from test_e2e import _job_processes

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def test_progress_lines_and_records(capsys):
    bar = Progress("job", 10, display=True, every_steps=4, every_seconds=1e9)
    records = []
    for _ in range(10):
        bar.advance(1, items=8)
        if bar.due():
            records.append(bar.record(loss=0.5, epoch=1, epochs=2))
    bar.close()
    lines = capsys.readouterr().out.splitlines()
    assert [r["step"] for r in records] == [4, 8, 10]              # every 4 and the end
    assert lines[0].startswith("job: step 4/10 (40%) | loss 0.5 | epoch 1/2 | ")
    assert "examples/s" in lines[0] and "ETA" in lines[0]
    assert records[-1]["eta_s"] == 0 and records[0]["examples_per_s"] > 0
    quiet = Progress("job", 3, display=False, every_steps=1)
    quiet.advance()
    quiet.record()
    assert capsys.readouterr().out == ""
    assert format_seconds(3725) == "1:02:05"


@pytest.mark.skipif(not SNAKEMAKE.exists(), reason="snakemake not installed")
def test_snakemake_training_job_log_shows_progress_while_it_runs(tmp_path):
    config = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    config["training"]["defaults"].update(epochs=60)        # long enough to be watched
    per_epoch = math.ceil(config["data"]["synthetic"]["train_size"]
                          / config["training"]["defaults"]["batch_size"])
    total = 60 * per_epoch
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    target = "results/smoke/models/bert/sst2/full/seed42/model.safetensors"
    # full is the first model of the smoke config's train_together job (one log per job)
    log = tmp_path / "logs/smoke/train/bert/sst2/together/seed42.log"
    stream = tmp_path / "results/smoke/models/bert/sst2/full/seed42/train_log.jsonl"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               PATH=f"{SNAKEMAKE.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.Popen(
        [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
         "--cores", "1", target, "--configfile", str(tmp_path / "config.yaml")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if log.is_file():
                seen = [ln for ln in log.read_text().splitlines() if " step " in ln]
                if len(seen) >= 2:
                    break
            time.sleep(0.05)
        running = proc.poll() is None
        records = ([json.loads(ln) for ln in stream.read_text().splitlines()]
                   if stream.is_file() else [])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        for pid, _ in _job_processes(tmp_path):       # jobs may outlive Snakemake's group
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert running, "the job ended before two progress lines were seen"
    assert len(seen) >= 2, seen
    epoch = 50 // per_epoch + 1
    assert seen[0].startswith(f"pf train full:train: step 50/{total} ({100 * 50 / total:.0f}%) "
                              f"| stage train | epoch {epoch}/60")
    assert not (tmp_path / target).exists()
    # the same records, streamed into train_log.jsonl as they come
    assert [r["step"] for r in records if r["kind"] == "progress"][:1] == [50]
