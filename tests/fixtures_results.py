"""A deterministic, realistic-looking fake results directory (a test fixture).

`write_fake_results(results_dir)` writes metrics JSONs, curve CSVs and latency JSONs with the
layouts and variant names of the workflow (docs/ARCHITECTURE.md, config/config.yaml), numbers
loosely shaped like the paper's (full > ours > PABEE > DeeBERT > truncated; scores fall with
the speed-up). Each metrics file is consistent: its score is the accuracy of predictions
built for it, so its majority-class score and `degenerate` flag are what `pf evaluate` would
write. Nothing here is a real result. `write_fake_results` returns the paths it wrote.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pf.io import atomic_write_json, atomic_write_text
from pf.tasks import TASK_ORDER, TASKS

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
# static variants: (method, loss at 2x, extra loss per unit speed-up); "<name>-<r>x" per target
STATIC = {"truncated": ("truncated", 0.04, 0.04), "kd": ("kd", 0.03, 0.03),
          "pkd": ("pkd", 0.025, 0.03), "tinybert": ("tinybert", 0.02, 0.03)}
BERT_ONLY = {"pf-past", "pf-nogate", "pf-voting", "pf-ensemble", "pf-max", "pf-avg",
             "pf-attn", "pf-lstm", "kd", "pkd", "tinybert"}


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
                n_layers: int = 12, n_examples: int = 400, one_class: bool = False) -> dict:
    """A valid metrics object whose accuracy is `score` rounded to 1/n_examples (labels in
    turn over the classes; the first wrong answers move to the next class). `one_class`:
    the model answers class 0 for every example instead."""
    import numpy as np

    from pf.evaluate import majority_baseline
    from pf.exits import compute_metrics
    from pf.metrics_schema import SCHEMA, degenerate_reason

    spec = TASKS[task]
    labels = np.arange(n_examples) % spec.num_labels
    if one_class:
        prediction = np.zeros_like(labels)
    else:
        wrong = int(round((1.0 - score) * n_examples))
        prediction = labels.copy()
        prediction[:wrong] = (labels[:wrong] + 1) % spec.num_labels
    metrics = compute_metrics(prediction, labels, spec.metrics, num_labels=spec.num_labels)
    baseline = majority_baseline(labels, prediction, spec.num_labels, "accuracy", spec.metrics)
    if rule == "last":
        counts = [0] * n_layers
        counts[round(n_layers / achieved) - 1] = n_examples
    else:
        spread = 2.5 if variant == "pf-past" else 1.2
        counts = _exit_counts(n_layers, achieved, n_examples, seed, spread)
    reason = degenerate_reason(baseline["prediction_counts"], metrics["accuracy"],
                               baseline["majority_score"])
    return {
        "schema": SCHEMA,
        "backbone": backbone, "n_layers": n_layers, "task": task, "method": method,
        "variant": variant, "method_options": options, "seed": seed, "train_limit": None,
        "split": "dev", "calibration_split": None if rule == "last" else "dev",
        "rule": rule,
        "rule_param_name": {"entropy": "tau", "patience": "patience"}.get(rule),
        "rule_param": {"entropy": 0.3, "patience": 3}.get(rule),
        "target": target, "speedup": round(achieved, 6),
        "calibration_speedup": None if rule == "last" else round(achieved, 6),
        "avg_exit_layer": sum((i + 1) * c for i, c in enumerate(counts)) / n_examples,
        "metric": "accuracy", "score": metrics["accuracy"], "metrics": metrics,
        "exit_counts": counts, "n_examples": n_examples, **baseline,
        "degenerate": reason is not None, "degenerate_reason": reason,
        "outputs": f"results/outputs/{backbone}/{task}/{variant}/seed{seed}/dev.safetensors",
        "calibration_outputs": None, "versions": {"pf": "0.1.0"},
    }


def metrics_path(results: Path, obj: dict) -> Path:
    target = obj["target"]
    name = f"target{int(target) if float(target).is_integer() else target}.json"
    return (Path(results) / "metrics" / obj["backbone"] / obj["task"] / obj["variant"]
            / f"seed{obj['seed']}" / name)


@dataclass
class FakeResults:
    """What `write_fake_results` wrote."""
    root: Path
    metrics: list[Path] = field(default_factory=list)
    curves: list[Path] = field(default_factory=list)
    latency: list[Path] = field(default_factory=list)


def write_fake_results(results: str | os.PathLike, backbones=("bert", "roberta", "albert"),
                       seeds=(1, 2), tasks=TASK_ORDER, analysis_tasks=("mnli", "mrpc"),
                       targets=(2, 3), latency: bool = True) -> FakeResults:
    import numpy as np

    out = FakeResults(Path(results))
    rng = np.random.default_rng(0)

    def write(obj: dict) -> None:
        path = metrics_path(out.root, obj)
        atomic_write_json(path, obj)
        out.metrics.append(path)

    for backbone in backbones:
        for task in tasks:
            base = BASE[task] + BACKBONE_SHIFT.get(backbone, 0.0)
            for seed in seeds:
                noise = lambda: float(rng.normal(0, 0.004))  # noqa: E731
                for target in targets:
                    for variant, (method, rule, opts, loss2, slope) in DYNAMIC.items():
                        if variant in BERT_ONLY and (backbone != "bert"
                                                     or task not in analysis_tasks):
                            continue
                        achieved = target + float(rng.normal(0, 0.03))
                        score = base - loss2 - slope * (target - 2.0) + noise()
                        write(metrics_obj(backbone, task, variant, seed, float(target), score,
                                          achieved, method, rule, opts))
                    write(metrics_obj(backbone, task, "full", seed, float(target),
                                      base + noise(), 1.0, "full", "last", {}))
                    for name, (method, loss, slope) in STATIC.items():
                        if name in BERT_ONLY and backbone != "bert":
                            continue
                        score = base - loss - slope * (target - 2.0) + noise()
                        write(metrics_obj(backbone, task, f"{name}-{target}x", seed,
                                          float(target), score, 12 / round(12 / target),
                                          method, "last", {}))
            if task in analysis_tasks:
                out.curves += _write_curves(out.root, backbone, task, seeds, base, rng)
            if latency and backbone == "bert" and task in analysis_tasks:
                out.latency += _write_latency(out.root, backbone, task, seeds)
    return out


def _write_curves(root: Path, backbone: str, task: str, seeds, base: float, rng) -> list[Path]:
    import numpy as np

    paths = []
    for variant in ("deebert", "pabee", "pf"):
        _, rule, _, loss2, slope = DYNAMIC[variant]
        for seed in seeds:
            metrics = TASKS[task].metrics
            lines = ["backbone,task,method,split,rule,param_name,param,speedup,"
                     "avg_exit_layer,n_examples," + ",".join(metrics)]
            for k, sp in enumerate(np.linspace(1.0, 4.0, 16) + 0.01 * seed):
                drop = (loss2 / 2 + 0.25 * slope) * (sp - 1.0) ** 1.4
                sc = base - drop + float(rng.normal(0, 0.002))
                pname = "tau" if rule == "entropy" else "patience"
                values = ",".join(f"{min(sc + 0.03 * i, 0.999):.6f}" for i in range(len(metrics)))
                lines.append(f"{backbone},{task},{variant},dev,{rule},{pname},{k / 15:.4f},"
                             f"{sp:.4f},{12 / sp:.4f},400,{values}")
            path = root / "curves" / backbone / task / variant / f"seed{seed}.csv"
            atomic_write_text(path, "\n".join(lines) + "\n")
            paths.append(path)
    return paths


def latency_obj(backbone: str, task: str, variant: str, seed: int, rule_param: float,
                layer_speedup: float, timings: dict[int, tuple[float, float]]) -> dict:
    """The fields of a `pf latency` JSON the reports read (format pf-latency/1); `timings`:
    batch size -> (full-model seconds, engine efficiency: measured / layer speed-up)."""
    batches = []
    for bs, (full, eff) in timings.items():
        measured = layer_speedup * eff
        batches.append({"batch_size": bs, "full_s": full, "engine_s": full / measured,
                        "measured_speedup": measured})
    return {"schema": "pf-latency/1", "backbone": backbone, "task": task, "variant": variant,
            "seed": seed, "rule": "entropy", "rule_param_name": "tau",
            "rule_param": rule_param, "layer_speedup": layer_speedup, "batches": batches}


def _write_latency(root: Path, backbone: str, task: str, seeds) -> list[Path]:
    paths = []
    for variant in ("pf", "deebert"):
        for seed in seeds:
            path = root / "latency" / backbone / task / variant / f"seed{seed}.json"
            atomic_write_json(path, latency_obj(backbone, task, variant, seed, 0.3, 2.0,
                                                {1: (0.02, 0.85), 64: (0.02 * 64 ** 0.8, 0.6)}))
            paths.append(path)
    return paths
