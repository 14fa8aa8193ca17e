"""The paper's figures as PNG (matplotlib Agg backend, seaborn styling).

- Figures 3, 5, 6 (`curve_figure`): score versus speed-up, one figure per backbone
  (`spec.figures["curves"]` maps figure number -> backbone), one panel per analysis task.
  Lines: the trade-off curve CSVs `{results}/curves/{backbone}/{task}/{variant}/seed{seed}.csv`
  of `spec.figures["curve_variants"]` (one line per seed, later seeds fainter); markers: the
  static models of `spec.figures["curve_points"]` (truncated, full...) from the metrics frame
  at their achieved speed-up (mean over seeds).
- Figure 4 (`exit_distribution_figure`): share of examples exiting at each layer, with
  future information (`with_future`, default `pf`) and without (`without_future`, default
  `pf-past`), at one target, summed over seeds; one panel per analysis task.

Output is deterministic: fixed size and dpi, no timestamp or software metadata.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from pf.errors import PfError
from pf.io import atomic_path
from pf.reports.spec import ReportSpec, RowSpec
from pf.tasks import TASKS

DPI = 150
PNG_METADATA = {"Software": None}

_SPEEDUP_COLS = ("speedup", "speed_up", "achieved_speedup", "layer_speedup")
_SCORE_COLS = ("score", "metric_value", "value", "accuracy")
_PARAM_COLS = ("param", "rule_param", "threshold", "tau", "patience")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: str | os.PathLike) -> Path:
    """Write `fig` as PNG atomically, without timestamps or version metadata."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata=PNG_METADATA)
    return path


# ------------------------------------------------------------------- curve files

def read_curve_csv(path: str | os.PathLike, metric: str | None = None):
    """One curve CSV (pf/curves.py: param, speedup, one column per metric) -> frame with
    columns rule_param, speedup, score (score = the `metric` column, in [0, 1]; a `score`
    column is accepted when the metric has none)."""
    import pandas as pd

    path = Path(path)
    try:
        raw = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise PfError(f"{path}: not a readable CSV ({err})") from None
    cols = {c.lower(): c for c in raw.columns}

    def pick(names: tuple[str, ...], what: str, required: bool = True) -> str | None:
        for n in names:
            if n in cols:
                return cols[n]
        if required:
            raise PfError(f"{path}: missing column '{what}' (looked for {', '.join(names)})")
        return None

    sp = pick(_SPEEDUP_COLS, "speedup")
    sc = pick(((metric,) if metric else ()) + _SCORE_COLS, metric or "score")
    pr = pick(_PARAM_COLS, "rule_param", required=False)
    out = pd.DataFrame({"speedup": raw[sp].astype(float), "score": raw[sc].astype(float)})
    out["rule_param"] = raw[pr].astype(float) if pr else float("nan")
    return out


def load_curves(results: str | os.PathLike, backbone: str, task: str, variant: str,
                metric: str | None = None):
    """All seeds' curves of one (backbone, task, variant): frame with a `seed` column."""
    import pandas as pd

    root = Path(results) / "curves" / backbone / task / variant
    frames = []
    for path in sorted(root.glob("seed*.csv")):
        stem = path.stem[4:]
        if not stem.lstrip("-").isdigit():
            continue
        f = read_curve_csv(path, metric)
        f["seed"] = int(stem)
        frames.append(f)
    if not frames:
        return None
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------- helpers

def _task_metric(frame, spec: ReportSpec, task: str) -> str:
    if task in spec.table_metric:
        return spec.table_metric[task]
    if frame is not None and len(frame):
        names = sorted(set(frame.loc[frame["task"] == task, "metric"].astype(str)))
        if len(names) == 1:
            return names[0]
    return TASKS[task].metrics[0] if task in TASKS else "score"


def _metric_axis_label(metric: str) -> str:
    nice = {"accuracy": "Accuracy", "f1": "F1", "mcc": "MCC"}.get(metric, metric.capitalize())
    return f"{nice} (%)"


def _label(spec: ReportSpec, variant: str, method: str, backbone: str, n=None, m=None) -> str:
    t = spec.label_template(variant, method)
    try:
        return t.format(backbone=spec.backbone_display(backbone),
                        full=spec.backbone_full(backbone),
                        n="?" if n is None else n, m="?" if m is None else m)
    except (KeyError, IndexError, ValueError):
        return variant


def _point_variants(frame, backbone: str, sel: RowSpec) -> list[str]:
    bb = frame[frame["backbone"] == backbone]
    if sel.variants:
        return [v for v in sel.variants if v in set(bb["variant"])]
    names = sorted(set(bb.loc[bb["method"] == sel.method, "variant"]))
    return sorted(names, key=lambda v: (float(bb.loc[bb["variant"] == v, "speedup"].mean()), v))


