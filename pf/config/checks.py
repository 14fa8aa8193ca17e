"""The checks of a config that JSON Schema cannot express (run after the schema passed).

A target speed-up must lie in (1, n] for every backbone the run uses (n = its layer count);
names used by tables, figures and latency must be configured variants, backbones and tasks;
a variant's method must be registered (pf.methods.registry, plug-ins included) and its
options valid for it (the method's own options class says so); teachers, per-target
variants and seeds must fit together. Every error names its key; all are reported at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pf.config.schema import CURVE_FIGURES, FIGURES
from pf.errors import PfError, did_you_mean
from pf.exits.registry import RULES
from pf.layout import EXIT_ACCURACY, fmt_target
from pf.methods.registry import METHODS, parse_method_options

FAMILIES = ("bert", "roberta", "albert")


def backbone_layers(config: Mapping[str, Any], name: str) -> int:
    bb = config["backbones"][name]
    if "tiny" in bb:
        return int(bb["tiny"]["n_layers"])
    return int(bb.get("n_layers", 12))


def is_per_target(variant: Mapping[str, Any]) -> bool:
    """One model per target speed-up: the variant says so, else its method does."""
    method = METHODS.get(variant["method"])
    return bool(variant.get("per_target", method is not None and method.per_target))


def single_speedup(variant: Mapping[str, Any]) -> bool:
    """Its exit rule has no parameter: one speed-up, no curve (full, truncated, students)."""
    method = METHODS.get(variant["method"])
    rule = RULES.get(method.exit_rule) if method is not None else None
    return rule is not None and not rule.has_param


class Errors(list):
    """The error lines of one config (`where` names the file)."""

    def __init__(self, where: str):
        super().__init__()
        self.where = where

    def add(self, message: str) -> None:
        self.append(f"{self.where}: {message}")

    def unknown(self, kind: str, key: str, value: str, choices: Iterable[str]) -> None:
        choices = list(choices)
        self.add(f"{key}: unknown {kind} '{value}'{did_you_mean(value, choices)}; "
                 f"choose one of: {', '.join(choices)}")

    def names(self, key: str, names: Iterable[str], choices: Iterable[str], kind: str) -> None:
        choices = list(choices)
        for n in names:
            if n not in choices:
                self.unknown(kind, key, n, choices)

    def selection(self, key: str, sel: Any, choices: Iterable[str], kind: str) -> None:
        if isinstance(sel, list):
            self.names(key, sel, choices, kind)


def semantic_errors(config: dict[str, Any], where: str) -> list[str]:
    errs = Errors(where)
    _backbones(config, errs)
    _names_and_data(config, errs)
    _targets(config, errs)
    _variants(config, errs)
    _tables_and_figures(config, errs)
    _seeds_latency_resources(config, errs)
    return list(dict.fromkeys(errs))


def _backbones(config: dict[str, Any], errs: Errors) -> None:
    for name, bb in config["backbones"].items():
        if bb["family"] not in FAMILIES:  # also in the schema; kept for Python users
            errs.unknown("backbone family", f"backbones.{name}.family", bb["family"], FAMILIES)
        tiny = bb.get("tiny")
        if tiny and tiny["hidden_size"] % tiny["n_heads"]:
            errs.add(f"backbones.{name}.tiny: hidden_size {tiny['hidden_size']} is not a "
                     f"multiple of n_heads {tiny['n_heads']}")
        if tiny and tiny.get("max_position_embeddings", 130) < config["data"]["max_length"]:
            errs.add(f"backbones.{name}.tiny.max_position_embeddings is below data.max_length "
                     f"{config['data']['max_length']}")
        if "pretrained" in bb and "n_layers" not in bb:
            errs.add(f"backbones.{name}: a pretrained backbone needs 'n_layers' (its depth, 12 "
                     f"for the base models) to check the targets")


def _names_and_data(config: dict[str, Any], errs: Errors) -> None:
    tasks, backbones, variants = list(config["tasks"]), list(config["backbones"]), config["methods"]
    for t in config.get("analysis_tasks") or []:
        if t not in tasks:
            errs.add(f"analysis_tasks: '{t}' is not in tasks ({', '.join(tasks)})")
    # table_metric and training.tasks may hold GLUE tasks this run leaves out (the schema
    # refuses any other name): `--config 'tasks=[mrpc]'` runs one task of a complete file
    training = config.get("training") or {}
    for b in training.get("backbones") or {}:
        if b not in backbones:
            errs.unknown("backbone", f"training.backbones.{b}", b, backbones)
    for v in training.get("variants") or {}:
        if v not in variants:
            errs.unknown("variant", f"training.variants.{v}", v, variants)
    data = config["data"]
    if data["source"] == "glue_dir" and not data.get("glue_dir"):
        errs.add("data.glue_dir: required when data.source is glue_dir")
    if config["calibration"]["split"] == "heldout" and not data["heldout_fraction"] > 0:
        errs.add("calibration.split is heldout but data.heldout_fraction is 0; set a fraction "
                 "such as 0.1")


def _targets(config: dict[str, Any], errs: Errors) -> None:
    """Every target in (1, n] for every backbone; tables and figures use the run's targets."""
    all_targets = set(map(float, config.get("targets") or []))
    used: list[tuple[str, float]] = [(f"targets[{i}]", float(t))
                                     for i, t in enumerate(config.get("targets") or [])]
    for tname, table in (config.get("tables") or {}).items():
        used += [(f"tables.{tname}.targets[{i}]", float(t)) for i, t in enumerate(table["targets"])]
    fig4 = (config.get("figures") or {}).get("figure4")
    if fig4:
        used.append(("figures.figure4.target", float(fig4["target"])))
    if config["latency"].get("target") is not None:
        used.append(("latency.target", float(config["latency"]["target"])))
    for key, r in used:
        if r <= 1:
            errs.add(f"{key}: target speed-up {fmt_target(r)} must be greater than 1 (the full "
                     f"model is 1.00x)")
            continue
        for name in config["backbones"]:
            n = backbone_layers(config, name)
            if r > n:
                errs.add(f"{key}: target speed-up {fmt_target(r)} exceeds the {n} layers of "
                         f"backbone '{name}' (the most is {n}x: every example leaving at layer 1)")
        if not key.startswith("targets[") and r not in all_targets:
            errs.add(f"{key}: target {fmt_target(r)} is not in targets "
                     f"({', '.join(fmt_target(t) for t in sorted(all_targets))})")


