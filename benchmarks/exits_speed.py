"""Speed of the simulation side: curves and calibration from recorded logits.

1. A curve of 200 thresholds over 10,000 examples x 12 exits (bar: well under 1 s), the full
   adaptive curve (gap <= 0.05x) and a calibration on the same logits.
2. A full trade-off curve for one model (`pf curve`: read the outputs file, compute, write
   the CSV) against one full pass over the split that records the logits (bar: curve <
   1.1 x that pass). Model: the default-scale tiny backbone (6 x 64) with the `pf` method,
   random weights, over a synthetic split of --split-size examples of 64 tokens.

    .venv/bin/python benchmarks/exits_speed.py [--split-size 2000] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pf import exits  # noqa: E402


def synthetic(n=10000, e=12, c=2, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    scale = np.linspace(0.2, 4.0, e)[None, :, None] * rng.gamma(2.0, 1.0, (n, 1, 1))
    logits = np.eye(c)[labels][:, None, :] * scale + rng.normal(0, 1, (n, e, c))
    return logits.astype(np.float32), labels


def best_of(fn, k=5):
    out = []
    for _ in range(k):
        t0 = time.perf_counter()
        r = fn()
        out.append(time.perf_counter() - t0)
    return min(out), r


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split-size", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    print(f"load: {os.getloadavg()}")
    logits, labels = synthetic()
    layers = np.arange(1, 13)
    taus = np.linspace(0.0, 0.7, 200)
    t, sw = best_of(lambda: exits.tradeoff_curve(logits, labels, "entropy", layers, 12,
                                                 ("accuracy", "f1"), params=taus))
    print(f"[1] 200-threshold curve over 10000x12: {t * 1e3:.1f} ms ({len(sw)} points)")
    t, sw = best_of(lambda: exits.tradeoff_curve(logits, labels, "entropy", layers, 12,
                                                 ("accuracy", "f1")))
    print(f"[1] adaptive full curve over 10000x12: {t * 1e3:.1f} ms ({len(sw)} points, "
          f"max gap {np.diff(sw.speedups).max():.4f}x)")
    t, cal = best_of(lambda: exits.calibrate(logits, labels, "entropy", 2.0, layers, 12))
    print(f"[1] calibration to 2x over 10000x12: {t * 1e3:.1f} ms (achieved {cal.speedup:.4f}x)")
    t, _ = best_of(lambda: [exits.entropy_exits(logits, x) for x in taus], k=1)
    print(f"[1] (for comparison: 200 separate entropy_exits calls: {t * 1e3:.0f} ms)")

    import torch
    torch.set_num_threads(args.threads)
    from pf.backbones import BackboneSpec, EncoderInputs, TinyConfig, load_encoder
    from pf.curves import write_curve
    from pf.engine import record_logits
    from pf.methods.registry import build_model
    from pf.outputs import LayerOutputs, save_outputs

    enc = load_encoder(BackboneSpec(name="tiny", family="bert", tiny=TinyConfig()), 1500, 0, 0)
    torch.manual_seed(0)
    model = build_model("pf", {}, enc, 2).eval()
    n = args.split_size
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 1500, (n, 64), generator=g)
    inputs = EncoderInputs(ids, torch.ones_like(ids), torch.zeros_like(ids))
    t0 = time.perf_counter()
    rec = record_logits(model, inputs, batch_size=64)
    t_pass = time.perf_counter() - t0
    lab = torch.randint(0, 2, (n,), generator=g).numpy()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "dev.safetensors"
        save_outputs(path, LayerOutputs(rec, lab, np.arange(1, 7, dtype=np.int64),
                                        [str(i) for i in range(n)], 6, "sst2", "tiny", "pf",
                                        "dev"))
        t_curve, _ = best_of(lambda: write_curve(path, "entropy", Path(d) / "c.csv"), k=3)
    print(f"[2] one full recording pass over {n} examples: {t_pass:.3f} s; full curve "
          f"(read + compute + write CSV): {t_curve * 1e3:.1f} ms = "
          f"{t_curve / t_pass:.4f} x the pass (bar < 1.1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
