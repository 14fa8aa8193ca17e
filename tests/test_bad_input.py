"""Bad input, end to end: each case runs a real `pf` command (or Snakemake on a bad config)
and checks the one-paragraph error it prints, a non-zero exit, and that no output file is
left behind that Snakemake would take as finished."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import yaml

from pf.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = {"n_layers": 4, "hidden_size": 32, "n_heads": 2, "intermediate_size": 64,
        "max_position_embeddings": 40}
BERT = json.dumps({"name": "bert", "family": "bert", "tiny": TINY})
TRAINING = json.dumps({"lr": 1e-3, "batch_size": 16, "epochs": 1})


def run_pf(argv: list[str], capsys) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A prepared synthetic task, a trained model and its outputs, shared by the cases."""
    d = tmp_path_factory.mktemp("bad_input")
    assert main(["prepare", "--task", "sst2", "--source", "synthetic", "--backbone-json", BERT,
                 "--synthetic-json", '{"train_size": 48, "dev_size": 24}', "--max-length", "24",
                 "--vocab-size", "200", "--out", str(d / "prepared")]) == 0
    assert main(["train", "--prepared", str(d / "prepared"), "--method", "pabee",
                 "--training", TRAINING, "--seed", "1", "--out", str(d / "model"),
                 "--record", f"dev={d / 'dev.safetensors'}"]) == 0
    return d


def glue_dir(root: Path, task_dir: str, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / task_dir).mkdir(parents=True, exist_ok=True)
        (root / task_dir / name).write_text(text, encoding="utf-8")
    return root


SST_HEADER = "sentence\tlabel\n"


@dataclass
class Case:
    name: str
    # builds (argv, path that must not exist afterwards) from the shared workdir and tmp_path
    setup: Callable[[Path, Path], tuple[list[str], Path]]
    expect: tuple[str, ...]  # substrings the error must contain


def _prepare(tmp: Path, *, task="sst2", source="synthetic", data_dir=None, backbone=BERT,
             max_length=24) -> tuple[list[str], Path]:
    out = tmp / "prep_out"
    argv = ["prepare", "--task", task, "--source", source, "--backbone-json", backbone,
            "--max-length", max_length, "--synthetic-json", '{"train_size": 16, "dev_size": 8}',
            "--out", out]
    if data_dir is not None:
        argv += ["--data-dir", data_dir]
    return argv, out


def _train(w: Path, tmp: Path, *, method="pabee", options=None, training=TRAINING,
           prepared=None) -> tuple[list[str], Path]:
    out = tmp / "model_out"
    argv = ["train", "--prepared", prepared or w / "prepared", "--method", method,
            "--training", training, "--seed", "1", "--out", out]
    if options is not None:
        argv += ["--options", json.dumps(options)]
    return argv, out / "model.json"


def _evaluate(w: Path, tmp: Path, *, outputs=None, rule="entropy", target="2",
              metric="accuracy") -> tuple[list[str], Path]:
    out = tmp / "metrics.json"
    return (["evaluate", "--outputs", outputs or w / "dev.safetensors", "--rule", rule,
             "--target", target, "--metric", metric, "--variant", "v", "--seed", "1",
             "--out", out], out)


def _copy_model(w: Path, tmp: Path) -> Path:
    import shutil

    dst = tmp / "model_copy"
    shutil.copytree(w / "model", dst)
    return dst


def _outputs_of(model: Path, w: Path, tmp: Path) -> tuple[list[str], Path]:
    out = tmp / "out.safetensors"
    return (["outputs", "--model", model, "--prepared", w / "prepared", "--out", out], out)


def corrupt_checkpoint(w, tmp):
    m = _copy_model(w, tmp)
    (m / "model.safetensors").write_bytes(b"\x07" * 64)
    return _outputs_of(m, w, tmp)


