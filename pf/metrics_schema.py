"""The metrics JSON written by `pf evaluate`: every field documented here, in one place.

One file per (backbone, task, variant, seed, target), at
`{results}/metrics/{backbone}/{task}/{variant}/seed{seed}/target{target}.json`.
Scores are fractions in [0, 1] (reports scale them to percent). Speed-ups are ratios
(equation 15 of the paper: n·N / Σ_i i·m_i), never "fraction of layers saved".

`validate_metrics(obj, path)` checks a loaded file against `FIELDS` and raises `PfError`
naming the file and the first missing or malformed field; the report collector calls it on
every file it reads.

A model is *degenerate* (`degenerate_reason`) when at least `DEGENERATE_SHARE` of its
predictions on `split` fall in one class, or when its score is not more than
`DEGENERATE_MARGIN` above the majority-class score of that split under the same metric
(always answering the most frequent label). Such a model learned nothing a constant could
not; tables mark it with a dagger and the report rule names it.
"""

from __future__ import annotations

import math
from typing import Any

from pf.errors import PfError
from pf.exits.registry import RULES

SCHEMA = "pf-metrics/3"
# A model is degenerate when this share of its predictions (or more) is one class ...
DEGENERATE_SHARE = 0.95
# ... or when its score is at most this far (fraction, same metric) above the majority score.
DEGENERATE_MARGIN = 0.02

# field -> (type, description). Types: str, int, float (int accepted), bool, dict, list[int],
# list[str]; "|null" allows None.
FIELDS: dict[str, tuple[str, str]] = {
    "schema": ("str", f"format tag, always '{SCHEMA}'"),
    "backbone": ("str", "backbone name (config key, e.g. 'bert'), from the outputs file"),
    "n_layers": ("int", "backbone depth n used for the speed-up (the full model's layers)"),
    "task": ("str", "task name (sst2 mrpc qnli rte qqp mnli)"),
    "method": ("str", "method registry key (pf.methods.registry: pf, deebert, pabee, full, "
               "truncated, kd, ... or a plug-in's)"),
    "variant": ("str", "config variant name (a method plus options, e.g. 'pf-past')"),
    "method_options": ("dict", "the variant's method options, as given to `pf evaluate`"),
    "seed": ("int", "training seed of the model"),
    "train_limit": ("int|null", "data.train_limit of the run: the model was trained on a "
                    "seeded, stratified sample of this many training examples (`pf prepare "
                    "--train-limit`; the whole split when it has no more); null = the whole "
                    "training split"),
    "split": ("str", "split the scores are measured on (normally 'dev')"),
    "calibration_split": ("str|null", "split the rule's parameter was calibrated on "
                          "('dev' = same split as the scores, 'heldout' = held-out slice of "
                          "train); null when nothing was calibrated (rule 'last', or a fixed "
                          "parameter)"),
    "rule": ("str", "exit rule (pf.exits.registry): entropy, patience, last or a "
             "plug-in's"),
    "rule_param_name": ("str|null", "name of the rule's parameter: 'tau' (entropy), "
                        "'patience' (patience); null for a rule without one (last)"),
    "rule_param": ("float|null", "the rule's parameter: entropy threshold tau (exit when "
                   "H < tau), patience (int), ...; null for 'last'"),
    "target": ("float|null", "requested speed-up; null when none was given (rule 'last')"),
    "speedup": ("float", "achieved speed-up on `split` (equation 15, a ratio)"),
    "calibration_speedup": ("float|null", "achieved speed-up on the calibration split "
                            "(equals `speedup` when it is `split`); null if not calibrated"),
    "avg_exit_layer": ("float", "mean 1-based exit layer on `split`"),
    "metric": ("str", "name of the table metric (accuracy | f1)"),
    "score": ("float", "value of the table metric on `split`, in [0, 1]"),
    "metrics": ("dict", "every metric of the task on `split`: name -> value in [0, 1]"),
    "exit_counts": ("list[int]", "number of examples exiting at each layer 1..n_layers "
                    "(length n_layers, sums to n_examples)"),
    "n_examples": ("int", "number of examples scored"),
    "label_counts": ("list[int]", "examples of `split` per gold label (index = class id)"),
    "prediction_counts": ("list[int]", "predictions on `split` per class (index = class "
                          "id), under the rule and parameter above"),
    "top_prediction_share": ("float", "share of the predictions that fall in the most "
                             "predicted class, in [0, 1]"),
    "majority_class": ("int", "most frequent gold label of `split` (lowest id on ties)"),
    "majority_score": ("float", "`metric` of always predicting `majority_class` on `split`, "
                       "in [0, 1] (same scale as `score`)"),
    "degenerate": ("bool", f"true when top_prediction_share >= {DEGENERATE_SHARE} or score "
                   f"<= majority_score + {DEGENERATE_MARGIN}: the model is no better than a "
                   f"constant; tables mark it with a dagger"),
    "degenerate_reason": ("str|null", "why `degenerate` is true, in words; null otherwise"),
    "outputs": ("str", "path of the per-layer outputs file that was scored"),
    "calibration_outputs": ("str|null", "path of the outputs file used for calibration, "
                            "null when it is `outputs` or nothing was calibrated"),
    "versions": ("dict", "package -> version (importlib.metadata) of pf and its key "
                 "dependencies"),
}


