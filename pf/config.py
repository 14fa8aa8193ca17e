"""The workflow configuration: loading, validation, the job grid and the report spec.

The Snakemake workflow (`Snakefile`, `workflow/rules/*.smk`) and Python users share this
module, so both see the same checks and the same grid:

    from pf.config import load_config, Plan
    cfg = load_config("config/config.yaml")          # validated, defaults filled in
    plan = Plan(cfg)
    plan.table_metrics("table2")                      # the metrics JSON files Table 2 needs
    plan.report_spec()                                # the ReportSpec (pf/reports/spec.py)

Validation has two layers:
1. `workflow/schemas/config.schema.yaml` (JSON Schema, `additionalProperties: false` on every
   object). Errors name the key path; a misspelled key also gets a "did you mean" from
   difflib over the keys allowed at that place.
2. Semantic checks JSON Schema cannot express: a target speed-up must lie in (1, n] for every
   backbone the run uses (n = its layer count), names used by tables, figures and latency must
   be configured variants, backbones and tasks, pf strategies must exist, ...

A *variant* is an entry of `methods:` (a method plus options). A variant with
`per_target: true` (truncated, distillation students) stands for one model per target
speed-up r with m = n / r layers; it expands to the *concrete* variant `<name>-<r>x`,
which is the name used in result paths. `python -m pf.config --help` has a small CLI
(check a config, print the grid, write the report spec).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pf.errors import PfError, did_you_mean
from pf.methods.registry import REGISTRY   # torch-free: the workflow imports this module
from pf.train.args import TrainingArgs     # torch-free as well

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"

TASK_NAMES = ("mnli", "mrpc", "qnli", "qqp", "rte", "sst2")
FAMILIES = ("bert", "roberta", "albert")
# Exit rule of each method (pf.exits rule names); mirrors MultiExitModel.exit_rule of the
# method classes (tests/test_config.py keeps them equal) without importing torch here.
EXIT_RULES: dict[str, str] = {name: entry.exit_rule for name, entry in REGISTRY.items()}
METHODS = tuple(EXIT_RULES)
DISTILLATION = tuple(name for name, entry in REGISTRY.items() if entry.teacher)
# Methods whose options take the pf "frozen layers" hyper-parameter.
FROZEN_LAYER_METHODS = ("pf",)
# pf strategies (pf.methods.past_future.ALL_STRATEGIES; kept equal by a test).
PF_STRATEGIES = ("max", "avg", "attn", "concat", "lstm", "voting", "ensemble")
PF_VARIANTS = ("released", "paper")
# Methods whose model has one layer count per target (m = n / r).
PER_TARGET_METHODS = tuple(name for name, entry in REGISTRY.items() if entry.per_target)
# One home for the training defaults: pf.train.args.TrainingArgs (torch-free), which
# `pf train` run by hand uses too; the workflow adds only the pf "frozen layers" option.
TRAINING_DEFAULTS: dict[str, Any] = {**TrainingArgs().to_dict(), "frozen_layers": 0,
                                     "exit_pooling": "cls"}
# Training keys that are method options (given to the variants, not to `pf train --training`).
OPTION_KEYS = ("frozen_layers", "exit_pooling")
RULE_KINDS = ("prepare", "train", "outputs", "evaluate", "curve", "latency", "collect", "report")
RESOURCE_DEFAULTS: dict[str, dict[str, float]] = {
    "threads": {"default": 1},
    "mem_mb": {"default": 2000, "train": 4000, "outputs": 3000, "latency": 3000},
    "runtime": {"default": 10, "train": 60, "outputs": 20, "latency": 30},
}
GPU_RULES = ("train", "outputs", "latency")
TABLES = tuple(f"table{i}" for i in range(1, 7))
CURVE_FIGURES = ("figure3", "figure5", "figure6")
FIGURES = ("figure3", "figure4", "figure5", "figure6")  # keys of figures: that are figures
EXIT_ACCURACY = "exit_accuracy"   # figures.exit_accuracy: per-exit accuracy (+ its CSV)


# --------------------------------------------------------------------------- helpers

def fmt_target(target: float | int | str) -> str:
    """The spelling of a target speed-up in paths and variant names: 2.0 -> '2', 1.5 -> '1.5'."""
    value = float(target)
    if value.is_integer():
        return str(int(value))
    return f"{value:g}"


def _key_path(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _load_yaml(path: str | os.PathLike) -> Any:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise PfError(f"{path}: config file not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise PfError(f"{path}: not valid YAML ({err})") from None


_SCHEMA_CACHE: dict[str, Any] = {}


def load_schema() -> dict[str, Any]:
    key = str(SCHEMA_PATH)
    if key not in _SCHEMA_CACHE:
        _SCHEMA_CACHE[key] = _load_yaml(SCHEMA_PATH)
    return _SCHEMA_CACHE[key]


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    while isinstance(schema, Mapping) and "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        node: Any = root
        for part in ref[2:].split("/"):
            node = node[part]
        schema = node
    return schema


def _allowed_keys(schema: Mapping[str, Any], root: Mapping[str, Any]) -> list[str]:
    schema = _resolve(schema, root)
    return sorted((schema.get("properties") or {}).keys())


def _schema_at(path: Iterable[Any], root: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The (resolved) sub-schema that applies to the instance at `path`."""
    node: Any = _resolve(root, root)
    for part in path:
        if isinstance(part, int):
            node = node.get("items")
        elif part in (node.get("properties") or {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), Mapping):
            node = node["additionalProperties"]
        else:
            return None
        if node is None:
            return None
        node = _resolve(node, root)
    return node