def _grid(n: int) -> tuple[int, int]:
    ncols = min(n, 3)
    return math.ceil(n / ncols), ncols


# ------------------------------------------------------------------- figures 3, 5, 6

def curve_figure(frame, spec: ReportSpec, results: str | os.PathLike, backbone: str,
                 number: int | str = 3):
    """Score vs speed-up for one backbone; returns the matplotlib Figure."""
    import seaborn as sns

    plt = _pyplot()
    tasks = spec.analysis_tasks
    variants = [str(v) for v in spec.figures.get("curve_variants") or []]
    max_sp = spec.figures.get("max_speedup")
    points = spec.figures.get("curve_points") or []
    if frame is not None and len(frame) and spec.seeds is not None:
        frame = frame[frame["seed"].isin(list(spec.seeds))]
    nrows, ncols = _grid(len(tasks))
    palette = sns.color_palette("colorblind", len(variants) + len(points) + 4)
    markers = ["s", "D", "^", "v", "P", "X", "*", "o"]
    drawn_any = False
    with sns.axes_style("whitegrid"), plt.rc_context({"font.size": 9}):
        fig, axes = plt.subplots(nrows, ncols, figsize=(max(6.0, 3.4 * ncols), 2.9 * nrows + 0.5 + 0.3 * (ncols == 1)),
                                 squeeze=False, layout="constrained")
        handles: dict[str, Any] = {}
        for k, task in enumerate(tasks):
            ax = axes[k // ncols][k % ncols]
            for i, variant in enumerate(variants):
                curves = load_curves(results, backbone, task, variant,
                                     _task_metric(frame, spec, task))
                if curves is None:
                    continue
                method = variant
                if frame is not None and len(frame):
                    m = frame.loc[(frame["backbone"] == backbone)
                                  & (frame["variant"] == variant), "method"]
                    method = str(m.iloc[0]) if len(m) else variant
                label = _label(spec, variant, method, backbone)
                for j, seed in enumerate(sorted(set(curves["seed"]))):
                    c = curves[curves["seed"] == seed].sort_values(
                        ["speedup", "score"], kind="stable")
                    if max_sp:
                        c = c[c["speedup"] <= float(max_sp) + 1e-9]
                    (line,) = ax.plot(c["speedup"], 100.0 * c["score"], color=palette[i],
                                      lw=1.6 if j == 0 else 1.0, alpha=1.0 if j == 0 else 0.4,
                                      marker="o", ms=2.5)
                    handles.setdefault(label, line)
                    drawn_any = True
            if frame is not None and len(frame):
                tf = frame[(frame["backbone"] == backbone) & (frame["task"] == task)]
                mk = 0
                for sel in points:
                    for variant in _point_variants(frame, backbone, sel):
                        sub = tf[tf["variant"] == variant].drop_duplicates(["seed"])
                        if not len(sub):
                            continue
                        sp = float(sub["speedup"].mean())
                        n = int(sub["n_layers"].iloc[0])
                        label = sel.label or _label(spec, variant, str(sub["method"].iloc[0]),
                                                    backbone, n, round(n / sp))
                        col = _score_col(frame, spec, task)
                        h = ax.scatter([sp], [100.0 * float(sub[col].mean())], s=42,
                                       marker=markers[mk % len(markers)], color="black",
                                       zorder=5)
                        mk += 1
                        handles.setdefault(label, h)
                        drawn_any = True
            ax.set_title(TASKS[task].display if task in TASKS else task)
            ax.set_xlabel("Speed-up (×)")
            ax.set_ylabel(_metric_axis_label(_task_metric(frame, spec, task)))
        for k in range(len(tasks), nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        if not drawn_any:
            plt.close(fig)
            raise PfError(f"figure {number}: no curves or points for backbone '{backbone}' "
                          f"(looked in {Path(results) / 'curves' / backbone})")
        labels, hs, ncol = _row_major(list(handles), list(handles.values()),
                                      max(len(variants), 1))
        fig.legend(hs, labels, loc="outside lower center", ncols=ncol, frameon=False)
        fig.suptitle(f"Figure {number}: score versus speed-up, "
                     f"{spec.backbone_full(backbone)}")
    return fig


def _row_major(labels: list[str], handles: list, ncol: int) -> tuple[list[str], list, int]:
    """Reorder legend entries so that matplotlib's column-major filling reads row by row
    (lines on the first row, the static models' markers on the next)."""
    ncol = max(1, min(ncol, len(labels)))
    nrow = math.ceil(len(labels) / ncol)
    order = [r * ncol + c for c in range(ncol) for r in range(nrow) if r * ncol + c < len(labels)]
    if len(order) != len(labels):  # ragged last row: keep the given order
        return labels, handles, ncol
    return [labels[i] for i in order], [handles[i] for i in order], ncol


def _score_col(frame, spec: ReportSpec, task: str) -> str:
    metric = spec.table_metric.get(task)
    col = f"metric_{metric}" if metric else "score"
    return col if col in frame.columns else "score"


# ------------------------------------------------------------------- figure 4

def exit_distribution_figure(frame, spec: ReportSpec):
    """Exit-layer distribution with and without future information (Figure 4)."""
    import numpy as np
    import seaborn as sns

    plt = _pyplot()
    cfg = spec.figures.get("exit_distribution") or {}
    number = cfg.get("number", 4)
    target = float(cfg.get("target", 2.0))
    with_v, without_v = str(cfg.get("with_future", "pf")), str(cfg.get("without_future",
                                                                        "pf-past"))
    if spec.seeds is not None:
        frame = frame[frame["seed"].isin(list(spec.seeds))]
    backbone = cfg.get("backbone")
    if backbone is None:
        have = set(frame.loc[frame["variant"] == without_v, "backbone"])
        order = [b for b in spec.backbones if b in have] + sorted(have - set(spec.backbones))
        if not order:
            raise PfError(f"figure {number}: no metrics for variant '{without_v}'")
        backbone = order[0]
    tasks = spec.analysis_tasks
    series = [(with_v, "With future (Global Past-Future)"),
              (without_v, "Without future (Global Past)")]
    nrows, ncols = _grid(len(tasks))
    colors = sns.color_palette("colorblind", 2)
    with sns.axes_style("whitegrid"), plt.rc_context({"font.size": 9}):
        fig, axes = plt.subplots(nrows, ncols, figsize=(max(6.0, 3.6 * ncols), 2.9 * nrows + 0.5 + 0.3 * (ncols == 1)),
                                 squeeze=False, layout="constrained")
        handles = {}
        for k, task in enumerate(tasks):
            ax = axes[k // ncols][k % ncols]
            means = []
            for i, (variant, label) in enumerate(series):
                sub = frame[(frame["backbone"] == backbone) & (frame["task"] == task)
                            & (frame["variant"] == variant)
                            & ((frame["target"] - target).abs() < 1e-6)]
                if not len(sub):
                    raise PfError(f"figure {number}: no metrics for {backbone}/{task}/"
                                  f"{variant} at target {target:.2f}×")
                counts = np.zeros(max(len(c) for c in sub["exit_counts"]), dtype=float)
                for c in sub["exit_counts"]:
                    counts[: len(c)] += np.asarray(c, dtype=float)
                total = counts.sum()
                if total <= 0:
                    raise PfError(f"figure {number}: {backbone}/{task}/{variant}: "
                                  f"exit_counts are all zero")
                share = 100.0 * counts / total
                layers = np.arange(1, len(counts) + 1)
                means.append(float((layers * counts).sum() / total))
                width = 0.4
                h = ax.bar(layers + (i - 0.5) * width, share, width=width, color=colors[i],
                           label=label)
                handles.setdefault(label, h)
                ax.set_xticks(layers)
            ax.set_title(f"{TASKS[task].display if task in TASKS else task}\n"
                         f"mean exit layer {means[0]:.2f} (with) / {means[1]:.2f} (without)",
                         fontsize=9)
            ax.set_xlabel("Exit layer")
            ax.set_ylabel("Examples (%)")
        for k in range(len(tasks), nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center",
                   ncols=2, frameon=False)
        fig.suptitle(f"Figure {number}: exit layers, {spec.backbone_full(backbone)}, "
                     f"target {target:.2f}×")
    return fig


# ------------------------------------------------------------------- entry point

def figure_numbers(spec: ReportSpec) -> list[str]:
    cfg = spec.figures.get("exit_distribution") or {}
    nums = set(spec.figures.get("curves", {})) | {str(cfg.get("number", 4))}
    return sorted(nums, key=lambda s: (int(s) if s.isdigit() else 99, s))


def render_figure(number: int | str, frame, spec: ReportSpec,
                  results: str | os.PathLike | None, out: str | os.PathLike) -> Path:
    """Draw figure `number` and write it to `out` (PNG)."""
    plt = _pyplot()
    number = str(number)
    curves = spec.figures.get("curves", {})
    dist = spec.figures.get("exit_distribution") or {}
    if number in curves:
        if results is None:
            raise PfError(f"figure {number}: needs the results directory (--results) "
                          f"for the curve CSVs")
        fig = curve_figure(frame, spec, results, curves[number], number)
    elif number == str(dist.get("number", 4)):
        fig = exit_distribution_figure(frame, spec)
    else:
        from pf.errors import unknown

        raise unknown("figure", number, figure_numbers(spec))
    try:
        return save_png(fig, out)
    finally:
        plt.close(fig)
