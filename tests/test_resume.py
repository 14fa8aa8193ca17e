"""Mid-training checkpoints: a killed `pf train` resumes and ends bit for bit where an
uninterrupted run ends; the checkpoint is safetensors + JSON, never a pickle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pf.errors import PfError
from pf.train.cli import resume_dir_for, run_train
from pf.train.resume import Every, ResumeStore
from test_e2e import _job_processes
from test_methods_support import write_prepared

# 256 rows / batch 8 / accum 2 = 16 steps per epoch, 6 epochs; best epoch kept on dev
TRAINING = {"lr": 1e-3, "batch_size": 8, "grad_accum": 2, "epochs": 6, "warmup_ratio": 0.1,
            "select_on_dev": True}
OPTIONS = {"frozen_layers": 2}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return write_prepared(tmp_path_factory.mktemp("prepared"), n_train=256, n_dev=64,
                          n_heldout=48)


def _env() -> dict[str, str]:
    return dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1",
                MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")


def _cmd(prepared: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "pf", "train", "--prepared", str(prepared), "--method", "pf",
            "--options", json.dumps(OPTIONS), "--training", json.dumps(TRAINING),
            "--seed", "5", "--out", str(out), "--threads", "1", "--device", "cpu",
            "--checkpoint-every", "10", "--progress-every", "20",
            "--record", f"dev={out}/dev.safetensors"]


def _steps(out: Path) -> list[dict]:
    lines = (out / "train_log.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] in ("step", "dev")]


def test_sigkill_then_rerun_resumes_and_matches_an_uninterrupted_run(prepared, tmp_path):
    whole = tmp_path / "whole"
    done = subprocess.run(_cmd(prepared, whole), env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    # progress lines on stdout (not a terminal), with step/total, epoch, loss, rate, ETA
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("pf train pf:train: step")]
    assert len(lines) == 96 // 20 + 1 and "step 20/96" in lines[0]
    assert "step 96/96 (100%)" in lines[-1]
    assert all(k in lines[0] for k in ("epoch 2/6", "loss", "examples/s", "ETA"))
    assert not resume_dir_for(whole).exists()           # a finished run removes it

    killed = tmp_path / "killed"
    state = resume_dir_for(killed) / "state.json"
    proc = subprocess.Popen(_cmd(prepared, killed), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        step = 0
        while time.monotonic() < deadline and proc.poll() is None:
            if state.is_file():
                try:
                    step = json.loads(state.read_text())["position"]["step"]
                except (ValueError, KeyError):
                    step = 0
                if step >= 30:             # mid-way through epoch 2, after a dev evaluation
                    break
            time.sleep(0.01)
        assert proc.poll() is None, "training ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "model.json").exists() and 30 <= step < 96
    saved = json.loads(state.read_text())
    files = {p.name for p in state.parent.iterdir()}
    # safetensors + JSON (and, if the kill hit a save, that save's unfinished temporary file)
    assert {"state.json", saved["tensors"]} <= files
    assert all(n.endswith((".json", ".safetensors")) or ".tmp" in n for n in files), files

    again = subprocess.run(_cmd(prepared, killed), env=_env(), capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"resuming from {state.parent}" in again.stdout
    assert f"(resumed at step {saved['position']['step']}" in again.stdout
    assert not state.parent.exists()
    for name in ("model.safetensors", "dev.safetensors"):
        assert (killed / name).read_bytes() == (whole / name).read_bytes(), name
    info_a = json.loads((whole / "model.json").read_text())
    info_b = json.loads((killed / "model.json").read_text())
    assert info_b.pop("resumed")["step"] == saved["position"]["step"]
    assert info_a == info_b
    assert _steps(killed) == _steps(whole)


class _Killed(Exception):
    pass


def _die_after_save(monkeypatch, when) -> list[dict]:
    """ResumeStore.save that 'kills' the run right after the first checkpoint `when` likes."""
    seen: list[dict] = []
    real = ResumeStore.save

    def save(self, point):
        path = real(self, point)
        seen.append({"stage": point.stage, "step": point.step})
        if when(point):
            raise _Killed()
        return path
    monkeypatch.setattr(ResumeStore, "save", save)
    return seen


@pytest.mark.parametrize("method, options, training", [
    ("deebert", {}, {"epochs": 2}),                                  # resumes in stage 2
    ("tinybert", {"layers": 2}, {"epochs": 2}),                       # teacher logits cached
    ("pabee", {}, {"epochs": 3, "grad_accum": 1, "max_steps": 40, "select_on_dev": False}),
])
def test_resume_in_process_is_bit_identical(prepared, tmp_path, monkeypatch, method, options,
                                            training):
    teacher = None
    if method == "tinybert":
        teacher = tmp_path / "teacher"
        run_train(str(prepared), "full", {}, {"lr": 1e-3, "epochs": 1}, 0, str(teacher),
                  device="cpu", progress=False)
    args = {**TRAINING, **training}
    kw = dict(teacher=None if teacher is None else str(teacher), device="cpu", progress=False)
    run_train(str(prepared), method, options, args, 1, str(tmp_path / "whole"), **kw)

    out = tmp_path / "killed"
    last_stage = {"deebert": "ramps", "tinybert": "prediction", "pabee": "train"}[method]
    seen = _die_after_save(monkeypatch, lambda p: p.stage == last_stage and p.step >= 6)
    with pytest.raises(_Killed):
        run_train(str(prepared), method, options, args, 1, str(out), checkpoint_every="3", **kw)
    monkeypatch.undo()
    assert seen[-1]["stage"] == last_stage and not (out / "model.json").exists()
    _, result, _ = run_train(str(prepared), method, options, args, 1, str(out),
                             checkpoint_every="3", **kw)
    assert result.resumed == {"stage": last_stage, "epoch": result.resumed["epoch"],
                              "step": seen[-1]["step"]}
    assert (out / "model.safetensors").read_bytes() == \
        (tmp_path / "whole" / "model.safetensors").read_bytes()
    assert _steps(out) == _steps(tmp_path / "whole")
    assert not resume_dir_for(out).exists()


def test_checkpoint_of_other_arguments_or_damaged_is_ignored(prepared, tmp_path, monkeypatch,
                                                             capsys):
    args = {**TRAINING, "epochs": 1, "select_on_dev": False}
    _die_after_save(monkeypatch, lambda p: True)
    out = tmp_path / "m"
    with pytest.raises(_Killed):
        run_train(str(prepared), "pabee", {}, args, 0, str(out), device="cpu", progress=False,
                  checkpoint_every="2")
    monkeypatch.undo()
    resume = resume_dir_for(out)
    state = json.loads((resume / "state.json").read_text())
    assert state["format"] == "pf-resume/1" and state["position"]["step"] == 2
    # another seed: not resumed, trained from the start (and the stale directory removed)
    _, result, _ = run_train(str(prepared), "pabee", {}, args, 1, str(out), device="cpu",
                             progress=False)
    assert result.resumed is None and not resume.exists()
    assert "other arguments (seed)" in capsys.readouterr().err

    _die_after_save(monkeypatch, lambda p: True)
    with pytest.raises(_Killed):
        run_train(str(prepared), "pabee", {}, args, 0, str(out), device="cpu", progress=False,
                  checkpoint_every="2")
    monkeypatch.undo()
    tensors = resume / json.loads((resume / "state.json").read_text())["tensors"]
    tensors.write_bytes(tensors.read_bytes()[:100])            # a truncated file
    _, result, _ = run_train(str(prepared), "pabee", {}, args, 0, str(out), device="cpu",
                             progress=False)
    assert result.resumed is None and "missing or incomplete" in capsys.readouterr().err


def test_checkpoint_tensors_are_safetensors_not_pickles(prepared, tmp_path, monkeypatch):
    from safetensors import safe_open

    _die_after_save(monkeypatch, lambda p: True)
    out = tmp_path / "m"
    with pytest.raises(_Killed):
        run_train(str(prepared), "pf", OPTIONS, {**TRAINING, "epochs": 1}, 0, str(out),
                  device="cpu", progress=False, checkpoint_every="4")
    resume = resume_dir_for(out)
    state = json.loads((resume / "state.json").read_text())
    with safe_open(str(resume / state["tensors"]), framework="pt") as f:
        names = set(f.keys())
        assert f.get_tensor("rng.torch_cpu").dtype == torch.uint8
    assert {"rng.torch_cpu", "rng.data_epoch_start", "rng.freeze"} <= names
    assert any(n.startswith("optim.") and n.endswith(".exp_avg_sq") for n in names)
    assert any(n.startswith("model.encoder.") for n in names)
    assert set(state["position"]) == {"stage_index", "stage", "epoch", "next_batch", "step",
                                      "forwards"}


def test_checkpoint_every_parsing():
    assert Every.parse("500") == Every(steps=500)
    assert Every.parse("10m") == Every(seconds=600.0)
    assert Every.parse("90s") == Every(seconds=90.0) and Every.parse("1h") == Every(seconds=3600.0)
    assert not Every.parse("0").enabled and not Every.parse(None).enabled
    for bad in ("ten", "-5", "5x", "0m"):
        with pytest.raises(PfError, match="--checkpoint-every"):
            Every.parse(bad)


ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


@pytest.mark.skipif(not SNAKEMAKE.exists(), reason="snakemake not installed")
def test_snakemake_keeps_the_checkpoint_of_a_killed_job_and_the_rerun_resumes(tmp_path):
    import yaml

    config = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    # full alone long enough to be killed after a checkpoint (640 / 32 = 20 steps an epoch);
    # the job's other models keep the smoke config's 4 epochs
    config["training"].setdefault("variants", {})["full"] = {"epochs": 10}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    model = tmp_path / "results/smoke/models/bert/sst2/full/seed42"
    state = model.parent / "seed42.resume" / "state.json"
    env = dict(_env(), PF_CHECKPOINT_EVERY="20",
               PATH=f"{SNAKEMAKE.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
           "--cores", "1", str(model.relative_to(tmp_path) / "model.safetensors"),
           "--configfile", str(tmp_path / "config.yaml")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    killed = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None and not killed:
            if state.is_file():
                for pid in [p for p, args in _job_processes(tmp_path) if "pf train" in args]:
                    os.kill(pid, signal.SIGKILL)          # the job dies, Snakemake lives
                    killed.append(pid)
            time.sleep(0.02)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    assert killed, "no checkpoint seen while the job ran"
    assert proc.returncode != 0                                   # the job failed
    assert not (model / "model.safetensors").exists()             # its outputs were removed
    assert state.is_file()                                        # the checkpoint was not
    step = json.loads(state.read_text())["position"]["step"]
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    # full is the first model of the smoke config's train_together job (one log per job)
    log = (tmp_path / "logs/smoke/train/bert/sst2/together/seed42.log").read_text()
    assert f"resuming from {state.parent.relative_to(tmp_path)} at stage 'train'" in log
    assert f"step {step}\n" in log
    assert (model / "model.json").is_file() and not state.parent.exists()