def truncated_checkpoint(w, tmp):
    m = _copy_model(w, tmp)
    data = (m / "model.safetensors").read_bytes()
    (m / "model.safetensors").write_bytes(data[: len(data) // 2])
    return _outputs_of(m, w, tmp)


def pickle_checkpoint(w, tmp):
    m = _copy_model(w, tmp)
    # A pickle that would run code if anything unpickled it: it must be refused unread.
    payload = pickle.dumps({"weights": [1.0, 2.0]})
    (m / "model.safetensors").write_bytes(payload)
    return _outputs_of(m, w, tmp)


def wrong_shape_outputs(w, tmp):
    from safetensors.numpy import load_file, save_file
    from safetensors import safe_open

    src = w / "dev.safetensors"
    with safe_open(str(src), "np") as f:
        meta = f.metadata()
    tensors = load_file(str(src))
    tensors["labels"] = tensors["labels"][:-3]
    bad = tmp / "bad.safetensors"
    save_file(tensors, str(bad), metadata=meta)
    return _evaluate(w, tmp, outputs=bad)


def metrics_missing_field(w, tmp):
    results = tmp / "results"
    argv, metrics = _evaluate(w, tmp)
    assert main([str(a) for a in argv]) == 0
    obj = json.loads(metrics.read_text())
    del obj["speedup"]
    target = results / "metrics/bert/sst2/v/seed1/target2.json"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(obj))
    out = tmp / "metrics.csv"
    return ["collect", target, "--out", out], out


CASES = [
    Case("unknown task", lambda w, t: _prepare(t, task="sst3"), ("unknown task 'sst3'", "sst2")),
    Case("unknown source", lambda w, t: _prepare(t, source="glue"), ("unknown", "glue_dir")),
    Case("unknown backbone family",
         lambda w, t: _prepare(t, backbone=json.dumps({"name": "b", "family": "gpt2", "tiny": TINY})),
         ("gpt2", "bert, roberta")),
    Case("max length below 8", lambda w, t: _prepare(t, max_length=4), ("max", "8")),
    Case("model path that does not exist offline",
         lambda w, t: _prepare(t, backbone=json.dumps(
             {"name": "b", "family": "bert", "pretrained": "no-such-org/no-such-model"})),
         ("no-such-org/no-such-model", "hub")),
    Case("local model directory missing",
         lambda w, t: _prepare(t, backbone=json.dumps(
             {"name": "b", "family": "bert", "pretrained": str(t / "nowhere")})),
         ("nowhere", "does not exist")),
    Case("GLUE directory without the task",
         lambda w, t: _prepare(t, task="rte", source="glue_dir",
                               data_dir=glue_dir(t / "glue", "SST-2", {"train.tsv": SST_HEADER})),
         ("RTE",)),
    Case("GLUE directory missing", lambda w, t: _prepare(t, source="glue_dir", data_dir=t / "none"),
         ("none",)),
    Case("TSV with a short row",
         lambda w, t: _prepare(t, task="rte", source="glue_dir", data_dir=glue_dir(
             t / "glue", "RTE", {"train.tsv": "index\tsentence1\tsentence2\tlabel\n0\ta b\tentailment\n",
                                 "dev.tsv": "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n"})),
         ("train.tsv:2", "found 3")),
    Case("label outside the label set",
         lambda w, t: _prepare(t, source="glue_dir", data_dir=glue_dir(
             t / "glue", "SST-2", {"train.tsv": SST_HEADER + "good film\t1\nbad film\t7\n",
                                   "dev.tsv": SST_HEADER + "fine\t0\n"})),
         ("train.tsv:3", "'7'")),
    Case("empty dev split",
         lambda w, t: _prepare(t, source="glue_dir", data_dir=glue_dir(
             t / "glue", "SST-2", {"train.tsv": SST_HEADER + "good film\t1\n", "dev.tsv": SST_HEADER})),
         ("dev.tsv", "empty")),
    Case("unknown method", lambda w, t: _train(w, t, method="pabe"), ("unknown method 'pabe'", "pabee")),
    Case("unknown strategy", lambda w, t: _train(w, t, method="pf", options={"strategy": "mean"}),
         ("strategy", "mean", "concat")),
    Case("misspelled method option",
         lambda w, t: _train(w, t, method="pf", options={"strategie": "max"}),
         ("strategie", "strategy")),
    Case("misspelled training key",
         lambda w, t: _train(w, t, training=json.dumps({"learning_rate": 1e-3})),
         ("learning_rate",)),
    Case("prepared directory missing", lambda w, t: _train(w, t, prepared=t / "nothing"),
         ("nothing",)),
    Case("NaN loss during training",
         lambda w, t: _train(w, t, training=json.dumps({"lr": 1e30, "batch_size": 16, "epochs": 1,
                                                        "max_grad_norm": 0})),
         ("loss",)),
    Case("corrupted checkpoint", corrupt_checkpoint, ("model.safetensors",)),
    Case("truncated checkpoint", truncated_checkpoint, ("model.safetensors",)),
    Case("pickle-based checkpoint", pickle_checkpoint, ("model.safetensors",)),
    Case("target speed-up not above 1", lambda w, t: _evaluate(w, t, target="1"), ("target", "1")),
    Case("target speed-up above the layer count", lambda w, t: _evaluate(w, t, target="9"),
         ("target", "4")),
    Case("unknown metric", lambda w, t: _evaluate(w, t, metric="acc"), ("acc", "accuracy")),
    Case("per-layer outputs with the wrong shape", wrong_shape_outputs, ("bad.safetensors",)),
    Case("per-layer outputs file missing",
         lambda w, t: _evaluate(w, t, outputs=t / "missing.safetensors"), ("missing.safetensors",)),
    Case("metrics JSON with a missing field at report time", metrics_missing_field,
         ("target2.json", "speedup")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gives_one_clear_error(case: Case, workdir, tmp_path, capsys):
    argv, must_not_exist = case.setup(workdir, tmp_path)
    capsys.readouterr()
    code, err = run_pf([str(a) for a in argv], capsys)
    assert code != 0, f"{case.name}: exit 0"
    message = err.strip()
    assert message.startswith("pf "), message
    assert "Traceback" not in message
    assert message.count("\n\n") == 0, f"not one paragraph:\n{message}"
    for needle in case.expect:
        assert needle in message, f"{case.name}: {needle!r} not in:\n{message}"
    assert not Path(must_not_exist).exists(), f"{case.name}: {must_not_exist} left behind"
    leftovers = [p for p in Path(must_not_exist).parent.glob(".*.tmp")]
    assert not leftovers, leftovers


def test_there_are_at_least_twenty_cases():
    assert len(CASES) + len(CONFIG_CASES) >= 20


# --- bad configs, through Snakemake itself -----------------------------------------------

def _config(mutate) -> dict:
    cfg = yaml.safe_load((ROOT / "config/smoke.yaml").read_text())
    mutate(cfg)
    return cfg


CONFIG_CASES = [
    ("misspelled top-level key", lambda c: c.__setitem__("targts", c.pop("targets")),
     ("targts", "targets")),
    ("missing key", lambda c: c.pop("tasks"), ("tasks",)),
    ("target not above 1", lambda c: c.__setitem__("targets", [1]), ("target",)),
    ("target above the layer count", lambda c: c.__setitem__("targets", [2, 12]), ("12",)),
    ("unknown backbone in a table",
     lambda c: c["figures"]["figure3"].__setitem__("backbone", "bret"), ("bret",)),
]


@pytest.mark.parametrize("name,mutate,expect", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config_is_rejected_by_the_workflow(name, mutate, expect, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(_config(mutate)))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--snakefile",
         str(ROOT / "Snakefile"), "--directory", str(tmp_path), "--configfile", str(config)],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text
    for needle in expect:
        assert needle in text, f"{name}: {needle!r} not in:\n{text[-3000:]}"
    assert not (tmp_path / "results").exists()
