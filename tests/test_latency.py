"""`pf latency` on a tiny checkpoint: JSON fields, calibration, agreement with the simulation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pf import exits
from pf.cli import main
from pf.engine import record_logits
from pf.errors import PfError
from pf.latency import FullModel, latency

from _engine_models import random_inputs, tiny_encoder

checkpoint = pytest.importorskip("pf.methods.checkpoint")
registry = pytest.importorskip("pf.methods.registry")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from safetensors.torch import save_file

    from pf.outputs import LayerOutputs, save_outputs

    root = tmp_path_factory.mktemp("lat")
    enc = tiny_encoder(n_layers=4, hidden=32, seed=0)
    torch.manual_seed(3)
    model = registry.build_model("deebert", {}, enc, 2)
    with torch.no_grad():
        for _, p in model.head_parameters():
            p.mul_(40.0)
    model.eval()
    checkpoint.save_checkpoint(model, root / "model", {"task": "sst2", "seed": 0})
    x = random_inputs(24, seed=4)
    labels = torch.randint(0, 2, (24,), generator=torch.Generator().manual_seed(0))
    ids = [f"dev-{i}" for i in range(24)]
    (root / "prep").mkdir()
    save_file({"input_ids": x.input_ids, "attention_mask": x.attention_mask,
               "token_type_ids": x.token_type_ids, "labels": labels},
              str(root / "prep" / "dev.safetensors"), metadata={"ids": json.dumps(ids)})
    logits = record_logits(model, x, batch_size=24)
    save_outputs(root / "dev_out.safetensors",
                 LayerOutputs(logits, labels.numpy(), np.arange(1, 5, dtype=np.int64), ids, 4,
                              "sst2", "tiny", "deebert", "dev"))
    return root, logits, labels.numpy()


def test_latency_cli_with_target(setup):
    root, logits, labels = setup
    out = root / "lat.json"
    rc = main(["latency", "--model", str(root / "model"), "--prepared", str(root / "prep"),
               "--target", "2", "--outputs", str(root / "dev_out.safetensors"),
               "--batch-sizes", "1", "8", "--repeats", "2", "--warmup", "1",
               "--max-examples", "20", "--device", "cpu", "--out", str(out)])
    assert rc == 0
    obj = json.loads(out.read_text())
    assert obj["rule"] == "entropy" and obj["rule_param_name"] == "tau"
    assert obj["n_examples"] == 20 and obj["n_layers"] == 4
    cal = exits.calibrate(logits, labels, "entropy", 2.0, np.arange(1, 5), 4)
    assert obj["rule_param"] == pytest.approx(cal.param)
    assert obj["agreement"]["n"] == 20 and obj["agreement"]["n_mismatch_far"] == 0
    d = exits.entropy_exits(logits[:20], cal.param)
    assert obj["layer_speedup"] == pytest.approx(exits.speedup(d.layers(np.arange(1, 5)), 4))
    assert [b["batch_size"] for b in obj["batches"]] == [1, 8]
    for b in obj["batches"]:
        assert len(b["full_times_s"]) == 2 and len(b["engine_times_s"]) == 2
        assert b["full_s"] > 0 and b["engine_s"] > 0
        assert b["measured_speedup"] == pytest.approx(b["full_s"] / b["engine_s"])
        assert b["layer_speedup"] == obj["layer_speedup"]
    assert "all n layers" in obj["full_model_definition"]


def test_latency_fixed_params_and_errors(setup):
    root, logits, labels = setup
    kw = dict(batch_sizes=(4,), repeats=1, warmup=0, max_examples=8, device="cpu")
    obj = latency(root / "model", root / "prep", param=0.0, **kw)
    assert obj["layer_speedup"] == 1.0 and obj["agreement"] is None
    obj = latency(root / "model", root / "prep", rule="patience", param=0, **kw)
    assert obj["layer_speedup"] == 1.0          # patience 0: no early exit (PABEE's original)
    with pytest.raises(PfError, match="--outputs"):
        latency(root / "model", root / "prep", target=2.0, **kw)
    with pytest.raises(PfError, match="tau"):
        latency(root / "model", root / "prep", **kw)
    with pytest.raises(PfError):
        latency(root / "model", root / "prep", split="test", param=0.1, **kw)


def test_full_model_reference_runs_every_layer(setup):
    enc = tiny_encoder(n_layers=4, hidden=32, seed=0)
    seen = []
    orig = enc.layer

    def spy(i, h, b):
        seen.append(i)
        return orig(i, h, b)

    enc.layer = spy
    out = FullModel(enc, 3)(random_inputs(5))
    assert out.shape == (5, 3) and seen == [0, 1, 2, 3]


def test_latency_calibrates_on_the_evaluation_calibration_split(setup):
    """With a held-out calibration split the latency job applies the same parameter as the
    evaluate job (which calibrates there), and still checks agreement on the timed split."""
    from pf.evaluate import evaluate
    from pf.outputs import LayerOutputs, save_outputs

    root, logits, labels = setup
    # another split's logits: the calibrated tau differs from the one dev itself gives
    g = np.random.default_rng(1)
    held = (logits[::-1] * g.uniform(0.3, 1.0, size=(24, 1, 1))).astype(np.float32)
    held_path = root / "heldout_out.safetensors"
    save_outputs(held_path, LayerOutputs(held, labels, np.arange(1, 5, dtype=np.int64),
                                         [f"heldout-{i}" for i in range(24)], 4, "sst2",
                                         "tiny", "deebert", "heldout"))
    on_dev = exits.calibrate(logits, labels, "entropy", 2.0, np.arange(1, 5), 4).param
    metrics = evaluate(root / "dev_out.safetensors", "entropy", "deebert", 0, target=2.0,
                       calibration_outputs=held_path)
    assert metrics["rule_param"] != pytest.approx(on_dev)
    kw = dict(batch_sizes=(8,), repeats=1, warmup=0, max_examples=20, device="cpu")
    obj = latency(root / "model", root / "prep", target=2.0,
                  outputs=str(root / "dev_out.safetensors"),
                  calibration_outputs=str(held_path), **kw)
    assert obj["rule_param"] == pytest.approx(metrics["rule_param"])
    assert obj["calibration_outputs"] == str(held_path)
    assert obj["agreement"]["n"] == 20 and obj["agreement"]["n_mismatch_far"] == 0
    with pytest.raises(PfError, match="--target only"):
        latency(root / "model", root / "prep", param=0.1, calibration_outputs=str(held_path), **kw)


def test_workflow_latency_job_calibrates_where_evaluate_does(tmp_path):
    from test_workflow import ROOT, SNAKEMAKE, snakemake

    if not SNAKEMAKE.exists():
        pytest.skip("snakemake not installed")
    target = "results/latency/bert/mrpc/pf/seed42.json"
    cfg = (ROOT / "config" / "config.yaml").read_text()
    for name, split in (("dev", "dev"), ("heldout", "heldout")):
        text = cfg.replace("calibration: {split: dev}", f"calibration: {{split: {split}}}")
        text = text.replace("heldout_fraction: 0.0", "heldout_fraction: 0.1")
        (tmp_path / f"{name}.yaml").write_text(text)
        proc = snakemake([target, "results/metrics/bert/mrpc/pf/seed42/target2.json", "-n",
                          "-p", "--cores", "1", "--configfile", str(tmp_path / f"{name}.yaml")],
                         tmp_path)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        lat = next(ln for ln in out.splitlines() if "pf latency" in ln)
        ev = next(ln for ln in out.splitlines() if "pf evaluate" in ln)
        if split == "heldout":
            flag = "--calibration-outputs results/outputs/bert/mrpc/pf/seed42/heldout"
            assert flag in lat and flag in ev, (lat, ev)
        else:
            assert "--calibration-outputs" not in lat and "--calibration-outputs" not in ev
