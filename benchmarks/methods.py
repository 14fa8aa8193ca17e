"""Benchmark: every method on one learnable task with a tiny 12-layer BERT.

Prints last-exit dev accuracy, training seconds per epoch (process CPU time with one thread
and wall-clock, the fastest epoch of each stage, robust to other load on a shared machine;
all stages of a method summed, so
DeeBERT's and TinyBERT's two stages both count) relative to `full`, and the head-cost table
at the same and at BERT-base dimensions.

    .venv/bin/python benchmarks/methods.py [--epochs 3] [--train 1024] [--threads 1]

Task (independent of pf.data): [CLS] + random tokens, label 1 iff key token 3 occurs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from pf.backbones import BackboneSpec, TinyConfig, load_encoder  # noqa: E402
from pf.costs import Dims, cost_table, format_table  # noqa: E402
from pf.methods.checkpoint import save_checkpoint  # noqa: E402
from pf.methods.registry import build_model  # noqa: E402
from pf.train.args import TrainingArgs  # noqa: E402
from pf.train.data import Examples  # noqa: E402
from pf.train.trainer import exit_accuracies, set_seed, train  # noqa: E402

VOCAB, KEY = 64, 3


def key_task(n: int, length: int, seed: int) -> Examples:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(KEY + 1, VOCAB, (n, length), generator=g)
    ids[:, 0] = 1
    labels = torch.randint(0, 2, (n,), generator=g)
    lengths = torch.randint(length // 2, length + 1, (n,), generator=g)
    for r in range(n):
        if labels[r]:
            ids[r, int(torch.randint(1, int(lengths[r]), (1,), generator=g))] = KEY
    mask = (torch.arange(length)[None] < lengths[:, None]).long()
    return Examples(ids * mask, mask, torch.zeros_like(ids), labels)


METHODS = [
    ("full", "full", {}),
    ("truncated-6L", "truncated", {"layers": 6}),
    ("deebert", "deebert", {}),
    ("pabee", "pabee", {}),
    ("pf", "pf", {}),
    ("pf-paper", "pf", {"variant": "paper"}),
    ("pf-past", "pf", {"future": False}),
    ("pf-cos-into-s", "pf", {"imitation_input_grad": True}),
    ("kd-6L", "kd", {"layers": 6}),
    ("pkd-6L", "pkd", {"layers": 6}),
    ("tinybert-6L", "tinybert", {"layers": 6}),
]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train", type=int, default=1024)
    ap.add_argument("--dev", type=int, default=512)
    ap.add_argument("--length", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", default=None, help="comma-separated row names")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tiny = TinyConfig(n_layers=12, hidden_size=64, n_heads=2, intermediate_size=256)
    spec = BackboneSpec("bert", "bert", tiny=tiny)
    data, dev = key_task(args.train, args.length, 1), key_task(args.dev, args.length, 2)
    targs = TrainingArgs(lr=1e-3, batch_size=32, epochs=args.epochs, warmup_ratio=0.1)
    rows, teacher_dir = [], None
    tmp = tempfile.TemporaryDirectory()
    only = set(args.only.split(",")) if args.only else None
    for name, method, options in METHODS:
        if only and name not in only and name != "full":
            continue
        set_seed(0)
        opts = dict(options)
        if method in ("kd", "pkd", "tinybert"):
            opts["teacher"] = str(teacher_dir)
        model = build_model(method, opts, load_encoder(spec, VOCAB, 0, 0), 2)
        started = time.perf_counter()
        result = train(model, data, targs, 0, device="cpu", progress=False)
        seconds = time.perf_counter() - started
        # CPU seconds of this process (one thread), fastest epoch per stage: robust to other
        # load on a shared machine; wall-clock is reported beside it
        per_epoch = sum(min(t) for t in result.epoch_cpu_seconds.values())
        wall = sum(min(t) for t in result.epoch_seconds.values())
        acc = exit_accuracies(model, dev, 256, "cpu", "fp32")
        rows.append((name, acc[-1], per_epoch, wall))
        if method == "full":
            teacher_dir = save_checkpoint(model, Path(tmp.name) / "teacher", {"task": "synthetic"})
        print(f"  {name}: acc {acc[-1]:.3f}, {per_epoch:.2f}s/epoch", file=sys.stderr)
    full_epoch = rows[0][2]
    print(f"tiny 12-layer BERT (d=64), key-token task: {args.train} train / {args.dev} dev, "
          f"length {args.length}, batch 32, {args.epochs} epochs, {args.threads} thread(s)")
    print(f"{'method':<14} {'last-exit acc':>13} {'cpu s/epoch':>11} {'x full':>7} "
          f"{'wall s/epoch':>12} {'x full':>7}")
    full_wall = rows[0][3]
    for name, acc, per_epoch, wall in rows:
        print(f"{name:<14} {acc:>13.3f} {per_epoch:>11.2f} {per_epoch / full_epoch:>7.2f} "
              f"{wall:>12.2f} {wall / full_wall:>7.2f}")
    print()
    tiny_dims = Dims(hidden=64, layers=12, seq_len=args.length, labels=2, intermediate=256)
    print(format_table(cost_table(tiny_dims), tiny_dims))
    print()
    base = Dims(hidden=768, layers=12, seq_len=128, labels=2)
    print(format_table(cost_table(base), base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
