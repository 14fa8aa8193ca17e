"""Synthetic stand-ins: schema, determinism, balance, sizes."""

from __future__ import annotations

from collections import Counter

import pytest

from pf.data import SyntheticSizes, load_task
from pf.errors import PfError
from pf.tasks import TASK_ORDER, get_task

SIZES = {"train_size": 300, "dev_size": 120}


@pytest.mark.parametrize("task", TASK_ORDER)
def test_schema_and_sizes(task):
    spec = get_task(task)
    d = load_task(task, "synthetic", synthetic=SIZES, seed=0)
    assert d.task is spec and d.source == "synthetic"
    assert set(d.splits) == {"train", "dev"}
    assert len(d.splits["train"]) == 300 and len(d.splits["dev"]) == 120
    for ex in d.splits["train"] + d.splits["dev"]:
        assert isinstance(ex.text_a, str) and ex.text_a
        assert (ex.text_b is not None) == spec.is_pair
        assert 0 <= ex.label < spec.num_labels
        assert ex.text_a == ex.text_a.lower()
    guids = [ex.guid for s in d.splits.values() for ex in s]
    assert len(set(guids)) == len(guids)


@pytest.mark.parametrize("task", TASK_ORDER)
def test_label_balance(task):
    spec = get_task(task)
    d = load_task(task, "synthetic", synthetic={"train_size": 1200, "dev_size": 10}, seed=3)
    counts = Counter(ex.label for ex in d.splits["train"])
    assert set(counts) == set(range(spec.num_labels))
    for c in counts.values():
        assert abs(c / 1200 - 1 / spec.num_labels) < 0.07


@pytest.mark.parametrize("task", TASK_ORDER)
def test_deterministic_per_seed(task):
    a = load_task(task, "synthetic", synthetic=SIZES, seed=1)
    b = load_task(task, "synthetic", synthetic=SIZES, seed=1)
    c = load_task(task, "synthetic", synthetic=SIZES, seed=2)
    assert a.splits == b.splits
    assert a.splits["train"] != c.splits["train"]
    # train and dev are drawn from different streams
    assert [e.text_a for e in a.splits["train"][:20]] != [e.text_a for e in a.splits["dev"][:20]]


def test_no_global_rng_use():
    import random

    random.seed(123)
    before = random.random()
    random.seed(123)
    load_task("rte", "synthetic", synthetic=SIZES, seed=0)
    assert random.random() == before


def test_prefix_stable_across_sizes():
    small = load_task("mnli", "synthetic", synthetic={"train_size": 50, "dev_size": 5}, seed=0)
    large = load_task("mnli", "synthetic", synthetic={"train_size": 80, "dev_size": 5}, seed=0)
    assert large.splits["train"][:50] == small.splits["train"]


@pytest.mark.parametrize("task", TASK_ORDER)
def test_easy_and_hard_examples_present(task):
    """Easy examples and chains of every length, each kind with every label."""
    from pf.data.synthetic import DEFAULT_MIX, generate_with_kinds

    spec = get_task(task)
    pairs = generate_with_kinds(spec, "train", 1500, seed=0)
    kinds = Counter(k for _, k in pairs)
    assert set(kinds) == {"easy"} | {f"hop{h}" for h in DEFAULT_MIX.hops}
    assert abs(kinds["easy"] / 1500 - DEFAULT_MIX.easy) < 0.05
    for kind in kinds:
        labels = {ex.label for ex, k in pairs if k == kind}
        assert labels == set(range(spec.num_labels)), (kind, labels)


def test_hard_examples_follow_the_world():
    """A hard RTE example is entailed exactly when the chain's person has the claimed city."""
    from pf.data.synthetic import RELATIONS, generate_with_kinds, world_for

    spec = get_task("rte")
    world = world_for(spec, 0)
    checked = 0
    for ex, kind in generate_with_kinds(spec, "dev", 200, seed=0):
        if kind == "easy":
            continue
        words = ex.text_a.split()          # "the friend of the boss of ann comes from rome ."
        path = [words[i + 1] for i, w in enumerate(words) if w == "the" and words[i + 1] in RELATIONS]
        assert kind == f"hop{len(path)}"
        start = next(w for w in words if w in world.names)
        city = words[-2]
        assert (world.attrs["city"][world.resolve(path, start)] == city) == (ex.label == 0)
        checked += 1
    assert checked > 100


def test_world_relations_are_permutations():
    from pf.data.synthetic import world_for

    world = world_for(get_task("qqp"), 0)
    for rel in world.rel.values():
        assert sorted(rel.values()) == sorted(world.names)
        assert all(a != b for a, b in rel.items())
    path = list(world.relations)[:2] * 2
    for n in world.names:
        assert world.start_for(path, world.resolve(path, n)) == n


def test_sizes_validation():
    assert SyntheticSizes.from_any(None) == SyntheticSizes()
    assert SyntheticSizes.from_any({"train_size": 5}).train_size == 5
    with pytest.raises(PfError, match="train_sizes"):
        SyntheticSizes.from_any({"train_sizes": 5})
    with pytest.raises(PfError, match="dev_size"):
        SyntheticSizes.from_any({"dev_size": 0})
    with pytest.raises(PfError, match="positive integer"):
        SyntheticSizes.from_any({"train_size": 2.5})


def test_unknown_task_and_source():
    with pytest.raises(PfError, match="did you mean 'sst2'"):
        load_task("sst3", "synthetic")
    with pytest.raises(PfError, match="did you mean 'synthetic'"):
        load_task("rte", "synthetc")


def test_depth_gap_benchmark_smoke(tmp_path):
    """The benchmark runs end to end (a few steps, tiny sizes) and writes its JSON."""
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "depth_gap.py"
    spec = importlib.util.spec_from_file_location("depth_gap", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "gap.json"
    assert mod.main(["--tasks", "mnli", "--layers", "1,2", "--steps", "2", "--train-size", "40",
                     "--dev-size", "20", "--max-length", "40", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert rows[0]["task"] == "mnli" and 0.0 <= rows[0]["L2"]["acc"] <= 100.0