def _fill_defaults(instance: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> None:
    """Insert the schema's `default`s into `instance` (recursively), like snakemake.validate."""
    schema = _resolve(schema, root)
    if not isinstance(instance, dict):
        return
    props = schema.get("properties") or {}
    for key, sub in props.items():
        sub_r = _resolve(sub, root)
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        elif key not in instance and "default" in sub_r:
            instance[key] = copy.deepcopy(sub_r["default"])
        if key in instance:
            _fill_defaults(instance[key], sub_r, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        for key, value in instance.items():
            if key not in props:
                _fill_defaults(value, extra, root)


def _schema_errors(config: Any, where: str) -> list[str]:
    import jsonschema

    schema = load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    messages: list[str] = []
    for err in sorted(validator.iter_errors(config), key=lambda e: (len(e.path), list(map(str, e.path)))):
        path = list(err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            sub = _schema_at(path, schema) or {}
            allowed = _allowed_keys(sub, schema)
            bad = [k for k in err.instance if k not in allowed]
            for key in bad:
                messages.append(
                    f"{where}: unknown key '{_key_path(path + [key])}'"
                    f"{did_you_mean(key, allowed)}; allowed here: {', '.join(allowed)}")
            continue
        if err.validator == "required":
            messages.append(f"{where}: {_key_path(path)}: {err.message}")
            continue
        if err.validator == "oneOf" and err.validator_value and path and path[0] == "backbones":
            messages.append(
                f"{where}: {_key_path(path)}: give exactly one of 'pretrained' (with "
                f"'n_layers') and 'tiny'")
            continue
        if err.validator in ("exclusiveMinimum", "minimum"):
            strict = err.validator == "exclusiveMinimum"
            bound = err.validator_value
            what = "target speed-up " if any(str(p).startswith("target") for p in path) else ""
            hint = " (the full model is 1.00x)" if what and bound == 1 else ""
            messages.append(
                f"{where}: {_key_path(path)}: {what}{err.instance!r} must be "
                f"{'greater than' if strict else 'at least'} {bound}{hint}")
            continue
        if err.validator == "enum":
            choices = [str(c) for c in err.validator_value]
            messages.append(
                f"{where}: {_key_path(path)}: {err.instance!r} is not one of "
                f"{', '.join(choices)}{did_you_mean(str(err.instance), choices)}")
            continue
        messages.append(f"{where}: {_key_path(path)}: {err.message}")
    return list(dict.fromkeys(messages))


# --------------------------------------------------------------------------- loading

def load_config(source: str | os.PathLike | Mapping[str, Any],
                overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read (if a path), validate and complete a workflow configuration; PfError if invalid."""
    if isinstance(source, Mapping):
        config, where = copy.deepcopy(dict(source)), "config"
    else:
        config, where = _load_yaml(source), str(source)
    if overrides:
        config = _merge(config, overrides)
    return check_config(config, where)


def _merge(base: Any, extra: Mapping[str, Any]) -> Any:
    out = copy.deepcopy(base) if isinstance(base, dict) else {}
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def check_config(config: Any, where: str = "config") -> dict[str, Any]:
    """Validate against the schema, fill defaults, run the semantic checks; return the config.

    All schema errors are reported at once (one per line); semantic checks run only on a
    config that passed the schema.
    """
    if not isinstance(config, dict):
        raise PfError(f"{where}: expected a mapping at the top level, got {type(config).__name__}")
    errors = _schema_errors(config, where)
    if errors:
        raise PfError("invalid configuration:\n  " + "\n  ".join(errors))
    config = copy.deepcopy(config)
    _fill_defaults(config, load_schema(), load_schema())
    errors = _semantic_errors(config, where)
    if errors:
        raise PfError("invalid configuration:\n  " + "\n  ".join(errors))
    return config


def backbone_layers(config: Mapping[str, Any], name: str) -> int:
    bb = config["backbones"][name]
    if "tiny" in bb:
        return int(bb["tiny"]["n_layers"])
    return int(bb.get("n_layers", 12))


def _semantic_errors(config: dict[str, Any], where: str) -> list[str]:
    errs: list[str] = []
    backbones = list(config["backbones"])
    tasks = list(config["tasks"])
    variants = config["methods"]

    def unknown_name(kind: str, key: str, value: str, choices: Iterable[str]) -> None:
        choices = list(choices)
        errs.append(f"{where}: {key}: unknown {kind} '{value}'{did_you_mean(value, choices)}; "
                    f"choose one of: {', '.join(choices)}")

    for name, bb in config["backbones"].items():
        if bb["family"] not in FAMILIES:  # also in the schema; kept for Python users
            unknown_name("backbone family", f"backbones.{name}.family", bb["family"], FAMILIES)
        tiny = bb.get("tiny")
        if tiny and tiny["hidden_size"] % tiny["n_heads"]:
            errs.append(f"{where}: backbones.{name}.tiny: hidden_size {tiny['hidden_size']} is "
                        f"not a multiple of n_heads {tiny['n_heads']}")
        if tiny and tiny.get("max_position_embeddings", 130) < config["data"]["max_length"]:
            errs.append(f"{where}: backbones.{name}.tiny.max_position_embeddings is below "
                        f"data.max_length {config['data']['max_length']}")
        if "pretrained" in bb and "n_layers" not in bb:
            errs.append(f"{where}: backbones.{name}: a pretrained backbone needs 'n_layers' "
                        f"(its depth, 12 for the base models) to check the targets")

    for t in config.get("analysis_tasks") or []:
        if t not in tasks:
            errs.append(f"{where}: analysis_tasks: '{t}' is not in tasks ({', '.join(tasks)})")
    for t in config.get("table_metric") or {}:
        if t not in tasks:
            errs.append(f"{where}: table_metric.{t}: task not in tasks ({', '.join(tasks)})")
    for t in (config.get("training") or {}).get("tasks") or {}:
        if t not in tasks:
            errs.append(f"{where}: training.tasks.{t}: task not in tasks ({', '.join(tasks)})")
    for b in (config.get("training") or {}).get("backbones") or {}:
        if b not in backbones:
            unknown_name("backbone", f"training.backbones.{b}", b, backbones)
    for v in (config.get("training") or {}).get("variants") or {}:
        if v not in variants:
            unknown_name("variant", f"training.variants.{v}", v, variants)

    data = config["data"]
    if data["source"] == "glue_dir" and not data.get("glue_dir"):
        errs.append(f"{where}: data.glue_dir: required when data.source is glue_dir")
    if config["calibration"]["split"] == "heldout" and not data["heldout_fraction"] > 0:
        errs.append(f"{where}: calibration.split is heldout but data.heldout_fraction is 0; "
                    f"set a fraction such as 0.1")

    # targets: (1, n] for every backbone
    all_targets = set(map(float, config.get("targets") or []))
    used_targets: list[tuple[str, float]] = [(f"targets[{i}]", float(t))
                                             for i, t in enumerate(config.get("targets") or [])]
    for tname, table in (config.get("tables") or {}).items():
        used_targets += [(f"tables.{tname}.targets[{i}]", float(t))
                         for i, t in enumerate(table["targets"])]
    fig4 = (config.get("figures") or {}).get("figure4")
    if fig4:
        used_targets.append(("figures.figure4.target", float(fig4["target"])))
    lat = config["latency"]
    if lat.get("target") is not None:
        used_targets.append(("latency.target", float(lat["target"])))
    for key, r in used_targets:
        if r <= 1:
            errs.append(f"{where}: {key}: target speed-up {fmt_target(r)} must be greater "
                        f"than 1 (the full model is 1.00x)")
            continue
        for name in backbones:
            n = backbone_layers(config, name)
            if r > n:
                errs.append(f"{where}: {key}: target speed-up {fmt_target(r)} exceeds the "
                            f"{n} layers of backbone '{name}' (the most is {n}x: every "
                            f"example leaving at layer 1)")
        if not key.startswith("targets[") and r not in all_targets:
            errs.append(f"{where}: {key}: target {fmt_target(r)} is not in targets "
                        f"({', '.join(fmt_target(t) for t in sorted(all_targets))})")

    # variants
    for name, v in variants.items():
        method = v["method"]
        if method not in METHODS:
            unknown_name("method", f"methods.{name}.method", method, METHODS)
            continue
        opts = v.get("options") or {}
        if method == "pf":
            strategy = opts.get("strategy", "concat")
            if strategy not in PF_STRATEGIES:
                unknown_name("pf strategy", f"methods.{name}.options.strategy", str(strategy),
                             PF_STRATEGIES)
            if opts.get("variant", "released") not in PF_VARIANTS:
                unknown_name("pf variant", f"methods.{name}.options.variant",
                             str(opts.get("variant")), PF_VARIANTS)
        per_target = v.get("per_target", method in PER_TARGET_METHODS)
        if per_target and method not in PER_TARGET_METHODS:
            errs.append(f"{where}: methods.{name}.per_target: method '{method}' has no layer "
                        f"count to derive from the target (only {', '.join(PER_TARGET_METHODS)})")
        if method in PER_TARGET_METHODS and not per_target and "layers" not in opts:
            errs.append(f"{where}: methods.{name}: method '{method}' needs options.layers "
                        f"or per_target: true")
        if per_target and "layers" in opts:
            errs.append(f"{where}: methods.{name}: per_target derives options.layers "
                        f"(m = n / target); remove options.layers")
        if method in DISTILLATION:
            teacher = v.get("teacher")
            if teacher is None:
                errs.append(f"{where}: methods.{name}: distillation needs 'teacher' (a "
                            f"variant name, usually 'full')")
            elif teacher not in variants:
                unknown_name("variant", f"methods.{name}.teacher", teacher, variants)
            elif variants[teacher].get("per_target") or variants[teacher]["method"] in DISTILLATION:
                errs.append(f"{where}: methods.{name}.teacher: '{teacher}' must be a single "
                            f"model (not per-target, not a student)")
        elif v.get("teacher") is not None:
            errs.append(f"{where}: methods.{name}.teacher: only distillation methods "
                        f"({', '.join(DISTILLATION)}) take a teacher")

    def check_names(key: str, names: Iterable[str], choices: Iterable[str], kind: str) -> None:
        for n in names:
            if n not in choices:
                unknown_name(kind, key, n, choices)

    def check_selection(key: str, sel: Any, choices: list[str], kind: str) -> None:
        if isinstance(sel, list):
            check_names(key, sel, choices, kind)

    for tname, table in (config.get("tables") or {}).items():
        check_names(f"tables.{tname}.variants", table["variants"], variants, "variant")
        check_selection(f"tables.{tname}.backbones", table.get("backbones"), backbones, "backbone")
        check_selection(f"tables.{tname}.tasks", table.get("tasks"), tasks, "task")
    figs = config.get("figures") or {}
    for fname in FIGURES:
        if fname in figs:
            check_names(f"figures.{fname}.backbone", [figs[fname]["backbone"]], backbones,
                        "backbone")
    acc = figs.get(EXIT_ACCURACY)
    if acc:
        check_names(f"figures.{EXIT_ACCURACY}.backbone", [acc["backbone"]], backbones, "backbone")
        check_names(f"figures.{EXIT_ACCURACY}.variants", acc["variants"], variants, "variant")
        check_selection(f"figures.{EXIT_ACCURACY}.tasks", acc.get("tasks"), tasks, "task")
    fig4 = figs.get("figure4")
    if fig4:
        for key in ("with_future", "without_future"):
            check_names(f"figures.figure4.{key}", [fig4[key]], variants, "variant")
            if fig4[key] in variants and EXIT_RULES[variants[fig4[key]]["method"]] == "last":
                errs.append(f"{where}: figures.figure4.{key}: '{fig4[key]}' always exits at "
                            f"its last layer; choose an early-exit variant")
    if any(f in figs for f in CURVE_FIGURES):
        if not figs.get("curve_variants"):
            errs.append(f"{where}: figures.curve_variants: required by figures "
                        f"{', '.join(f for f in CURVE_FIGURES if f in figs)}")
        check_names("figures.curve_variants", figs.get("curve_variants") or [], variants,
                    "variant")
        check_names("figures.curve_points", figs.get("curve_points") or [], variants, "variant")
        for v in figs.get("curve_variants") or []:
            if v in variants and EXIT_RULES.get(variants[v]["method"]) == "last":
                errs.append(f"{where}: figures.curve_variants: '{v}' has a single speed-up "
                            f"(no curve); list it under figures.curve_points")
    for tname, table in (config.get("tables") or {}).items():
        for v in (table.get("labels") or {}):
            if v not in table["variants"]:
                unknown_name("variant of this table", f"tables.{tname}.labels.{v}", v,
                             table["variants"])
    run_seeds = [int(x) for x in config["seeds"]]
    for key, block in _seed_blocks(config):
        for seed in block.get("seeds") or []:
            if seed not in run_seeds:
                errs.append(f"{where}: {key}.seeds: seed {seed} is not in seeds "
                            f"({', '.join(map(str, run_seeds))}); a table, figure or the "
                            f"latency table reads a subset of the run's seeds")
    if lat.get("enabled", True):
        check_names("latency.variants", lat.get("variants") or [], variants, "variant")
        check_selection("latency.backbones", lat.get("backbones"), backbones, "backbone")
        check_selection("latency.tasks", lat.get("tasks"), tasks, "task")
    for kind in ("threads", "mem_mb", "runtime"):
        block = (config.get("resources") or {}).get(kind) or {}
        if kind == "threads":
            for rule, value in block.items():
                if float(value) != int(value):
                    errs.append(f"{where}: resources.threads.{rule}: must be a whole number")
    if config["resources"]["gpus"] > 0 and config["resources"]["device"] == "cpu":
        errs.append(f"{where}: resources.gpus is {config['resources']['gpus']} but "
                    f"resources.device is cpu; set device to cuda or auto")
    return list(dict.fromkeys(errs))


def _seed_blocks(config: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(key, block) of every config block that may name its own `seeds`."""
    blocks = [(f"tables.{name}", t) for name, t in (config.get("tables") or {}).items()]
    figs = config.get("figures") or {}
    blocks += [(f"figures.{f}", figs[f]) for f in (*FIGURES, EXIT_ACCURACY) if f in figs]
    blocks.append(("latency", config.get("latency") or {}))
    return blocks


# --------------------------------------------------------------------------- the grid

@dataclass(frozen=True, order=True)
class Job:
    """One metrics file: (backbone, task, concrete variant, seed, target)."""

    backbone: str
    task: str
    variant: str
    seed: int
    target: str          # fmt_target spelling


class Plan:
    """The job grid of a validated config, and the paths each table or figure needs."""

    def __init__(self, config: Mapping[str, Any]):
        self.config = config
        self.results = str(config["results_dir"]).rstrip("/")
        self.reports = str(config["reports_dir"]).rstrip("/")
        self.logs = str(config["logs_dir"]).rstrip("/")
        self.backbones: list[str] = list(config["backbones"])
        self.tasks: list[str] = list(config["tasks"])
        self.analysis_tasks: list[str] = list(config.get("analysis_tasks") or self.tasks)
        self.seeds: list[int] = [int(s) for s in config["seeds"]]
        self.targets: list[str] = [fmt_target(t) for t in config["targets"]]
        self.variants: dict[str, dict[str, Any]] = dict(config["methods"])

    # ---- variants
    def is_per_target(self, variant: str) -> bool:
        v = self.variants[variant]
        return bool(v.get("per_target", v["method"] in PER_TARGET_METHODS))

    def concrete(self, variant: str, target: str | float) -> str:
        """The concrete variant (result-path name) of `variant` at a target speed-up."""
        return f"{variant}-{fmt_target(target)}x" if self.is_per_target(variant) else variant

    def parse_concrete(self, concrete: str) -> tuple[str, str | None]:
        """(config variant, target or None) of a concrete variant name."""
        if concrete in self.variants and not self.is_per_target(concrete):
            return concrete, None
        base, sep, rest = concrete.rpartition("-")
        if sep and rest.endswith("x") and base in self.variants and self.is_per_target(base):
            return base, fmt_target(rest[:-1])
        raise PfError(f"unknown variant '{concrete}'{did_you_mean(concrete, self.variants)}")

    def method(self, concrete: str) -> str:
        return self.variants[self.parse_concrete(concrete)[0]]["method"]

    def exit_rule(self, concrete: str) -> str:
        return EXIT_RULES[self.method(concrete)]

    def layers_for(self, backbone: str, target: str) -> int:
        n = backbone_layers(self.config, backbone)
        return max(1, min(n, int(round(n / float(target)))))

    def training_args(self, backbone: str, task: str, concrete: str) -> dict[str, Any]:
        """Training hyper-parameters: defaults < backbones.<b> < tasks.<t> < variants.<v>."""
        tr = self.config.get("training") or {}
        base, _ = self.parse_concrete(concrete)
        out = dict(TRAINING_DEFAULTS)
        out.update(tr.get("defaults") or {})
        out.update((tr.get("backbones") or {}).get(backbone) or {})
        out.update((tr.get("tasks") or {}).get(task) or {})
        out.update((tr.get("variants") or {}).get(base) or {})
        return out

    def method_options(self, backbone: str, task: str, concrete: str) -> dict[str, Any]:
        """The options passed to the method: the variant's, plus the derived ones."""
        base, target = self.parse_concrete(concrete)
        v = self.variants[base]
        opts = dict(v.get("options") or {})
        if target is not None:
            opts["layers"] = self.layers_for(backbone, target)
        args = self.training_args(backbone, task, concrete)
        if v["method"] in FROZEN_LAYER_METHODS and "frozen_layers" not in opts:
            opts["frozen_layers"] = int(args["frozen_layers"])
        # every method alike; left out at the default so existing grids keep their options
        if "exit_pooling" not in opts and args["exit_pooling"] != "cls":
            opts["exit_pooling"] = args["exit_pooling"]
        return opts

    def trainer_args(self, backbone: str, task: str, concrete: str) -> dict[str, Any]:
        """`pf train --training` JSON: training_args without what goes into the options."""
        args = self.training_args(backbone, task, concrete)
        for key in OPTION_KEYS:
            args.pop(key, None)
        if args.get("max_steps") is None:
            args.pop("max_steps", None)
        return args

    def backbone_json(self, backbone: str) -> dict[str, Any]:
        """`pf prepare --backbone-json`: the BackboneSpec dict (pf.backbones.BackboneSpec);
        `n_layers` (checks only) and `label` (reports only) stay here."""
        bb = {k: v for k, v in self.config["backbones"][backbone].items()
              if k not in ("n_layers", "label")}
        return {"name": backbone, **bb}

    # ---- resources
    def resource(self, kind: str, rule: str) -> float:
        """resources.<kind>.<rule>, else resources.<kind>.default, else the built-in value."""
        block = (self.config.get("resources") or {}).get(kind) or {}
        builtin = RESOURCE_DEFAULTS[kind]
        for source, key in ((block, rule), (block, "default"), (builtin, rule)):
            if key in source:
                return source[key]
        return builtin["default"]

    def threads(self, rule: str) -> int:
        return int(self.resource("threads", rule))

    def mem_mb(self, rule: str) -> int:
        return int(self.resource("mem_mb", rule))

    def runtime(self, rule: str) -> int:
        """Minutes (Snakemake's `runtime` resource)."""
        return max(1, int(round(float(self.resource("runtime", rule)))))

    def gpus(self, rule: str) -> int:
        return int(self.config["resources"]["gpus"]) if rule in GPU_RULES else 0

    def device(self) -> str | None:
        dev = self.config["resources"]["device"]
        return None if dev == "auto" else dev

    def teacher(self, concrete: str) -> str | None:
        base, _ = self.parse_concrete(concrete)
        return self.variants[base].get("teacher")

    def table_metric(self, task: str) -> str:
        return (self.config.get("table_metric") or {}).get(task, "accuracy")

    def _tasks(self, sel: Any) -> list[str]:
        if sel in (None, "all"):
            return list(self.tasks)
        if sel == "analysis":
            return list(self.analysis_tasks)
        return list(sel)

    def _backbones(self, sel: Any) -> list[str]:
        if sel in (None, "all"):
            return list(self.backbones)
        return list(sel)

    # ---- paths
    def prepared(self, backbone: str, task: str) -> str:
        return f"{self.results}/prepared/{backbone}/{task}/meta.json"

    def model(self, backbone: str, task: str, variant: str, seed: int) -> str:
        return f"{self.results}/models/{backbone}/{task}/{variant}/seed{seed}/model.safetensors"

    def outputs(self, backbone: str, task: str, variant: str, seed: int, split: str) -> str:
        return f"{self.results}/outputs/{backbone}/{task}/{variant}/seed{seed}/{split}.safetensors"

    def metrics(self, job: Job) -> str:
        return (f"{self.results}/metrics/{job.backbone}/{job.task}/{job.variant}/"
                f"seed{job.seed}/target{job.target}.json")

    def curve(self, backbone: str, task: str, variant: str, seed: int) -> str:
        return f"{self.results}/curves/{backbone}/{task}/{variant}/seed{seed}.csv"

    def latency(self, backbone: str, task: str, variant: str, seed: int) -> str:
        return f"{self.results}/latency/{backbone}/{task}/{variant}/seed{seed}.json"

    def calibration_split(self, concrete: str) -> str | None:
        """The split the evaluate job calibrates on, when not the evaluation split itself."""
        if self.exit_rule(concrete) == "last":
            return None
        split = self.config["calibration"]["split"]
        return None if split == self.config["evaluation"]["split"] else split

    # ---- job sets
    def seeds_of(self, block: Mapping[str, Any] | None) -> list[int]:
        """The seeds a table, figure or latency block reads: its own `seeds`, else the run's."""
        return [int(s) for s in ((block or {}).get("seeds") or self.seeds)]

    def table_seeds(self, table: str) -> list[int]:
        return self.seeds_of(self._table(table))

    def _table(self, table: str) -> Mapping[str, Any]:
        spec = (self.config.get("tables") or {}).get(table)
        if spec is None:
            raise PfError(f"table '{table}' is not configured (config key tables.{table})")
        return spec

    def _figure(self, figure: str) -> Mapping[str, Any]:
        spec = (self.config.get("figures") or {}).get(figure)
        if spec is None or figure not in FIGURES:
            raise PfError(f"figure '{figure}' is not configured (config key figures.{figure})")
        return spec

    def table_jobs(self, table: str) -> list[Job]:
        spec = self._table(table)
        jobs = [Job(b, t, self.concrete(v, r), s, fmt_target(r))
                for b in self._backbones(spec.get("backbones"))
                for t in self._tasks(spec.get("tasks"))
                for v in spec["variants"]
                for s in self.seeds_of(spec)
                for r in spec["targets"]]
        return sorted(set(jobs))

    def point_jobs(self, backbone: str, tasks: list[str], variants: Iterable[str],
                   seeds: list[int]) -> list[Job]:
        """Metrics of single-speed-up variants drawn as markers: per-target variants at
        every target, the others at the first target."""
        jobs = []
        for v in variants:
            for r in (self.targets if self.is_per_target(v) else self.targets[:1]):
                jobs += [Job(backbone, t, self.concrete(v, r), s, r)
                         for t in tasks for s in seeds]
        return sorted(set(jobs))

    def figure_metrics(self, figure: str) -> list[str]:
        """The metrics files a figure reads (Figure 4: its two variants; curve figures:
        the markers)."""
        spec = self._figure(figure)
        b, tasks, seeds = spec["backbone"], list(self.analysis_tasks), self.seeds_of(spec)
        if figure == "figure4":
            r = fmt_target(spec["target"])
            return [self.metrics(Job(b, t, self.concrete(v, r), s, r))
                    for t in tasks for v in (spec["without_future"], spec["with_future"])
                    for s in seeds]
        points = (self.config.get("figures") or {}).get("curve_points") or []
        return [self.metrics(j) for j in self.point_jobs(b, tasks, points, seeds)]

    def figure_curves(self, figure: str) -> list[str]:
        """The curve CSVs a figure reads (none for Figure 4)."""
        spec = self._figure(figure)
        if figure == "figure4":
            return []
        variants = (self.config.get("figures") or {}).get("curve_variants") or []
        return [self.curve(spec["backbone"], t, v, s) for t in self.analysis_tasks
                for v in variants for s in self.seeds_of(spec)]

    def figure_inputs(self, figure: str) -> list[str]:
        return self.figure_curves(figure) + self.figure_metrics(figure)

    def exit_accuracy_variants(self) -> list[str]:
        """The concrete variants of the per-exit accuracy figure (per-target ones at every
        target), in its legend order; empty when the config has no such figure."""
        spec = (self.config.get("figures") or {}).get(EXIT_ACCURACY)
        if not spec:
            return []
        out: list[str] = []
        for v in spec["variants"]:
            for r in (self.targets if self.is_per_target(v) else self.targets[:1]):
                if self.concrete(v, r) not in out:
                    out.append(self.concrete(v, r))
        return out

    def exit_accuracy_inputs(self) -> list[str]:
        """The per-layer outputs files (evaluation split) the per-exit accuracy figure reads."""
        spec = (self.config.get("figures") or {}).get(EXIT_ACCURACY)
        if not spec:
            return []
        split = self.config["evaluation"]["split"]
        return [self.outputs(spec["backbone"], t, v, s, split)
                for t in self._tasks(spec.get("tasks")) for v in self.exit_accuracy_variants()
                for s in self.seeds_of(spec)]

    def latency_jobs(self) -> list[tuple[str, str, str, int]]:
        lat = self.config["latency"]
        if not lat.get("enabled", True):
            return []
        target = self.latency_target()
        variants = lat.get("variants") or []
        return sorted({(b, t, self.concrete(v, target), s)
                       for b in self._backbones(lat.get("backbones"))
                       for t in self._tasks(lat.get("tasks", "analysis"))
                       for v in variants for s in self.seeds_of(lat)})

    def latency_target(self) -> str:
        lat = self.config["latency"]
        return fmt_target(lat.get("target") or self.targets[0])

    def latency_inputs(self) -> list[str]:
        return [self.latency(*j) for j in self.latency_jobs()]

    def table_inputs(self, table: str) -> list[str]:
        return [self.metrics(j) for j in self.table_jobs(table)]

    def all_metrics(self) -> list[str]:
        """Every metrics file the tables and figures read (what metrics.csv collects)."""
        out: set[str] = set()
        for table in self.configured_tables():
            out.update(self.table_inputs(table))
        for fig in self.configured_figures():
            out.update(self.figure_metrics(fig))
        return sorted(out)

    def configured_tables(self) -> list[str]:
        return [t for t in TABLES if t in (self.config.get("tables") or {})]

    def configured_figures(self) -> list[str]:
        return [f for f in FIGURES if f in (self.config.get("figures") or {})]

    def report_targets(self) -> list[str]:
        """Every report file of `rule all`."""
        out = []
        for t in self.configured_tables():
            out += [f"{self.reports}/{t}.{ext}" for ext in ("tex", "csv", "md")]
        out += [f"{self.reports}/{f}.png" for f in self.configured_figures()]
        if self.exit_accuracy_inputs():
            out += [f"{self.reports}/{EXIT_ACCURACY}.{ext}" for ext in ("png", "csv")]
        if self.latency_jobs():
            out += [f"{self.reports}/latency.{ext}" for ext in ("tex", "csv", "md")]
        out.append(f"{self.reports}/metrics.csv")
        return out

    # ---- report spec
    def backbone_label(self, name: str) -> str:
        return str(self.config["backbones"][name].get("label") or name)

    def _row(self, variant: str, label: str | None = None) -> dict[str, Any]:
        row: dict[str, Any] = {"variant": variant}
        if self.is_per_target(variant):
            row["per_target"] = True
        if self.variants[variant]["method"] == "full":
            row["reference"] = True
        if label:
            row["label"] = label
        return row

    def report_spec(self) -> dict[str, Any]:
        """The ReportSpec (pf/reports/spec.py) that builds this config's tables and figures:
        every table and figure names exactly the results it reads (its rows, tasks,
        backbones, targets and seeds), the same ones the Snakemake rule passes it."""
        cfg = self.config
        source = cfg["data"]["source"]
        data_source = {"synthetic": "synthetic GLUE stand-ins", "glue_dir": "GLUE (local copy)",
                       "hub": "GLUE (Hugging Face hub)"}[source]
        tables: dict[str, Any] = {}
        for tname in self.configured_tables():
            t = cfg["tables"][tname]
            table_labels = t.get("labels") or {}
            tables[tname.removeprefix("table")] = {
                "targets": [float(x) for x in t["targets"]],
                "tasks": self._tasks(t.get("tasks")),
                "backbones": self._backbones(t.get("backbones")),
                "seeds": self.seeds_of(t),
                "rows": [self._row(v, table_labels.get(v)) for v in t["variants"]],
                "caption": t.get("caption", ""),
            }
        figs = cfg.get("figures") or {}
        figures: dict[str, Any] = {
            "curves": {f.removeprefix("figure"): {"backbone": figs[f]["backbone"],
                                                  "seeds": self.seeds_of(figs[f])}
                       for f in CURVE_FIGURES if f in figs},
            "curve_variants": list(figs.get("curve_variants") or []),
            "curve_points": [self._row(v) for v in figs.get("curve_points") or []],
            "point_targets": [float(t) for t in self.targets],
            "exit_distribution": None,
        }
        if "figure4" in figs:
            f4 = figs["figure4"]
            figures["exit_distribution"] = {
                "number": 4, "backbone": f4["backbone"], "target": float(f4["target"]),
                "with_future": f4["with_future"], "without_future": f4["without_future"],
                "seeds": self.seeds_of(f4)}
        if EXIT_ACCURACY in figs:
            acc = figs[EXIT_ACCURACY]
            figures[EXIT_ACCURACY] = {
                "backbone": acc["backbone"], "variants": self.exit_accuracy_variants(),
                "tasks": self._tasks(acc.get("tasks")), "seeds": self.seeds_of(acc)}
        spec: dict[str, Any] = {
            "scale": cfg["scale"],
            "data_source": data_source,
            "split": cfg["evaluation"]["split"],
            "backbones": {name: self.backbone_label(name) for name in self.backbones},
            "tasks": list(self.tasks),
            "analysis_tasks": list(self.analysis_tasks),
            "table_metric": {t: self.table_metric(t) for t in self.tasks},
            "seeds": list(self.seeds),
            "labels": {name: v["label"] for name, v in self.variants.items() if v.get("label")},
            "tables": tables,
            "figures": figures,
        }
        lat = cfg["latency"]
        if self.latency_jobs():
            spec["latency"] = {
                "batch_sizes": list(lat["batch_sizes"]),
                "variants": [self.concrete(v, self.latency_target())
                             for v in lat.get("variants") or []],
                "backbones": self._backbones(lat.get("backbones")),
                "tasks": self._tasks(lat.get("tasks", "analysis")),
                "seeds": self.seeds_of(lat)}
        return spec


def write_report_spec(config: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write the ReportSpec as JSON; key order is kept (it is the order of table blocks)."""
    from pf.io import atomic_write_text

    atomic_write_text(path, json.dumps(Plan(config).report_spec(), indent=2) + "\n")


# --------------------------------------------------------------------------- CLI

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pf.config",
        description="Check a pf workflow config, show its grid, export its report spec.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("check", help="validate a config file")
    p.add_argument("config")
    p = sub.add_parser("grid", help="list the metrics files a table or figure needs")
    p.add_argument("config")
    p.add_argument("what", nargs="?", default=None, help="table1..table6, figure3..6 (default: all)")
    p = sub.add_parser("report-files", help="list the report files of a config (rule all)")
    p.add_argument("config")
    p = sub.add_parser("report-spec", help="write the ReportSpec JSON of a config")
    p.add_argument("config")
    p.add_argument("--out", default="-")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config)
        plan = Plan(cfg)
        if args.cmd == "check":
            print(f"{args.config}: ok ({len(plan.all_metrics())} metrics files)")
        elif args.cmd == "grid":
            if args.what is None:
                paths = plan.all_metrics()
            elif args.what.startswith("table"):
                paths = plan.table_inputs(args.what)
            else:
                paths = plan.figure_inputs(args.what)
            print("\n".join(paths))
        elif args.cmd == "report-files":
            print("\n".join(plan.report_targets()))
        else:
            text = json.dumps(plan.report_spec(), indent=2)
            if args.out == "-":
                print(text)
            else:
                write_report_spec(cfg, args.out)
    except PfError as err:
        print(f"pf config: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