def degenerate_reason(prediction_counts: list[int], score: float,
                      majority_score: float) -> str | None:
    """Why a model counts as degenerate (see the module docstring), or None."""
    total = sum(prediction_counts)
    reasons = []
    if total:
        top = max(range(len(prediction_counts)), key=lambda c: (prediction_counts[c], -c))
        share = prediction_counts[top] / total
        if share >= DEGENERATE_SHARE:
            reasons.append(f"{share:.1%} of the predictions are class {top}")
    if score <= majority_score + DEGENERATE_MARGIN + 1e-12:
        reasons.append(f"score {score:.4f} is not more than {DEGENERATE_MARGIN} above the "
                       f"majority-class score {majority_score:.4f}")
    return "; ".join(reasons) or None


def _type_ok(value: Any, kind: str) -> bool:
    kinds = kind.split("|")
    if value is None:
        return "null" in kinds
    for k in kinds:
        if k == "str" and isinstance(value, str):
            return True
        if k == "int" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if k == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return math.isfinite(float(value))
        if k == "bool" and isinstance(value, bool):
            return True
        if k == "dict" and isinstance(value, dict):
            return True
        if k.startswith("list[") and isinstance(value, list):
            inner = k[5:-1]
            return all(_type_ok(v, inner) for v in value)
    return False


def validate_metrics(obj: Any, path: str = "<metrics>") -> dict[str, Any]:
    """Check a metrics object; raise PfError naming `path` and the field at fault."""
    if not isinstance(obj, dict):
        raise PfError(f"{path}: a metrics file must hold a JSON object, got {type(obj).__name__}")
    if obj.get("schema") != SCHEMA:
        raise PfError(f"{path}: field 'schema' is {obj.get('schema')!r}, expected '{SCHEMA}' "
                      f"(a file written by another version of `pf evaluate`: rerun it)")
    for name, (kind, desc) in FIELDS.items():
        if name not in obj:
            raise PfError(f"{path}: missing field '{name}' ({desc})")
        if not _type_ok(obj[name], kind):
            raise PfError(f"{path}: field '{name}' must be {kind}, got {obj[name]!r}")
    extra = sorted(set(obj) - set(FIELDS))
    if extra:
        raise PfError(f"{path}: unknown field(s) {extra}")
    n = obj["n_layers"]
    if n < 1:
        raise PfError(f"{path}: field 'n_layers' must be >= 1, got {n}")
    if len(obj["exit_counts"]) != n:
        raise PfError(f"{path}: field 'exit_counts' has {len(obj['exit_counts'])} entries, "
                      f"expected n_layers = {n}")
    if sum(obj["exit_counts"]) != obj["n_examples"]:
        raise PfError(f"{path}: field 'exit_counts' sums to {sum(obj['exit_counts'])}, "
                      f"expected n_examples = {obj['n_examples']}")
    if not 1.0 <= obj["speedup"] <= n + 1e-9:
        raise PfError(f"{path}: field 'speedup' {obj['speedup']} is outside [1, {n}]")
    if obj["rule"] not in RULES:
        raise PfError(f"{path}: field 'rule' is {obj['rule']!r}; expected a registered exit "
                      f"rule ({', '.join(RULES)}; a plug-in's rule needs its plug-in loaded)")
    if obj["metric"] not in obj["metrics"]:
        raise PfError(f"{path}: field 'metric' {obj['metric']!r} is not among 'metrics' "
                      f"{sorted(obj['metrics'])}")
    if obj["metrics"][obj["metric"]] != obj["score"]:
        raise PfError(f"{path}: field 'score' differs from metrics[{obj['metric']!r}]")
    for k, v in obj["metrics"].items():
        if not _type_ok(v, "float") or not 0.0 <= v <= 1.0:
            raise PfError(f"{path}: field 'metrics.{k}' must be a number in [0, 1], got {v!r}")
    for name in ("label_counts", "prediction_counts"):
        if sum(obj[name]) != obj["n_examples"]:
            raise PfError(f"{path}: field '{name}' sums to {sum(obj[name])}, expected "
                          f"n_examples = {obj['n_examples']}")
    if len(obj["prediction_counts"]) != len(obj["label_counts"]):
        raise PfError(f"{path}: fields 'prediction_counts' and 'label_counts' differ in length")
    top_share = max(obj["prediction_counts"]) / max(obj["n_examples"], 1)
    if not math.isclose(obj["top_prediction_share"], top_share, abs_tol=1e-9):
        raise PfError(f"{path}: field 'top_prediction_share' is {obj['top_prediction_share']} "
                      f"but 'prediction_counts' give {top_share}")
    reason = degenerate_reason(obj["prediction_counts"], obj["score"], obj["majority_score"])
    if obj["degenerate"] != (reason is not None) or obj["degenerate_reason"] != reason:
        raise PfError(f"{path}: field 'degenerate' is {obj['degenerate']} but the counts and "
                      f"scores say {reason or 'not degenerate'}")
    return obj


def describe() -> str:
    """The field list as Markdown (for docs)."""
    lines = ["| field | type | description |", "|---|---|---|"]
    lines += [f"| `{k}` | {t} | {d} |" for k, (t, d) in FIELDS.items()]
    return "\n".join(lines)
