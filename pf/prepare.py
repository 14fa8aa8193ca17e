"""Tokenise a task's splits into fixed-length tensors: `pf prepare`.

The tokenizer is the backbone's own (`AutoTokenizer.from_pretrained`, never remote code)
when the backbone is pretrained; for a tiny random-init backbone it is a WordPiece
tokenizer built here, deterministically, from the texts of the training split
(lower-casing normaliser, BERT-style template: `[CLS] a [SEP]` / `[CLS] a [SEP] b [SEP]`
with token type ids 0/1, special tokens [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4).
Either way the tokenizer is saved under DIR/tokenizer/ and loads back as a transformers
`PreTrainedTokenizerFast`.

Output layout (docs/ARCHITECTURE.md, "Prepared data"): DIR/{train,dev[,heldout]}.safetensors,
DIR/tokenizer/, DIR/meta.json. The directory is built in a temporary sibling and renamed
into place; meta.json is written last, so its presence means the directory is complete.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pf.io import write_safetensors
from pf.versions import package_versions

if TYPE_CHECKING:  # torch is imported lazily: `pf --help` stays fast
    import torch

SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
DEFAULT_VOCAB_SIZE = 1500
DEFAULT_MAX_LENGTH = 128
MIN_MAX_LENGTH = 8


def training_texts(examples) -> list[str]:
    """The texts a WordPiece vocabulary is built from: every text_a and text_b."""
    out = []
    for ex in examples:
        out.append(ex.text_a)
        if ex.text_b is not None:
            out.append(ex.text_b)
    return out


def wordpiece_vocab(texts: list[str], vocab_size: int = DEFAULT_VOCAB_SIZE) -> list[str]:
    """A deterministic WordPiece vocabulary for `texts`.

    The texts go through the same normaliser and pre-tokenizer as the final tokenizer
    (`tokenizers` library); the vocabulary is then the special tokens, every character seen
    (word-initial and `##` continuation forms, so no word maps to [UNK]) and the most frequent
    whole words, ties broken alphabetically. The `tokenizers` WordPiece trainer is not used
    because its tie-breaking (hash-map order) changes from process to process.
    """
    from collections import Counter

    norm, pre = _normaliser(), _pre_tokenizer()
    words: Counter[str] = Counter()
    for text in texts:
        words.update(w for w, _ in pre.pre_tokenize_str(norm.normalize_str(text)))
    chars: Counter[str] = Counter()
    for w, c in words.items():
        chars[w[0]] += c
        for ch in w[1:]:
            chars["##" + ch] += c
    vocab = list(SPECIAL_TOKENS)
    vocab += [t for t, _ in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0]))]
    seen = set(vocab)
    for w, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(vocab) >= vocab_size:
            break
        if w not in seen:
            vocab.append(w)
            seen.add(w)
    return vocab


def _normaliser():
    from tokenizers import normalizers

    return normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                      strip_accents=None, lowercase=True)


def _pre_tokenizer():
    from tokenizers import pre_tokenizers

    return pre_tokenizers.BertPreTokenizer()


def train_wordpiece(texts: list[str], vocab_size: int = DEFAULT_VOCAB_SIZE):
    """A WordPiece tokenizer built on `texts`, wrapped as a PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer, decoders, models, processors
    from transformers import PreTrainedTokenizerFast

    vocab = wordpiece_vocab(texts, vocab_size)
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]",
                                     max_input_chars_per_word=100))
    tok.normalizer = _normaliser()
    tok.pre_tokenizer = _pre_tokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A:0 [SEP]:0",
        pair="[CLS] $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]", model_max_length=1_000_000,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def encode_examples(tokenizer, examples, max_length: int) -> dict:
    """Token ids, attention mask, token types (int64 [N, max_length]) and labels (int64 [N])."""
    import torch

    a = [ex.text_a for ex in examples]
    pairs = [ex.text_b for ex in examples]
    is_pair = any(b is not None for b in pairs)
    if is_pair and any(b is None for b in pairs):
        from pf.errors import PfError
        raise PfError("examples mix single sentences and sentence pairs")
    enc = tokenizer(a, pairs if is_pair else None, padding="max_length", truncation=True,
                    max_length=max_length, return_token_type_ids=True, return_attention_mask=True,
                    return_tensors="pt")
    n = len(examples)
    out = {k: enc[k].to(torch.int64).reshape(n, max_length)
           for k in ("input_ids", "attention_mask", "token_type_ids")}
    out["labels"] = torch.tensor([ex.label for ex in examples], dtype=torch.int64)
    return out


