"""The ReportSpec (pf/reports/spec.py) of a workflow config: which results each configured
table and figure reads, and how its rows are labelled.

Every table and figure names exactly the results it reads (its rows, tasks, backbones,
targets and seeds), the same ones the Snakemake rule passes it (pf.config.Plan). A variant's
label is its config `label`, else its method's default label for its options
(`MethodSpec.label`); the unaccelerated reference row is the one whose method says so
(`MethodSpec.reference`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from pf.config import CURVE_FIGURES, Plan
from pf.layout import EXIT_ACCURACY
from pf.methods.registry import method_spec

DATA_SOURCES = {"synthetic": "synthetic GLUE stand-ins", "glue_dir": "GLUE (local copy)",
                "hub": "GLUE (Hugging Face hub)"}


def backbone_label(plan: Plan, name: str) -> str:
    return str(plan.config["backbones"][name].get("label") or name)


def variant_label(plan: Plan, variant: str) -> str:
    v = plan.variants[variant]
    return str(v.get("label") or method_spec(v["method"]).label_for(v.get("options")))


def _row(plan: Plan, variant: str, label: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "variant": variant, "per_target": plan.is_per_target(variant),
        "reference": method_spec(plan.variants[variant]["method"]).reference}
    if label:
        row["label"] = label
    return row


def _tables(plan: Plan) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for tname in plan.configured_tables():
        t = plan.config["tables"][tname]
        table_labels = t.get("labels") or {}
        tables[tname.removeprefix("table")] = {
            "targets": [float(x) for x in t["targets"]],
            "tasks": plan.tasks_of(t.get("tasks")),
            "backbones": plan.backbones_of(t.get("backbones")),
            "seeds": plan.seeds_of(t),
            "rows": [_row(plan, v, table_labels.get(v)) for v in t["variants"]],
            "caption": t.get("caption", ""),
        }
    return tables


def _figures(plan: Plan) -> dict[str, Any]:
    figs = plan.config.get("figures") or {}
    figures: dict[str, Any] = {
        "curves": {f.removeprefix("figure"): {"backbone": figs[f]["backbone"],
                                              "seeds": plan.seeds_of(figs[f])}
                   for f in CURVE_FIGURES if f in figs},
        "curve_variants": list(figs.get("curve_variants") or []),
        "curve_points": [_row(plan, v) for v in figs.get("curve_points") or []],
        "point_targets": [float(t) for t in plan.targets],
        "exit_distribution": None,
    }
    if "figure4" in figs:
        f4 = figs["figure4"]
        figures["exit_distribution"] = {
            "number": 4, "backbone": f4["backbone"], "target": float(f4["target"]),
            "with_future": f4["with_future"], "without_future": f4["without_future"],
            "seeds": plan.seeds_of(f4)}
    if EXIT_ACCURACY in figs:
        acc = figs[EXIT_ACCURACY]
        figures[EXIT_ACCURACY] = {
            "backbone": acc["backbone"], "variants": plan.exit_accuracy_variants(),
            "tasks": plan.tasks_of(acc.get("tasks")), "seeds": plan.seeds_of(acc)}
    return figures


def report_spec(plan: Plan) -> dict[str, Any]:
    """The ReportSpec (as a JSON object) that builds `plan`'s tables and figures."""
    cfg = plan.config
    spec: dict[str, Any] = {
        "scale": cfg["scale"],
        "data_source": DATA_SOURCES[cfg["data"]["source"]],
        "split": cfg["evaluation"]["split"],
        "backbones": {name: backbone_label(plan, name) for name in plan.backbones},
        "tasks": list(plan.tasks),
        "analysis_tasks": list(plan.analysis_tasks),
        "table_metric": {t: plan.table_metric(t) for t in plan.tasks},
        "seeds": list(plan.seeds),
        "labels": {name: variant_label(plan, name) for name in plan.variants},
        "tables": _tables(plan),
        "figures": _figures(plan),
    }
    lat = cfg["latency"]
    if plan.latency_jobs():
        spec["latency"] = {
            "batch_sizes": list(lat["batch_sizes"]),
            "variants": [plan.concrete(v, plan.latency_target())
                         for v in lat.get("variants") or []],
            "backbones": plan.backbones_of(lat.get("backbones")),
            "tasks": plan.tasks_of(lat.get("tasks", "analysis")),
            "seeds": plan.seeds_of(lat)}
    return spec


def write_report_spec(config: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write the ReportSpec as JSON; key order is kept (it is the order of table blocks)."""
    from pf.io import atomic_write_text

    atomic_write_text(path, json.dumps(report_spec(Plan(config)), indent=2) + "\n")
