"""Synthetic stand-ins: schema, determinism, balance, kinds, the stated rules, lengths.

Whether tiny models learn them (and need depth for the harder kinds) is measured by
benchmarks/synthetic_learnability.py, not here.
"""

from __future__ import annotations

from collections import Counter

import pytest

from pf.data import SyntheticSizes, load_task
from pf.data import synthetic as syn
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
def test_labels_balanced_overall_and_by_kind(task):
    """Every block of num_labels examples holds each label once; each kind is near balanced."""
    spec = get_task(task)
    pairs = syn.generate_with_kinds(spec, "dev", 1000, seed=3)
    counts = Counter(ex.label for ex, _ in pairs)
    assert set(counts) == set(range(spec.num_labels))
    assert max(counts.values()) - min(counts.values()) <= 1
    k = spec.num_labels
    for start in range(0, 999 - k, k):
        assert sorted(ex.label for ex, _ in pairs[start:start + k]) == list(range(k))
    for kind in syn.KINDS:
        labels = Counter(ex.label for ex, kd in pairs if kd == kind)
        n = sum(labels.values())
        assert set(labels) == set(range(k)), (kind, labels)
        assert all(abs(c / n - 1 / k) < 0.1 for c in labels.values()), (kind, labels)


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
    for task in TASK_ORDER:
        load_task(task, "synthetic", synthetic=SIZES, seed=0)
    assert random.random() == before


def test_prefix_stable_across_sizes():
    small = load_task("mnli", "synthetic", synthetic={"train_size": 50, "dev_size": 5}, seed=0)
    large = load_task("mnli", "synthetic", synthetic={"train_size": 80, "dev_size": 5}, seed=0)
    assert large.splits["train"][:50] == small.splits["train"]


@pytest.mark.parametrize("task", TASK_ORDER)
def test_kinds_present_in_their_shares(task):
    pairs = syn.generate_with_kinds(get_task(task), "train", 3000, seed=0)
    kinds = Counter(k for _, k in pairs)
    assert set(kinds) == set(syn.KINDS)
    for kind in syn.KINDS:
        assert abs(kinds[kind] / 3000 - getattr(syn.DEFAULT_MIX, kind)) < 0.03
    only_easy = syn.generate_with_kinds(get_task(task), "train", 50, seed=0, mix=syn.Mix(1.0, 0.0, 0.0))
    assert {k for _, k in only_easy} == {"easy"}


# ----------------------------------------------------------------------------- the rules
# An independent reading of each example: the effective polarity (and, for MNLI, aspect) of
# a text, from the lexicons alone.

LEXICONS = {"sst2": [syn.SENTIMENT], "rte": [syn.WEATHER], "mrpc": [syn.HEALTH], "qnli": [syn.EXAM],
            "qqp": [syn.HOTEL], "mnli": [syn.TASTE, syn.PRICE]}
FIXED_POSITIVE = {"it was nice .", "it was a breeze .", "is it good ?", "it tasted good ."}


def _reading(text: str, task: str) -> tuple[bool, int] | None:
    """(effective polarity, index of the aspect's lexicon) of a text; None for a fixed
    positive sentence. Only the clause after "but" counts; a "not" before the word in that
    clause flips it."""
    if text in FIXED_POSITIVE or text.endswith(" is fine ."):
        return None
    words = text.split()
    if "but" in words:
        words = words[words.index("but") + 1:]
    found = [(i, w, li, w in lex.good) for li, lex in enumerate(LEXICONS[task])
             for i, w in enumerate(words) if w in lex.good + lex.bad]
    assert len(found) == 1, (text, found)
    i, _, aspect, positive = found[0]
    return positive != ("not" in words[:i]), aspect


def _expected_label(task: str, a: str, b: str | None) -> str:
    ra = _reading(a, task)
    if task == "sst2":
        return str(int(ra[0]))
    rb = _reading(b, task)
    if task == "mnli":
        if rb is None:                              # "it tasted good .": the taste aspect
            rb = (True, 0)
        if ra[1] != rb[1]:
            return "neutral"
        return "entailment" if ra[0] == rb[0] else "contradiction"
    if rb is None:
        rb = (True, 0)
    agree = ra[0] == rb[0]
    if task in ("rte", "qnli"):
        return "entailment" if agree else "not_entailment"
    return str(int(agree))


@pytest.mark.parametrize("task", TASK_ORDER)
def test_every_label_follows_the_stated_rule(task):
    spec = get_task(task)
    for ex, kind in syn.generate_with_kinds(spec, "dev", 600, seed=5):
        assert spec.labels[ex.label] == _expected_label(task, ex.text_a, ex.text_b), (kind, ex)


@pytest.mark.parametrize("task", TASK_ORDER)
def test_kinds_need_what_they_say(task):
    """easy: one lexicon word in the example; medium: two (or a negation and one); hard: a
    turn whose clauses disagree, so the bag of polarity words does not decide."""
    spec = get_task(task)
    lex_words = {w for lex in LEXICONS[task] for w in lex.good + lex.bad}
    for ex, kind in syn.generate_with_kinds(spec, "train", 600, seed=0):
        words = (ex.text_a + " " + (ex.text_b or "")).split()
        polar = [w for w in words if w in lex_words]
        if kind == "easy":
            assert len(polar) == 1 and "not" not in words and "but" not in words, ex
        elif kind == "medium":
            assert "but" not in words and len(polar) + words.count("not") == 2, ex
        else:
            turn = ex.text_a if " but " in ex.text_a else ex.text_b
            assert " but " in turn, ex
            before, after = turn.split(" but ")
            r_before = _reading(before + " .", task)
            r_after = _reading(after, task)
            assert r_before[0] != r_after[0], ex


@pytest.mark.parametrize("task", TASK_ORDER)
def test_examples_are_short(task):
    """At most 14 word pieces with [CLS]/[SEP], every word one piece, as `pf prepare` builds
    the tokenizer for a tiny backbone (vocabulary of the default config)."""
    from pf.prepare import train_wordpiece, training_texts

    examples = syn.generate(get_task(task), "train", 2000, seed=0)
    tok = train_wordpiece(training_texts(examples), 512)
    for ex in examples[:500]:
        ids = tok(ex.text_a, ex.text_b)["input_ids"]
        n_words = len(ex.text_a.split()) + len((ex.text_b or "").split())
        assert len(ids) <= 14, ex
        assert len(ids) == n_words + (3 if ex.text_b is not None else 2), ex


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


def test_learnability_benchmark_smoke(tmp_path):
    """The benchmark runs end to end through the real prepare/train/record path (a few
    steps, tiny sizes) and writes its JSON with per-exit and per-kind accuracies."""
    import importlib.util
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    path = root / "benchmarks" / "synthetic_learnability.py"
    spec = importlib.util.spec_from_file_location("synthetic_learnability", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "learn.json"
    assert mod.main(["--config", str(root / "config" / "smoke.yaml"), "--backbones", "bert",
                     "--tasks", "mnli", "--variants", "full,pabee", "--train-size", "64",
                     "--dev-size", "30", "--epochs", "1", "--json", str(out)]) == 0
    unit = json.loads(out.read_text())["units"][0]
    assert unit["task"] == "mnli" and unit["dev_size"] == 30
    pabee = unit["jobs"]["pabee"]
    assert len(pabee["exit_accuracy"]) == 6 and set(pabee["by_kind"]) <= set(syn.KINDS)
    assert all(0.0 <= a <= 100.0 for a in pabee["exit_accuracy"])
    assert unit["jobs"]["full"]["majority"] == pytest.approx(100.0 * 10 / 30, abs=0.1)
