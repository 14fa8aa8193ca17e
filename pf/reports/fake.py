"""A deterministic, realistic-looking fake results directory (for tests and demos).

`write_fake_results(results_dir)` writes metrics JSONs, curve CSVs and latency JSONs with the
layouts of docs/ARCHITECTURE.md, numbers loosely shaped like the paper's (full > ours >
PABEE > DeeBERT > truncated; scores fall with the speed-up). Nothing here is a real result.
"""

from __future__ import annotations

import os
from pathlib import Path

from pf.io import atomic_write_json, atomic_write_text
from pf.tasks import TASK_ORDER

BASE = {"mnli": 0.84, "mrpc": 0.87, "qnli": 0.91, "qqp": 0.89, "rte": 0.68, "sst2": 0.93}
BACKBONE_SHIFT = {"bert": 0.0, "roberta": 0.02, "albert": 0.01}
# variant -> (method, rule, options, loss in score at 2x, extra loss per unit speed-up)
DYNAMIC = {
    "deebert": ("deebert", "entropy", {}, 0.035, 0.03),
    "pabee": ("pabee", "patience", {}, 0.015, 0.02),
    "pf": ("pf", "entropy", {"strategy": "concat"}, 0.008, 0.012),
    "pf-past": ("pf", "entropy", {"strategy": "concat", "future": False}, 0.015, 0.016),
    "pf-nogate": ("pf", "entropy", {"strategy": "concat", "gate": False}, 0.012, 0.014),
    "pf-voting": ("pf", "entropy", {"strategy": "voting"}, 0.03, 0.02),
    "pf-ensemble": ("pf", "entropy", {"strategy": "ensemble"}, 0.025, 0.02),
    "pf-max": ("pf", "entropy", {"strategy": "max"}, 0.02, 0.02),
    "pf-avg": ("pf", "entropy", {"strategy": "avg"}, 0.018, 0.02),
    "pf-attn": ("pf", "entropy", {"strategy": "attn"}, 0.014, 0.02),
    "pf-lstm": ("pf", "entropy", {"strategy": "lstm"}, 0.016, 0.02),
}
# static variants: (method, layers kept of 12, loss)
STATIC = {
    "full": ("full", 12, 0.0),
    "truncated-6l": ("truncated", 6, 0.04),
    "truncated-4l": ("truncated", 4, 0.08),
    "kd-6l": ("kd", 6, 0.03),
    "pkd-6l": ("pkd", 6, 0.025),
    "tinybert-6l": ("tinybert", 6, 0.02),
}
BERT_ONLY = {"pf-past", "pf-nogate", "pf-voting", "pf-ensemble", "pf-max", "pf-avg",
             "pf-attn", "pf-lstm", "kd-6l", "pkd-6l", "tinybert-6l"}


def _exit_counts(n_layers: int, speedup: float, n_examples: int, seed: int,
                 spread: float = 1.2) -> list[int]:
    """Counts per layer whose mean exit layer is about n / speedup."""
    import numpy as np

    mean = n_layers / speedup
    layers = np.arange(1, n_layers + 1)
    w = np.exp(-0.5 * ((layers - mean) / (spread + 0.1 * seed)) ** 2)
    counts = np.floor(w / w.sum() * n_examples).astype(int)
    counts[-1] += n_examples - counts.sum()
    return [int(c) for c in counts]


def metrics_obj(backbone: str, task: str, variant: str, seed: int, target: float | None,
                score: float, achieved: float, method: str, rule: str, options: dict,
                n_layers: int = 12, n_examples: int = 400) -> dict:
    metrics = {"accuracy": round(score, 6)}
    if task in ("mrpc", "qqp"):
        metrics["f1"] = round(min(score + 0.03, 0.999), 6)
    if rule == "last":
        counts = [0] * n_layers
        counts[round(n_layers / achieved) - 1] = n_examples
    else:
        spread = 2.5 if variant == "pf-past" else 1.2
        counts = _exit_counts(n_layers, achieved, n_examples, seed, spread)
    return {
        "schema": "pf-metrics/1",
        "backbone": backbone, "n_layers": n_layers, "task": task, "method": method,
        "variant": variant, "method_options": options, "seed": seed,
        "split": "dev", "calibration_split": None if rule == "last" else "dev",
        "rule": rule,
        "rule_param_name": {"entropy": "tau", "patience": "patience"}.get(rule),
        "rule_param": {"entropy": 0.3, "patience": 3}.get(rule),
        "target": target, "speedup": round(achieved, 6),
        "calibration_speedup": None if rule == "last" else round(achieved, 6),
        "avg_exit_layer": sum((i + 1) * c for i, c in enumerate(counts)) / n_examples,
        "metric": "accuracy", "score": metrics["accuracy"], "metrics": metrics,
        "exit_counts": counts, "n_examples": n_examples,
        "outputs": f"results/outputs/{backbone}/{task}/{variant}/seed{seed}/dev.safetensors",
        "calibration_outputs": None, "versions": {"pf": "0.1.0"},
    }


