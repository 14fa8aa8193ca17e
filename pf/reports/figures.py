"""The paper's figures as PNG (matplotlib Agg backend, seaborn styling).

- Figures 3, 5, 6 (`curve_figure`): score versus speed-up for one backbone
  (`spec.curve_figures`), one panel per analysis task. Lines: the trade-off curve CSVs
  `{results}/curves/{backbone}/{task}/{variant}/seed{seed}.csv` of `spec.curve_variants`,
  exactly the files given, for exactly the figure's seeds: one seed's curve as it is, or
  with several seeds their mean, each seed's curve linearly interpolated on a common grid of
  speed-ups (the range all seeds cover). Markers: the static models of `spec.curve_points`
  from the metrics frame (mean over the seeds; hollow when a seed's model is degenerate).
- Figure 4 (`exit_distribution_figure`): share of examples exiting at each layer, with
  future information (`with_future`) and without (`without_future`), at one target, summed
  over the figure's seeds; one panel per analysis task.
- The accuracy of every exit (beyond the paper) is drawn by pf/reports/exit_accuracy.py;
  what all figures share is in pf/reports/plotting.py.
The figure's subtitle says which seeds it shows and how they were combined. Output is
deterministic: fixed size and dpi, no timestamp or software metadata.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pf.errors import PfError
from pf.layout import curve_path
from pf.reports.plotting import (MARKERS, Figure, WrittenFigure, pyplot, row_major,
                                 seeds_note, task_panels, wrap, write_png)
from pf.reports.results import MetricsIndex, ResultKey, degenerate_results, resolve_seeds
from pf.reports.spec import CurveFigureSpec, ReportSpec
from pf.tasks import TASKS

GRID_POINTS = 200     # speed-ups of the common grid of a mean curve


# ------------------------------------------------------------------- curve files

@dataclass(frozen=True, order=True)
class CurveKey:
    backbone: str
    task: str
    variant: str
    seed: int

    def path(self) -> str:
        return curve_path(self.backbone, self.task, self.variant, self.seed)


def curve_key(path: Path) -> CurveKey:
    """The key of a curve file from its path `.../curves/{b}/{t}/{v}/seed{s}.csv`."""
    parts = path.parts
    stem = path.stem
    if (len(parts) < 5 or parts[-5] != "curves" or path.suffix != ".csv"
            or not stem.startswith("seed") or not stem[4:].isdigit()):
        raise PfError(f"{path}: not a curve file (expected .../curves/BACKBONE/TASK/VARIANT/"
                      f"seedN.csv, as `pf curve` writes them in the workflow)")
    return CurveKey(parts[-4], parts[-3], parts[-2], int(stem[4:]))


def read_curve_csv(path: str | os.PathLike, metric: str):
    """One curve CSV of `pf curve` -> frame with columns speedup, score (the `metric` column,
    a fraction), sorted by speed-up."""
    import pandas as pd

    path = Path(path)
    try:
        raw = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError,
            UnicodeDecodeError) as err:
        raise PfError(f"{path}: not a readable CSV ({err})") from None
    for col in ("backbone", "task", "speedup", metric):
        if col not in raw.columns:
            raise PfError(f"{path}: missing column '{col}'")
    if not len(raw):
        raise PfError(f"{path}: no curve points")
    key = curve_key(path)
    for col in ("backbone", "task"):
        found = set(raw[col].astype(str))
        if found != {getattr(key, col)}:
            raise PfError(f"{path}: column '{col}' says {sorted(found)} but the path says "
                          f"{getattr(key, col)!r}")
    out = pd.DataFrame({"speedup": raw["speedup"].astype(float),
                        "score": raw[metric].astype(float)})
    # one score per speed-up (the mean where a curve repeats a speed-up)
    return out.groupby("speedup", as_index=False)["score"].mean().sort_values("speedup")


class CurveFiles:
    """The curve CSVs given to a report, by key; `require` names every missing one."""

    def __init__(self, paths: Iterable[str | os.PathLike]):
        self._paths: dict[CurveKey, Path] = {}
        for path in map(Path, paths):
            key = curve_key(path)
            if key in self._paths:
                raise PfError(f"{path}: curve {key.path()} is given twice")
            self._paths[key] = path

    def require(self, keys: list[CurveKey], what: str) -> dict[CurveKey, Path]:
        missing = sorted({k for k in keys if k not in self._paths})
        if missing:
            listed = "; ".join(k.path() for k in missing[:12])
            raise PfError(f"{what}: {len(missing)} curve file(s) missing from the inputs: "
                          f"{listed}")
        return {k: self._paths[k] for k in keys}


def mean_curve(curves: list):
    """(speed-ups, scores) of one curve, or of the mean of several interpolated on a common
    grid over the speed-up range every curve covers."""
    import numpy as np

    if len(curves) == 1:
        return curves[0]["speedup"].to_numpy(), curves[0]["score"].to_numpy()
    lo = max(float(c["speedup"].min()) for c in curves)
    hi = min(float(c["speedup"].max()) for c in curves)
    if hi < lo:
        raise PfError("the seeds' curves cover no common speed-up range")
    grid = np.linspace(lo, hi, GRID_POINTS) if hi > lo else np.array([lo])
    scores = [np.interp(grid, c["speedup"].to_numpy(), c["score"].to_numpy()) for c in curves]
    return grid, np.mean(scores, axis=0)


# ------------------------------------------------------------------- helpers

def _task_metric(spec: ReportSpec, task: str) -> str:
    return spec.table_metric.get(task, TASKS[task].metrics[0])


def _metric_axis_label(metric: str) -> str:
    nice = {"accuracy": "Accuracy", "f1": "F1", "mcc": "MCC"}.get(metric, metric.capitalize())
    return f"{nice} (%)"


# ------------------------------------------------------------------- figures 3, 5, 6

def point_keys(spec: ReportSpec, backbone: str, task: str,
               seeds: tuple[int, ...]) -> list[tuple[object, list[ResultKey]]]:
    """(row, one key per seed) of every marker: per-target rows at each point target, the
    others at the first."""
    out = []
    targets = spec.point_targets
    for row in spec.curve_points:
        for target in (targets if row.per_target else targets[:1]):
            out.append((row, [ResultKey(backbone, task, row.concrete(target), s, target)
                              for s in seeds]))
    return out


def curve_figure(index: MetricsIndex | None, curves: CurveFiles, spec: ReportSpec,
                 cfig: CurveFigureSpec) -> Figure:
    """Score vs speed-up for one backbone."""
    import seaborn as sns

    plt = pyplot()
    number, backbone = cfig.number, cfig.backbone
    tasks = spec.analysis_tasks
    variants = list(spec.curve_variants)
    fallback = index.seeds if index is not None else None
    seeds = cfig.seeds or spec.seeds or fallback
    if not seeds:
        raise PfError(f"figure {number}: no seeds (give the spec's seeds)")
    where = f"figure {number}"
    files = curves.require([CurveKey(backbone, t, v, s) for t in tasks for v in variants
                            for s in seeds], where)
    points = {t: point_keys(spec, backbone, t, seeds) for t in tasks}
    keys = [k for t in tasks for _, ks in points[t] for k in ks]
    if keys and index is None:
        raise PfError(f"{where}: its markers ({', '.join(r.variant for r in spec.curve_points)})"
                      f" need the metrics files (--metrics)")
    found = index.require(keys, where) if keys else {}
    palette = sns.color_palette("colorblind", len(variants) + 4)
    any_degenerate = False
    with sns.axes_style("whitegrid"), plt.rc_context({"font.size": 9}):
        fig, panels = task_panels(plt, len(tasks), 3.4, 0.8)
        handles: dict[str, object] = {}
        for k, task in enumerate(tasks):
            ax = panels[k]
            metric = _task_metric(spec, task)
            for i, variant in enumerate(variants):
                frames = [read_curve_csv(files[CurveKey(backbone, task, variant, s)], metric)
                          for s in seeds]
                x, y = mean_curve(frames)
                if spec.max_speedup:
                    keep = x <= spec.max_speedup + 1e-9
                    x, y = x[keep], y[keep]
                label = spec.format_label(spec.label_template(variant, variant), backbone)
                (line,) = ax.plot(x, 100.0 * y, color=palette[i], lw=1.6,
                                  marker="o" if len(seeds) == 1 else None, ms=2.5)
                handles.setdefault(label, line)
            for j, (row, ks) in enumerate(points[task]):
                recs = [found[key] for key in ks]
                sp = sum(float(r["speedup"]) for r in recs) / len(recs)
                score = sum(_point_score(r, spec, task) for r in recs) / len(recs)
                n = int(recs[0]["n_layers"])
                label = row.label or spec.format_label(
                    spec.label_template(row.variant, str(recs[0]["method"]),
                                        recs[0].get("method_options")), backbone, n,
                    round(n / float(recs[0]["speedup"])))
                degenerate = any(bool(r["degenerate"]) for r in recs)
                any_degenerate |= degenerate
                h = ax.scatter([sp], [score], s=42, marker=MARKERS[j % len(MARKERS)],
                               facecolors="none" if degenerate else "black",
                               edgecolors="black", zorder=5)
                handles.setdefault(label, h)
            ax.set_title(TASKS[task].display)
            ax.set_xlabel("Speed-up (×)")
            ax.set_ylabel(_metric_axis_label(metric))
        labels, hs, ncol = row_major(list(handles), list(handles.values()),
                                      max(len(variants), 1))
        fig.legend(hs, labels, loc="outside lower center", ncols=ncol, frameon=False)
        note = f"Curves: {seeds_note(seeds, True)}; markers: mean over the same seeds"
        if any_degenerate:
            note += "; hollow marker: degenerate model"
        fig.suptitle(f"Figure {number}: score versus speed-up, "
                     f"{spec.backbone_label(backbone)}\n{wrap(note, fig)}", fontsize=9)
    return Figure(fig, degenerate_results(found.items()))


def _point_score(rec: dict, spec: ReportSpec, task: str) -> float:
    metric = spec.table_metric.get(task)
    if metric is None or metric == rec["metric"]:
        return 100.0 * float(rec["score"])
    return 100.0 * float(rec[f"metric_{metric}"])


# ------------------------------------------------------------------- figure 4

def exit_distribution_figure(index: MetricsIndex, spec: ReportSpec) -> Figure:
    """Exit-layer distribution with and without future information (Figure 4)."""
    import numpy as np
    import seaborn as sns

    plt = pyplot()
    cfg = spec.exit_figure
    if cfg is None:
        raise PfError("the report spec has no exit-distribution figure")
    number, target = cfg.number, cfg.target
    backbone = cfg.backbone or next(iter(spec.backbones))
    seeds = resolve_seeds(cfg.seeds, spec.seeds, index)
    tasks = spec.analysis_tasks
    series = [(cfg.with_future, "With future (Global Past-Future)"),
              (cfg.without_future, "Without future (Global Past)")]
    keys = {(t, v): [ResultKey(backbone, t, v, s, target) for s in seeds]
            for t in tasks for v, _ in series}
    found = index.require([k for ks in keys.values() for k in ks], f"figure {number}")
    colors = sns.color_palette("colorblind", 2)
    with sns.axes_style("whitegrid"), plt.rc_context({"font.size": 9}):
        fig, panels = task_panels(plt, len(tasks), 3.6, 0.8)
        handles = {}
        for k, task in enumerate(tasks):
            ax = panels[k]
            means = []
            for i, (variant, label) in enumerate(series):
                counts_list = [found[key]["exit_counts"] for key in keys[(task, variant)]]
                counts = np.zeros(max(len(c) for c in counts_list), dtype=float)
                for c in counts_list:
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
            ax.set_title(f"{TASKS[task].display}\n"
                         f"mean exit layer {means[0]:.2f} (with) / {means[1]:.2f} (without)",
                         fontsize=9)
            ax.set_xlabel("Exit layer")
            ax.set_ylabel("Examples (%)")
        fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center",
                   ncols=2, frameon=False)
        fig.suptitle(f"Figure {number}: exit layers, {spec.backbone_label(backbone)}, "
                     f"target {target:.2f}×\n{wrap('Counts ' + seeds_note(seeds, False), fig)}",
                     fontsize=9)
    return Figure(fig, degenerate_results(found.items()))


# ------------------------------------------------------------------- entry point

def render_figure(number: int | str, index: MetricsIndex | None, curves: CurveFiles,
                  spec: ReportSpec, out: str | os.PathLike) -> WrittenFigure:
    """Draw figure `number` and write it to `out` (PNG), with the degenerate results shown."""
    number = str(number)
    if number in spec.curve_figures:
        drawn = curve_figure(index, curves, spec, spec.curve_figures[number])
    elif spec.exit_figure is not None and number == spec.exit_figure.number:
        if index is None:
            raise PfError(f"figure {number}: needs the metrics files (--metrics)")
        drawn = exit_distribution_figure(index, spec)
    else:
        from pf.errors import unknown

        raise unknown("figure", number, spec.figure_numbers())
    return write_png(drawn, out)
