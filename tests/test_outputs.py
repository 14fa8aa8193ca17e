"""`pf outputs`: the per-layer outputs file, its reader and its validation."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from pf.cli import main as pf_main
from pf.errors import PfError
from pf.layer_outputs import load_outputs
from pf.methods.checkpoint import load_checkpoint
from pf.prepare import load_split
from pf.train.cli import run_train
from test_methods_support import write_prepared


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    prepared = write_prepared(tmp_path_factory.mktemp("prep"), n_train=64, n_dev=40)
    out = tmp_path_factory.mktemp("model")
    run_train(str(prepared), "pf", {}, {"lr": 1e-3, "batch_size": 16, "epochs": 1}, 0, str(out),
              device="cpu", progress=False)
    return prepared, out


def test_outputs_file_matches_model(model_dir, tmp_path):
    prepared, model = model_dir
    path = tmp_path / "dev.safetensors"
    assert pf_main(["outputs", "--model", str(model), "--prepared", str(prepared), "--split", "dev",
                    "--out", str(path), "--batch-size", "16"]) == 0
    out = load_outputs(path)
    assert out.logits.shape == (40, 4, 2) and out.logits.dtype == np.float32
    assert out.exit_layers.tolist() == [1, 2, 3, 4] and out.n_layers == 4
    assert (out.method, out.backbone, out.task, out.split) == ("pf", "bert", "sst2", "dev")
    assert out.ids[:2] == ["dev-0", "dev-1"]
    split = load_split(prepared, "dev")
    assert np.array_equal(out.labels, split.labels.numpy())
    m = load_checkpoint(model).model
    with torch.no_grad():
        ref = m(split.inputs(slice(0, 8))).logits.numpy()
    np.testing.assert_allclose(out.logits[:8], ref, rtol=1e-5, atol=1e-5)


def test_reader_validates_and_names_the_file(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "bad.safetensors"
    meta = {"format": "pf-outputs/1", "ids": json.dumps(["a", "b"]), "n_layers": "4",
            "task": "sst2", "backbone": "bert", "method": "pf", "split": "dev"}
    save_file({"logits": np.zeros((2, 4, 2), np.float32), "labels": np.zeros(3, np.int64),
               "exit_layers": np.arange(1, 5, dtype=np.int64)}, str(path), metadata=meta)
    with pytest.raises(PfError, match="bad.safetensors.*labels"):
        load_outputs(path)
    path.write_bytes(b"garbage")
    with pytest.raises(PfError, match="bad.safetensors"):
        load_outputs(path)


def test_reader_imports_no_torch():
    code = ("import sys; import pf.layer_outputs, pf.outputs; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