def _variants(config: dict[str, Any], errs: Errors) -> None:
    variants = config["methods"]
    students = [m for m, spec in METHODS.items() if spec.teacher]
    for name, v in variants.items():
        key = f"methods.{name}"
        if v["method"] not in METHODS:
            errs.unknown("method", f"{key}.method", v["method"], METHODS)
            continue
        spec = METHODS[v["method"]]
        if spec.exit_rule not in RULES:
            errs.unknown(f"exit rule of method '{spec.name}'", f"{key}.method", spec.exit_rule,
                         RULES)
        opts = dict(v.get("options") or {})
        before = len(errs)
        per_target = is_per_target(v)
        if per_target and not spec.per_target:
            errs.add(f"{key}.per_target: method '{spec.name}' has no layer count to derive from "
                     f"the target (only {', '.join(m for m, s in METHODS.items() if s.per_target)})")
        if spec.per_target and not per_target and "layers" not in opts:
            errs.add(f"{key}: method '{spec.name}' needs options.layers or per_target: true")
        if per_target and "layers" in opts:
            errs.add(f"{key}: per_target derives options.layers (m = n / target); remove "
                     f"options.layers")
        if spec.teacher:
            teacher = v.get("teacher")
            if teacher is None:
                errs.add(f"{key}: distillation needs 'teacher' (a variant name, usually 'full')")
            elif teacher not in variants:
                errs.unknown("variant", f"{key}.teacher", teacher, variants)
            elif is_per_target(variants[teacher]) or variants[teacher]["method"] in students:
                errs.add(f"{key}.teacher: '{teacher}' must be a single model (not per-target, "
                         f"not a student)")
        elif v.get("teacher") is not None:
            errs.add(f"{key}.teacher: only distillation methods ({', '.join(students)}) take a "
                     f"teacher")
        if len(errs) == before:
            _check_options(key, spec.name, {**opts, **({"layers": 1} if per_target else {})},
                           errs)


def _check_options(key: str, method: str, options: dict[str, Any], errs: Errors) -> None:
    """The method's own options check (its options class), naming the option's key."""
    try:
        parse_method_options(method, options)
    except PfError as err:
        option = getattr(err, "option", None)
        errs.add(f"{key}.options{'.' + option if option else ''}: {err}")


