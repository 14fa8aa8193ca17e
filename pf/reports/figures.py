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
- Per-exit accuracy (`exit_accuracy_figure`, beyond the paper): the accuracy of every exit
  of each variant on the evaluation split, from the recorded per-layer outputs
  `{results}/outputs/{backbone}/{task}/{variant}/seed{seed}/{split}.safetensors` (exactly
  the files given); lines for multi-exit variants (mean over the seeds, band = min..max),
  markers for single-exit ones, the majority-class accuracy and majority + 10 points as
  reference lines; one panel per task. An exit that is degenerate in any seed (the metrics'
  rule, pf.metrics_schema.degenerate_reason, applied to that exit alone) is drawn hollow.
  `exit_accuracy_frame` is the same numbers as a tidy table (written beside the figure as
  exit_accuracy.csv, with the `degenerate` flag of every exit).
The figure's subtitle says which seeds it shows and how they were combined. Output is
deterministic: fixed size and dpi, no timestamp or software metadata.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pf.errors import PfError
from pf.io import atomic_path
from pf.layout import EXIT_ACCURACY, curve_path, outputs_path
from pf.metrics_schema import DEGENERATE_MARGIN, DEGENERATE_SHARE, degenerate_reason
from pf.reports.results import MetricsIndex, ResultKey, degenerate_results, resolve_seeds
from pf.reports.spec import CurveFigureSpec, ReportSpec
from pf.tasks import TASKS

DPI = 150
PNG_METADATA = {"Software": None}
GRID_POINTS = 200     # speed-ups of the common grid of a mean curve


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


# markers of the single-speed-up models, in turn
MARKERS = ("s", "D", "^", "v", "P", "X", "*", "o")


