"""What every figure of the reports shares: matplotlib's Agg backend, deterministic PNG
files, one panel per task, the legend order, the subtitle's notes, and the typed results
(`Figure`, `WrittenFigure`) that carry the degenerate results a figure shows to the report's
warning. The figures themselves: pf/reports/figures.py (the paper's) and
pf/reports/exit_accuracy.py (the accuracy of every exit)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from pf.io import atomic_path

DPI = 150
PNG_METADATA = {"Software": None}    # no version string: the same figure, the same bytes
# markers of the single-speed-up models, in turn
MARKERS = ("s", "D", "^", "v", "P", "X", "*", "o")


@dataclass
class Figure:
    """A drawn figure and the degenerate results it shows (for the report's warning)."""
    fig: object
    degenerate: list[str]


@dataclass
class WrittenFigure:
    """The files of a figure and the degenerate results it shows (for the report's warning)."""
    paths: list[Path]
    degenerate: list[str]


def pyplot():
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


def write_png(drawn: Figure, path: str | os.PathLike) -> WrittenFigure:
    """Save a drawn figure as PNG and close it, whether or not the saving worked."""
    try:
        return WrittenFigure([save_png(drawn.fig, path)], drawn.degenerate)
    finally:
        pyplot().close(drawn.fig)


def task_panels(plt, n: int, panel_width: float, legend_room: float):
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


def row_major(labels: list[str], handles: list, ncol: int) -> tuple[list[str], list, int]:
    """Reorder legend entries so that matplotlib's column-major filling reads row by row
    (lines on the first row, the static models' markers on the next)."""
    ncol = max(1, min(ncol, len(labels)))
    nrow = math.ceil(len(labels) / ncol)
    order = [r * ncol + c for c in range(ncol) for r in range(nrow) if r * ncol + c < len(labels)]
    if len(order) != len(labels):  # ragged last row: keep the given order
        return labels, handles, ncol
    return [labels[i] for i in order], [handles[i] for i in order], ncol


def seeds_note(seeds: tuple[int, ...], curves: bool) -> str:
    listed = ", ".join(map(str, seeds))
    if len(seeds) == 1:
        return f"seed {listed}"
    if curves:
        return (f"mean of {len(seeds)} seeds ({listed}), each curve interpolated on a common "
                f"speed-up grid")
    return f"summed over {len(seeds)} seeds ({listed})"


def wrap(text: str, fig) -> str:
    """`text` in lines that fit the figure's width at font size 9."""
    import textwrap

    return textwrap.fill(text, width=int(12 * fig.get_figwidth()))
