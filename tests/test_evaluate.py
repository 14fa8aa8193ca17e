"""`pf evaluate`, `pf curve` and the metrics JSON schema."""

from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pf import exits
from pf.cli import main
from pf.errors import PfError
from pf.evaluate import evaluate
from pf.metrics_schema import FIELDS, validate_metrics
from pf.outputs import LayerOutputs, save_outputs

ROOT = Path(__file__).resolve().parents[1]


def realistic(n, e=12, c=2, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    scale = np.linspace(0.2, 4.0, e)[None, :, None] * rng.gamma(2.0, 1.0, (n, 1, 1))
    logits = np.eye(c)[labels][:, None, :] * scale + rng.normal(0, 1, (n, e, c))
    return logits.astype(np.float32), labels.astype(np.int64)


def write(path, logits, labels, exit_layers=None, n_layers=12, task="mrpc", method="pf",
          split="dev"):
    e = logits.shape[1]
    layers = np.arange(1, e + 1) if exit_layers is None else np.asarray(exit_layers)
    save_outputs(path, LayerOutputs(logits, labels, layers.astype(np.int64),
                                    [f"{split}-{i}" for i in range(len(labels))], n_layers,
                                    task, "bert", method, split))
    return path


@pytest.fixture
def dev(tmp_path):
    return write(tmp_path / "dev.safetensors", *realistic(2000))


def test_evaluate_cli_writes_valid_metrics(tmp_path, dev):
    out = tmp_path / "m" / "target2.json"
    rc = main(["evaluate", "--outputs", str(dev), "--rule", "entropy", "--target", "2",
               "--metric", "f1", "--variant", "pf-past", "--method-options",
               '{"future": false}', "--seed", "3", "--out", str(out)])
    assert rc == 0
    obj = json.loads(out.read_text())
    validate_metrics(obj, str(out))
    assert set(obj) == set(FIELDS)
    assert abs(obj["speedup"] - 2.0) <= 0.02
    assert obj["calibration_speedup"] == obj["speedup"]
    assert obj["calibration_split"] == "dev" and obj["calibration_outputs"] is None
    assert obj["metric"] == "f1" and set(obj["metrics"]) == {"accuracy", "f1"}
    assert obj["score"] == obj["metrics"]["f1"]
    assert len(obj["exit_counts"]) == 12 and sum(obj["exit_counts"]) == 2000
    assert obj["method_options"] == {"future": False} and obj["seed"] == 3
    assert obj["variant"] == "pf-past" and obj["backbone"] == "bert" and obj["task"] == "mrpc"
    assert obj["rule_param_name"] == "tau"
    # the numbers are those of the exit rule at the chosen tau
    logits, labels = realistic(2000)
    d = exits.entropy_exits(logits, obj["rule_param"])
    assert obj["speedup"] == pytest.approx(exits.speedup(d.layers(np.arange(1, 13)), 12))
    assert obj["metrics"]["accuracy"] == pytest.approx(exits.accuracy(d.prediction, labels))
    assert "pf-early-exit" in obj["versions"] and "numpy" in obj["versions"]


def test_evaluate_with_heldout_calibration(tmp_path, dev):
    held = write(tmp_path / "heldout.safetensors", *realistic(800, seed=5), split="heldout")
    obj = evaluate(dev, "entropy", "pf", 0, target=2.0, calibration_outputs=held)
    assert obj["calibration_split"] == "heldout"
    assert obj["calibration_outputs"] == str(held)
    assert abs(obj["calibration_speedup"] - 2.0) <= 0.02
    assert obj["speedup"] != obj["calibration_speedup"]
    assert abs(obj["speedup"] - 2.0) < 0.3
    other = write(tmp_path / "other.safetensors", *realistic(100, seed=6), task="qqp")
    with pytest.raises(PfError, match="task"):
        evaluate(dev, "entropy", "pf", 0, target=2.0, calibration_outputs=other)


def test_evaluate_patience_and_last(tmp_path, dev):
    obj = evaluate(dev, "patience", "pabee", 1, target=2.0)
    assert obj["rule_param_name"] == "patience" and isinstance(obj["rule_param"], int)
    logits, labels = realistic(300, e=1)
    trunc = write(tmp_path / "trunc.safetensors", logits, labels, exit_layers=[6],
                  method="truncated")
    obj = evaluate(trunc, "last", "bert-6l", 0, target=2.0)
    assert obj["speedup"] == 2.0 and obj["rule_param"] is None
    assert obj["exit_counts"][5] == 300 and sum(obj["exit_counts"]) == 300
    assert obj["calibration_split"] is None
    full = write(tmp_path / "full.safetensors", logits, labels, exit_layers=[12], method="full")
    obj = evaluate(full, "last", "full", 0)
    assert obj["speedup"] == 1.0 and obj["target"] is None
    assert obj["metrics"]["accuracy"] == pytest.approx(
        exits.accuracy(logits[:, 0].argmax(-1), labels))


@pytest.mark.parametrize("target", ["1", "0.5", "13"])
def test_evaluate_rejects_bad_target(tmp_path, dev, target, capsys):
    out = tmp_path / "t.json"
    rc = main(["evaluate", "--outputs", str(dev), "--rule", "entropy", "--target", target,
               "--variant", "pf", "--seed", "0", "--out", str(out)])
    assert rc == 2 and not out.exists()
    assert "target" in capsys.readouterr().err


def test_evaluate_bad_outputs_file(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"this is not a safetensors file at all")
    with pytest.raises(PfError, match="bad.safetensors"):
        evaluate(bad, "entropy", "pf", 0, target=2.0)
    out = tmp_path / "m.json"
    rc = main(["evaluate", "--outputs", str(bad), "--rule", "entropy", "--target", "2",
               "--variant", "pf", "--seed", "0", "--out", str(out)])
    assert rc == 2 and not out.exists()
    assert "bad.safetensors" in capsys.readouterr().err
    with pytest.raises(PfError, match="not found"):
        evaluate(tmp_path / "missing.safetensors", "entropy", "pf", 0, target=2.0)


def test_evaluate_bad_metric_and_missing_target(dev):
    with pytest.raises(PfError, match="metric"):
        evaluate(dev, "entropy", "pf", 0, target=2.0, metric="bleu")
    with pytest.raises(PfError, match="target"):
        evaluate(dev, "entropy", "pf", 0)


def test_validate_metrics_names_file_and_field(dev):
    obj = evaluate(dev, "entropy", "pf", 0, target=2.0)
    for field in ("speedup", "exit_counts", "rule", "versions"):
        broken = copy.deepcopy(obj)
        del broken[field]
        with pytest.raises(PfError, match=rf"x\.json: missing field '{field}'"):
            validate_metrics(broken, "x.json")
    for field, value in [("seed", "0"), ("speedup", None), ("exit_counts", [1.5]),
                         ("metrics", [0.1])]:
        broken = copy.deepcopy(obj)
        broken[field] = value
        with pytest.raises(PfError, match=rf"x\.json: field '{field}'"):
            validate_metrics(broken, "x.json")
    broken = copy.deepcopy(obj)
    broken["exit_counts"] = broken["exit_counts"][:-1]
    with pytest.raises(PfError, match="exit_counts"):
        validate_metrics(broken, "x.json")
    with pytest.raises(PfError, match="unknown field"):
        validate_metrics({**obj, "extra": 1}, "x.json")


def test_curve_cli(tmp_path, dev):
    out = tmp_path / "c" / "curve.csv"
    assert main(["curve", "--outputs", str(dev), "--rule", "entropy", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["backbone", "task", "method", "split", "rule", "param_name",
                             "param", "speedup", "avg_exit_layer", "n_examples", "accuracy", "f1"]
    s = np.array([float(r["speedup"]) for r in rows])
    assert (np.diff(s) > 0).all() and s[0] == 1.0 and s[-1] == 12.0
    assert np.diff(s[s < 6]).max() <= 0.05 + 1e-12
    logits, labels = realistic(2000)
    r = rows[len(rows) // 3]
    d = exits.entropy_exits(logits, float(r["param"]))
    assert float(r["speedup"]) == pytest.approx(exits.speedup(d.layers(np.arange(1, 13)), 12))
    assert float(r["accuracy"]) == pytest.approx(exits.accuracy(d.prediction, labels))
    out2 = tmp_path / "p.csv"
    assert main(["curve", "--outputs", str(dev), "--rule", "patience", "--out", str(out2)]) == 0
    assert len(list(csv.DictReader(out2.open()))) <= 12


def test_light_commands_do_not_import_torch(tmp_path, dev):
    code = (
        "import sys\n"
        "from pf.evaluate import evaluate\n"
        "from pf.curves import write_curve\n"
        f"evaluate({str(dev)!r}, 'entropy', 'pf', 0, target=2.0)\n"
        f"write_curve({str(dev)!r}, 'entropy', {str(tmp_path / 'c.csv')!r})\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_metrics_record_the_prediction_distribution_and_majority_score(tmp_path, dev):
    obj = evaluate(dev, "entropy", "pf", 0, target=2.0, metric="f1")
    logits, labels = realistic(2000)
    d = exits.entropy_exits(logits, obj["rule_param"])
    assert obj["label_counts"] == np.bincount(labels, minlength=2).tolist()
    assert obj["prediction_counts"] == np.bincount(d.prediction, minlength=2).tolist()
    majority = int(np.argmax(np.bincount(labels)))
    assert obj["majority_class"] == majority
    # F1 of always answering the majority class, the same metric as `score`
    assert obj["majority_score"] == pytest.approx(
        exits.f1(np.full_like(labels, majority), labels))
    assert obj["top_prediction_share"] == max(obj["prediction_counts"]) / 2000
    assert obj["degenerate"] is False and obj["degenerate_reason"] is None


@pytest.mark.parametrize("kind", ["one class", "near majority"])
def test_a_model_no_better_than_a_constant_is_degenerate(tmp_path, kind):
    """70% of labels are 0. One model answers 0 for 96% of the examples; another answers
    like a coin weighted to the labels' rate, scoring within 2 points of the majority (70%)."""
    rng = np.random.default_rng(1)
    labels = (rng.random(1000) < 0.3).astype(np.int64)
    if kind == "one class":
        pred = np.where(rng.random(1000) < 0.96, 0, 1 - labels)
    else:
        pred = labels.copy()
        flip = rng.permutation(1000)[:290]      # 71.0% accurate, predictions spread out
        pred[flip] = 1 - pred[flip]
    logits = np.eye(2, dtype=np.float32)[pred][:, None, :] * 5.0
    path = write(tmp_path / "dev.safetensors", logits, labels, exit_layers=[12], method="full")
    obj = evaluate(path, "last", "full", 0)
    assert obj["majority_class"] == 0
    assert obj["majority_score"] == pytest.approx((labels == 0).mean())
    assert obj["degenerate"] is True
    if kind == "one class":
        assert obj["top_prediction_share"] >= 0.95
        assert "of the predictions are class 0" in obj["degenerate_reason"]
    else:
        assert obj["top_prediction_share"] < 0.95
        assert obj["score"] - obj["majority_score"] <= 0.02
        assert obj["degenerate_reason"].startswith("score 0.71")
    validate_metrics(obj, "x.json")


def test_validation_recomputes_the_degenerate_flag(dev):
    obj = evaluate(dev, "entropy", "pf", 0, target=2.0)
    broken = copy.deepcopy(obj)
    broken["majority_score"] = broken["score"]          # now no better than majority
    with pytest.raises(PfError, match=r"x\.json: field 'degenerate' is False but .*majority"):
        validate_metrics(broken, "x.json")
    broken = copy.deepcopy(obj)
    broken["prediction_counts"] = [obj["n_examples"], 0]
    with pytest.raises(PfError, match="top_prediction_share"):
        validate_metrics(broken, "x.json")
