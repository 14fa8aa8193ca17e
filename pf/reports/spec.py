"""`ReportSpec`: which results go into each table and figure, and how they are labelled.

The workflow writes it as JSON (pf/reports/from_config.py; `python -m pf.config report-spec
CONFIG`); `pf report --spec` reads YAML or JSON. Every key is optional; the defaults
reproduce the paper's layout with the variant names of config/config.yaml::

    scale: default                  # caption: "scale: default"
    data_source: synthetic GLUE stand-ins   # caption: where the data came from
    split: dev                      # caption: evaluation split
    backbones:                      # block order; key = backbone name in result paths,
      bert: BERT-tiny               #   value = its label in tables and figures
      minilm: {label: MiniLM-6L}    #   (default: the key itself, never a family's name)
    tasks: [mnli, mrpc, qnli, qqp, rte, sst2]   # main tables; shown in paper order
    analysis_tasks: [mnli, mrpc]    # Tables 3, 4, 6, Figures 3-6 ("representative subset")
    table_metric: {mrpc: f1}        # per task: which metrics.<name> a table shows;
                                    # default: the metrics JSON's own `score`
    seeds: [42, 43, 44]             # seeds every table and figure reads unless it names
                                    # its own; default: every seed among the inputs
    labels: {pf-max: Max}           # row labels by variant (or method) name; default: the
                                    # method's own label for the variant's options
                                    # (MethodSpec.label), else the variant's name
    tables:                         # the tables (default: Tables 1-6 of the paper); keys
                                    # "1".."6" or any name
      "1":
        targets: [2]                # one block per backbone and target (or `target: 2`)
        tasks: main                 # main | analysis | [task, ...]
        seeds: [42, 43, 44]         # default: the top-level seeds
        backbones: [bert]           # default: every backbone above
        rows:                       # a variant name, or an object:
          - {variant: full, reference: true}       # reference: the unaccelerated model
          - {variant: truncated, per_target: true} # reads "truncated-2x" at target 2
                                    # (both default to the method of that name's spec)
          - deebert
          - {variant: pf, label: Ours}             # label may use {backbone} {n} {m}
        caption: "..."              # text put first in the caption
    figures:
      curves: {"3": bert, "5": {backbone: roberta, seeds: [42]}}   # number -> backbone
      curve_variants: [deebert, pabee, pf]                        # lines (curve CSVs)
      curve_points: [{variant: full}, {variant: truncated, per_target: true}]  # markers
      point_targets: [2, 3]         # targets of the markers (per-target ones at each;
                                    # the others at the first)
      max_speedup: null             # clip the curves' x axis
      exit_distribution:            # Figure 4
        {number: 4, backbone: bert, target: 2, with_future: pf, without_future: pf-past,
         seeds: [42]}
      exit_accuracy:                # beyond the paper: accuracy of every exit, from the
        {backbone: minilm, variants: [deebert, pabee, pf], tasks: main, seeds: [42]}
                                    # recorded per-layer outputs (pf report --outputs)
    latency: {batch_sizes: [1, 32], variants: [pf], backbones: [bert], tasks: [mnli],
              seeds: [42]}

A cell reads exactly one metrics result per seed: (backbone, task, concrete variant, seed,
target). Nothing is looked up by method or by nearest speed-up, and nothing falls back to
another target: a missing result is an error naming it (see pf/reports/tables.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pf.errors import PfError, unknown
from pf.io import read_json, read_yaml
from pf.layout import EXIT_ACCURACY, concrete_variant
from pf.methods.registry import METHODS
from pf.tasks import TASK_ORDER, TASKS, get_task

DEFAULT_BACKBONES: tuple[str, ...] = ("bert", "roberta", "albert")

_MAIN_ROWS = ["full", "truncated", "deebert", "pabee", "pf"]

DEFAULT_TABLES: dict[str, dict[str, Any]] = {
    "1": {"targets": [2], "tasks": "main", "rows": _MAIN_ROWS,
          "caption": "Results on the GLUE dev sets at a 2.00× target speed-up."},
    "2": {"targets": [3], "tasks": "main", "rows": _MAIN_ROWS,
          "caption": "Results on the GLUE dev sets at a 3.00× target speed-up."},
    "3": {"targets": [2], "tasks": "analysis", "backbones": ["bert"],
          "rows": ["pf-voting", "pf-ensemble", "pf-max", "pf-avg", "pf-attn",
                   {"variant": "pf", "label": "Concatenation"}, "pf-lstm"],
          "caption": "Global strategies for incorporating past and future states."},
    "4": {"targets": [2, 3], "tasks": "analysis", "backbones": ["bert"],
          "rows": [{"variant": "pf-past", "label": "Global Past"},
                   {"variant": "pf", "label": "Global Past-Future"}],
          "caption": "Global past only versus global past and imitated future."},
    "5": {"targets": [2], "tasks": "main", "backbones": ["bert"],
          "rows": ["kd", "pkd", "tinybert", "pf"],
          "caption": "Distillation baselines versus ours at the same speed-up."},
    "6": {"targets": [2], "tasks": "analysis", "backbones": ["bert"],
          "rows": [{"variant": "pf-nogate", "label": "Ours w/o gate (α = 0.5)"},
                   {"variant": "pf", "label": "Ours"}],
          "caption": "Effect of the merging gate."},
}

DEFAULT_FIGURES: dict[str, Any] = {
    "curves": {"3": "bert", "5": "roberta", "6": "albert"},
    "curve_variants": ["deebert", "pabee", "pf"],
    "curve_points": ["full", "truncated"],
    "point_targets": [2, 3],
    "max_speedup": None,
    "exit_distribution": {"number": 4, "backbone": None, "target": 2, "with_future": "pf",
                          "without_future": "pf-past"},
    "exit_accuracy": None,
}

_TOP_KEYS = {"scale", "data_source", "split", "backbones", "tasks", "analysis_tasks",
             "table_metric", "seeds", "labels", "tables", "figures", "latency"}
_TABLE_KEYS = {"target", "targets", "tasks", "seeds", "rows", "caption", "backbones"}
_ROW_KEYS = {"variant", "per_target", "label", "reference"}
_CURVE_KEYS = {"backbone", "seeds"}
_EXIT_KEYS = {"number", "backbone", "target", "with_future", "without_future", "seeds"}
_LATENCY_KEYS = {"batch_sizes", "variants", "backbones", "tasks", "seeds"}
_EXIT_ACCURACY_KEYS = {"backbone", "variants", "tasks", "seeds"}


@dataclass(frozen=True)
class RowSpec:
    """One table row (or figure marker): which variant it reads and how it is labelled."""
    variant: str
    per_target: bool = False      # one model per target: reads "<variant>-<r>x" at target r
    label: str | None = None
    reference: bool = False       # the unaccelerated model: never bold, no speed-up note

    def concrete(self, target: float) -> str:
        return concrete_variant(self.variant, target, self.per_target)


@dataclass(frozen=True)
class TableSpec:
    name: str
    targets: tuple[float, ...]
    tasks: tuple[str, ...]
    rows: tuple[RowSpec, ...]
    caption: str = ""
    backbones: tuple[str, ...] | None = None    # None: every backbone of the spec
    seeds: tuple[int, ...] | None = None        # None: the spec's seeds


@dataclass(frozen=True)
class CurveFigureSpec:
    number: str
    backbone: str
    seeds: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ExitFigureSpec:
    number: str
    backbone: str | None
    target: float
    with_future: str
    without_future: str
    seeds: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ExitAccuracySpec:
    """The per-exit accuracy figure: one panel per task, accuracy of every exit of each
    variant (concrete names, in legend order) from the recorded per-layer outputs."""
    backbone: str
    variants: tuple[str, ...]
    tasks: tuple[str, ...]
    seeds: tuple[int, ...] | None = None


@dataclass(frozen=True)
class LatencySpec:
    batch_sizes: tuple[int, ...] | None = None   # None: smallest and largest found
    variants: tuple[str, ...] | None = None      # None: every variant given
    backbones: tuple[str, ...] | None = None
    tasks: tuple[str, ...] | None = None
    seeds: tuple[int, ...] | None = None


@dataclass
class ReportSpec:
    scale: str = "default"
    data_source: str = "synthetic GLUE stand-ins"
    split: str = "dev"
    backbones: dict[str, str] = field(
        default_factory=lambda: {b: b for b in DEFAULT_BACKBONES})   # name -> label
    tasks: tuple[str, ...] = TASK_ORDER
    analysis_tasks: tuple[str, ...] = ("mnli", "mrpc")
    table_metric: dict[str, str] = field(default_factory=dict)
    seeds: tuple[int, ...] | None = None
    labels: dict[str, str] = field(default_factory=dict)
    tables: dict[str, TableSpec] = field(default_factory=dict)
    curve_figures: dict[str, CurveFigureSpec] = field(default_factory=dict)
    curve_variants: tuple[str, ...] = ()
    curve_points: tuple[RowSpec, ...] = ()
    point_targets: tuple[float, ...] = ()
    max_speedup: float | None = None
    exit_figure: ExitFigureSpec | None = None
    exit_accuracy: ExitAccuracySpec | None = None
    latency: LatencySpec = field(default_factory=LatencySpec)

    # ---- display helpers
    def backbone_label(self, backbone: str) -> str:
        return self.backbones.get(backbone, backbone)

    def label_template(self, variant: str, method: str,
                       options: dict[str, Any] | None = None) -> str:
        """The label of a variant: the spec's (by variant, then by method name), else its
        method's own label for `options` (pf.methods.registry), else the variant's name."""
        for key in (variant, method):
            if key in self.labels:
                return self.labels[key]
        if method in METHODS:
            return METHODS[method].label_for(options)
        return variant

    def format_label(self, template: str, backbone: str, n: int | None = None,
                     m: int | None = None) -> str:
        try:
            return template.format(backbone=self.backbone_label(backbone),
                                   n="?" if n is None else n, m="?" if m is None else m)
        except (KeyError, IndexError, ValueError):
            raise PfError(f"label {template!r}: use only {{backbone}}, {{n}} and {{m}}") from None

    def table(self, name: str) -> TableSpec:
        name = str(name)
        if name not in self.tables:
            raise unknown("table", name, self.tables)
        return self.tables[name]

    def task_set(self, which: Any, where: str) -> tuple[str, ...]:
        if which in (None, "main", "all"):
            names = self.tasks
        elif which == "analysis":
            names = self.analysis_tasks
        elif isinstance(which, (list, tuple)):
            names = tuple(_task_name(t, where) for t in which)
        else:
            raise PfError(f"{where}: 'tasks' must be main, analysis or a list, got {which!r}")
        return order_tasks(names)

    def figure_numbers(self) -> list[str]:
        nums = set(self.curve_figures)
        if self.exit_figure is not None:
            nums.add(self.exit_figure.number)
        if self.exit_accuracy is not None:
            nums.add(EXIT_ACCURACY)
        return sorted(nums, key=lambda s: (int(s) if s.isdigit() else 99, s))


def order_tasks(names) -> tuple[str, ...]:
    """Paper order (pf.tasks.TASK_ORDER), unknown names last."""
    names = list(dict.fromkeys(names))
    return tuple(sorted(names, key=lambda t: (TASK_ORDER.index(t) if t in TASK_ORDER
                                               else len(TASK_ORDER), t)))


def _task_name(name: Any, where: str) -> str:
    try:
        return get_task(str(name)).name
    except PfError as err:
        raise PfError(f"{where}: {err}") from None


def _float(value: Any, where: str) -> float:
    try:
        out = float(str(value).rstrip("x×"))
    except ValueError:
        raise PfError(f"{where}: expected a speed-up number, got {value!r}") from None
    if out <= 0:
        raise PfError(f"{where}: speed-up must be positive, got {value!r}")
    return out


def _seeds(value: Any, where: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not value:
        raise PfError(f"{where}: expected a non-empty list of seeds, got {value!r}")
    try:
        return tuple(int(s) for s in value)
    except (TypeError, ValueError):
        raise PfError(f"{where}: seeds must be whole numbers, got {value!r}") from None


def _names(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise PfError(f"{where}: expected a list, got {value!r}")
    return tuple(str(v) for v in value)


def _check_keys(obj: Any, allowed: set[str], where: str) -> dict:
    if not isinstance(obj, dict):
        raise PfError(f"{where}: expected a mapping, got {obj!r}")
    extra = sorted(set(obj) - allowed)
    if extra:
        raise unknown(f"key in {where}", extra[0], allowed)
    return obj


def parse_row(obj: Any, where: str) -> RowSpec:
    """A row: a variant name, or an object. `per_target` and `reference` default to what the
    method of that name says (MethodSpec), for a variant named after its method."""
    if isinstance(obj, str):
        obj = {"variant": obj}
    obj = _check_keys(obj, _ROW_KEYS, where)
    if not isinstance(obj.get("variant"), str):
        raise PfError(f"{where}: a row needs 'variant' (one variant name)")
    method = METHODS.get(obj["variant"])
    label = obj.get("label")
    return RowSpec(variant=obj["variant"],
                   per_target=bool(obj.get("per_target", method is not None and method.per_target)),
                   label=None if label is None else str(label),
                   reference=bool(obj.get("reference", method is not None and method.reference)))


def parse_table(name: str, obj: Any, spec: ReportSpec, where: str) -> TableSpec:
    where = f"{where}: tables.{name}"
    obj = _check_keys(obj, _TABLE_KEYS, where)
    if "targets" in obj:
        targets = obj["targets"]
        if not isinstance(targets, (list, tuple)) or not targets:
            raise PfError(f"{where}.targets: expected a non-empty list")
        targets = tuple(_float(t, f"{where}.targets") for t in targets)
    else:
        targets = (_float(obj.get("target", 2.0), f"{where}.target"),)
    rows = obj.get("rows")
    if not isinstance(rows, (list, tuple)) or not rows:
        raise PfError(f"{where}.rows: expected a non-empty list")
    return TableSpec(
        name=str(name), targets=targets, tasks=spec.task_set(obj.get("tasks"), where),
        rows=tuple(parse_row(r, f"{where}.rows[{i}]") for i, r in enumerate(rows)),
        caption=str(obj.get("caption", "")),
        backbones=_names(obj.get("backbones"), f"{where}.backbones"),
        seeds=_seeds(obj.get("seeds"), f"{where}.seeds"))


def _parse_figures(obj: Any, spec: ReportSpec, where: str) -> None:
    figures = dict(DEFAULT_FIGURES)
    figures.update(_check_keys(obj or {}, set(DEFAULT_FIGURES), f"{where}: figures"))
    where = f"{where}: figures"
    curves = {}
    if not isinstance(figures["curves"] or {}, dict):
        raise PfError(f"{where}.curves: expected a mapping figure number -> backbone")
    for number, value in (figures["curves"] or {}).items():
        if isinstance(value, str):
            value = {"backbone": value}
        value = _check_keys(value, _CURVE_KEYS, f"{where}.curves.{number}")
        curves[str(number)] = CurveFigureSpec(
            str(number), str(value["backbone"]),
            _seeds(value.get("seeds"), f"{where}.curves.{number}.seeds"))
    spec.curve_figures = curves
    spec.curve_variants = _names(figures["curve_variants"], f"{where}.curve_variants") or ()
    spec.curve_points = tuple(parse_row(r, f"{where}.curve_points[{i}]")
                              for i, r in enumerate(figures["curve_points"] or []))
    spec.point_targets = tuple(_float(t, f"{where}.point_targets")
                               for t in figures["point_targets"] or [])
    spec.max_speedup = (None if figures["max_speedup"] is None
                        else _float(figures["max_speedup"], f"{where}.max_speedup"))
    acc = figures["exit_accuracy"]
    spec.exit_accuracy = None
    if acc is not None:
        acc = _check_keys(acc, _EXIT_ACCURACY_KEYS, f"{where}.exit_accuracy")
        for key in ("backbone", "variants"):
            if key not in acc:
                raise PfError(f"{where}.exit_accuracy: '{key}' is required")
        spec.exit_accuracy = ExitAccuracySpec(
            backbone=str(acc["backbone"]),
            variants=_names(acc["variants"], f"{where}.exit_accuracy.variants") or (),
            tasks=spec.task_set(acc.get("tasks"), f"{where}.exit_accuracy"),
            seeds=_seeds(acc.get("seeds"), f"{where}.exit_accuracy.seeds"))
    exit_fig = figures["exit_distribution"]
    if exit_fig is None:
        spec.exit_figure = None
        return
    exit_fig = {**DEFAULT_FIGURES["exit_distribution"],
                **_check_keys(exit_fig, _EXIT_KEYS, f"{where}.exit_distribution")}
    spec.exit_figure = ExitFigureSpec(
        number=str(exit_fig["number"]),
        backbone=None if exit_fig["backbone"] is None else str(exit_fig["backbone"]),
        target=_float(exit_fig["target"], f"{where}.exit_distribution.target"),
        with_future=str(exit_fig["with_future"]),
        without_future=str(exit_fig["without_future"]),
        seeds=_seeds(exit_fig.get("seeds"), f"{where}.exit_distribution.seeds"))


def spec_from_dict(obj: Any, where: str = "report spec") -> ReportSpec:
    obj = _check_keys({} if obj is None else obj, _TOP_KEYS, where)
    spec = ReportSpec()
    for key in ("scale", "data_source", "split"):
        if key in obj:
            setattr(spec, key, str(obj[key]))
    if "backbones" in obj:
        bb = obj["backbones"]
        if isinstance(bb, (list, tuple)):
            bb = {str(b): None for b in bb}
        if not isinstance(bb, dict) or not bb:
            raise PfError(f"{where}: 'backbones' must be a non-empty list or mapping")
        spec.backbones = {}
        for name, value in bb.items():
            if isinstance(value, dict):
                value = _check_keys(value, {"label"}, f"{where}: backbones.{name}").get("label")
            spec.backbones[str(name)] = str(name) if value is None else str(value)
    if "tasks" in obj:
        spec.tasks = order_tasks(_task_name(t, f"{where}: tasks") for t in obj["tasks"])
    if "analysis_tasks" in obj:
        spec.analysis_tasks = order_tasks(
            _task_name(t, f"{where}: analysis_tasks") for t in obj["analysis_tasks"])
    if "table_metric" in obj:
        tm = obj["table_metric"] or {}
        if not isinstance(tm, dict):
            raise PfError(f"{where}: 'table_metric' must map task -> metric name")
        spec.table_metric = {_task_name(k, f"{where}: table_metric"): str(v)
                             for k, v in tm.items()}
        for task, metric in spec.table_metric.items():
            if metric not in TASKS[task].metrics:
                raise unknown(f"metric for task {task} in {where}: table_metric", metric,
                              TASKS[task].metrics)
    spec.seeds = _seeds(obj.get("seeds"), f"{where}: seeds")
    if "labels" in obj:
        spec.labels = {str(k): str(v) for k, v in (obj["labels"] or {}).items()}
    tables = obj.get("tables") or DEFAULT_TABLES     # a spec's tables replace the defaults
    spec.tables = {k: parse_table(k, v, spec, where) for k, v in tables.items()}
    _parse_figures(obj.get("figures"), spec, where)
    lat = _check_keys(obj.get("latency") or {}, _LATENCY_KEYS, f"{where}: latency")
    spec.latency = LatencySpec(
        batch_sizes=(None if lat.get("batch_sizes") is None
                     else tuple(int(b) for b in lat["batch_sizes"])),
        variants=_names(lat.get("variants"), f"{where}: latency.variants"),
        backbones=_names(lat.get("backbones"), f"{where}: latency.backbones"),
        tasks=(None if lat.get("tasks") is None
               else order_tasks(_task_name(t, f"{where}: latency.tasks") for t in lat["tasks"])),
        seeds=_seeds(lat.get("seeds"), f"{where}: latency.seeds"))
    return spec


def load_spec(path: str | os.PathLike | None) -> ReportSpec:
    """Read a ReportSpec from YAML or JSON; None -> the defaults."""
    if path is None:
        return spec_from_dict({})
    path = Path(path)
    obj = read_json(path) if path.suffix == ".json" else read_yaml(path)
    return spec_from_dict(obj, str(path))