def _tables_and_figures(config: dict[str, Any], errs: Errors) -> None:
    backbones, tasks, variants = list(config["backbones"]), list(config["tasks"]), config["methods"]
    for tname, table in (config.get("tables") or {}).items():
        errs.names(f"tables.{tname}.variants", table["variants"], variants, "variant")
        errs.selection(f"tables.{tname}.backbones", table.get("backbones"), backbones, "backbone")
        errs.selection(f"tables.{tname}.tasks", table.get("tasks"), tasks, "task")
        for v in table.get("labels") or {}:
            if v not in table["variants"]:
                errs.unknown("variant of this table", f"tables.{tname}.labels.{v}", v,
                             table["variants"])
    figs = config.get("figures") or {}
    for fname in FIGURES:
        if fname in figs:
            errs.names(f"figures.{fname}.backbone", [figs[fname]["backbone"]], backbones,
                       "backbone")
    acc = figs.get(EXIT_ACCURACY)
    if acc:
        errs.names(f"figures.{EXIT_ACCURACY}.backbone", [acc["backbone"]], backbones, "backbone")
        errs.names(f"figures.{EXIT_ACCURACY}.variants", acc["variants"], variants, "variant")
        errs.selection(f"figures.{EXIT_ACCURACY}.tasks", acc.get("tasks"), tasks, "task")
    fig4 = figs.get("figure4")
    if fig4:
        for key in ("with_future", "without_future"):
            errs.names(f"figures.figure4.{key}", [fig4[key]], variants, "variant")
            if fig4[key] in variants and single_speedup(variants[fig4[key]]):
                errs.add(f"figures.figure4.{key}: '{fig4[key]}' always exits at its last layer; "
                         f"choose an early-exit variant")
    if any(f in figs for f in CURVE_FIGURES):
        if not figs.get("curve_variants"):
            errs.add(f"figures.curve_variants: required by figures "
                     f"{', '.join(f for f in CURVE_FIGURES if f in figs)}")
        errs.names("figures.curve_variants", figs.get("curve_variants") or [], variants, "variant")
        errs.names("figures.curve_points", figs.get("curve_points") or [], variants, "variant")
        for v in figs.get("curve_variants") or []:
            if v in variants and single_speedup(variants[v]):
                errs.add(f"figures.curve_variants: '{v}' has a single speed-up (no curve); list "
                         f"it under figures.curve_points")


def seed_blocks(config: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(key, block) of every config block that may name its own `seeds`."""
    blocks = [(f"tables.{name}", t) for name, t in (config.get("tables") or {}).items()]
    figs = config.get("figures") or {}
    blocks += [(f"figures.{f}", figs[f]) for f in (*FIGURES, EXIT_ACCURACY) if f in figs]
    blocks.append(("latency", config.get("latency") or {}))
    return blocks


def _seeds_latency_resources(config: dict[str, Any], errs: Errors) -> None:
    run_seeds = [int(x) for x in config["seeds"]]
    for key, block in seed_blocks(config):
        for seed in block.get("seeds") or []:
            if seed not in run_seeds:
                errs.add(f"{key}.seeds: seed {seed} is not in seeds "
                         f"({', '.join(map(str, run_seeds))}); a table, figure or the latency "
                         f"table reads a subset of the run's seeds")
    lat = config["latency"]
    if lat.get("enabled", True):
        errs.names("latency.variants", lat.get("variants") or [], config["methods"], "variant")
        errs.selection("latency.backbones", lat.get("backbones"), config["backbones"], "backbone")
        errs.selection("latency.tasks", lat.get("tasks"), config["tasks"], "task")
    for rule, value in ((config.get("resources") or {}).get("threads") or {}).items():
        if float(value) != int(value):
            errs.add(f"resources.threads.{rule}: must be a whole number")
    resources = config["resources"]
    together = resources.get("train_together") or []
    errs.names("resources.train_together", together, config["methods"], "variant")
    for name in together:
        if (config["methods"].get(name) or {}).get("teacher"):
            errs.add(f"resources.train_together: variant '{name}' has a teacher; a student "
                     f"trains in its own job, after its teacher")
    if resources["gpus"] > 0 and resources["device"] == "cpu":
        errs.add(f"resources.gpus is {resources['gpus']} but resources.device is cpu; set "
                 f"device to cuda or auto")
