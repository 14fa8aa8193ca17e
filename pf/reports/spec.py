"""`ReportSpec`: what goes into each table and figure.

The workflow writes it as a YAML or JSON file (every key optional; defaults reproduce the
paper's layout with the variant names of docs/ARCHITECTURE.md)::

    scale: default                  # caption: "scale: default"
    data_source: synthetic GLUE stand-ins   # caption: where the data came from
    split: dev                      # caption: evaluation split
    backbones:                      # block order in tables; key = backbone name in results
      bert: {display: BERT, full: BERT-base}      # display = short name ("BERT-6L"),
      roberta: {display: RoBERTa, full: RoBERTa-base}   # full = the full model's row label
      albert: {display: ALBERT, full: ALBERT-base}
    # (a plain list [bert, roberta] is accepted; known names get the displays above)
    tasks: [mnli, mrpc, qnli, qqp, rte, sst2]   # main tables; shown in paper order
    analysis_tasks: [mrpc, mnli]    # Tables 3, 4, 6, Figures 3-6 ("representative subset")
    table_metric: {mrpc: f1}        # per task: which metrics.<name> a table shows;
                                    # default: the metrics JSON's own `score`
    seeds: [1, 2, 3]                # optional filter; default: every seed found
    labels: {pf-max: Max}           # row-label overrides by variant (or method) name
    tables:                         # override or add tables; keys "1".."6" or any name
      "1":
        target: 2.0                 # or `targets: [2.0, 3.0]` for one block per target
        tasks: main                 # main | analysis | [task, ...]
        rows:                       # a variant name, or a selector object:
          - {method: full}          #   by method: among the backbone's variants of that
          - {method: truncated}     #   method, the one whose achieved speed-up is closest
          - deebert                 #   to the target (static students: truncated, kd...)
          - pabee
          - {variant: pf, label: Ours}
          # other row keys: variant may be a list of candidates (first present wins);
          # label (may use {backbone} {full} {m} {n}); reference: true = not bolded
        caption: "..."              # optional text put first in the caption
    figures:
      curves: {"3": bert, "5": roberta, "6": albert}   # figure number -> backbone
      curve_variants: [deebert, pabee, pf]             # lines (curve CSVs)
      curve_points: [{method: truncated}]              # markers (metrics frame)
      max_speedup: null                                # clip curves' x axis
      exit_distribution:                               # Figure 4
        number: 4
        backbone: bert
        target: 2.0
        with_future: pf
        without_future: pf-past
    latency:
      batch_sizes: null             # default: smallest and largest found
      variants: null                # default: every variant found

Rows select metrics by (backbone, task, variant, target). A variant whose rule is "last"
(full, truncated, distillation students: one fixed speed-up) is taken at any target when it
has no file at the table's target. Row labels default to `DEFAULT_LABELS` by variant name,
then by method name, else the variant name.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pf.errors import PfError, unknown
from pf.tasks import TASK_ORDER, TASKS, get_task

KNOWN_BACKBONES: dict[str, dict[str, str]] = {
    "bert": {"display": "BERT", "full": "BERT-base"},
    "roberta": {"display": "RoBERTa", "full": "RoBERTa-base"},
    "albert": {"display": "ALBERT", "full": "ALBERT-base"},
}

DEFAULT_LABELS: dict[str, str] = {
    "full": "{full}",
    "truncated": "{backbone}-{m}L",
    "deebert": "DeeBERT",
    "pabee": "PABEE",
    "pf": "Ours",
    "pf-past": "Global Past",
    "pf-nogate": "Ours w/o gate",
    "pf-voting": "Voting",
    "pf-ensemble": "Ensemble",
    "pf-max": "Max-Pooling",
    "pf-avg": "Avg-Pooling",
    "pf-attn": "Attention",
    "pf-concat": "Concatenation",
    "pf-lstm": "LSTM",
    "kd": "KD ({m}L)",
    "pkd": "PKD ({m}L)",
    "tinybert": "TinyBERT ({m}L)",
}

_MAIN_ROWS = [{"method": "full", "reference": True}, {"method": "truncated"},
              "deebert", "pabee", "pf"]

DEFAULT_TABLES: dict[str, dict[str, Any]] = {
    "1": {"target": 2.0, "tasks": "main", "rows": _MAIN_ROWS,
          "caption": "Results on the GLUE dev sets at a 2.00× target speed-up."},
    "2": {"target": 3.0, "tasks": "main", "rows": _MAIN_ROWS,
          "caption": "Results on the GLUE dev sets at a 3.00× target speed-up."},
    "3": {"target": 2.0, "tasks": "analysis",
          "rows": ["pf-voting", "pf-ensemble", "pf-max", "pf-avg", "pf-attn",
                   {"variant": ["pf-concat", "pf"], "label": "Concatenation"}, "pf-lstm"],
          "caption": "Global strategies for incorporating past and future states."},
    "4": {"targets": [2.0, 3.0], "tasks": "analysis",
          "rows": [{"variant": "pf-past", "label": "Global Past"},
                   {"variant": "pf", "label": "Global Past-Future"}],
          "caption": "Global past only versus global past and imitated future."},
    "5": {"target": 2.0, "tasks": "main",
          "rows": [{"method": "kd"}, {"method": "pkd"}, {"method": "tinybert"}, "pf"],
          "caption": "Distillation baselines versus ours at the same speed-up."},
    "6": {"target": 2.0, "tasks": "analysis",
          "rows": [{"variant": "pf-nogate", "label": "Ours w/o gate (α = 0.5)"},
                   {"variant": "pf", "label": "Ours"}],
          "caption": "Effect of the merging gate."},
}

DEFAULT_FIGURES: dict[str, Any] = {
    "curves": {"3": "bert", "5": "roberta", "6": "albert"},
    "curve_variants": ["deebert", "pabee", "pf"],
    "curve_points": [{"method": "full"}, {"method": "truncated"}],
    "max_speedup": None,
    "exit_distribution": {"number": 4, "backbone": None, "target": 2.0,
                          "with_future": "pf", "without_future": "pf-past"},
}

_TOP_KEYS = {"scale", "data_source", "split", "backbones", "tasks", "analysis_tasks",
             "table_metric", "seeds", "labels", "tables", "figures", "latency"}
_TABLE_KEYS = {"target", "targets", "tasks", "rows", "caption", "title", "backbones"}
_ROW_KEYS = {"variant", "method", "label", "reference", "target"}


@dataclass(frozen=True)
class RowSpec:
    """One table row: which variant(s) to read and how to label it."""
    variants: tuple[str, ...] = ()     # candidates by name, first present wins
    method: str | None = None          # or: pick among variants of this method by speed-up
    label: str | None = None
    reference: bool = False            # reference rows (the full model) are never bolded
    target: float | None = None        # override the table's target for this row

    @property
    def key(self) -> str:
        return self.variants[0] if self.variants else str(self.method)


@dataclass(frozen=True)
class TableSpec:
    name: str
    targets: tuple[float, ...]
    tasks: tuple[str, ...]
    rows: tuple[RowSpec, ...]
    caption: str = ""
    backbones: tuple[str, ...] | None = None


_PLACEHOLDER: dict = {}


@dataclass
class ReportSpec:
    scale: str = "default"
    data_source: str = "synthetic GLUE stand-ins"
    split: str = "dev"
    backbones: dict[str, dict[str, str]] = field(
        default_factory=lambda: copy.deepcopy(KNOWN_BACKBONES))
    tasks: tuple[str, ...] = TASK_ORDER
    analysis_tasks: tuple[str, ...] = ("mnli", "mrpc")
    table_metric: dict[str, str] = field(default_factory=dict)
    seeds: tuple[int, ...] | None = None
    labels: dict[str, str] = field(default_factory=dict)
    tables: dict[str, TableSpec] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULT_FIGURES))
    latency: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tables is _PLACEHOLDER:
            self.tables = {}
        elif not self.tables:
            self.tables = {k: parse_table(k, v, self, "defaults")
                           for k, v in DEFAULT_TABLES.items()}

    # ---- display helpers
    def backbone_display(self, backbone: str) -> str:
        return self.backbones.get(backbone, {}).get("display", backbone)

    def backbone_full(self, backbone: str) -> str:
        return self.backbones.get(backbone, {}).get("full", self.backbone_display(backbone))

    def label_template(self, variant: str, method: str) -> str:
        for key in (variant, method):
            if key in self.labels:
                return self.labels[key]
        for key in (variant, method):
            if key in DEFAULT_LABELS:
                return DEFAULT_LABELS[key]
        return variant

    def table(self, name: str) -> TableSpec:
        name = str(name)
        if name not in self.tables:
            raise unknown("table", name, self.tables)
        return self.tables[name]

    def task_set(self, which: Any, where: str) -> tuple[str, ...]:
        if which in (None, "main"):
            names = self.tasks
        elif which == "analysis":
            names = self.analysis_tasks
        elif isinstance(which, (list, tuple)):
            names = tuple(_task_name(t, where) for t in which)
        else:
            raise PfError(f"{where}: 'tasks' must be main, analysis or a list, got {which!r}")
        return order_tasks(names)


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


def parse_row(obj: Any, where: str) -> RowSpec:
    if isinstance(obj, str):
        return RowSpec(variants=(obj,))
    if not isinstance(obj, dict):
        raise PfError(f"{where}: a row is a variant name or an object, got {obj!r}")
    extra = set(obj) - _ROW_KEYS
    if extra:
        bad = sorted(extra)[0]
        raise unknown(f"row key in {where}", bad, _ROW_KEYS)
    variants = obj.get("variant")
    if isinstance(variants, str):
        variants = (variants,)
    elif variants is None:
        variants = ()
    else:
        variants = tuple(str(v) for v in variants)
    method = obj.get("method")
    if not variants and not method:
        raise PfError(f"{where}: a row needs 'variant' or 'method'")
    if variants and method:
        raise PfError(f"{where}: give a row either 'variant' or 'method', not both")
    target = obj.get("target")
    return RowSpec(variants=variants, method=None if method is None else str(method),
                   label=obj.get("label"), reference=bool(obj.get("reference", False)),
                   target=None if target is None else _float(target, f"{where}.target"))


def parse_table(name: str, obj: Any, spec: ReportSpec, where: str) -> TableSpec:
    where = f"{where}: tables.{name}"
    if not isinstance(obj, dict):
        raise PfError(f"{where}: expected an object")
    extra = set(obj) - _TABLE_KEYS
    if extra:
        raise unknown(f"key in {where}", sorted(extra)[0], _TABLE_KEYS)
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
    backbones = obj.get("backbones")
    return TableSpec(
        name=str(name), targets=targets, tasks=spec.task_set(obj.get("tasks"), where),
        rows=tuple(parse_row(r, f"{where}.rows[{i}]") for i, r in enumerate(rows)),
        caption=str(obj.get("caption", "")),
        backbones=None if backbones is None else tuple(str(b) for b in backbones))


def spec_from_dict(obj: Any, where: str = "report spec") -> ReportSpec:
    if obj is None:
        obj = {}
    if not isinstance(obj, dict):
        raise PfError(f"{where}: expected a mapping at the top level")
    extra = set(obj) - _TOP_KEYS
    if extra:
        raise unknown(f"key in {where}", sorted(extra)[0], _TOP_KEYS)
    spec = ReportSpec(tables=_PLACEHOLDER)  # tables are parsed below, after tasks
    for key in ("scale", "data_source", "split"):
        if key in obj:
            setattr(spec, key, str(obj[key]))
    if "backbones" in obj:
        bb = obj["backbones"]
        if isinstance(bb, (list, tuple)):
            bb = {str(b): {} for b in bb}
        if not isinstance(bb, dict):
            raise PfError(f"{where}: 'backbones' must be a list or a mapping")
        spec.backbones = {}
        for name, disp in bb.items():
            disp = disp or {}
            if isinstance(disp, str):
                disp = {"display": disp}
            base = dict(KNOWN_BACKBONES.get(str(name), {"display": str(name)}))
            if "display" in disp and "full" not in disp:
                base["full"] = f"{disp['display']}-base" if name in KNOWN_BACKBONES \
                    else disp["display"]
            base.update({k: str(v) for k, v in disp.items()})
            spec.backbones[str(name)] = base
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
    if obj.get("seeds") is not None:
        spec.seeds = tuple(int(s) for s in obj["seeds"])
    if "labels" in obj:
        spec.labels = {str(k): str(v) for k, v in (obj["labels"] or {}).items()}
    tables = copy.deepcopy(DEFAULT_TABLES)
    for name, tobj in (obj.get("tables") or {}).items():
        tables[str(name)] = tobj
    spec.tables = {k: parse_table(k, v, spec, where) for k, v in tables.items()}
    figures = copy.deepcopy(DEFAULT_FIGURES)
    fobj = obj.get("figures") or {}
    if not isinstance(fobj, dict):
        raise PfError(f"{where}: 'figures' must be a mapping")
    for key, value in fobj.items():
        if key not in DEFAULT_FIGURES:
            raise unknown(f"key in {where}: figures", key, DEFAULT_FIGURES)
        if key == "exit_distribution":
            figures[key].update(value or {})
        else:
            figures[key] = value
    figures["curves"] = {str(k): str(v) for k, v in (figures["curves"] or {}).items()}
    figures["curve_points"] = [parse_row(r, f"{where}: figures.curve_points[{i}]")
                               for i, r in enumerate(figures["curve_points"] or [])]
    spec.figures = figures
    spec.latency = dict(obj.get("latency") or {})
    return spec


def load_spec(path: str | os.PathLike | None) -> ReportSpec:
    """Read a ReportSpec from YAML or JSON; None -> the defaults."""
    if path is None:
        return spec_from_dict({})
    path = Path(path)
    if not path.is_file():
        raise PfError(f"{path}: file not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as err:
            raise PfError(f"{path}: not valid JSON ({err})") from None
    else:
        import yaml
        try:
            obj = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise PfError(f"{path}: not valid YAML ({err})") from None
    return spec_from_dict(obj, str(path))
