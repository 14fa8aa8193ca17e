"""Dynamic padding: examples/s of training and of recording outputs, padded vs dynamic, on
the real SST-2 and MRPC files, plus the peak memory (RSS) of a MiniLM-size training job.

    .venv/bin/python benchmarks/throughput.py --glue-dir /work/shared/data/glue \
        [--size base] [--steps 4] [--record-examples 128] [--threads 2] \
        [--out benchmarks/results/throughput.json]

Data: `pf prepare --source glue_dir` (the GLUE-directory loader) at max length 128 with a
randomly initialised backbone of BERT-base size (12 layers x 768, 12 heads, FFN 3072;
`--size minilm` is 6 x 384) and pf's WordPiece tokenizer trained on the training split
with a 30,522-entry vocabulary (the pretrained bert-base-uncased tokenizer needs the hub;
with a vocabulary this large nearly every word is one piece, so sequences are, if anything,
shorter than bert-base-uncased's: the JSON records the token lengths).
Random init does not change the cost of a step; the timed code is pf's own:
- training: `pf.train.trainer.train` (method `pf`, released concat, batch `--batch-size`,
  AdamW), the same seeded random batches padded to 128 ("padded") or cut to their longest
  row ("dynamic"); examples/s over steps 2..N (step 1 warms up);
- recording: `pf.train.trainer.predict_logits` (what `pf outputs` runs) over the first
  `--record-examples` dev rows: in order and padded to 128, or grouped by length and cut.
- memory: a `pf train` process (MiniLM size, batch 32, dynamic padding, SST-2) run for
  `--memory-steps` steps; its peak RSS from wait4() (includes the torch import).
Writes the JSON and prints the Markdown table for docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SIZES = {
    "base": {"n_layers": 12, "hidden_size": 768, "n_heads": 12, "intermediate_size": 3072},
    "minilm": {"n_layers": 6, "hidden_size": 384, "n_heads": 12, "intermediate_size": 1536},
}
TASKS = {"sst2": "SST-2", "mrpc": "MRPC"}


def backbone(size: str) -> dict:
    return {"name": f"bert-{size}-random", "family": "bert",
            "tiny": {**SIZES[size], "max_position_embeddings": 512}}


def prepared_dir(work: Path, task: str, size: str, glue_dir: str, max_length: int) -> Path:
    from pf.prepare import prepare

    out = work / f"{task}-{size}-{max_length}"
    if not (out / "meta.json").is_file():
        t = time.perf_counter()
        prepare(task, "glue_dir", backbone(size), out, data_dir=glue_dir, max_length=max_length,
                vocab_size=30522, seed=0)
        print(f"prepared {task} ({size}) in {time.perf_counter() - t:.0f}s -> {out}", flush=True)
    return out


def lengths_summary(split) -> dict:
    import torch

    from pf.backbones import sequence_lengths

    lengths = sequence_lengths(split.attention_mask).float()
    return {"rows": int(lengths.numel()), "mean": float(lengths.mean()),
            "median": float(lengths.median()), "p95": float(torch.quantile(lengths, 0.95)),
            "max": int(lengths.max()), "padded_to": int(split.attention_mask.shape[1])}


def train_rate(prepared: Path, padded: bool, steps: int, batch_size: int) -> dict:
    import torch

    from pf.backbones import load_encoder
    from pf.methods.registry import build_model
    from pf.prepare import load_split, read_meta
    from pf.train.args import TrainingArgs
    from pf.train.cli import backbone_spec_of
    from pf.train.data import Examples
    from pf.train.trainer import Monitor, set_seed, train

    meta = read_meta(prepared)
    data = Examples.from_split(load_split(prepared, "train"), pad_to_max=padded)
    set_seed(0)
    model = build_model("pf", {}, load_encoder(backbone_spec_of(meta), int(meta["vocab_size"]),
                                               int(meta["pad_token_id"]), 0), 2)
    args = TrainingArgs.from_dict({"lr": 2e-5, "batch_size": batch_size, "epochs": 1,
                                   "max_steps": steps})
    result = train(model, data, args, 0, device="cpu",
                   monitor=Monitor(display=False, every_steps=1, every_seconds=1e9))
    prog = [r for r in result.log if r["kind"] == "progress"]
    timed = prog[1:]                                            # step 1 warms up
    seconds = prog[-1]["elapsed_s"] - prog[0]["elapsed_s"]
    n = batch_size * len(timed)
    gen = torch.Generator().manual_seed(0)                       # the batches train() drew
    order = torch.randperm(len(data), generator=gen)[:batch_size * steps]
    tokens = [data.batch_length(order[k:k + batch_size]) for k in range(0, len(order), batch_size)]
    return {"steps_timed": len(timed), "examples": n, "seconds": seconds,
            "examples_per_s": n / seconds, "batch_lengths": tokens}


def record_rate(prepared: Path, padded: bool, n_examples: int, batch_size: int) -> dict:
    import torch

    from pf.backbones import load_encoder
    from pf.methods.registry import build_model
    from pf.prepare import load_split, read_meta
    from pf.train.cli import backbone_spec_of
    from pf.train.data import Examples
    from pf.train.trainer import predict_logits, set_seed

    meta = read_meta(prepared)
    split = load_split(prepared, "dev")
    n = min(n_examples, len(split))
    data = Examples(split.input_ids[:n], split.attention_mask[:n], split.token_type_ids[:n],
                    split.labels[:n], pad_to_max=padded)
    set_seed(0)
    model = build_model("pf", {}, load_encoder(backbone_spec_of(meta), int(meta["vocab_size"]),
                                               int(meta["pad_token_id"]), 0), 2).eval()
    predict_logits(model, Examples(data.input_ids[:2], data.attention_mask[:2],
                                   data.token_type_ids[:2], data.labels[:2]), 2)   # warm-up
    t = time.perf_counter()
    logits = predict_logits(model, data, batch_size)
    seconds = time.perf_counter() - t
    return {"examples": n, "seconds": seconds, "examples_per_s": n / seconds,
            "logits_sum": float(logits.double().sum())}


def peak_rss(prepared: Path, steps: int, threads: int, padded: bool) -> dict:
    """Peak RSS of a whole training process (import, data, model, optimizer, steps): the
    process's own VmHWM, read at its end (wait4's ru_maxrss would also count the pages
    the child shared with this process between fork and exec)."""
    code = (
        "import sys, torch; sys.path.insert(0, %r); torch.set_num_threads(%d)\n"
        "from pf.train.cli import run_train\n"
        "run_train(%r, 'pf', {}, {'batch_size': 32, 'epochs': 1, 'max_steps': %d}, 0, %r,"
        " device='cpu', progress=False, padded=%r)\n"
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])\n"
    ) % (str(ROOT), threads, str(prepared), steps, str(prepared.parent / "rss-model"), padded)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    if proc.returncode != 0:
        raise SystemExit(f"memory run failed: {proc.stderr[-2000:]}")
    return {"peak_rss_mb": int(proc.stdout.split()[-1]) / 1024,
            "seconds": time.perf_counter() - t, "steps": steps, "batch_size": 32,
            "padded": padded}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--glue-dir", default="/work/shared/data/glue")
    ap.add_argument("--work", default="/tmp/pf-bench", help="prepared data is cached here")
    ap.add_argument("--size", choices=sorted(SIZES), default="base")
    ap.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=["sst2", "mrpc"])
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--steps", type=int, default=4, help="training steps per run (1 warm-up)")
    ap.add_argument("--batch-size", type=int, default=16, help="training batch (released: 16)")
    ap.add_argument("--record-examples", type=int, default=128)
    ap.add_argument("--record-batch-size", type=int, default=64)
    ap.add_argument("--memory-steps", type=int, default=20)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "throughput.json"))
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    report = {"size": args.size, "backbone": backbone(args.size), "max_length": args.max_length,
              "threads": args.threads, "batch_size": args.batch_size,
              "record_batch_size": args.record_batch_size, "cpu": platform.processor() or
              platform.machine(), "load_before": os.getloadavg(), "tasks": {}}
    for task in args.tasks:
        prep = prepared_dir(work, task, args.size, args.glue_dir, args.max_length)
        from pf.prepare import load_split

        row = {"train_lengths": lengths_summary(load_split(prep, "train")),
               "dev_lengths": lengths_summary(load_split(prep, "dev"))}
        for mode in ("padded", "dynamic"):
            row[f"train_{mode}"] = train_rate(prep, mode == "padded", args.steps, args.batch_size)
            print(f"{task} train {mode}: {row[f'train_{mode}']['examples_per_s']:.2f} ex/s",
                  flush=True)
            row[f"record_{mode}"] = record_rate(prep, mode == "padded", args.record_examples,
                                                args.record_batch_size)
            print(f"{task} record {mode}: {row[f'record_{mode}']['examples_per_s']:.2f} ex/s",
                  flush=True)
        row["train_speedup"] = (row["train_dynamic"]["examples_per_s"]
                                / row["train_padded"]["examples_per_s"])
        row["record_speedup"] = (row["record_dynamic"]["examples_per_s"]
                                 / row["record_padded"]["examples_per_s"])
        row["record_logits_agree"] = abs(row["record_dynamic"]["logits_sum"]
                                         - row["record_padded"]["logits_sum"])
        report["tasks"][task] = row
    if not args.no_memory:
        prep = prepared_dir(work, "sst2", "minilm", args.glue_dir, args.max_length)
        report["memory"] = {mode: peak_rss(prep, args.memory_steps, args.threads,
                                           mode == "padded") for mode in ("dynamic", "padded")}
    report["load_after"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    return 0


def table(report: dict) -> str:
    lines = [f"| task | mean / max tokens (train) | training ex/s padded | dynamic | speed-up "
             f"| recording ex/s padded | dynamic | speed-up |", "|---|---|---|---|---|---|---|---|"]
    for task, r in report["tasks"].items():
        lt = r["train_lengths"]
        lines.append(
            f"| {TASKS[task]} | {lt['mean']:.1f} / {lt['max']} "
            f"| {r['train_padded']['examples_per_s']:.2f} | {r['train_dynamic']['examples_per_s']:.2f} "
            f"| {r['train_speedup']:.2f}x | {r['record_padded']['examples_per_s']:.2f} "
            f"| {r['record_dynamic']['examples_per_s']:.2f} | {r['record_speedup']:.2f}x |")
    if "memory" in report:
        m = report["memory"]
        lines.append("")
        lines.append(f"Peak RSS, MiniLM-size (6 x 384) `pf train` on SST-2, batch 32, max length "
                     f"{report['max_length']}: {m['dynamic']['peak_rss_mb']:.0f} MB dynamic, "
                     f"{m['padded']['peak_rss_mb']:.0f} MB padded.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
