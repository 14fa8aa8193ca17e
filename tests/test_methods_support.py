"""Shared helpers for the methods/train/outputs tests (no tests here).

A tiny learnable token task, independent of pf.data: every row starts with [CLS] (id 1),
then random tokens from 3..V-1, right-padded with 0 to a random length; label 1 iff the
"key" token 3 occurs. Half of the rows get the key inserted, so the classes are balanced.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from pf.backbones import BackboneSpec, EncoderInputs, TinyConfig, load_encoder

VOCAB = 24
PAD = 0
KEY = 3


def tiny_spec(family: str = "bert", n_layers: int = 4, hidden: int = 32) -> BackboneSpec:
    return BackboneSpec(family, family, tiny=TinyConfig(n_layers=n_layers, hidden_size=hidden,
                                                         n_heads=2, intermediate_size=2 * hidden,
                                                         embedding_size=16,
                                                         max_position_embeddings=32))


def tiny_encoder(family: str = "bert", n_layers: int = 4, hidden: int = 32, seed: int = 0):
    return load_encoder(tiny_spec(family, n_layers, hidden), VOCAB, PAD, seed)


def key_task(n: int, length: int = 10, seed: int = 0):
    """(input_ids, attention_mask, token_type_ids, labels) of the key-token task."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(KEY + 1, VOCAB, (n, length), generator=g)
    ids[:, 0] = 1
    labels = torch.randint(0, 2, (n,), generator=g)
    lengths = torch.randint(4, length + 1, (n,), generator=g)
    for r in range(n):
        if labels[r]:
            pos = int(torch.randint(1, int(lengths[r]), (1,), generator=g))
            ids[r, pos] = KEY
    mask = (torch.arange(length)[None] < lengths[:, None]).long()
    ids = ids * mask
    return ids, mask, torch.zeros_like(ids), labels


def key_inputs(n: int, length: int = 10, seed: int = 0) -> tuple[EncoderInputs, torch.Tensor]:
    ids, mask, tt, labels = key_task(n, length, seed)
    return EncoderInputs(ids, mask, tt), labels


def write_prepared(out: Path, family: str = "bert", n_train: int = 256, n_dev: int = 128,
                   n_layers: int = 4, hidden: int = 32, length: int = 10,
                   n_heldout: int = 0) -> Path:
    """A prepared-data directory in the `pf prepare` format (docs/ARCHITECTURE.md)."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    sizes = {}
    splits = [("train", n_train, 1), ("dev", n_dev, 2)]
    if n_heldout:
        splits.append(("heldout", n_heldout, 3))
    for split, n, seed in splits:
        ids, mask, tt, labels = key_task(n, length, seed)
        save_file({"input_ids": ids, "attention_mask": mask, "token_type_ids": tt, "labels": labels},
                  str(out / f"{split}.safetensors"),
                  metadata={"ids": json.dumps([f"{split}-{i}" for i in range(n)])})
        sizes[split] = n
    spec = tiny_spec(family, n_layers, hidden)
    meta = {"task": "sst2", "source": "synthetic", "backbone": {"name": spec.name, **spec.to_dict()},
            "vocab_size": VOCAB, "pad_token_id": PAD, "max_length": length, "splits": sizes,
            "num_labels": 2}
    (out / "meta.json").write_text(json.dumps(meta))
    return out


def perturb_weights(model: torch.nn.Module, seed: int, head_scale: float,
                    backbone_scale: float = 0.02) -> torch.nn.Module:
    """Add seeded noise to every parameter (backbone `encoder.*` and heads alike), so that
    every bias is non-zero and the heads' logits are far from uniform."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            scale = backbone_scale if name.startswith("encoder.") else head_scale
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return model