# ----------------------------------------------------------------------------- tokenizer


def load_pretrained_tokenizer(spec):
    """The tokenizer of a pretrained backbone (hub id or local directory), no remote code."""
    from transformers import AutoTokenizer

    from pf.backbones import model_source, pretrained_load_error

    source = model_source(spec)
    try:
        return AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    except (OSError, ValueError) as err:
        raise pretrained_load_error(spec, "tokenizer", err) from None


def build_tokenizer(spec, train_examples, vocab_size: int = DEFAULT_VOCAB_SIZE):
    """Pretrained tokenizer for a pretrained backbone, else WordPiece trained on `train_examples`."""
    if spec.is_pretrained:
        return load_pretrained_tokenizer(spec)
    return train_wordpiece(training_texts(train_examples), vocab_size)


def load_tokenizer(prepared_dir):
    """The tokenizer saved by `pf prepare` in DIR/tokenizer/."""
    from transformers import AutoTokenizer

    from pf.errors import PfError

    path = Path(prepared_dir) / "tokenizer"
    if not path.is_dir():
        raise PfError(f"{path}: tokenizer directory not found (run `pf prepare` first)")
    try:
        return AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
    except (OSError, ValueError) as err:
        raise PfError(f"{path}: cannot load the tokenizer ({err})") from None


# ----------------------------------------------------------------------------- prepared data

TENSOR_KEYS = ("input_ids", "attention_mask", "token_type_ids", "labels")
META_KEYS = ("task", "source", "backbone", "vocab_size", "pad_token_id", "max_length", "splits")


@dataclass
class PreparedSplit:
    input_ids: torch.Tensor        # int64 [N, L]
    attention_mask: torch.Tensor   # int64 [N, L]
    token_type_ids: torch.Tensor   # int64 [N, L]
    labels: torch.Tensor           # int64 [N]
    ids: list[str]                   # example ids (guids), N

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def inputs(self, rows=None):
        """The `EncoderInputs` of all rows, or of `rows` (an index tensor or slice)."""
        from pf.backbones import EncoderInputs

        if rows is None:
            return EncoderInputs(self.input_ids, self.attention_mask, self.token_type_ids)
        return EncoderInputs(self.input_ids[rows], self.attention_mask[rows], self.token_type_ids[rows])


def split_path(prepared_dir, split: str) -> Path:
    return Path(prepared_dir) / f"{split}.safetensors"


def read_meta(prepared_dir) -> dict[str, Any]:
    """meta.json of a prepared directory (PfError if missing, malformed or incomplete)."""
    from pf.errors import PfError
    from pf.io import read_json

    path = Path(prepared_dir) / "meta.json"
    if not path.is_file():
        raise PfError(f"{path}: file not found; '{prepared_dir}' is not a complete prepared-data "
                      f"directory (run `pf prepare`)")
    meta = read_json(path)
    if not isinstance(meta, dict):
        raise PfError(f"{path}: expected a JSON object")
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise PfError(f"{path}: missing field(s) {missing}")
    return meta


def load_split(prepared_dir, split: str) -> PreparedSplit:
    """One prepared split; a missing or corrupt file raises PfError naming it."""
    import torch
    from safetensors import SafetensorError, safe_open

    from pf.errors import PfError

    path = split_path(prepared_dir, split)
    if not path.is_file():
        avail = sorted(p.stem for p in Path(prepared_dir).glob("*.safetensors"))
        raise PfError(f"{path}: file not found (split '{split}'; available: {', '.join(avail) or 'none'})")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            keys = set(f.keys())
            missing = [k for k in TENSOR_KEYS if k not in keys]
            if missing:
                raise PfError(f"{path}: missing tensor(s) {missing}")
            t = {k: f.get_tensor(k) for k in TENSOR_KEYS}
    except SafetensorError as err:
        raise PfError(f"{path}: not a readable safetensors file ({err})") from None
    except OSError as err:
        raise PfError(f"{path}: cannot read ({err})") from None
    try:
        ids = json.loads(metadata["ids"])
    except (KeyError, json.JSONDecodeError):
        raise PfError(f"{path}: metadata 'ids' missing or not a JSON list") from None
    n = t["labels"].shape[0] if t["labels"].dim() == 1 else -1
    for k in TENSOR_KEYS:
        if t[k].dtype != torch.int64:
            raise PfError(f"{path}: tensor '{k}' has dtype {t[k].dtype}, expected int64")
    shape = tuple(t["input_ids"].shape)
    if n < 0 or len(shape) != 2 or shape[0] != n or any(
            tuple(t[k].shape) != shape for k in ("attention_mask", "token_type_ids")):
        raise PfError(f"{path}: inconsistent shapes " +
                      ", ".join(f"{k} {tuple(t[k].shape)}" for k in TENSOR_KEYS))
    if not isinstance(ids, list) or len(ids) != n:
        raise PfError(f"{path}: metadata 'ids' has {len(ids) if isinstance(ids, list) else '?'} "
                      f"entries for {n} rows")
    return PreparedSplit(ids=[str(i) for i in ids], **t)


