"""The accuracy of every exit (beyond the paper), from the recorded per-layer outputs.

`exit_accuracy_frame` reads the outputs files
`{results}/outputs/{backbone}/{task}/{variant}/seed{seed}/{split}.safetensors` (exactly the
files given) into a tidy frame: one row per exit, with the majority-class accuracy and
whether that exit alone is degenerate by the metrics' rule (pf.metrics_schema
.degenerate_reason), and why. `exit_accuracy_figure` draws it: lines for multi-exit variants
(mean over the seeds, band = min..max), markers for single-exit ones, the majority-class
accuracy and majority + 10 points as reference lines, one panel per task; an exit that is
degenerate in any seed is drawn hollow. `write_exit_accuracy` writes both as
exit_accuracy.png and exit_accuracy.csv.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pf.errors import PfError
from pf.layout import EXIT_ACCURACY, outputs_path
from pf.metrics_schema import degenerate_reason
from pf.reports.plotting import (MARKERS, Figure, WrittenFigure, pyplot, row_major,
                                 task_panels, wrap, write_png)
from pf.reports.spec import ReportSpec
from pf.tasks import TASKS

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
    metrics' rule), degenerate_reason (why, in words; empty when not), n_examples; sorted."""
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
            reason = degenerate_reason(counts, accuracy, majority)
            rows.append({"backbone": key.backbone, "task": key.task, "variant": key.variant,
                         "method": out.method, "seed": key.seed, "split": split,
                         "layer": int(layer), "accuracy": accuracy, "majority": majority,
                         "degenerate": reason is not None, "degenerate_reason": reason or "",
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

    plt = pyplot()
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
    degenerate = [f"{r.task}/{r.variant}/seed{r.seed} exit {r.layer}: {r.degenerate_reason}"
                  for r in flagged.itertuples()]
    with sns.axes_style("whitegrid"), plt.rc_context({"font.size": 9}):
        fig, panels = task_panels(plt, len(tasks), 3.4, 0.9)
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
        labels, hs, ncol = row_major(list(handles), list(handles.values()),
                                      max(len(lines) + len(points), 1))
        fig.legend(hs, labels, loc="outside lower center", ncols=min(ncol, 4), frameon=False)
        listed = ", ".join(map(str, seeds))
        note = (f"{spec.split} split; seed {listed}" if len(seeds) == 1 else
                f"{spec.split} split; mean of {len(seeds)} seeds ({listed}), band: min to max")
        if degenerate:
            note += "; hollow marker: degenerate exit" + (
                " (in at least one seed)" if len(seeds) > 1 else "")
        fig.suptitle(f"Accuracy of every exit, {spec.backbone_label(cfg.backbone)}\n"
                     f"{wrap(note, fig)}", fontsize=9)
    return Figure(fig, degenerate)


def write_exit_accuracy(paths: Iterable[str | os.PathLike], spec: ReportSpec,
                        out_dir: str | os.PathLike) -> WrittenFigure:
    """exit_accuracy.png and exit_accuracy.csv (the frame, per seed) in `out_dir`."""
    from pf.io import atomic_write_text

    out_dir = Path(out_dir)
    frame = exit_accuracy_frame(paths)
    written = write_png(exit_accuracy_figure(frame, spec), out_dir / f"{EXIT_ACCURACY}.png")
    csv = out_dir / f"{EXIT_ACCURACY}.csv"
    atomic_write_text(csv, frame.to_csv(index=False, float_format="%.6f", lineterminator="\n"))
    return WrittenFigure(written.paths + [csv], written.degenerate)
