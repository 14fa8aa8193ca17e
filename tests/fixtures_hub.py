"""A Hugging Face cache built by hand, for the offline tests of `pf download` and the jobs.

The layout is the documented one of huggingface_hub (HF_HOME/hub/models--ORG--NAME/
{refs/main, snapshots/COMMIT/...}); the snapshot holds a real randomly initialised BERT
(safetensors) and a real WordPiece tokenizer trained on the synthetic GLUE stand-in, so
`pf prepare` and `pf train` can run from it with the hub switched off.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
HUB_MODEL = "pf-test/tiny-bert"      # lives only in the caches these tests build


def hf_cache(home: Path, repo_id: str = HUB_MODEL, weights: bool = True, n_layers: int = 3,
             hidden_size: int = 32) -> Path:
    """Put one model snapshot into the cache of HF_HOME=home; return the snapshot folder."""
    from transformers import BertConfig, BertModel

    from pf.data import load_task
    from pf.prepare import train_wordpiece, training_texts

    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    root = home / "hub" / ("models--" + repo_id.replace("/", "--"))
    snapshot = root / "snapshots" / commit
    texts = [t for task in ("sst2", "rte")
             for t in training_texts(load_task(task, "synthetic",
                                               synthetic={"train_size": 200}).splits["train"])]
    tokenizer = train_wordpiece(texts, 256)
    tokenizer.save_pretrained(str(snapshot))
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden_size,
                        num_hidden_layers=n_layers, num_attention_heads=2,
                        intermediate_size=2 * hidden_size, max_position_embeddings=64)
    if weights:
        BertModel(config).save_pretrained(str(snapshot))
    else:
        config.save_pretrained(str(snapshot))
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(commit)
    return snapshot


def hub_config(path: Path, n_layers: int = 3) -> Path:
    """config/smoke.yaml with its BERT backbone taken from the hub (HUB_MODEL), at `path`."""
    cfg = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    cfg["backbones"]["bert"] = {"family": "bert", "pretrained": HUB_MODEL, "n_layers": n_layers}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path
