"""Depth gap of the synthetic tasks: a tiny 2-layer versus a tiny 12-layer BERT.

Both models are randomly initialised and fine-tuned with exactly the same budget (data,
steps, batch size, learning rate, schedule, seed); the table shows their dev accuracies.
The synthetic tasks are designed so that the deep model is clearly ahead (hard examples
need several layers of composition) while neither is perfect. The bar: the 12-layer model
ahead by at least 10 points on at least four of the six tasks, and neither at 100% on more
than one task.

The model is the suite's `LayerwiseEncoder` (tiny BERT: hidden 64, 4 heads, intermediate
128) with a tanh pooler and a linear classifier on the last layer's [CLS], trained with
AdamW, linear warm-up and decay, gradient clipping at 1, and no dropout (the tasks are
noise-free; dropout only slows both models down). The tokenizer is `pf.prepare`'s WordPiece.

    python benchmarks/depth_gap.py [--tasks sst2,rte] [--steps 2000] [--json out.json]

Runs on one CPU thread: about 1 minute (2 layers) plus 3-4 minutes (12 layers) per task.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from torch import nn

from pf.backbones import BackboneSpec, EncoderInputs, TinyConfig, load_encoder
from pf.data import TaskData
from pf.data.synthetic import DEFAULT_MIX, generate_with_kinds
from pf.prepare import encode_examples, train_wordpiece, training_texts
from pf.tasks import TASK_ORDER, get_task


class Classifier(nn.Module):
    def __init__(self, encoder, num_labels: int):
        super().__init__()
        self.encoder = encoder
        d = encoder.hidden_size
        self.pooler = nn.Linear(d, d)
        self.out = nn.Linear(d, num_labels)

    def forward(self, inputs: EncoderInputs) -> torch.Tensor:
        h = self.encoder.forward_layers(inputs)[-1]
        return self.out(torch.tanh(self.pooler(h[:, 0])))


def run_one(task: str, n_layers: int, args, data, tok, kinds) -> dict:
    spec = get_task(task)
    tiny = TinyConfig(n_layers=n_layers, hidden_size=args.hidden, n_heads=args.heads,
                      intermediate_size=args.intermediate, max_position_embeddings=args.max_length + 2)
    bb = BackboneSpec(name="bert", family="bert", tiny=tiny)
    train = encode_examples(tok, data.splits["train"], args.max_length)
    dev = encode_examples(tok, data.splits["dev"], args.max_length)
    torch.manual_seed(args.seed)
    enc = load_encoder(bb, vocab_size=len(tok), pad_token_id=tok.pad_token_id, seed=args.seed)
    model = Classifier(enc, spec.num_labels)
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = args.dropout
    if args.init_std:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if p.dim() == 2 and "LayerNorm" not in name:
                    p.normal_(0.0, args.init_std)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warm = int(args.warmup * args.steps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / max(1, warm) if s < warm else max(0.0, (args.steps - s) / max(1, args.steps - warm)))
    g = torch.Generator().manual_seed(args.seed)
    n = train["labels"].shape[0]
    perm, pos = torch.randperm(n, generator=g), 0
    t0 = time.time()
    model.train()
    for step in range(args.steps):
        if pos + args.batch > n:
            perm, pos = torch.randperm(n, generator=g), 0
        idx = perm[pos:pos + args.batch]
        pos += args.batch
        inputs = EncoderInputs(train["input_ids"][idx], train["attention_mask"][idx], train["token_type_ids"][idx])
        loss = nn.functional.cross_entropy(model(inputs), train["labels"][idx])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if args.progress and (step + 1) % args.progress == 0:
            print(f"    step {step + 1}: loss {loss.item():.3f} ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    train_s = time.time() - t0
    model.eval()
    hits = []
    with torch.no_grad():
        for s in range(0, dev["labels"].shape[0], 256):
            sl = slice(s, s + 256)
            inputs = EncoderInputs(dev["input_ids"][sl], dev["attention_mask"][sl], dev["token_type_ids"][sl])
            hits += (model(inputs).argmax(-1) == dev["labels"][sl]).tolist()
    by_kind: dict[str, list[bool]] = {}
    for hit, kind in zip(hits, kinds):
        by_kind.setdefault(kind, []).append(hit)
    return {"acc": 100.0 * sum(hits) / len(hits), "train_s": train_s, "loss": float(loss.detach()),
            "by_kind": {k: round(100.0 * sum(v) / len(v), 1) for k, v in sorted(by_kind.items())}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", default=",".join(TASK_ORDER))
    p.add_argument("--layers", default="2,12")
    p.add_argument("--train-size", type=int, default=4000)
    p.add_argument("--dev-size", type=int, default=500)
    p.add_argument("--max-length", type=int, default=48)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup", type=float, default=0.1)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--intermediate", type=int, default=128)
    p.add_argument("--init-std", type=float, default=0.0, help="0 = the model's default init")
    p.add_argument("--vocab-size", type=int, default=1500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dropout", type=float, default=0.0, help="dropout of the tiny BERT (0 = none)")
    p.add_argument("--names", type=int, default=None, help="people in the synthetic world")
    p.add_argument("--relations", type=int, default=None, help="relations in the synthetic world")
    p.add_argument("--hops", default=None, help="chain lengths of the hard examples, e.g. 1,2,3,4")
    p.add_argument("--easy", type=float, default=None, help="share of easy examples")
    p.add_argument("--json", default=None)
    p.add_argument("--progress", type=int, default=0, help="print the loss every N steps")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    layers = [int(x) for x in args.layers.split(",")]
    over = {}
    if args.names is not None:
        over["n_names"] = args.names
    if args.relations is not None:
        over["n_relations"] = args.relations
    if args.hops is not None:
        over["hops"] = tuple(int(h) for h in args.hops.split(","))
        over["hop_weights"] = (1.0,) * len(over["hops"])
    if args.easy is not None:
        over["easy"] = args.easy
    mix = dataclasses.replace(DEFAULT_MIX, **over)
    rows = []
    for task in args.tasks.split(","):
        spec = get_task(task)
        pairs = {split: generate_with_kinds(spec, split, size, args.seed, mix)
                 for split, size in (("train", args.train_size), ("dev", args.dev_size))}
        data = TaskData(task=spec, source="synthetic",
                        splits={split: [ex for ex, _ in p] for split, p in pairs.items()})
        kinds = [k for _, k in pairs["dev"]]
        tok = train_wordpiece(training_texts(data.splits["train"]), args.vocab_size)
        row = {"task": task}
        for n in layers:
            r = run_one(task, n, args, data, tok, kinds)
            row[f"L{n}"] = r
            print(f"  {task} {n:2d} layers: dev acc {r['acc']:.1f}  (train {r['train_s']:.0f}s, last loss {r['loss']:.3f}) {r['by_kind']}",
                  file=sys.stderr, flush=True)
        rows.append(row)
    head = "| task | " + " | ".join(f"{n}-layer" for n in layers) + " | gap |"
    print(head)
    print("|" + "---|" * (len(layers) + 2))
    for row in rows:
        accs = [row[f"L{n}"]["acc"] for n in layers]
        print(f"| {row['task']} | " + " | ".join(f"{a:.1f}" for a in accs) + f" | {accs[-1] - accs[0]:+.1f} |")
    print()
    all_kinds = sorted({k for row in rows for n in layers for k in row[f"L{n}"]["by_kind"]})
    print("| task | layers | " + " | ".join(all_kinds) + " |")
    print("|" + "---|" * (len(all_kinds) + 2))
    for row in rows:
        for n in layers:
            bk = row[f"L{n}"]["by_kind"]
            print(f"| {row['task']} | {n} | " + " | ".join(
                f"{bk[k]:.1f}" if k in bk else "-" for k in all_kinds) + " |")
    if len(layers) >= 2:
        lo, hi = layers[0], layers[-1]
        ahead = sum(row[f"L{hi}"]["acc"] - row[f"L{lo}"]["acc"] >= 10.0 for row in rows)
        perfect = {n: sum(row[f"L{n}"]["acc"] >= 100.0 for row in rows) for n in (lo, hi)}
        print(f"\n{hi}-layer ahead by >= 10 points on {ahead}/{len(rows)} tasks; "
              f"tasks at 100%: " + ", ".join(f"{n}-layer {c}" for n, c in perfect.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
