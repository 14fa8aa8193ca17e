"""The paper's tables from a tidy metrics frame.

Tables 1-6 are all `score_table` with the `TableSpec` of the `ReportSpec` (see
pf/reports/spec.py); the latency table is `latency_table` over the frame of
`collect_latency`. A table reads exactly the results its spec names (pf/reports/results.py):
backbones x tasks x rows x seeds at each target; a missing one is an error naming it.

Cells: scores in percent with one decimal, "mean ± std" (sample std over the table's seeds)
when it has several. The "Avg." column averages the tasks per seed, then over seeds. The
"Speed-up" column is the achieved speed-up averaged over the row's tasks and seeds.
- A cell whose achieved speed-up (mean over seeds) differs from the target by more than
  `SPEEDUP_TOLERANCE` (relative) states it: "62.3 (2.85×)".
- Bold: the best displayed score per block and column among the accelerated rows whose cell
  lies within that tolerance (for "Avg.": whose every task cell does).
- A cell with a degenerate model in any seed (pf.metrics_schema), and the "Avg." of its row,
  carries a dagger and is never bold; the caption has a footnote and `Table.degenerate`
  names each such result for the report's warning.

`Table.write(out_dir)` writes `{name}.tex` (booktabs), `{name}.md` and `{name}.csv`: one
row per cell, columns block, row, column, mean, std, n_seeds, speedup, degenerate (what
`pf diff` compares).
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pf.errors import PfError
from pf.io import atomic_write_text
from pf.layout import latency_path
from pf.reports.results import MetricsIndex, ResultKey, degenerate_results, resolve_seeds
from pf.reports.spec import ReportSpec, RowSpec, order_tasks
from pf.tasks import TASKS

AVG = "Avg."
SPEEDUP = "Speed-up"
MISSING_TEXT = "–"
DAGGER = "†"
SPEEDUP_TOLERANCE = 0.03   # relative: |achieved / target - 1|
CSV_COLUMNS = ("block", "row", "column", "mean", "std", "n_seeds", "speedup", "degenerate")


@dataclass(frozen=True)
class Cell:
    """One number of a table: mean over seeds, sample std (None for one seed)."""
    mean: float | None
    std: float | None = None
    n: int = 0
    kind: str = "pct"            # "pct": one decimal; "x": speed-up, two decimals
    bold: bool = False
    degenerate: bool = False     # a degenerate model in at least one seed
    speedup: float | None = None  # achieved speed-up of a score cell (mean over seeds)
    comparable: bool = True      # within SPEEDUP_TOLERANCE of the target (bold-eligible)
    show_speedup: bool = False   # state the achieved speed-up in the cell

    @property
    def missing(self) -> bool:
        return self.mean is None or (isinstance(self.mean, float) and math.isnan(self.mean))

    def _num(self, v: float) -> str:
        return f"{v:.1f}" if self.kind == "pct" else f"{v:.2f}"

    def shown(self) -> float | None:
        """The value as displayed (rounded), used for bolding."""
        return None if self.missing else float(self._num(self.mean))

    def text(self, style: str = "plain") -> str:
        latex = style == "latex"
        if self.missing:
            return "--" if latex else MISSING_TEXT
        s = self._num(self.mean)
        if self.std is not None:
            s += (r" $\pm$ " if latex else " ± ") + self._num(self.std)
        if self.kind == "x":
            s += r"$\times$" if latex else "×"
        if self.bold:
            s = r"\textbf{" + s + "}" if latex else f"**{s}**"
        if self.degenerate:
            s += r"$^\dagger$" if latex else DAGGER
        if self.show_speedup and self.speedup is not None:
            s += (rf" {{\scriptsize ({self.speedup:.2f}$\times$)}}" if latex
                  else f" ({self.speedup:.2f}×)")
        return s

    def csv_values(self) -> list[str]:
        if self.missing:
            return ["", "", str(self.n), "", ""]
        digits = 2 if self.kind == "pct" else 3
        return [f"{self.mean:.{digits}f}",
                "" if self.std is None else f"{self.std:.{digits}f}",
                str(self.n),
                "" if self.speedup is None else f"{self.speedup:.3f}",
                str(self.degenerate).lower() if self.kind == "pct" else ""]


@dataclass
class TableRow:
    label: str
    cells: dict[str, Cell]
    reference: bool = False


@dataclass
class Block:
    title: str
    rows: list[TableRow] = field(default_factory=list)


@dataclass
class Table:
    name: str                      # file stem: "table1", "latency"
    caption: str
    columns: list[str]             # data column headers, in order
    blocks: list[Block]
    row_header: str = "Method"
    degenerate: list[str] = field(default_factory=list)   # results marked with a dagger

    # ---------------------------------------------------------------- renderers
    def to_latex(self) -> str:
        ncol = len(self.columns) + 1
        lines = [
            r"\begin{table*}[t]",
            r"\centering",
            r"\small",
            r"\begin{tabular}{l" + "c" * len(self.columns) + "}",
            r"\toprule",
            " & ".join([latex_escape(self.row_header)]
                       + [latex_escape(c) for c in self.columns]) + r" \\",
        ]
        for block in self.blocks:
            lines.append(r"\midrule")
            if block.title:
                lines.append(rf"\multicolumn{{{ncol}}}{{l}}{{\textit{{{latex_escape(block.title)}}}}} \\")
            for row in block.rows:
                cells = [row.cells.get(c, Cell(None)).text("latex") for c in self.columns]
                lines.append(" & ".join([latex_escape(row.label)] + cells) + r" \\")
        lines += [
            r"\bottomrule",
            r"\end{tabular}",
            rf"\caption{{{latex_escape(self.caption)}}}",
            rf"\label{{tab:{self.name}}}",
            r"\end{table*}",
        ]
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        with_block = any(b.title for b in self.blocks)
        header = (["Block"] if with_block else []) + [self.row_header] + self.columns
        align = ["---"] * (len(header) - len(self.columns)) + ["---:"] * len(self.columns)

        def line(cells: list[str]) -> str:
            return "| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |"

        lines = [f"**{self.name}.** {self.caption}", "", line(header), line(align)]
        for block in self.blocks:
            for row in block.rows:
                cells = [row.cells.get(c, Cell(None)).text("md") for c in self.columns]
                lines.append(line(([block.title] if with_block else []) + [row.label] + cells))
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for block in self.blocks:
            for row in block.rows:
                for col in self.columns:
                    cell = row.cells.get(col, Cell(None))
                    writer.writerow([block.title, row.label, col, *cell.csv_values()])
        return buf.getvalue()

    def write(self, out_dir: str | os.PathLike) -> list[Path]:
        out_dir = Path(out_dir)
        paths = []
        for ext, text in (("tex", self.to_latex()), ("csv", self.to_csv()),
                          ("md", self.to_markdown())):
            path = out_dir / f"{self.name}.{ext}"
            atomic_write_text(path, text)
            paths.append(path)
        return paths


_LATEX_SPECIALS = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                   "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
                   "×": r"$\times$", "±": r"$\pm$", "α": r"$\alpha$", DAGGER: r"$^\dagger$",
                   "≥": r"$\geq$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(text))


# ------------------------------------------------------------------- cells

def _stats(values: list[float], kind: str = "pct") -> Cell:
    vals = [float(v) for v in values]
    if not vals:
        return Cell(None, kind=kind)
    mean = sum(vals) / len(vals)
    std = None
    if len(vals) > 1:
        std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
    return Cell(mean, std, len(vals), kind)


def off_target(speedup: float, target: float) -> bool:
    return abs(speedup / target - 1.0) > SPEEDUP_TOLERANCE + 1e-12


def _score(rec: dict[str, Any], task: str, spec: ReportSpec) -> float:
    metric = spec.table_metric.get(task)
    if metric is None or metric == rec["metric"]:
        return 100.0 * float(rec["score"])
    value = rec.get(f"metric_{metric}")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise PfError(f"table metric '{metric}' for task {task}: the result "
                      f"{rec['backbone']}/{task}/{rec['variant']} seed {rec['seed']} has none")
    return 100.0 * float(value)


def row_label(spec: ReportSpec, row: RowSpec, backbone: str, target: float,
              records: list[dict[str, Any]]) -> str:
    method = str(records[0]["method"]) if records else row.variant
    options = records[0].get("method_options") if records else None
    template = row.label or spec.label_template(row.variant, method, options)
    n = int(records[0]["n_layers"]) if records else None
    m = None
    if records and n:
        m = round(n / float(records[0]["speedup"]))
    return spec.format_label(template, backbone, n, m)


def _score_row(found: dict[ResultKey, dict], spec: ReportSpec, backbone: str, row: RowSpec,
               target: float, tasks: tuple[str, ...], seeds: tuple[int, ...]) -> TableRow:
    variant = row.concrete(target)
    cells: dict[str, Cell] = {}
    per_seed: dict[int, list[float]] = {s: [] for s in seeds}
    speedups: list[float] = []
    records = []
    for task in tasks:
        recs = [found[ResultKey(backbone, task, variant, s, target)] for s in seeds]
        records += recs
        values = [_score(r, task, spec) for r in recs]
        for s, v in zip(seeds, values):
            per_seed[s].append(v)
        achieved = sum(float(r["speedup"]) for r in recs) / len(recs)
        speedups += [float(r["speedup"]) for r in recs]
        far = off_target(achieved, target)
        cells[TASKS[task].display] = replace(
            _stats(values), degenerate=any(bool(r["degenerate"]) for r in recs),
            speedup=achieved, comparable=not far, show_speedup=far and not row.reference)
    avg = _stats([sum(v) / len(v) for v in per_seed.values()])
    task_cells = [cells[TASKS[t].display] for t in tasks]
    cells[AVG] = replace(avg, comparable=all(c.comparable for c in task_cells),
                         degenerate=any(c.degenerate for c in task_cells))
    cells[SPEEDUP] = Cell(sum(speedups) / len(speedups), None, len(seeds), "x")
    return TableRow(row_label(spec, row, backbone, target, records), cells, row.reference)


def mark_best(block: Block, columns: list[str]) -> None:
    """Bold the best displayed value of each column among the non-reference rows whose
    cell is comparable (within the speed-up tolerance) and not degenerate."""
    for col in columns:
        shown = [(r, r.cells[col].shown()) for r in block.rows
                 if not r.reference and col in r.cells and r.cells[col].comparable
                 and not r.cells[col].degenerate]
        vals = [v for _, v in shown if v is not None]
        if not vals:
            continue
        best = max(vals)
        for r, v in shown:
            if v == best:
                r.cells[col] = replace(r.cells[col], bold=True)


def _fmt_x(t: float) -> str:
    return f"{t:.2f}×"


def _seed_text(seeds: tuple[int, ...]) -> str:
    listed = ", ".join(str(s) for s in seeds)
    if len(seeds) == 1:
        return f"One seed ({listed})."
    return f"Mean ± sample std over {len(seeds)} seeds ({listed})."


def _size_text(found: dict[ResultKey, dict], tasks: tuple[str, ...], split: str) -> str:
    sizes = {t: sorted({int(r["n_examples"]) for k, r in found.items() if k.task == t})
             for t in tasks}
    flat = sorted({n for v in sizes.values() for n in v})
    if len(flat) == 1:
        return f"{split.capitalize()} sets of n = {flat[0]} examples per task."
    parts = [f"{TASKS[t].display} {'/'.join(map(str, v))}" for t, v in sizes.items()]
    return f"{split.capitalize()}-set sizes n: {', '.join(parts)}."


def _caption(spec: ReportSpec, found: dict[ResultKey, dict], text: str,
             tasks: tuple[str, ...], backbones: list[str], seeds: tuple[int, ...],
             any_degenerate: bool) -> str:
    metrics = []
    for t in tasks:
        m = spec.table_metric.get(t)
        if m is None:
            names = sorted({str(r["metric"]) for k, r in found.items() if k.task == t})
            m = "/".join(names)
        metrics.append(f"{TASKS[t].display} {m}")
    layers = []
    for b in backbones:
        n = sorted({int(r["n_layers"]) for k, r in found.items() if k.backbone == b})
        layers.append(f"{spec.backbone_label(b)} ({'/'.join(map(str, n))} layers)")
    tol = f"{SPEEDUP_TOLERANCE:.0%}"
    parts = [text.strip()] if text.strip() else []
    parts += [
        f"Scores in % on the {spec.split} sets ({', '.join(metrics)}).",
        _seed_text(seeds),
        _size_text(found, tasks, spec.split),
        f"Speed-up: achieved layer-count speed-up, mean over tasks and seeds; a cell whose "
        f"achieved speed-up differs from the target by more than {tol} states it in "
        f"parentheses. Bold: the best score per column among the accelerated models within "
        f"{tol} of the target.",
    ]
    if any_degenerate:
        parts.append(f"{DAGGER} degenerate model (in at least one seed; on Avg.: in one of "
                     f"the tasks): ≥ 95% of its predictions are one class, or its score is at "
                     f"most 2 points above the majority-class score; no better than a "
                     f"constant answer, never bold.")
    parts.append(f"Backbones: {', '.join(layers)}.")
    parts.append(f"Data: {spec.data_source}; scale: {spec.scale}.")
    return " ".join(parts)


def score_table(index: MetricsIndex, spec: ReportSpec, name: str) -> Table:
    """Any of Tables 1-6: rows = the TableSpec's rows, columns = its tasks + Avg + Speed-up.

    One block per backbone (and per target when the TableSpec has several)."""
    tspec = spec.table(name)
    tasks = tspec.tasks
    seeds = resolve_seeds(tspec.seeds, spec.seeds, index)
    backbones = list(tspec.backbones or spec.backbones)
    keys = [ResultKey(b, t, r.concrete(target), s, target)
            for b in backbones for target in tspec.targets for r in tspec.rows
            for t in tasks for s in seeds]
    label = f"table{name}" if str(name).isdigit() else str(name)
    found = index.require(keys, f"table {name}")
    columns = [TASKS[t].display for t in tasks] + [AVG, SPEEDUP]
    blocks = []
    for backbone in backbones:
        for target in tspec.targets:
            rows = [_score_row(found, spec, backbone, r, target, tasks, seeds)
                    for r in tspec.rows]
            title = spec.backbone_label(backbone)
            if len(tspec.targets) > 1:
                title += f", target {_fmt_x(target)}"
            block = Block(title, rows)
            mark_best(block, columns[:-1])
            blocks.append(block)
    degenerate = degenerate_results(found.items())
    text = tspec.caption or f"Target speed-up {' and '.join(map(_fmt_x, tspec.targets))}."
    caption = _caption(spec, found, text, tasks, backbones, seeds, bool(degenerate))
    return Table(label, caption, columns, blocks, degenerate=degenerate)


# ------------------------------------------------------------------- latency

def latency_table(latency_frame, spec: ReportSpec) -> Table:
    """Measured wall-clock speed-up of the early-exit engine beside the layer-count speed-up,
    at the smallest and the largest batch size (or `spec.latency.batch_sizes`).

    One block per backbone, one row per (task, variant), mean over the latency seeds; every
    (backbone, task, variant, seed) the spec names must be given."""
    lat = spec.latency
    frame = latency_frame
    backbones = list(lat.backbones or order_present(frame["backbone"], spec.backbones))
    tasks = lat.tasks or order_tasks(set(frame["task"]))
    variants = list(lat.variants or sorted(set(frame["variant"])))
    seeds = lat.seeds or spec.seeds or tuple(sorted({int(s) for s in frame["seed"]}))
    sizes = list(lat.batch_sizes or ())
    if not sizes:
        found = sorted({int(b) for b in frame["batch_size"]})
        sizes = [found[0], found[-1]] if len(found) > 1 else found
    by_key = {(str(r["backbone"]), str(r["task"]), str(r["variant"]), int(r["seed"]),
               int(r["batch_size"])): r for r in frame.to_dict("records")}
    missing = [f"{b}/{t}/{v} seed {s} batch size {bs} ({latency_path(b, t, v, s)})"
               for b in backbones for t in tasks for v in variants for s in seeds
               for bs in sizes if (b, t, v, s, bs) not in by_key]
    if missing:
        raise PfError(f"latency table: {len(missing)} timing(s) missing from the inputs: "
                      f"{'; '.join(missing[:12])}")
    columns = ["Layer speed-up"] + [f"Measured (batch {b})" for b in sizes]
    blocks = []
    for b in backbones:
        rows = []
        for t in tasks:
            for v in variants:
                recs = {bs: [by_key[(b, t, v, s, bs)] for s in seeds] for bs in sizes}
                cells = {"Layer speed-up": _stats(
                    [r["layer_speedup"] for r in recs[sizes[0]]], "x")}
                for bs in sizes:
                    cells[f"Measured (batch {bs})"] = _stats(
                        [r["measured_speedup"] for r in recs[bs]], "x")
                vlabel = spec.format_label(spec.label_template(v, v), b)
                rows.append(TableRow(f"{TASKS[t].display}: {vlabel}", cells))
        blocks.append(Block(spec.backbone_label(b), rows))
    caption = (
        "Wall-clock speed-up of the real early-exit engine (full model time / engine time) "
        "beside the layer-count speed-up of equation 15, same threshold. "
        f"Batch sizes {', '.join(str(b) for b in sizes)}. {_seed_text(tuple(seeds))} "
        f"Data: {spec.data_source}; scale: {spec.scale}.")
    return Table("latency", caption, columns, blocks, row_header="Task: method")


def order_present(values, declared: dict[str, str]) -> list[str]:
    present = list(dict.fromkeys(str(v) for v in values))
    return [b for b in declared if b in present] + sorted(b for b in present
                                                          if b not in declared)


def build_table(name: str, index: MetricsIndex, spec: ReportSpec) -> Table:
    """Table `name`: any table the spec defines (Tables 1-6 of the paper by default)."""
    name = str(name)
    spec.table(name)  # raises a PfError listing the known tables
    return score_table(index, spec, name)