def _task_panels(plt, n: int, panel_width: float, legend_room: float):
    """(figure, its n panels in reading order): one panel per task, three a row at most,
    `legend_room` inches below them for the legend and the note; spare panels hidden."""
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(6.0, panel_width * ncols),
                                                    2.9 * nrows + legend_room + 0.3 * (ncols == 1)),
                             squeeze=False, layout="constrained")
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    return fig, [axes[k // ncols][k % ncols] for k in range(n)]


def _seeds_note(seeds: tuple[int, ...], curves: bool) -> str:
    listed = ", ".join(map(str, seeds))
    if len(seeds) == 1:
        return f"seed {listed}"
    if curves:
        return (f"mean of {len(seeds)} seeds ({listed}), each curve interpolated on a common "
                f"speed-up grid")
    return f"summed over {len(seeds)} seeds ({listed})"


def _wrap(text: str, fig) -> str:
    """`text` in lines that fit the figure's width at font size 9."""
    import textwrap

    return textwrap.fill(text, width=int(12 * fig.get_figwidth()))


@dataclass
class Figure:
    """A drawn figure and the degenerate results it shows (for the report's warning)."""
    fig: object
    degenerate: list[str]


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

    plt = _pyplot()
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
        fig, panels = _task_panels(plt, len(tasks), 3.4, 0.8)
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
        labels, hs, ncol = _row_major(list(handles), list(handles.values()),
                                      max(len(variants), 1))
        fig.legend(hs, labels, loc="outside lower center", ncols=ncol, frameon=False)
        note = f"Curves: {_seeds_note(seeds, True)}; markers: mean over the same seeds"
        if any_degenerate:
            note += "; hollow marker: degenerate model"
        fig.suptitle(f"Figure {number}: score versus speed-up, "
                     f"{spec.backbone_label(backbone)}\n{_wrap(note, fig)}", fontsize=9)
    return Figure(fig, degenerate_results(found.items()))


def _point_score(rec: dict, spec: ReportSpec, task: str) -> float:
    metric = spec.table_metric.get(task)
    if metric is None or metric == rec["metric"]:
        return 100.0 * float(rec["score"])
    return 100.0 * float(rec[f"metric_{metric}"])


def _row_major(labels: list[str], handles: list, ncol: int) -> tuple[list[str], list, int]:
    """Reorder legend entries so that matplotlib's column-major filling reads row by row
    (lines on the first row, the static models' markers on the next)."""
    ncol = max(1, min(ncol, len(labels)))
    nrow = math.ceil(len(labels) / ncol)
    order = [r * ncol + c for c in range(ncol) for r in range(nrow) if r * ncol + c < len(labels)]
    if len(order) != len(labels):  # ragged last row: keep the given order
        return labels, handles, ncol
    return [labels[i] for i in order], [handles[i] for i in order], ncol


# ------------------------------------------------------------------- figure 4

def exit_distribution_figure(index: MetricsIndex, spec: ReportSpec) -> Figure:
    """Exit-layer distribution with and without future information (Figure 4)."""
    import numpy as np
    import seaborn as sns

    plt = _pyplot()
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
        fig, panels = _task_panels(plt, len(tasks), 3.6, 0.8)
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
                     f"target {target:.2f}×\n{_wrap('Counts ' + _seeds_note(seeds, False), fig)}",
                     fontsize=9)
    return Figure(fig, degenerate_results(found.items()))


# ------------------------------------------------------------------- per-exit accuracy

# The margin over the majority class drawn as a reference line (the bar of issue 12: every
# exit from layer 2 on at least 10 points above always answering the majority label).
EXIT_ACCURACY_MARGIN = 0.10


@dataclass(frozen=True, order=True)
class OutputsKey:
    backbone: str
    task: str
    variant: str
    seed: int

    def path(self, split: str) -> str:
        return outputs_path(self.backbone, self.task, self.variant, self.seed, split)


def outputs_key(path: Path) -> tuple[OutputsKey, str]:
    """(key, split) of a per-layer outputs file from its path
    `.../outputs/{b}/{t}/{v}/seed{s}/{split}.safetensors`."""
    parts = path.parts
    if (len(parts) < 6 or parts[-6] != "outputs" or path.suffix != ".safetensors"
            or not parts[-2].startswith("seed") or not parts[-2][4:].isdigit()):
        raise PfError(f"{path}: not a per-layer outputs file (expected .../outputs/BACKBONE/"
                      f"TASK/VARIANT/seedN/SPLIT.safetensors, as the workflow writes them)")
    return OutputsKey(parts[-5], parts[-4], parts[-3], int(parts[-2][4:])), path.stem


def exit_accuracy_frame(paths: Iterable[str | os.PathLike]):
    """Accuracy of every exit of every outputs file given: a frame with columns backbone,
    task, variant, method, seed, split, layer (1-based), accuracy, majority (accuracy of
    always answering the split's most frequent label), degenerate (that exit alone, by the
    metrics' rule), n_examples; sorted."""
    import numpy as np
    import pandas as pd

    from pf.layer_outputs import load_outputs

    rows = []
    seen: set[tuple[OutputsKey, str]] = set()
    for path in map(Path, paths):
        key, split = outputs_key(path)
        if (key, split) in seen:
            raise PfError(f"{path}: outputs {key.path(split)} are given twice")
        seen.add((key, split))
        out = load_outputs(path)
        for attr in ("backbone", "task", "split"):
            found = getattr(out, attr)
            want = split if attr == "split" else getattr(key, attr)
            if found != want:
                raise PfError(f"{path}: the file says {attr} {found!r} but its path says "
                              f"{want!r}")
        labels = np.asarray(out.labels, dtype=np.int64)
        n = int(labels.shape[0])
        if n == 0:
            raise PfError(f"{path}: no examples")
        majority = float(np.bincount(labels).max() / n)
        logits = np.asarray(out.logits)                                     # [N, E, C]
        predicted = logits.argmax(-1)
        correct = predicted == labels[:, None]                              # [N, E]
        for e, layer in enumerate(np.asarray(out.exit_layers).tolist()):
            accuracy = float(correct[:, e].mean())
            counts = np.bincount(predicted[:, e], minlength=logits.shape[-1]).tolist()
            rows.append({"backbone": key.backbone, "task": key.task, "variant": key.variant,
                         "method": out.method, "seed": key.seed, "split": split,
                         "layer": int(layer), "accuracy": accuracy, "majority": majority,
                         "degenerate": degenerate_reason(counts, accuracy, majority) is not None,
                         "n_examples": n})
    if not rows:
        raise PfError("the per-exit accuracy needs per-layer outputs files (--outputs)")
    frame = pd.DataFrame(rows)
    return frame.sort_values(["backbone", "task", "variant", "seed", "layer"],
                             ignore_index=True)


def exit_accuracy_figure(frame, spec: ReportSpec) -> Figure:
    """Per-exit accuracy by variant (see the module docstring), from `exit_accuracy_frame`
    of exactly the figure's files: every (task, variant, seed) it names must be there."""
    import seaborn as sns

    plt = _pyplot()
    cfg = spec.exit_accuracy
    if cfg is None:
        raise PfError("the report spec has no per-exit accuracy figure (figures.exit_accuracy)")
    where = "figure exit_accuracy"
    seeds = cfg.seeds or spec.seeds or tuple(sorted({int(s) for s in frame["seed"]}))
    have = {(r.task, r.variant, int(r.seed)) for r in frame.itertuples()
            if r.backbone == cfg.backbone}
    missing = [OutputsKey(cfg.backbone, t, v, s).path(spec.split) for t in cfg.tasks
               for v in cfg.variants for s in seeds if (t, v, s) not in have]
    if missing:
        raise PfError(f"{where}: {len(missing)} outputs file(s) missing from the inputs: "
                      f"{'; '.join(missing[:12])}")
    data = frame[(frame["backbone"] == cfg.backbone) & frame["seed"].isin(seeds)
                 & frame["task"].isin(cfg.tasks) & frame["variant"].isin(cfg.variants)]
    tasks = list(cfg.tasks)
    n_exits = data.groupby("variant")["layer"].nunique()
    lines = [v for v in cfg.variants if n_exits[v] > 1]
    points = [v for v in cfg.variants if n_exits[v] == 1]
    palette = sns.color_palette("colorblind", max(len(lines), 1))
    flagged = data[data["degenerate"]]
    degenerate = sorted({f"{r.task}/{r.variant}/seed{r.seed} exit {r.layer}: at most "
                         f"{100 * DEGENERATE_MARGIN:.0f} points above the majority class or "
                         f">= {100 * DEGENERATE_SHARE:.0f}% one class"
                         for r in flagged.itertuples()})
    with sns.axes_style("whitegrid"), plt.rc_context({"font.size": 9}):
        fig, panels = _task_panels(plt, len(tasks), 3.4, 0.9)
        handles: dict[str, object] = {}
        for k, task in enumerate(tasks):
            ax = panels[k]
            rows = data[data["task"] == task]
            majority = float(rows["majority"].iloc[0])
            n_layers = int(rows["layer"].max())
            for i, variant in enumerate(lines):
                sel = rows[rows["variant"] == variant]
                by_layer = sel.groupby("layer")["accuracy"]
                mean = by_layer.mean()
                x = mean.index.to_numpy()
                label = spec.format_label(spec.label_template(
                    variant, str(sel["method"].iloc[0])), cfg.backbone)
                (line,) = ax.plot(x, 100.0 * mean.to_numpy(), color=palette[i],
                                  lw=1.6, marker="o", ms=3)
                flagged_layers = sel.groupby("layer")["degenerate"].any()
                if flagged_layers.any():
                    bad = mean[flagged_layers]
                    ax.scatter(bad.index.to_numpy(), 100.0 * bad.to_numpy(), s=22,
                               facecolors="white", edgecolors=palette[i], lw=1.2, zorder=4)
                if len(seeds) > 1:
                    ax.fill_between(x, 100.0 * by_layer.min().to_numpy(),
                                    100.0 * by_layer.max().to_numpy(), color=palette[i],
                                    alpha=0.15, lw=0)
                handles.setdefault(label, line)
            for j, variant in enumerate(points):
                sel = rows[rows["variant"] == variant]
                method = str(sel["method"].iloc[0])
                layer = int(sel["layer"].iloc[0])
                label = spec.format_label(spec.label_template(variant, method), cfg.backbone,
                                          n_layers, layer)
                marker = MARKERS[j % len(MARKERS)]
                ax.scatter([layer], [100.0 * float(sel["accuracy"].mean())], s=40,
                           marker=marker, edgecolors="black",
                           facecolors="none" if sel["degenerate"].any() else "black", zorder=5)
                if label not in handles:   # filled in the legend, whichever panel drew it first
                    handles[label] = ax.scatter([], [], s=40, marker=marker, color="black")
            h_major = ax.axhline(100.0 * majority, color="grey", ls="--", lw=1)
            h_bar = ax.axhline(100.0 * (majority + EXIT_ACCURACY_MARGIN), color="grey",
                               ls=":", lw=1)
            handles.setdefault("majority class", h_major)
            handles.setdefault(f"majority + {100 * EXIT_ACCURACY_MARGIN:.0f} points", h_bar)
            ax.set_xticks(range(1, n_layers + 1))
            ax.set_title(TASKS[task].display)
            ax.set_xlabel("Exit layer")
            ax.set_ylabel("Accuracy (%)")
        labels, hs, ncol = _row_major(list(handles), list(handles.values()),
                                      max(len(lines) + len(points), 1))
        fig.legend(hs, labels, loc="outside lower center", ncols=min(ncol, 4), frameon=False)
        listed = ", ".join(map(str, seeds))
        note = (f"{spec.split} split; seed {listed}" if len(seeds) == 1 else
                f"{spec.split} split; mean of {len(seeds)} seeds ({listed}), band: min to max")
        if degenerate:
            note += "; hollow marker: degenerate exit (in at least one seed)"
        fig.suptitle(f"Accuracy of every exit, {spec.backbone_label(cfg.backbone)}\n"
                     f"{_wrap(note, fig)}", fontsize=9)
    return Figure(fig, degenerate)


@dataclass
class WrittenFigure:
    """The files of a figure and the degenerate results it shows (for the report's warning)."""
    paths: list[Path]
    degenerate: list[str]


def write_exit_accuracy(paths: Iterable[str | os.PathLike], spec: ReportSpec,
                        out_dir: str | os.PathLike) -> WrittenFigure:
    """exit_accuracy.png and exit_accuracy.csv (the frame, per seed) in `out_dir`."""
    from pf.io import atomic_write_text

    plt = _pyplot()
    frame = exit_accuracy_frame(paths)
    drawn = exit_accuracy_figure(frame, spec)
    out_dir = Path(out_dir)
    try:
        png = save_png(drawn.fig, out_dir / f"{EXIT_ACCURACY}.png")
    finally:
        plt.close(drawn.fig)
    csv = out_dir / f"{EXIT_ACCURACY}.csv"
    atomic_write_text(csv, frame.to_csv(index=False, float_format="%.6f", lineterminator="\n"))
    return WrittenFigure([png, csv], drawn.degenerate)


# ------------------------------------------------------------------- entry point

def render_figure(number: int | str, index: MetricsIndex | None, curves: CurveFiles,
                  spec: ReportSpec, out: str | os.PathLike) -> tuple[Path, list[str]]:
    """Draw figure `number` and write it to `out` (PNG); also the degenerate results shown."""
    plt = _pyplot()
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
    try:
        return save_png(drawn.fig, out), drawn.degenerate
    finally:
        plt.close(drawn.fig)