def write_fake_results(results: str | os.PathLike, backbones=("bert", "roberta", "albert"),
                       seeds=(1, 2), tasks=TASK_ORDER, analysis_tasks=("mnli", "mrpc"),
                       latency: bool = True) -> Path:
    import numpy as np

    results = Path(results)
    rng = np.random.default_rng(0)
    for backbone in backbones:
        for task in tasks:
            base = BASE[task] + BACKBONE_SHIFT.get(backbone, 0.0)
            for seed in seeds:
                noise = lambda: float(rng.normal(0, 0.004))  # noqa: E731
                for variant, (method, rule, opts, loss2, slope) in DYNAMIC.items():
                    if backbone != "bert" and variant in BERT_ONLY:
                        continue
                    if variant in BERT_ONLY and variant not in ("pf-past",) \
                            and task not in analysis_tasks:
                        continue
                    for target in (2.0, 3.0):
                        achieved = target + float(rng.normal(0, 0.03))
                        score = base - loss2 - slope * (target - 2.0) + noise()
                        obj = metrics_obj(backbone, task, variant, seed, target, score,
                                          achieved, method, rule, opts)
                        atomic_write_json(results / "metrics" / backbone / task / variant
                                          / f"seed{seed}" / f"target{target}.json", obj)
                for variant, (method, m, loss) in STATIC.items():
                    if backbone != "bert" and variant in BERT_ONLY:
                        continue
                    target = {12: 1.0, 6: 2.0, 4: 3.0}[m]
                    obj = metrics_obj(backbone, task, variant, seed,
                                      None if m == 12 else target,
                                      base - loss + noise(), 12 / m, method, "last", {})
                    atomic_write_json(results / "metrics" / backbone / task / variant
                                      / f"seed{seed}" / f"target{target}.json", obj)
            if task not in analysis_tasks:
                continue
            for variant in ("deebert", "pabee", "pf"):
                _, _, _, loss2, slope = DYNAMIC[variant]
                for seed in seeds:
                    lines = ["backbone,task,method,split,rule,param_name,param,speedup,"
                             "avg_exit_layer,n_examples,accuracy"
                             + (",f1" if task in ("mrpc", "qqp") else "")]
                    for k, sp in enumerate(np.linspace(1.0, 4.0, 16)):
                        drop = (loss2 / 2 + 0.25 * slope) * (sp - 1.0) ** 1.4
                        sc = base - drop + float(rng.normal(0, 0.002))
                        rule = DYNAMIC[variant][1]
                        pname = "tau" if rule == "entropy" else "patience"
                        line = (f"{backbone},{task},{variant},dev,{rule},{pname},{k / 15:.4f},"
                                f"{sp:.4f},{12 / sp:.4f},400,{sc:.6f}")
                        if task in ("mrpc", "qqp"):
                            line += f",{min(sc + 0.03, 0.999):.6f}"
                        lines.append(line)
                    atomic_write_text(results / "curves" / backbone / task / variant
                                      / f"seed{seed}.csv", "\n".join(lines) + "\n")
            if latency and backbone == "bert":
                for variant in ("pf", "deebert"):
                    batches = []
                    for bs, eff in ((1, 0.85), (64, 0.6)):
                        full = 0.02 * bs ** 0.8
                        batches.append({"batch_size": bs, "full_seconds": full,
                                        "engine_seconds": full / (2.0 * eff),
                                        "measured_speedup": 2.0 * eff})
                    atomic_write_json(results / "latency" / backbone / task / variant
                                      / "seed1.json",
                                      {"backbone": backbone, "task": task, "variant": variant,
                                       "seed": 1, "rule_param": 0.3, "layer_speedup": 2.0,
                                       "batches": batches})
    return results