def carve_heldout(examples: list, fraction: float, seed: int) -> tuple[list, list]:
    """(train, heldout): a deterministic random `fraction` of `examples` set aside."""
    from pf.errors import PfError

    if not 0.0 <= fraction < 1.0:
        raise PfError(f"--heldout-fraction must be in [0, 1), got {fraction}")
    if fraction == 0.0:
        return list(examples), []
    k = int(round(fraction * len(examples)))
    if k < 1 or k >= len(examples):
        raise PfError(f"--heldout-fraction {fraction} of {len(examples)} training examples leaves "
                      f"{k} held-out and {len(examples) - k} training examples; both must be at least 1")
    order = list(range(len(examples)))
    random.Random(f"pf-heldout/{seed}").shuffle(order)
    chosen = set(order[:k])
    train = [ex for i, ex in enumerate(examples) if i not in chosen]
    heldout = [ex for i, ex in enumerate(examples) if i in chosen]
    return train, heldout


def _save_split(path: Path, encoded: dict, ids: list[str], task: str, split: str) -> None:
    write_safetensors(path, {k: encoded[k].contiguous() for k in TENSOR_KEYS},
                      {"ids": json.dumps(ids), "task": task, "split": split})


VERSION_PACKAGES = ("pf-early-exit", "torch", "transformers", "tokenizers", "datasets",
                    "safetensors")


