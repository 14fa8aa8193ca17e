"""`Plan`: the job grid of a validated config, and the files each table or figure needs.

A *variant* is an entry of `methods:` (a method plus options). A variant of a per-target
method (truncated, distillation students: `MethodSpec.per_target`) stands for one model per
target speed-up r with m = n / r layers; it expands to the *concrete* variant `<name>-<r>x`,
which is the name used in result paths (pf.layout.concrete_variant).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pf.config.checks import backbone_layers, is_per_target
from pf.config.paths import Job, ResultPaths
from pf.config.resources import Resources
from pf.config.schema import FIGURES, TABLES
from pf.errors import PfError, did_you_mean
from pf.exits.registry import get_rule
from pf.layout import EXIT_ACCURACY, concrete_variant, fmt_target
from pf.methods.registry import method_spec
from pf.train.args import TrainingArgs

# One home for the training defaults: pf.train.args.TrainingArgs (torch-free), which
# `pf train` run by hand uses too.
TRAINING_DEFAULTS: dict[str, Any] = TrainingArgs().to_dict()
# The workflow's training keys that reach the methods as options, not as `pf train
# --training` arguments: frozen_layers (the methods taking it: MethodSpec.uses_frozen_layers)
# and exit_pooling (every method: pf.methods.options.MethodOptions).
FROZEN_LAYERS = "frozen_layers"
EXIT_POOLING = "exit_pooling"
OPTION_KEYS = (FROZEN_LAYERS, EXIT_POOLING)


class Plan(ResultPaths, Resources):
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
        return is_per_target(self.variants[variant])

    def concrete(self, variant: str, target: str | float) -> str:
        """The concrete variant (result-path name) of `variant` at a target speed-up."""
        return concrete_variant(variant, target, self.is_per_target(variant))

    def model_targets(self, variant: str) -> list[str]:
        """The targets at which `variant` is a model of its own: each target for a
        per-target variant, else the first (one model serves every target)."""
        return self.targets if self.is_per_target(variant) else self.targets[:1]

    def parse_concrete(self, concrete: str) -> tuple[str, str | None]:
        """(config variant, target or None) of a concrete variant name."""
        if concrete in self.variants and not self.is_per_target(concrete):
            return concrete, None
        base, sep, rest = concrete.rpartition("-")
        if sep and rest.endswith("x") and base in self.variants and self.is_per_target(base):
            return base, fmt_target(rest[:-1])
        if concrete in self.variants:
            # a per-target variant's own name is no model: each target is one
            names = ", ".join(f"'{self.concrete(concrete, t)}'"
                              for t in self.model_targets(concrete))
            raise PfError(f"variant '{concrete}' trains one model per target speed-up: "
                          f"name one of them ({names})")
        raise PfError(f"unknown variant '{concrete}'{did_you_mean(concrete, self.variants)}")

    def method(self, concrete: str) -> str:
        return self.variants[self.parse_concrete(concrete)[0]]["method"]

    def exit_rule(self, concrete: str) -> str:
        return method_spec(self.method(concrete)).exit_rule

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
        spec = method_spec(v["method"])
        opts = dict(v.get("options") or {})
        if target is not None:
            opts["layers"] = self.layers_for(backbone, target)
        training = self.training_args(backbone, task, concrete)
        if spec.uses_frozen_layers and FROZEN_LAYERS not in opts:
            opts[FROZEN_LAYERS] = int(training.get(FROZEN_LAYERS,
                                                   spec.option_default(FROZEN_LAYERS)))
        # every method alike; left out at the default so existing grids keep their options
        pooling = training.get(EXIT_POOLING, spec.option_default(EXIT_POOLING))
        if EXIT_POOLING not in opts and pooling != spec.option_default(EXIT_POOLING):
            opts[EXIT_POOLING] = pooling
        return opts

    def trainer_args(self, backbone: str, task: str, concrete: str) -> dict[str, Any]:
        """`pf train --training` JSON: training_args without what goes into the options."""
        args = self.training_args(backbone, task, concrete)
        for key in OPTION_KEYS:
            args.pop(key, None)
        # left out at their defaults, so that existing grids keep their command lines
        if args.get("max_steps") is None:
            args.pop("max_steps", None)
        if not args.get("group_by_length", False):
            args.pop("group_by_length", None)
        return args

    def backbone_json(self, backbone: str) -> dict[str, Any]:
        """`pf prepare --backbone-json`: the BackboneSpec dict (pf.backbones.BackboneSpec);
        `n_layers` (checks only) and `label` (reports only) stay here."""
        bb = {k: v for k, v in self.config["backbones"][backbone].items()
              if k not in ("n_layers", "label")}
        return {"name": backbone, **bb}

    def train_together(self) -> list[str]:
        """The concrete variants of one train_together job, in order (a per-target variant
        once per target): `resources.train_together`; empty: one job per model."""
        out: list[str] = []
        for variant in self.config["resources"].get("train_together") or []:
            out += [self.concrete(variant, t) for t in self.model_targets(variant)]
        return out

    def teacher(self, concrete: str) -> str | None:
        base, _ = self.parse_concrete(concrete)
        return self.variants[base].get("teacher")

    def table_metric(self, task: str) -> str:
        return (self.config.get("table_metric") or {}).get(task, "accuracy")

    def calibration_split(self, concrete: str) -> str | None:
        """The split the evaluate job calibrates on, when not the evaluation split itself."""
        if not get_rule(self.exit_rule(concrete)).has_param:
            return None
        split = self.config["calibration"]["split"]
        return None if split == self.config["evaluation"]["split"] else split

    # ---- selections
    def tasks_of(self, sel: Any) -> list[str]:
        if sel in (None, "all"):
            return list(self.tasks)
        if sel == "analysis":
            return list(self.analysis_tasks)
        return list(sel)

    def backbones_of(self, sel: Any) -> list[str]:
        if sel in (None, "all"):
            return list(self.backbones)
        return list(sel)

    def seeds_of(self, block: Mapping[str, Any] | None) -> list[int]:
        """The seeds a table, figure or latency block reads: its own `seeds`, else the run's."""
        return [int(s) for s in ((block or {}).get("seeds") or self.seeds)]

    def table_seeds(self, table: str) -> list[int]:
        return self.seeds_of(self.table_block(table))

    def table_block(self, table: str) -> Mapping[str, Any]:
        spec = (self.config.get("tables") or {}).get(table)
        if spec is None:
            raise PfError(f"table '{table}' is not configured (config key tables.{table})")
        return spec

    def figure_block(self, figure: str) -> Mapping[str, Any]:
        spec = (self.config.get("figures") or {}).get(figure)
        if spec is None or figure not in FIGURES:
            raise PfError(f"figure '{figure}' is not configured (config key figures.{figure})")
        return spec

    # ---- job sets
    def table_jobs(self, table: str) -> list[Job]:
        spec = self.table_block(table)
        jobs = [Job(b, t, self.concrete(v, r), s, fmt_target(r))
                for b in self.backbones_of(spec.get("backbones"))
                for t in self.tasks_of(spec.get("tasks"))
                for v in spec["variants"]
                for s in self.seeds_of(spec)
                for r in spec["targets"]]
        return sorted(set(jobs))

    def point_jobs(self, backbone: str, tasks: list[str], variants: Iterable[str],
                   seeds: list[int]) -> list[Job]:
        """Metrics of single-speed-up variants drawn as markers: per-target variants at
        every target, the others at the first target."""
        return sorted({Job(backbone, t, self.concrete(v, r), s, r) for v in variants
                       for r in self.model_targets(v) for t in tasks for s in seeds})

    def figure_metrics(self, figure: str) -> list[str]:
        """The metrics files a figure reads (Figure 4: its two variants; curve figures:
        the markers)."""
        spec = self.figure_block(figure)
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
        spec = self.figure_block(figure)
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
        names = [self.concrete(v, r) for v in spec["variants"] for r in self.model_targets(v)]
        return list(dict.fromkeys(names))

    def exit_accuracy_inputs(self) -> list[str]:
        """The per-layer outputs files (evaluation split) the per-exit accuracy figure reads."""
        spec = (self.config.get("figures") or {}).get(EXIT_ACCURACY)
        if not spec:
            return []
        split = self.config["evaluation"]["split"]
        return [self.outputs(spec["backbone"], t, v, s, split)
                for t in self.tasks_of(spec.get("tasks")) for v in self.exit_accuracy_variants()
                for s in self.seeds_of(spec)]

    def latency_jobs(self) -> list[tuple[str, str, str, int]]:
        lat = self.config["latency"]
        if not lat.get("enabled", True):
            return []
        target = self.latency_target()
        return sorted({(b, t, self.concrete(v, target), s)
                       for b in self.backbones_of(lat.get("backbones"))
                       for t in self.tasks_of(lat.get("tasks", "analysis"))
                       for v in lat.get("variants") or [] for s in self.seeds_of(lat)})

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
