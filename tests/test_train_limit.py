"""data.train_limit: a seeded, stratified sample of the training split (pf prepare
--train-limit), recorded in meta.json and in every metrics JSON."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from pf.config import Plan, load_config
from pf.data import Example, stratified_subsample
from pf.errors import PfError
from pf.prepare import load_split, prepare

REPO = Path(__file__).resolve().parents[1]
TINY = {"name": "bert", "family": "bert",
        "tiny": {"n_layers": 2, "hidden_size": 16, "n_heads": 2, "intermediate_size": 32,
                 "max_position_embeddings": 64}}


def examples(counts: dict[int, int]) -> list[Example]:
    out = []
    for label, n in counts.items():
        out += [Example(f"train-{label}-{i}", f"text {label} {i}", None, label) for i in range(n)]
    # interleave, so "original order" is not label order
    return sorted(out, key=lambda ex: (int(ex.guid.split("-")[2]), ex.label))


def test_sample_size_shares_order_and_seed():
    pool = examples({0: 700, 1: 300})
    sample = stratified_subsample(pool, 100, seed=3)
    assert len(sample) == 100
    assert Counter(ex.label for ex in sample) == {0: 70, 1: 30}
    positions = [pool.index(ex) for ex in sample]
    assert positions == sorted(positions)                     # original order kept
    assert stratified_subsample(pool, 100, seed=3) == sample  # same seed, same sample
    assert stratified_subsample(pool, 100, seed=4) != sample


def test_remainders_and_rare_labels():
    pool = examples({0: 50, 1: 30, 2: 20})
    counts = Counter(ex.label for ex in stratified_subsample(pool, 7, seed=0))
    assert sum(counts.values()) == 7 and counts == {0: 4, 1: 2, 2: 1}   # 3.5, 2.1, 1.4
    rare = examples({0: 98, 1: 2})
    counts = Counter(ex.label for ex in stratified_subsample(rare, 10, seed=0))
    assert counts[1] == 1 and sum(counts.values()) == 10     # a rare label keeps one example


def test_no_limit_or_a_large_one_keeps_everything():
    pool = examples({0: 5, 1: 5})
    assert stratified_subsample(pool, None, 0) == pool
    assert stratified_subsample(pool, 10, 0) == pool
    assert stratified_subsample(pool, 50, 0) == pool


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "100"])
def test_bad_limits_are_named(bad):
    with pytest.raises(PfError, match="train_limit must be a positive integer"):
        stratified_subsample(examples({0: 5, 1: 5}), bad, 0)


def test_prepare_samples_then_carves_the_heldout_slice(tmp_path):
    meta = prepare("sst2", "synthetic", TINY, tmp_path / "p",
                   synthetic={"train_size": 300, "dev_size": 40}, max_length=32,
                   train_limit=100, heldout_fraction=0.2, vocab_size=200, seed=5)
    assert meta["train_limit"] == 100 and meta["train_pool_size"] == 300
    assert meta["splits"] == {"train": 80, "dev": 40, "heldout": 20}
    train, heldout = load_split(tmp_path / "p", "train"), load_split(tmp_path / "p", "heldout")
    assert not set(train.ids) & set(heldout.ids)
    whole = prepare("sst2", "synthetic", TINY, tmp_path / "w",
                    synthetic={"train_size": 300, "dev_size": 40}, max_length=32,
                    vocab_size=200, seed=5)
    assert whole["train_limit"] is None and whole["splits"]["train"] == 300


def test_the_cli_prints_the_pool(tmp_path, capsys):
    from pf.cli import main

    rc = main(["prepare", "--task", "rte", "--source", "synthetic", "--backbone-json",
               json.dumps(TINY), "--synthetic-json", '{"train_size": 120, "dev_size": 30}',
               "--max-length", "32", "--vocab-size", "200", "--train-limit", "50",
               "--out", str(tmp_path / "p")])
    assert rc == 0
    assert "train 50, dev 30 (train sampled from 120)" in capsys.readouterr().out


@pytest.mark.slow
def test_the_workflow_passes_it_to_prepare_and_evaluate(tmp_path):
    """The config key reaches `pf prepare` and `pf evaluate` (and so every metrics JSON)
    through the rules' command lines, which a dry run prints."""
    import subprocess
    import sys

    cfg = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    cfg["data"]["train_limit"] = 77
    cfg["results_dir"] = str(tmp_path / "results")
    cfg["reports_dir"] = str(tmp_path / "reports")
    cfg["logs_dir"] = str(tmp_path / "logs")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert load_config(path)["data"]["train_limit"] == 77
    assert Plan(load_config(path)).all_metrics()
    res = subprocess.run([sys.executable, "-m", "snakemake", "all", "-n", "-p", "--cores", "1",
                          "--configfile", str(path)], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout + res.stderr
    assert "--train-limit 77" in out and "pf prepare" in out
    assert any("pf evaluate" in line and "--train-limit 77" in line for line in out.splitlines())


def test_metrics_record_the_limit(tmp_path):
    import numpy as np

    from pf.evaluate import evaluate
    from pf.layer_outputs import LayerOutputs, save_outputs

    logits = np.random.default_rng(0).normal(size=(20, 1, 2)).astype(np.float32)
    labels = np.arange(20, dtype=np.int64) % 2
    path = tmp_path / "dev.safetensors"
    save_outputs(path, LayerOutputs(logits, labels, np.asarray([2]), [str(i) for i in range(20)],
                                    2, "sst2", "bert", "full", "dev"))
    assert evaluate(path, "last", "full", 1, train_limit=500)["train_limit"] == 500
    assert evaluate(path, "last", "full", 1)["train_limit"] is None
