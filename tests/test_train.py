"""The trainer and `pf train`: repeatability, checkpoints, refusal of bad files, NaN stop."""

from __future__ import annotations

import json

import pytest
import torch

from pf.cli import main as pf_main
from pf.errors import PfError
from pf.methods.checkpoint import load_checkpoint, read_weights
from pf.train.args import TrainingArgs
from pf.train.cli import run_train
from test_methods_support import key_inputs, write_prepared

TRAINING = {"lr": 1e-3, "batch_size": 16, "epochs": 1, "max_steps": 6, "grad_accum": 2,
            "warmup_ratio": 0.1}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return write_prepared(tmp_path_factory.mktemp("prepared"), n_train=96, n_dev=32)


@pytest.fixture(scope="module")
def trained(prepared, tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    run_train(str(prepared), "pf", {"frozen_layers": 2}, TRAINING, 3, str(out), device="cpu",
              progress=False)
    return out


def test_same_seed_gives_identical_checkpoints(prepared, trained, tmp_path):
    again = tmp_path / "again"
    run_train(str(prepared), "pf", {"frozen_layers": 2}, TRAINING, 3, str(again), device="cpu",
              progress=False)
    assert (again / "model.safetensors").read_bytes() == (trained / "model.safetensors").read_bytes()
    other = tmp_path / "other"
    run_train(str(prepared), "pf", {"frozen_layers": 2}, TRAINING, 4, str(other), device="cpu",
              progress=False)
    assert (other / "model.safetensors").read_bytes() != (trained / "model.safetensors").read_bytes()


def test_checkpoint_contents_and_roundtrip(trained):
    info = json.loads((trained / "model.json").read_text())
    for key in ("method", "options", "backbone", "num_labels", "n_layers_full", "exit_layers",
                "prepared", "training", "seed", "versions", "selected"):
        assert key in info, key
    assert info["exit_layers"] == [1, 2, 3, 4] and info["selected"] == {"policy": "last"}
    log = [json.loads(line) for line in (trained / "train_log.jsonl").read_text().splitlines()]
    steps = [r for r in log if r["kind"] == "step"]
    assert len(steps) == 3 and all("loss" in r and "cos" in r for r in steps)   # 6 batches / accum 2
    progress = [r for r in log if r["kind"] == "progress"]
    assert progress[-1]["step"] == progress[-1]["total"] == 3           # the last step's record
    assert {"loss", "epoch", "examples_per_s", "eta_s"} <= set(progress[-1])
    loaded = load_checkpoint(trained)
    inputs, _ = key_inputs(4)
    with torch.no_grad():
        a = loaded.model(inputs).logits
        b = load_checkpoint(trained).model(inputs).logits
    assert torch.equal(a, b) and not loaded.model.training


def _copy_ckpt(src, dst):
    dst.mkdir()
    for name in ("model.json", "model.safetensors"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_pickle_and_corrupted_checkpoints_are_refused(trained, tmp_path):
    pickled = _copy_ckpt(trained, tmp_path / "pickled")
    torch.save(read_weights(trained / "model.safetensors"), pickled / "model.safetensors")
    with pytest.raises(PfError, match="pickle"):
        load_checkpoint(pickled)
    truncated = _copy_ckpt(trained, tmp_path / "truncated")
    data = (trained / "model.safetensors").read_bytes()
    (truncated / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(PfError, match="truncated or corrupted"):
        load_checkpoint(truncated)
    garbage = _copy_ckpt(trained, tmp_path / "garbage")
    (garbage / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(PfError, match="model.safetensors"):
        load_checkpoint(garbage)
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    (incomplete / "model.safetensors").write_bytes(data)
    with pytest.raises(PfError, match="model.json"):
        load_checkpoint(incomplete)


def test_nan_loss_stops_with_pferror_and_writes_nothing(prepared, tmp_path, monkeypatch):
    from pf.methods.base import LossTerms
    from pf.methods.pabee import PabeeModel

    def nan_loss(self, out, labels, ctx):
        return LossTerms(out.logits.sum() * float("nan"))

    monkeypatch.setattr(PabeeModel, "loss", nan_loss)
    out = tmp_path / "nan"
    with pytest.raises(PfError, match="diverged.*step 1;"):
        run_train(str(prepared), "pabee", {}, TRAINING, 0, str(out), device="cpu", progress=False)
    # no model; the streamed log (diagnostics) stops before the diverged step
    assert not (out / "model.json").exists() and not (out / "model.safetensors").exists()
    assert (out / "train_log.jsonl").read_text() == ""


def test_select_on_dev_keeps_best_epoch(prepared, tmp_path):
    """Selection never looks at dev, the scored split: it uses the held-out slice."""
    out = tmp_path / "sel"
    training = {**TRAINING, "max_steps": None, "epochs": 2, "select_on_dev": True}
    with pytest.raises(PfError, match="held-out slice of train, never on dev"):
        run_train(str(prepared), "pabee", {}, training, 0, str(out), device="cpu",
                  progress=False)
    assert not out.exists() or not any(out.iterdir())
    with_heldout = write_prepared(tmp_path / "prep-heldout", n_train=96, n_dev=32, n_heldout=24)
    run_train(str(with_heldout), "pabee", {}, training, 0, str(out), device="cpu", progress=False)
    info = json.loads((out / "model.json").read_text())
    assert info["selected"]["policy"] == "best_dev" and info["selected"]["split"] == "heldout"
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert sum(r["kind"] == "dev" for r in log) == 2


def test_cli_train_and_error_messages(prepared, tmp_path, capsys):
    out = tmp_path / "cli"
    rc = pf_main(["train", "--prepared", str(prepared), "--method", "pabee", "--options", "{}",
                  "--training", json.dumps(TRAINING), "--seed", "0", "--out", str(out),
                  "--threads", "1"])
    assert rc == 0 and (out / "model.json").is_file()
    rc = pf_main(["train", "--prepared", str(prepared), "--method", "pf", "--options",
                  '{"strategy": "maxx"}', "--seed", "0", "--out", str(tmp_path / "bad")])
    assert rc == 2 and "did you mean 'max'" in capsys.readouterr().err
    rc = pf_main(["train", "--prepared", str(prepared), "--method", "pf", "--training",
                  '{"batch_sise": 4}', "--seed", "0", "--out", str(tmp_path / "bad")])
    assert rc == 2 and "did you mean 'batch_size'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_training_args_validation():
    assert TrainingArgs.from_dict({"lr": 1}).lr == 1.0
    for bad, msg in (({"precision": "fp8"}, "precision"), ({"epochs": 0}, "epochs"),
                     ({"warmup_ratio": 1.5}, "warmup_ratio"), ({"select_on_dev": 1}, "select_on_dev")):
        with pytest.raises(PfError, match=msg):
            TrainingArgs.from_dict(bad)


def test_weight_decay_skips_biases_and_layernorm():
    from pf.methods.registry import build_model
    from pf.train.trainer import param_groups
    from test_methods_support import tiny_encoder

    model = build_model("pabee", {}, tiny_encoder(), 2)
    decay, plain = param_groups(model, 0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(not names[id(p)].endswith("bias") and "LayerNorm" not in names[id(p)]
               for p in decay["params"])
    assert any("LayerNorm.weight" in names[id(p)] for p in plain["params"])
    assert decay["weight_decay"] == 0.01 and plain["weight_decay"] == 0.0