def prepare(task: str, source: str, backbone, out, *, data_dir: str | None = None,
            max_length: int = DEFAULT_MAX_LENGTH, synthetic=None, heldout_fraction: float = 0.0,
            seed: int = 0, vocab_size: int = DEFAULT_VOCAB_SIZE,
            train_limit: int | None = None) -> dict[str, Any]:
    """Build the prepared-data directory `out` atomically; returns its meta.json content.

    `train_limit`: keep a seeded, stratified sample of that many training examples
    (pf.data.stratified_subsample, seeded by `seed`) before the held-out slice is carved
    from them; None keeps the whole training split."""
    from pf.backbones import BackboneSpec
    from pf.data import load_task, stratified_subsample
    from pf.data.base import SyntheticSizes
    from pf.errors import PfError
    from pf.io import dumps_json, honour_umask_tree

    if isinstance(backbone, dict):
        d = dict(backbone)
        backbone = BackboneSpec.from_dict(str(d.pop("name", d.get("family", "backbone"))), d)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < MIN_MAX_LENGTH:
        raise PfError(f"--max-length must be an integer of at least {MIN_MAX_LENGTH}, got {max_length!r}")
    if backbone.tiny is not None and max_length > backbone.tiny.max_position_embeddings:
        raise PfError(f"--max-length {max_length} exceeds max_position_embeddings "
                      f"{backbone.tiny.max_position_embeddings} of backbone '{backbone.name}'")
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 50:
        raise PfError(f"--vocab-size must be an integer of at least 50, got {vocab_size!r}")
    if source == "synthetic":
        synthetic = SyntheticSizes.from_any(synthetic)
    data = load_task(task, source, data_dir=data_dir, synthetic=synthetic, seed=seed)
    pool = data.splits["train"]
    train, heldout = carve_heldout(stratified_subsample(pool, train_limit, seed),
                                   heldout_fraction, seed)
    splits = {"train": train, "dev": data.splits["dev"]}
    if heldout:
        splits["heldout"] = heldout

    tokenizer = build_tokenizer(backbone, train, vocab_size)
    if tokenizer.pad_token_id is None:
        raise PfError(f"tokenizer of backbone '{backbone.name}' has no padding token")

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        sizes, truncated = {}, {}
        for split, examples in splits.items():
            enc = encode_examples(tokenizer, examples, max_length)
            _save_split(tmp / f"{split}.safetensors", enc, [ex.guid for ex in examples], data.task.name, split)
            sizes[split] = len(examples)
            # rows whose last position is a real token were (probably) cut
            truncated[split] = int(enc["attention_mask"][:, -1].sum())
        tokenizer.save_pretrained(str(tmp / "tokenizer"))
        meta = {
            "format": "pf-prepared/1",
            "task": data.task.name,
            "labels": list(data.task.labels),
            "num_labels": data.task.num_labels,
            "is_pair": data.task.is_pair,
            "source": source,
            "data_dir": str(data_dir) if data_dir and source == "glue_dir" else None,
            "synthetic": (vars(synthetic) if isinstance(synthetic, SyntheticSizes) else None),
            "backbone": {"name": backbone.name, **backbone.to_dict()},
            "tokenizer": "pretrained" if backbone.is_pretrained else "wordpiece",
            "vocab_size": len(tokenizer),
            "pad_token_id": int(tokenizer.pad_token_id),
            "max_length": max_length,
            "heldout_fraction": heldout_fraction,
            "train_limit": train_limit,
            "train_pool_size": len(pool),
            "seed": seed,
            "splits": sizes,
            "rows_filling_max_length": truncated,
            "versions": package_versions(VERSION_PACKAGES),
        }
        (tmp / "meta.json").write_text(dumps_json(meta), encoding="utf-8")   # last: marks completion
        honour_umask_tree(tmp)      # mkdtemp made it 0700, safetensors its files 0600
        if out.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, trash / "old")
            os.replace(tmp, out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return meta


# ----------------------------------------------------------------------------- CLI


PREPARE_EXAMPLES = """\
example:
  pf prepare --task rte --source synthetic \\
      --backbone-json '{"name": "bert", "family": "bert", "tiny": {"n_layers": 6}}' \\
      --max-length 48 --out results/prepared/bert/rte
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "prepare", help="tokenise a task into fixed-length tensors",
        description=__doc__, epilog=PREPARE_EXAMPLES)
    p.add_argument("--task", required=True,
                   help="GLUE task: mnli, mrpc, qnli, qqp, rte or sst2")
    p.add_argument("--source", required=True,
                   help="where the task's data comes from: hub (nyu-mll/glue), glue_dir (a GLUE "
                        "download, needs --data-dir) or synthetic (the offline stand-in)")
    p.add_argument("--data-dir", default=None, help="GLUE directory (source glue_dir)")
    p.add_argument("--backbone-json", required=True,
                   help='backbone spec as JSON text or a JSON file, e.g. \'{"name": "bert", '
                        '"family": "bert", "tiny": {"n_layers": 6}}\'')
    p.add_argument("--max-length", type=int, default=DEFAULT_MAX_LENGTH,
                   help="tokens per example, [CLS] and [SEP] included (longer ones are cut)")
    p.add_argument("--synthetic-json", default=None,
                   help='synthetic split sizes, JSON text or file, e.g. \'{"train_size": 3000, '
                        '"dev_size": 500}\' (source synthetic)')
    p.add_argument("--heldout-fraction", type=float, default=0.0,
                   help="share of train set aside (deterministically) as split 'heldout'")
    p.add_argument("--train-limit", type=int, default=None,
                   help="keep a seeded (--seed), stratified sample of this many training "
                        "examples (label shares kept), before the held-out slice is set aside "
                        "from them; default: the whole training split")
    p.add_argument("--vocab-size", type=int, default=DEFAULT_VOCAB_SIZE,
                   help="WordPiece vocabulary size for tiny backbones")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the synthetic data and of the held-out split")
    p.add_argument("--out", required=True,
                   help="directory to write (built beside it, renamed into place when done)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pf.jsonargs import json_arg

    backbone = json_arg("--backbone-json", args.backbone_json)
    meta = prepare(args.task, args.source, backbone, args.out, data_dir=args.data_dir,
                   max_length=args.max_length,
                   synthetic=json_arg("--synthetic-json", args.synthetic_json),
                   heldout_fraction=args.heldout_fraction, seed=args.seed, vocab_size=args.vocab_size,
                   train_limit=args.train_limit)
    limited = (f" (train sampled from {meta['train_pool_size']:,})"
               if meta["train_limit"] is not None and meta["train_limit"] < meta["train_pool_size"]
               else "")
    print(f"prepared {meta['task']} ({meta['source']}, {meta['backbone']['name']}): "
          + ", ".join(f"{k} {v:,}" for k, v in meta["splits"].items()) + limited
          + f"; vocab {meta['vocab_size']:,}, max length {meta['max_length']} -> {args.out}")
    return 0
