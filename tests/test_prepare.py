"""`pf prepare`: tokenizer, tensors, atomic output, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pf.cli import main
from pf.errors import PfError
from pf.prepare import load_split, load_tokenizer, prepare, read_meta, train_wordpiece
from tests.fixtures_data import write_glue

SYN = {"train_size": 120, "dev_size": 40}


def tiny(family: str) -> dict:
    return {"name": f"tiny-{family}", "family": family,
            "tiny": {"n_layers": 2, "hidden_size": 32, "n_heads": 2, "intermediate_size": 64}}


@pytest.mark.parametrize("family", ["bert", "roberta", "albert"])
def test_round_trip_tiny(tmp_path, family):
    out = tmp_path / "prep"
    meta = prepare("rte", "synthetic", tiny(family), out, max_length=48, synthetic=SYN, seed=0,
                   vocab_size=200)
    assert read_meta(out) == meta
    assert meta["splits"] == {"train": 120, "dev": 40}
    assert meta["pad_token_id"] == 0 and meta["max_length"] == 48
    assert meta["backbone"]["family"] == family and meta["tokenizer"] == "wordpiece"
    tok = load_tokenizer(out)
    from transformers import PreTrainedTokenizerFast

    assert isinstance(tok, PreTrainedTokenizerFast)
    assert len(tok) == meta["vocab_size"]
    assert tok.convert_ids_to_tokens([0, 1, 2, 3, 4]) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    for split, n in meta["splits"].items():
        s = load_split(out, split)
        assert len(s) == n and len(s.ids) == n
        assert s.input_ids.shape == (n, 48) and s.input_ids.dtype == torch.int64
        assert s.attention_mask.shape == s.token_type_ids.shape == (n, 48)
        assert s.labels.shape == (n,)
        assert (s.input_ids[:, 0] == 2).all()                      # [CLS]
        assert ((s.input_ids == 0) == (s.attention_mask == 0)).all()  # pad id 0 exactly on padding
        # pairs: segment B has token type 1, and only on real tokens
        assert (s.token_type_ids[s.attention_mask == 0] == 0).all()
        assert (s.token_type_ids.sum(1) > 0).all()
        assert int(s.input_ids.max()) < meta["vocab_size"]
    # the prepared tensors feed the tiny encoder of that family
    from pf.backbones import BackboneSpec, load_encoder

    spec = BackboneSpec.from_dict(meta["backbone"]["name"],
                                  {k: v for k, v in meta["backbone"].items() if k != "name"})
    enc = load_encoder(spec, meta["vocab_size"], meta["pad_token_id"], seed=0)
    dev = load_split(out, "dev")
    with torch.no_grad():
        h = enc.forward_layers(dev.inputs(slice(0, 4)))
    assert len(h) == 2 and h[-1].shape == (4, 48, 32)


def test_single_sentence_token_types_zero(tmp_path):
    meta = prepare("sst2", "synthetic", tiny("bert"), tmp_path / "p", max_length=32, synthetic=SYN)
    s = load_split(tmp_path / "p", "train")
    assert (s.token_type_ids == 0).all()
    assert meta["is_pair"] is False


def test_tokenizer_deterministic_and_lowercase():
    texts = [f"The Film {i} was GOOD and bad" for i in range(30)] + ["ann likes bob ."] * 3
    a = train_wordpiece(texts, 120)
    b = train_wordpiece(list(reversed(texts)), 120)
    assert a.get_vocab() == b.get_vocab()
    enc = a("THE FILM", "ann")
    assert enc["token_type_ids"] == [0, 0, 0, 0, 1, 1]
    assert a.convert_ids_to_tokens(enc["input_ids"]) == ["[CLS]", "the", "film", "[SEP]", "ann", "[SEP]"]


def test_prepare_deterministic(tmp_path):
    prepare("mnli", "synthetic", tiny("bert"), tmp_path / "a", max_length=40, synthetic=SYN, seed=5)
    prepare("mnli", "synthetic", tiny("bert"), tmp_path / "b", max_length=40, synthetic=SYN, seed=5)
    from safetensors import safe_open

    for split in ("train", "dev"):
        a, b = load_split(tmp_path / "a", split), load_split(tmp_path / "b", split)
        assert a.ids == b.ids
        for k in ("input_ids", "attention_mask", "token_type_ids", "labels"):
            assert torch.equal(getattr(a, k), getattr(b, k))
        with safe_open(str(tmp_path / "a" / f"{split}.safetensors"), "pt") as fa, \
                safe_open(str(tmp_path / "b" / f"{split}.safetensors"), "pt") as fb:
            assert fa.metadata() == fb.metadata()
        # byte for byte: safetensors writes its metadata map in an order that changes from
        # call to call; pf sorts it (pf.io.write_safetensors)
        raw = (tmp_path / "a" / f"{split}.safetensors").read_bytes()
        assert raw == (tmp_path / "b" / f"{split}.safetensors").read_bytes()
        header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
        assert list(header["__metadata__"]) == sorted(header["__metadata__"])
    assert load_tokenizer(tmp_path / "a").get_vocab() == load_tokenizer(tmp_path / "b").get_vocab()


def test_heldout_split(tmp_path):
    meta = prepare("qnli", "synthetic", tiny("bert"), tmp_path / "p", max_length=40, synthetic=SYN,
                   heldout_fraction=0.25, seed=1)
    assert meta["splits"] == {"train": 90, "dev": 40, "heldout": 30}
    train, held = load_split(tmp_path / "p", "train"), load_split(tmp_path / "p", "heldout")
    assert not set(train.ids) & set(held.ids)
    assert sorted(train.ids + held.ids, key=lambda g: int(g.split("-")[1])) == [f"train-{i}" for i in range(120)]
    again = prepare("qnli", "synthetic", tiny("bert"), tmp_path / "q", max_length=40, synthetic=SYN,
                    heldout_fraction=0.25, seed=1)
    assert load_split(tmp_path / "q", "heldout").ids == held.ids and again == meta
    with pytest.raises(PfError, match="heldout-fraction"):
        prepare("qnli", "synthetic", tiny("bert"), tmp_path / "r", synthetic=SYN, heldout_fraction=1.5)


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


def test_max_length_below_8_errors_and_writes_nothing(tmp_path):
    with pytest.raises(PfError, match="max-length"):
        prepare("rte", "synthetic", tiny("bert"), tmp_path / "p", max_length=7, synthetic=SYN)
    assert _leftovers(tmp_path) == []
    assert main(["prepare", "--task", "rte", "--source", "synthetic", "--backbone-json",
                 json.dumps(tiny("bert")), "--max-length", "4", "--out", str(tmp_path / "p")]) == 2
    assert _leftovers(tmp_path) == []


def test_failure_leaves_nothing_half_written(tmp_path, monkeypatch):
    import pf.prepare as P

    def boom(*a, **k):
        raise PfError("simulated failure")

    monkeypatch.setattr(P, "_save_split", boom)
    with pytest.raises(PfError, match="simulated"):
        prepare("rte", "synthetic", tiny("bert"), tmp_path / "p", max_length=16, synthetic=SYN)
    assert _leftovers(tmp_path) == []


def test_rerun_replaces_complete_dir(tmp_path):
    prepare("rte", "synthetic", tiny("bert"), tmp_path / "p", max_length=16, synthetic=SYN)
    prepare("rte", "synthetic", tiny("bert"), tmp_path / "p", max_length=24, synthetic=SYN)
    assert read_meta(tmp_path / "p")["max_length"] == 24
    assert _leftovers(tmp_path) == ["p"]


def test_cli_glue_dir(tmp_path, capsys):
    root = write_glue(tmp_path / "glue")
    out = tmp_path / "prep"
    rc = main(["prepare", "--task", "mrpc", "--source", "glue_dir", "--data-dir", str(root),
               "--backbone-json", json.dumps(tiny("bert")), "--max-length", "32",
               "--seed", "0", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    meta = read_meta(out)
    assert meta["source"] == "glue_dir" and meta["splits"] == {"train": 3, "dev": 2}
    assert load_split(out, "train").ids == ["train-0", "train-1", "train-2"]


def test_backbone_json_file_and_errors(tmp_path, capsys):
    f = tmp_path / "bb.json"
    f.write_text(json.dumps(tiny("albert")))
    assert main(["prepare", "--task", "sst2", "--source", "synthetic", "--backbone-json", str(f),
                 "--synthetic-json", json.dumps(SYN), "--max-length", "16",
                 "--out", str(tmp_path / "p")]) == 0
    assert main(["prepare", "--task", "sst2", "--source", "synthetic", "--backbone-json",
                 '{"family": "gpt"}', "--out", str(tmp_path / "q")]) == 2
    assert "did you mean" in capsys.readouterr().err or True
    assert main(["prepare", "--task", "sst2", "--source", "synthetic", "--backbone-json",
                 str(tmp_path / "missing.json"), "--out", str(tmp_path / "q")]) == 2
    assert "missing.json" in capsys.readouterr().err
    assert not (tmp_path / "q").exists()


def test_max_length_exceeds_positions(tmp_path):
    with pytest.raises(PfError, match="max_position_embeddings"):
        prepare("rte", "synthetic", tiny("bert"), tmp_path / "p", max_length=512, synthetic=SYN)


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(PfError, match="meta.json"):
        read_meta(tmp_path)
    out = tmp_path / "p"
    prepare("rte", "synthetic", tiny("bert"), out, max_length=16, synthetic=SYN)
    with pytest.raises(PfError, match="heldout.safetensors"):
        load_split(out, "heldout")
    (out / "dev.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(PfError, match="dev.safetensors"):
        load_split(out, "dev")
    (out / "meta.json").write_text("{broken")
    with pytest.raises(PfError, match="meta.json"):
        read_meta(out)
    (out / "meta.json").write_text("{}")
    with pytest.raises(PfError, match="missing field"):
        read_meta(out)


def test_pretrained_tokenizer_offline_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PfError, match="tokenizer"):
        prepare("rte", "synthetic", {"name": "bert-base", "family": "bert",
                                     "pretrained": "bert-base-uncased"},
                tmp_path / "p", max_length=16, synthetic=SYN)
    assert _leftovers(tmp_path) == []


def test_pretrained_tokenizer_from_local_dir(tmp_path):
    """A local 'pretrained' directory: its tokenizer is used as is."""
    tok = train_wordpiece(["ann likes bob", "the film was good"], 60)
    model_dir = tmp_path / "model"
    tok.save_pretrained(str(model_dir))
    meta = prepare("rte", "synthetic", {"name": "local", "family": "bert", "pretrained": str(model_dir)},
                   tmp_path / "p", max_length=16, synthetic=SYN)
    assert meta["tokenizer"] == "pretrained" and meta["vocab_size"] == len(tok)
