"""One source of training defaults (pf.train.args.TrainingArgs): `pf train` by hand and the
workflow's jobs train with the same arguments; and checkpoint selection never looks at the
split that is scored."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from pf.config import TRAINING_DEFAULTS, Plan, load_config
from pf.errors import PfError
from pf.train.args import TrainingArgs
from pf.train.cli import run_train
from test_methods_support import write_prepared

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_have_one_home():
    # the training keys that are method options (frozen_layers, exit_pooling) default to
    # the methods' own option defaults, not to a second table here
    assert TRAINING_DEFAULTS == TrainingArgs().to_dict()
    # the released run_glue.py (and the DeeBERT/PABEE originals): no weight decay,
    # gradient norm clipped at 1, no warmup
    args = TrainingArgs()
    assert (args.weight_decay, args.max_grad_norm, args.warmup_ratio) == (0.0, 1.0, 0.0)


def test_cli_by_hand_and_workflow_train_alike(tmp_path):
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg = copy.deepcopy(cfg)
    cfg.pop("training")                       # the workflow's defaults, nothing configured
    plan = Plan(load_config(cfg))
    workflow = plan.trainer_args("bert", "sst2", "pabee")
    prepared = write_prepared(tmp_path / "prep", n_train=32, n_dev=16)
    by_hand = tmp_path / "by-hand"
    run_train(str(prepared), "pabee", {}, None, 0, str(by_hand), device="cpu", progress=False)
    via_workflow = tmp_path / "workflow"
    run_train(str(prepared), "pabee", {}, json.loads(json.dumps(workflow)), 0,
              str(via_workflow), device="cpu", progress=False)
    a = json.loads((by_hand / "model.json").read_text())["training"]
    b = json.loads((via_workflow / "model.json").read_text())["training"]
    assert a == b == TrainingArgs().to_dict()
    assert (by_hand / "model.safetensors").read_bytes() == \
        (via_workflow / "model.safetensors").read_bytes()


def test_select_on_dev_never_reads_the_scored_split(tmp_path):
    training = {"lr": 1e-3, "batch_size": 16, "epochs": 2, "select_on_dev": True}
    no_heldout = write_prepared(tmp_path / "plain", n_train=48, n_dev=16)
    with pytest.raises(PfError, match="no 'heldout' split"):
        run_train(str(no_heldout), "pabee", {}, training, 0, str(tmp_path / "a"),
                  device="cpu", progress=False)
    prepared = write_prepared(tmp_path / "heldout", n_train=48, n_dev=16, n_heldout=16)
    (prepared / "dev.safetensors").unlink()   # selection must not need dev at all
    out = tmp_path / "b"
    run_train(str(prepared), "pabee", {}, training, 0, str(out), device="cpu", progress=False)
    info = json.loads((out / "model.json").read_text())
    assert info["selected"]["split"] == "heldout"
