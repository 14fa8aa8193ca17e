"""`pf evaluate`: a per-layer outputs file + a target speed-up -> one metrics JSON.

    pf evaluate --outputs dev.safetensors [--calibration-outputs heldout.safetensors]
                --rule RULE [--target R | --param X] [--metric NAME]
                --variant NAME [--method-options JSON] --seed S --out target2.json

RULE is the method's exit rule (pf.exits.registry: entropy, patience, last, or a plug-in's).
For a rule with a parameter (tau of entropy, patience of patience) the parameter is
calibrated so that the speed-up is closest to the target (ties to the faster,
`pf.exits.calibrate`), on the calibration outputs when given (e.g. a held-out slice of
train) and otherwise on the scored split itself (what the paper did by hand on dev);
`--param` fixes it instead. A rule without one (`last`: full, truncated, distilled models)
has nothing to calibrate: everyone exits at the last exit and `--target` is only recorded.
The fields of the JSON are documented in `pf.metrics_schema`. Light module: numpy only, no
torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from pf import exits
from pf.errors import PfError
from pf.exits.registry import get_rule, rule_names
from pf.io import atomic_write_json
from pf.jsonargs import json_arg
from pf.layer_outputs import read_outputs
from pf.metrics_schema import SCHEMA, degenerate_reason, validate_metrics
from pf.tasks import get_task
from pf.versions import package_versions

VERSION_PACKAGES = ("pf-early-exit", "numpy", "safetensors", "torch", "transformers")


def _check_compatible(a, a_path, b, b_path) -> None:
    for name in ("backbone", "task", "method", "n_layers"):
        if getattr(a, name) != getattr(b, name):
            raise PfError(f"{b_path}: {name} is {getattr(b, name)!r} but {a_path} has "
                          f"{getattr(a, name)!r}; calibrate on outputs of the same model")
    if list(np.asarray(a.exit_layers)) != list(np.asarray(b.exit_layers)) or \
            np.asarray(a.logits).shape[2] != np.asarray(b.logits).shape[2]:
        raise PfError(f"{b_path}: exits or labels differ from {a_path}")


def evaluate(outputs: str | Path, rule: str, variant: str, seed: int,
             target: float | None = None, param: float | int | None = None,
             metric: str | None = None, method_options: dict[str, Any] | None = None,
             calibration_outputs: str | Path | None = None,
             train_limit: int | None = None) -> dict[str, Any]:
    """The metrics object (see `pf.metrics_schema.FIELDS`); `train_limit` is recorded as
    given (the run's data.train_limit)."""
    exit_rule = get_rule(rule)
    out = read_outputs(outputs)
    task = get_task(out.task)
    n_layers = int(out.n_layers)
    logits = np.asarray(out.logits)
    labels = np.asarray(out.labels, dtype=np.int64)
    exit_layers = np.asarray(out.exit_layers, dtype=np.int64)
    if logits.shape[2] != task.num_labels:
        raise PfError(f"{outputs}: logits have {logits.shape[2]} classes but task "
                      f"'{task.name}' has {task.num_labels}")
    names = tuple(task.metrics)
    metric = metric or names[0]
    if metric not in names:
        raise PfError(f"metric '{metric}' is not a metric of task '{task.name}'; choose one "
                      f"of: {', '.join(names)}")

    calibration_split = calibration_path = calibration_speedup = None
    if not exit_rule.has_param:
        if param is not None:
            raise PfError(f"rule '{rule}' takes no parameter")
        if target is not None and not 1.0 <= float(target) <= n_layers:
            raise PfError(f"target speed-up must lie in [1, {n_layers}]; got {target}")
    elif param is not None:
        if target is not None:
            exits.check_target(target, n_layers)
        param = exit_rule.check_param(param)
    else:
        if target is None:
            raise PfError(f"rule '{rule}' needs --target (or a fixed --param)")
        exits.check_target(target, n_layers)
        if calibration_outputs is not None:
            cal_out = read_outputs(calibration_outputs)
            _check_compatible(out, outputs, cal_out, calibration_outputs)
            cal = exits.calibrate(np.asarray(cal_out.logits), np.asarray(cal_out.labels),
                                  rule, target, exit_layers, n_layers, metric, names)
            calibration_split, calibration_path = str(cal_out.split), str(calibration_outputs)
        else:
            cal = exits.calibrate(logits, labels, rule, target, exit_layers, n_layers,
                                  metric, names)
            calibration_split = str(out.split)
        param, calibration_speedup = cal.param, cal.speedup

    dec = exits.apply_rule(logits, rule, param)
    layers = dec.layers(exit_layers)
    mets = exits.compute_metrics(dec.prediction, labels, names, num_labels=task.num_labels)
    baseline = majority_baseline(labels, dec.prediction, task.num_labels, metric, names)
    obj = {
        "schema": SCHEMA,
        "backbone": str(out.backbone),
        "n_layers": n_layers,
        "task": task.name,
        "method": str(out.method),
        "variant": str(variant),
        "method_options": dict(method_options or {}),
        "seed": int(seed),
        "train_limit": None if train_limit is None else int(train_limit),
        "split": str(out.split),
        "calibration_split": calibration_split,
        "rule": rule,
        "rule_param_name": exit_rule.param_name,
        "rule_param": param,
        "target": None if target is None else float(target),
        "speedup": exits.speedup(layers, n_layers),
        "calibration_speedup": calibration_speedup,
        "avg_exit_layer": float(layers.mean()),
        "metric": metric,
        "score": mets[metric],
        "metrics": mets,
        "exit_counts": exits.exit_counts(layers, n_layers),
        "n_examples": int(labels.shape[0]),
        **baseline,
        "degenerate": False,
        "degenerate_reason": None,
        "outputs": str(outputs),
        "calibration_outputs": calibration_path,
        "versions": package_versions(VERSION_PACKAGES),
    }
    reason = degenerate_reason(obj["prediction_counts"], obj["score"], obj["majority_score"])
    obj["degenerate"], obj["degenerate_reason"] = reason is not None, reason
    return validate_metrics(obj, str(outputs))


def majority_baseline(labels: np.ndarray, prediction: np.ndarray, num_labels: int,
                      metric: str, names: tuple[str, ...]) -> dict[str, Any]:
    """The prediction distribution and what always answering the majority label scores."""
    label_counts = np.bincount(labels, minlength=num_labels)
    prediction_counts = np.bincount(np.asarray(prediction, dtype=np.int64), minlength=num_labels)
    majority = int(np.argmax(label_counts))          # lowest id on ties
    constant = np.full_like(labels, majority)
    score = exits.compute_metrics(constant, labels, names, num_labels=num_labels)[metric]
    return {
        "label_counts": [int(c) for c in label_counts],
        "prediction_counts": [int(c) for c in prediction_counts],
        "top_prediction_share": float(prediction_counts.max() / max(labels.shape[0], 1)),
        "majority_class": majority,
        "majority_score": float(score),
    }


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="outputs file + target speed-up -> metrics JSON",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  pf evaluate --outputs results/outputs/bert/rte/pf/seed42/dev.safetensors "
               "--rule entropy \\\n      --target 2 --variant pf --seed 42 "
               "--out results/metrics/bert/rte/pf/seed42/target2.json\n")
    p.add_argument("--outputs", required=True, help="per-layer outputs file (pf outputs)")
    p.add_argument("--calibration-outputs", default=None,
                   help="outputs of a held-out split to calibrate the parameter on "
                        "(default: calibrate on --outputs itself)")
    p.add_argument("--rule", required=True, choices=rule_names(),
                   help="exit rule of the method (pf.exits.registry): entropy (DeeBERT, "
                        "Past-Future), patience (PABEE), last (no early exit) or a "
                        "plug-in's")
    p.add_argument("--target", type=float, default=None, help="target speed-up (ratio, >1)")
    p.add_argument("--param", type=float, default=None,
                   help="fixed parameter of the rule (tau, patience, ...) instead of "
                        "calibrating to --target")
    p.add_argument("--metric", default=None, help="table metric (default: the task's first)")
    p.add_argument("--variant", required=True,
                   help="the config's variant name, recorded in the JSON (e.g. pf, truncated-2x)")
    p.add_argument("--method-options", default=None, metavar="JSON",
                   help="the variant's method options (JSON object: text or file), recorded "
                        "in the JSON")
    p.add_argument("--seed", type=int, required=True, help="training seed, recorded in the JSON")
    p.add_argument("--train-limit", type=int, default=None,
                   help="the size of the training sample the model saw (data.train_limit, "
                        "`pf prepare --train-limit`), recorded in the JSON; default: none, "
                        "the whole training split")
    p.add_argument("--out", required=True, help="metrics JSON to write (atomically)")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    obj = evaluate(args.outputs, args.rule, args.variant, args.seed, target=args.target,
                   param=args.param, metric=args.metric,
                   method_options=json_arg("--method-options", args.method_options),
                   calibration_outputs=args.calibration_outputs, train_limit=args.train_limit)
    atomic_write_json(args.out, obj)
    return 0
