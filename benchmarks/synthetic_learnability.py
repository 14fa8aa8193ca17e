"""Do the tiny default backbones learn the synthetic tasks, and does accuracy rise with depth?

Trains the configured budget through the suite's own path, exactly what the workflow's
`prepare` and `train` rules run (`pf.prepare.prepare`, `pf.train.cli.run_train` with the
config's training arguments and method options, then `pf.outputs.record_outputs` on dev),
for backbones x tasks x variants, and reports for every job:

* the dev set's majority-class accuracy and every exit's accuracy,
* accuracy by example kind (`pf.data.synthetic.generate_with_kinds`) at every exit,
* seconds of training + recording (in-process: the ~4 s torch/transformers import of a
  workflow job comes on top), and the longest and mean example length in tokens.

Then checks the bars of issue 10: every `full` model >= majority + `--full-margin` points;
per backbone, for each multi-exit variant, the last exit >= the first + `--depth-margin`
points averaged over tasks.

    nice -n 10 .venv/bin/python benchmarks/synthetic_learnability.py \
        [--config config/config.yaml] [--backbones bert,roberta,albert] [--tasks mnli,sst2] \
        [--variants full,pabee,pf,deebert,truncated-3x] [--seed 42] [--jobs 2] [--json out.json]

Variants are the config's (per-target ones by their concrete name, e.g. truncated-3x). One
torch thread per (backbone, task); with `--jobs N` each runs in its own process, N at a
time. `--train-size`, `--dev-size`, `--epochs` and `--lr` override the config (for exploring
a budget; the JSON records the values used).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

MULTI_EXIT = ("pabee", "deebert", "pf")


def _config(args) -> dict:
    from pf.config import load_config

    config = load_config(args.config)
    syn = dict(config["data"].get("synthetic") or {})
    if args.train_size:
        syn["train_size"] = args.train_size
    if args.dev_size:
        syn["dev_size"] = args.dev_size
    config["data"]["synthetic"] = syn
    defaults = config.setdefault("training", {}).setdefault("defaults", {})
    if args.epochs:
        defaults["epochs"] = args.epochs
    if args.lr:
        defaults["lr"] = args.lr
    return config


def run_unit(config: dict, backbone: str, task: str, variants: list[str], seed: int,
             workdir: str) -> dict:
    """Prepare one (backbone, task) and train + record every variant on it."""
    import numpy as np
    import torch

    from pf.config import Plan
    from pf.data.synthetic import generate_with_kinds
    from pf.outputs import record_outputs
    from pf.prepare import load_split, prepare
    from pf.tasks import get_task
    from pf.train.cli import run_train

    torch.set_num_threads(1)
    plan = Plan(config)
    data = config["data"]
    prepared = Path(workdir) / "prepared" / backbone / task
    meta = prepare(task, "synthetic", plan.backbone_json(backbone), prepared,
                   max_length=int(data["max_length"]), synthetic=data["synthetic"],
                   seed=int(data["seed"]), vocab_size=int(data.get("vocab_size", 1500)))
    spec = get_task(task)
    kinds_of = {ex.guid: kind for ex, kind in generate_with_kinds(
        spec, "dev", int(meta["splits"]["dev"]), int(data["seed"]))}
    train_mask = load_split(prepared, "train").attention_mask
    lengths = train_mask.sum(1).double()
    unit = {"backbone": backbone, "task": task, "vocab_size": meta["vocab_size"],
            "train_size": meta["splits"]["train"], "dev_size": meta["splits"]["dev"],
            "tokens_mean": round(float(lengths.mean()), 1), "tokens_max": int(lengths.max()),
            "jobs": {}}
    for variant in variants:
        out = Path(workdir) / "models" / backbone / task / variant
        started, cpu = time.perf_counter(), time.process_time()
        _, result, _ = run_train(str(prepared), plan.method(variant),
                                 plan.method_options(backbone, task, variant),
                                 plan.trainer_args(backbone, task, variant), seed, str(out),
                                 progress=False)
        rec = record_outputs(str(out), str(prepared), "dev", str(out / "dev.safetensors"),
                             batch_size=int(config["evaluation"]["batch_size"]), device="cpu")
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
        labels = rec.labels
        hits = rec.logits.argmax(-1) == labels[:, None]            # [N, E]
        kinds = np.array([kinds_of[i] for i in rec.ids])
        by_kind = {k: [round(100.0 * float(v), 1) for v in hits[kinds == k].mean(0)]
                   for k in sorted(set(kinds))}
        steps = sum(1 for r in result.log if r["kind"] == "step")
        unit["jobs"][variant] = {
            "method": plan.method(variant),
            "majority": round(100.0 * float(np.bincount(labels).max() / len(labels)), 1),
            "exit_layers": [int(x) for x in rec.exit_layers],
            "exit_accuracy": [round(100.0 * float(v), 1) for v in hits.mean(0)],
            "by_kind": by_kind,
            "kind_share": {k: round(float((kinds == k).mean()), 3) for k in sorted(set(kinds))},
            "steps": steps,
            "final_loss": round(float(result.log[-1]["loss"]), 4) if steps else None,
            "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu_seconds, 2),
        }
        j = unit["jobs"][variant]
        print(f"  {backbone:8s} {task:5s} {variant:10s} maj {j['majority']:5.1f}  exits "
              + " ".join(f"{a:5.1f}" for a in j["exit_accuracy"])
              + f"  | {j['seconds']:.1f}s ({steps} steps, loss {j['final_loss']})  "
              + " ".join(f"{k}:{v[0]:.0f}->{v[-1]:.0f}" for k, v in by_kind.items()),
              file=sys.stderr, flush=True)
    return unit


def summarise(units: list[dict], full_margin: float, depth_margin: float) -> tuple[str, dict]:
    lines, bars = [], {}
    backbones = list(dict.fromkeys(u["backbone"] for u in units))
    tasks = list(dict.fromkeys(u["task"] for u in units))
    cell = {(u["backbone"], u["task"]): u for u in units}
    if any("full" in u["jobs"] for u in units):
        lines += ["Full model (last exit) vs majority class, dev accuracy %:", "",
                  "| backbone | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
        ok = True
        for b in backbones:
            row = []
            for t in tasks:
                j = cell.get((b, t), {}).get("jobs", {}).get("full")
                if j is None:
                    row.append("-")
                    continue
                acc = j["exit_accuracy"][-1]
                ok &= acc >= j["majority"] + full_margin
                row.append(f"{acc:.1f} / {j['majority']:.1f}")
            lines.append(f"| {b} | " + " | ".join(row) + " |")
        bars["full_beats_majority"] = bool(ok)
        lines += ["", f"(full / majority) every cell >= majority + {full_margin:g}: "
                  + ("MET" if ok else "NOT MET"), ""]
    lines += ["Multi-exit variants: first vs last exit, averaged over tasks:", "",
              "| backbone | variant | tasks | first exit | last exit | gap |", "|---|---|---|---|---|---|"]
    depth_ok = True
    for b in backbones:
        variants = list(dict.fromkeys(v for u in units if u["backbone"] == b for v in u["jobs"]))
        for v in variants:
            jobs = [u["jobs"][v] for u in units if u["backbone"] == b and v in u["jobs"]]
            if len(jobs[0]["exit_accuracy"]) < 2:
                continue
            first = sum(j["exit_accuracy"][0] for j in jobs) / len(jobs)
            last = sum(j["exit_accuracy"][-1] for j in jobs) / len(jobs)
            depth_ok &= last - first >= depth_margin
            lines.append(f"| {b} | {v} | {len(jobs)} | {first:.1f} | {last:.1f} | {last - first:+.1f} |")
    bars["exits_rise_with_depth"] = bool(depth_ok)
    lines += ["", f"last exit >= first + {depth_margin:g} for every (backbone, multi-exit variant): "
              + ("MET" if depth_ok else "NOT MET"), ""]
    kinds = sorted({k for u in units for j in u["jobs"].values() for k in j["by_kind"]})
    lines += ["Accuracy by kind at exits 1 / 2 / 4 / last, averaged over backbones and tasks:", "",
              "| variant | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    for v in dict.fromkeys(v for u in units for v in u["jobs"]):
        jobs = [u["jobs"][v] for u in units if v in u["jobs"]]
        if len(jobs[0]["exit_accuracy"]) < 2:
            picks = [-1]
        else:
            n = len(jobs[0]["exit_accuracy"])
            picks = sorted({0, min(1, n - 1), min(3, n - 1), n - 1})
        row = []
        for k in kinds:
            vals = [sum(j["by_kind"][k][p] for j in jobs) / len(jobs) for p in picks]
            row.append(" / ".join(f"{x:.0f}" for x in vals))
        lines.append(f"| {v} | " + " | ".join(row) + " |")
    secs = [j["seconds"] for u in units for j in u["jobs"].values()]
    lines += ["", f"seconds per job (train + record, in-process, one thread): mean {sum(secs) / len(secs):.1f}, "
              f"max {max(secs):.1f} over {len(secs)} jobs; tokens per example: mean "
              f"{sum(u['tokens_mean'] for u in units) / len(units):.1f}, max {max(u['tokens_max'] for u in units)}"]
    return "\n".join(lines), bars


def main(argv=None) -> int:
    from pf.tasks import TASK_ORDER

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="config/config.yaml")
    p.add_argument("--backbones", default=None, help="comma-separated (default: the config's)")
    p.add_argument("--tasks", default=None, help="comma-separated (default: the config's)")
    p.add_argument("--variants", default="full,pabee,pf,deebert")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--jobs", type=int, default=1, help="(backbone, task) processes at a time")
    p.add_argument("--train-size", type=int, default=None)
    p.add_argument("--dev-size", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--full-margin", type=float, default=15.0)
    p.add_argument("--depth-margin", type=float, default=10.0)
    p.add_argument("--workdir", default=None, help="keep prepared data and checkpoints here")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    config = _config(args)
    backbones = args.backbones.split(",") if args.backbones else list(config["backbones"])
    tasks = args.tasks.split(",") if args.tasks else list(config["tasks"])
    tasks = [t for t in TASK_ORDER if t in tasks] + [t for t in tasks if t not in TASK_ORDER]
    variants = args.variants.split(",")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pf-learnability-") as tmp:
        workdir = args.workdir or tmp
        grid = [(b, t) for t in tasks for b in backbones]
        if args.jobs > 1:
            with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
                futures = [pool.submit(run_unit, config, b, t, variants, args.seed, workdir) for b, t in grid]
                units = [f.result() for f in futures]
        else:
            units = [run_unit(config, b, t, variants, args.seed, workdir) for b, t in grid]
    text, bars = summarise(units, args.full_margin, args.depth_margin)
    print(text)
    print(f"\nwall time {time.perf_counter() - started:.0f}s")
    if args.json:
        from pf.io import atomic_write_json

        atomic_write_json(args.json, {"config": args.config, "data": config["data"],
                                      "training": config["training"]["defaults"],
                                      "seed": args.seed, "units": units, "bars": bars})
    return 0


if __name__ == "__main__":
    sys.exit(main())
