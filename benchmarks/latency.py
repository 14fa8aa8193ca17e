"""Wall-clock speed-up of the early-exit engine over the full model (BERT-base size).

A randomly initialised 12-layer x 768 backbone (BERT-base shape, 128-token inputs) with the
paper's method (`pf`, released concat variant, random heads). A random model's entropies
are all similar, so tau is calibrated on the recorded logits to a layer-count speed-up of
~2x; the engine's exits are checked against the simulation over those logits. Timing is
`pf.latency.measure`, what `pf latency` runs: both sides over the same pre-formed batches,
predictions copied to the host once per batch on both sides, rounds interleaved. Bars
(issue 13): measured / layer-count speed-up >= 0.85 at batch 1 and >= 0.95 at batch 32 on
2 CPU threads. About 3 minutes on a quiet 2-core machine with the defaults.

    .venv/bin/python benchmarks/latency.py [--examples 64] [--repeats 3] [--threads 2]
        [--device cpu|cuda] [--precision fp32|bf16|fp16] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pf import exits  # noqa: E402
from pf.backbones import BackboneSpec, EncoderInputs, TinyConfig, load_encoder  # noqa: E402
from pf.engine import compare_to_simulation, record_logits  # noqa: E402
from pf.latency import measure  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--target", type=float, default=2.0)
    ap.add_argument("--method", default="pf")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--all-exits", action="store_true",
                    help="also time the engine without early exit (every exit head)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    load_before = os.getloadavg()
    print(f"load: {load_before}", flush=True)

    spec = BackboneSpec(name="bert-base-random", family="bert",
                        tiny=TinyConfig(n_layers=12, hidden_size=768, n_heads=12,
                                        intermediate_size=3072, max_position_embeddings=130))
    enc = load_encoder(spec, vocab_size=30522, pad_token_id=0, seed=0)
    from pf.methods.registry import build_model
    torch.manual_seed(1)
    model = build_model(args.method, {}, enc, 2).eval().to(device)

    g = torch.Generator().manual_seed(0)
    n, length = args.examples, 128
    ids = torch.randint(5, 30522, (n, length), generator=g)
    ids[:, 0] = 101
    inputs = EncoderInputs(ids, torch.ones_like(ids), torch.zeros_like(ids))

    t0 = time.perf_counter()
    logits = record_logits(model, inputs, batch_size=32)
    t_record = time.perf_counter() - t0
    labels = np.zeros(n, dtype=np.int64)
    layers = np.asarray(model.exit_layers)
    rule = model.exit_rule
    cal = exits.calibrate(logits, labels, rule, args.target, layers, 12)
    t0 = time.perf_counter()
    curve = exits.tradeoff_curve(logits, labels, rule, layers, 12, ("accuracy", "f1"))
    t_curve = time.perf_counter() - t0
    print(f"record pass {t_record:.3f}s; full curve ({len(curve)} points) {t_curve * 1e3:.2f} ms; "
          f"{rule} param {cal.param} -> layer speed-up {cal.speedup:.3f}", flush=True)

    res = measure(model, inputs, rule, cal.param, tuple(args.batch_sizes), args.repeats,
                  args.warmup, all_exits=args.all_exits, precision=args.precision)
    agree = compare_to_simulation(res["engine_result"], logits, rule, cal.param)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    report = {"examples": n, "seq_len": length, "threads": args.threads, "method": args.method,
              "device": str(device), "gpu": gpu, "precision": args.precision,
              "load_before": load_before,
              "rule": rule, "param": cal.param, "agreement": asdict(agree),
              "record_pass_s": t_record, "curve_s": t_curve, "curve_points": len(curve),
              "load_after": os.getloadavg(), "batches": res["batches"]}
    for row in res["batches"]:
        bar = 0.85 if row["batch_size"] == 1 else 0.95
        print(f"batch {row['batch_size']:>3}: full {row['full_s']:.3f}s engine "
              f"{row['engine_s']:.3f}s all-exits {row.get('all_exits_s', float('nan')):.3f}s | "
              f"measured {row['measured_speedup']:.3f}x vs layer {row['layer_speedup']:.3f}x "
              f"= {row['measured_over_layer']:.3f} (bar {bar}) paired {row['paired_speedup']:.3f}x "
              f"cpu-time {row['cpu_time_speedup']:.3f}x "
              f"{'OK' if row['measured_over_layer'] >= bar else 'BELOW'}", flush=True)
    print(f"agreement: {agree}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
