"""`pf train-many`: several models in one process, each byte-identical to `pf train` alone;
bad run lists refused before anything is trained."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pf.cli import main as pf_main
from test_methods_support import write_prepared

TRAINING = {"lr": 1e-3, "batch_size": 16, "epochs": 1, "max_steps": 4}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return write_prepared(tmp_path_factory.mktemp("prepared"), n_train=64, n_dev=24)


def run(out, variant, method, options=None):
    return {"variant": variant, "method": method, "options": options or {},
            "training": TRAINING, "out": str(out / variant),
            "record": {"dev": str(out / f"{variant}.dev.safetensors")}}


def test_each_model_equals_pf_train_in_its_own_process(prepared, tmp_path):
    group = tmp_path / "group"
    runs = [run(group, "deebert", "deebert"), run(group, "truncated-2x", "truncated", {"layers": 2}),
            run(group, "pf", "pf", {"frozen_layers": 1})]
    assert pf_main(["train-many", "--prepared", str(prepared), "--seed", "7",
                    "--runs", json.dumps(runs), "--device", "cpu", "--threads", "1",
                    "--checkpoint-every", "0"]) == 0
    # the last of the group, trained after two others, against a fresh process
    alone = tmp_path / "alone"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pf", "train", "--prepared", str(prepared), "--method", "pf",
         "--options", json.dumps({"frozen_layers": 1}), "--training", json.dumps(TRAINING),
         "--seed", "7", "--out", str(alone / "pf"), "--device", "cpu", "--threads", "1",
         "--checkpoint-every", "0", "--record", f"dev={alone / 'pf.dev.safetensors'}"],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for name in ("pf/model.safetensors", "pf.dev.safetensors"):
        assert (group / name).read_bytes() == (alone / name).read_bytes(), name
    for variant in ("deebert", "truncated-2x"):
        assert (group / variant / "model.json").exists()
        assert (group / f"{variant}.dev.safetensors").exists()
        assert not (group / f"{variant}.resume").exists()


@pytest.mark.parametrize("runs, message", [
    ([], "--runs: the list is empty"),
    ([{"method": "pabee", "out": "a", "optoins": {}}],
     "--runs[0]: unknown key 'optoins' (did you mean 'options'?)"),
    ([{"method": "pabee"}], "--runs[0]: 'out' must be a non-empty string"),
    ([{"method": "pabee", "out": "a"}, {"method": "full", "out": "a"}],
     "two runs write to the same directory 'a'"),
    ([{"method": "pabee", "out": "a"}, {"method": "pabee", "out": "b", "options": {"patience": -1}}],
     "--runs[1] (pabee): "),
    ([{"method": "kd", "out": "a", "options": {"layers": 2}}], "needs a teacher"),
    ([{"method": "full", "out": "a", "training": {"lr": 0}}], "--runs[0] (full): training: 'lr'"),
])
def test_bad_runs_fail_before_training(prepared, tmp_path, monkeypatch, capsys, runs, message):
    monkeypatch.chdir(tmp_path)
    code = pf_main(["train-many", "--prepared", str(prepared), "--seed", "1",
                    "--runs", json.dumps(runs), "--device", "cpu"])
    assert code != 0
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
