"""The paper's tables from a tidy metrics frame.

A table is one function `frame, spec -> Table` registered in `TABLE_BUILDERS`; Tables 1-6
are all `score_table` with the `TableSpec` of the `ReportSpec` (see pf/reports/spec.py),
the latency table is `latency_table` over the latency frame of `collect_latency`.

Cells: scores in percent with one decimal; "mean ± std" (sample std over seeds) when a cell
has several seeds. The "Avg." column averages the tasks per seed (only seeds present for
every task), then over seeds; it is empty when a task is missing. The "Speed-up" column is
the achieved speed-up averaged over the row's tasks and seeds. In each block and column the
best displayed score among the non-reference rows is bold (all of them when tied).

`Table.write(out_dir)` writes `{name}.tex` (booktabs), `{name}.csv` (plain text cells,
columns `block`, `row`, then the data columns; what `pf diff` compares) and `{name}.md`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pf.errors import PfError
from pf.io import atomic_write_text
from pf.reports.spec import ReportSpec, RowSpec, TableSpec, order_tasks
from pf.tasks import TASKS

AVG = "Avg."
SPEEDUP = "Speed-up"
MISSING_TEXT = "–"


@dataclass(frozen=True)
class Cell:
    """One number of a table: mean over seeds, sample std (None for one seed)."""
    mean: float | None
    std: float | None = None
    n: int = 0
    kind: str = "pct"        # "pct": one decimal; "x": speed-up, two decimals
    bold: bool = False

    @property
    def missing(self) -> bool:
        return self.mean is None or (isinstance(self.mean, float) and math.isnan(self.mean))

    def _num(self, v: float) -> str:
        return f"{v:.1f}" if self.kind == "pct" else f"{v:.2f}"

    def shown(self) -> float | None:
        """The value as displayed (rounded), used for bolding."""
        return None if self.missing else float(self._num(self.mean))

    def text(self, style: str = "plain") -> str:
        if self.missing:
            return {"latex": "--", "csv": ""}.get(style, MISSING_TEXT)
        s = self._num(self.mean)
        if self.std is not None:
            pm = r" $\pm$ " if style == "latex" else " ± "
            s += pm + self._num(self.std)
        if self.kind == "x" and style != "csv":
            s += r"$\times$" if style == "latex" else "×"
        if self.bold and style == "latex":
            s = r"\textbf{" + s + "}"
        elif self.bold and style == "md":
            s = f"**{s}**"
        return s


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
        for i, block in enumerate(self.blocks):
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

    def _plain_rows(self, style: str) -> list[list[str]]:
        out = []
        for block in self.blocks:
            for row in block.rows:
                out.append([block.title, row.label]
                           + [row.cells.get(c, Cell(None)).text(style) for c in self.columns])
        return out

    def to_markdown(self) -> str:
        with_block = any(b.title for b in self.blocks)
        header = (["Block"] if with_block else []) + [self.row_header] + self.columns
        rows = [r if with_block else r[1:] for r in self._plain_rows("md")]
        align = ["---"] * (len(header) - len(self.columns)) + ["---:"] * len(self.columns)

        def line(cells: list[str]) -> str:
            return "| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |"

        lines = [f"**{self.name}.** {self.caption}", "", line(header), line(align)]
        lines += [line(r) for r in rows]
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        import csv
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["block", "row"] + self.columns)
        writer.writerows(self._plain_rows("csv"))
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
                   "×": r"$\times$", "±": r"$\pm$", "α": r"$\alpha$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(text))


# ------------------------------------------------------------------- selection

def _stats(values: list[float], kind: str = "pct") -> Cell:
    vals = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not vals:
        return Cell(None, kind=kind)
    mean = sum(vals) / len(vals)
    std = None
    if len(vals) > 1:
        std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
    return Cell(mean, std, len(vals), kind)


def filter_seeds(frame, spec: ReportSpec):
    if spec.seeds is None:
        return frame
    return frame[frame["seed"].isin(list(spec.seeds))]


def _at_target(sub, target: float):
    """Rows of one variant at `target`; static ("last"-rule) variants at any target."""
    hit = sub[(sub["target"] - target).abs() < 1e-6]
    if len(hit) or not len(sub) or not (sub["rule"] == "last").all():
        return hit
    # fixed speed-up: every target gives the same numbers; keep one per (task, seed)
    return sub.sort_values("target", kind="stable").drop_duplicates(
        ["task", "seed"], keep="first")


def resolve_variant(frame, backbone: str, row: RowSpec, target: float) -> str | None:
    """The variant name a row reads for one backbone, or None when there is none."""
    bb = frame[frame["backbone"] == backbone]
    present = set(bb["variant"])
    if row.variants:
        return next((v for v in row.variants if v in present), None)
    cands = sorted(set(bb.loc[bb["method"] == row.method, "variant"]))
    if len(cands) <= 1:
        return cands[0] if cands else None

    def distance(v: str) -> tuple[float, str]:
        sub = _at_target(bb[bb["variant"] == v], target)
        if not len(sub):
            return (math.inf, v)
        return (abs(float(sub["speedup"].median()) - target), v)

    return min(cands, key=distance)


def _score_column(frame, task: str, spec: ReportSpec) -> str:
    metric = spec.table_metric.get(task)
    if metric is None:
        return "score"
    col = f"metric_{metric}"
    if col not in frame.columns:
        raise PfError(f"table metric '{metric}' for task {task}: the metrics frame has no "
                      f"column '{col}'")
    return col


def row_label(spec: ReportSpec, row: RowSpec, backbone: str, variant: str | None,
              sub) -> str:
    method = row.method or (str(sub["method"].iloc[0]) if len(sub) else "")
    template = row.label or spec.label_template(variant or row.key, method)
    n = int(sub["n_layers"].iloc[0]) if len(sub) else None
    m = None
    if len(sub) and n:
        sp = float(sub["speedup"].median())
        m = round(n / sp) if sp > 0 else None
    try:
        return template.format(backbone=spec.backbone_display(backbone),
                               full=spec.backbone_full(backbone),
                               n="?" if n is None else n, m="?" if m is None else m)
    except (KeyError, IndexError, ValueError):
        raise PfError(f"row label template {template!r}: use only {{backbone}}, {{full}}, "
                      f"{{n}}, {{m}}") from None


def _score_row(frame, spec: ReportSpec, backbone: str, row: RowSpec, target: float,
               tasks: tuple[str, ...]) -> TableRow:
    variant = resolve_variant(frame, backbone, row, target)
    sub = frame.iloc[0:0]
    if variant is not None:
        sub = frame[(frame["backbone"] == backbone) & (frame["variant"] == variant)]
        sub = _at_target(sub, row.target if row.target is not None else target)
    cells: dict[str, Cell] = {}
    per_task: dict[str, dict[int, float]] = {}
    for task in tasks:
        t = sub[sub["task"] == task]
        col = _score_column(frame, task, spec)
        values = {int(s): 100.0 * float(v) for s, v in zip(t["seed"], t[col])
                  if v is not None and not (isinstance(v, float) and math.isnan(v))}
        per_task[task] = values
        cells[TASKS[task].display] = _stats(list(values.values()))
    if tasks and all(per_task[t] for t in tasks):
        common = set.intersection(*(set(per_task[t]) for t in tasks))
        if common:
            avgs = [sum(per_task[t][s] for t in tasks) / len(tasks) for s in sorted(common)]
            cells[AVG] = _stats(avgs)
        else:
            means = [cells[TASKS[t].display].mean for t in tasks]
            cells[AVG] = Cell(sum(means) / len(means), None, 1)
    else:
        cells[AVG] = Cell(None)
    in_tasks = sub[sub["task"].isin(list(tasks))]
    sp = _stats(list(in_tasks["speedup"]), kind="x")
    cells[SPEEDUP] = Cell(sp.mean, None, sp.n, "x")
    return TableRow(row_label(spec, row, backbone, variant, sub), cells, row.reference)


def mark_best(block: Block, columns: list[str]) -> None:
    """Bold the best displayed value of each column among non-reference rows."""
    for col in columns:
        shown = [(r, r.cells[col].shown()) for r in block.rows
                 if not r.reference and col in r.cells]
        vals = [v for _, v in shown if v is not None]
        if len(vals) < 2:
            continue
        best = max(vals)
        for r, v in shown:
            if v == best:
                c = r.cells[col]
                r.cells[col] = Cell(c.mean, c.std, c.n, c.kind, True)


def _backbones(frame, spec: ReportSpec, tspec: TableSpec | None = None) -> list[str]:
    present = list(dict.fromkeys(frame["backbone"]))
    wanted = list(tspec.backbones) if tspec and tspec.backbones else list(spec.backbones)
    order = [b for b in wanted if b in present]
    if not (tspec and tspec.backbones):
        order += sorted(b for b in present if b not in order)
    return order


def _fmt_x(t: float) -> str:
    return f"{t:.2f}×"


def _caption(spec: ReportSpec, frame, text: str, tasks: tuple[str, ...],
             backbones: list[str], seeds_max: int) -> str:
    sizes = []
    for b in backbones:
        n = sorted(set(int(x) for x in frame.loc[frame["backbone"] == b, "n_layers"]))
        layers = "/".join(str(x) for x in n)
        sizes.append(f"{spec.backbone_full(b)} ({layers} layers)")
    metrics = []
    for t in tasks:
        m = spec.table_metric.get(t)
        if m is None:
            names = sorted(set(frame.loc[frame["task"] == t, "metric"].astype(str)))
            m = "/".join(names) if names else TASKS[t].metrics[0]
        metrics.append(f"{TASKS[t].display} {m}")
    parts = [text.strip()] if text.strip() else []
    parts.append(f"Scores in % on the {spec.split} sets ({', '.join(metrics)}).")
    if seeds_max > 1:
        parts.append(f"Mean ± sample std over up to {seeds_max} seeds.")
    parts.append("Speed-up: achieved layer-count speed-up, mean over tasks; bold: best per "
                 "column among the accelerated models.")
    parts.append(f"Backbones: {', '.join(sizes) if sizes else 'none'}.")
    parts.append(f"Data: {spec.data_source}; scale: {spec.scale}.")
    return " ".join(parts)


def score_table(frame, spec: ReportSpec, name: str) -> Table:
    """Any of Tables 1-6: rows = the TableSpec's rows, columns = its tasks + Avg + Speed-up.

    One block per backbone (and per target when the TableSpec has several)."""
    tspec = spec.table(name)
    frame = filter_seeds(frame, spec)
    tasks = tspec.tasks
    columns = [TASKS[t].display for t in tasks] + [AVG, SPEEDUP]
    backbones = _backbones(frame, spec, tspec)
    blocks, used = [], []
    for backbone in backbones:
        for target in tspec.targets:
            rows = [_score_row(frame, spec, backbone, r, target, tasks) for r in tspec.rows]
            with_data = sum(not r.cells[SPEEDUP].missing for r in rows)
            if with_data < min(2, len(rows)):
                continue  # nothing to compare for this backbone (e.g. analysis on BERT only)
            title = spec.backbone_display(backbone)
            if len(tspec.targets) > 1:
                title += f", target {_fmt_x(target)}"
            block = Block(title, rows)
            mark_best(block, columns[:-1])
            blocks.append(block)
            if backbone not in used:
                used.append(backbone)
    if not blocks:
        wanted = ", ".join(r.key for r in tspec.rows)
        raise PfError(f"table {name}: the metrics frame has none of its rows ({wanted}) "
                      f"at target(s) {', '.join(_fmt_x(t) for t in tspec.targets)}")
    seeds_max = max((c.n for bl in blocks for r in bl.rows for c in r.cells.values()
                     if c.kind == "pct"), default=1)
    targets = " and ".join(_fmt_x(t) for t in tspec.targets)
    text = tspec.caption or f"Target speed-up {targets}."
    return Table(f"table{name}" if str(name).isdigit() else str(name),
                 _caption(spec, frame, text, tasks, used, seeds_max), columns, blocks)


def table1(frame, spec: ReportSpec) -> Table:
    """Main results at 2.00x: full, truncated (n/2 layers), DeeBERT, PABEE, Ours."""
    return score_table(frame, spec, "1")


def table2(frame, spec: ReportSpec) -> Table:
    """Main results at 3.00x: full, truncated (n/3 layers), DeeBERT, PABEE, Ours."""
    return score_table(frame, spec, "2")


def table3(frame, spec: ReportSpec) -> Table:
    """Global strategies on the analysis tasks."""
    return score_table(frame, spec, "3")


def table4(frame, spec: ReportSpec) -> Table:
    """Global Past versus Global Past-Future at 2x and 3x."""
    return score_table(frame, spec, "4")


def table5(frame, spec: ReportSpec) -> Table:
    """Distillation students versus Ours at the same speed-up."""
    return score_table(frame, spec, "5")


def table6(frame, spec: ReportSpec) -> Table:
    """Ours with and without the merging gate."""
    return score_table(frame, spec, "6")


# ------------------------------------------------------------------- latency

def latency_table(latency_frame, spec: ReportSpec) -> Table:
    """Measured wall-clock speed-up of the early-exit engine beside the layer-count speed-up,
    at the smallest and the largest batch size (or `spec.latency['batch_sizes']`).

    One block per backbone, one row per (task, variant); seeds averaged."""
    lat = latency_frame
    if "seed" in lat.columns and spec.seeds is not None:
        lat = lat[lat["seed"].isin(list(spec.seeds)) | lat["seed"].isna()]
    if spec.latency.get("variants"):
        lat = lat[lat["variant"].isin([str(v) for v in spec.latency["variants"]])]
    if not len(lat):
        raise PfError("latency table: no latency rows")
    sizes = spec.latency.get("batch_sizes")
    if sizes:
        sizes = [int(s) for s in sizes]
    else:
        found = sorted(set(int(b) for b in lat["batch_size"]))
        sizes = [found[0], found[-1]] if len(found) > 1 else found
    columns = ["Layer speed-up"] + [f"Measured (batch {b})" for b in sizes]
    blocks = []
    for backbone in _backbones(lat, spec):
        bb = lat[lat["backbone"] == backbone]
        rows = []
        tasks = order_tasks(set(bb["task"]))
        for task in tasks:
            for variant in sorted(set(bb.loc[bb["task"] == task, "variant"])):
                sub = bb[(bb["task"] == task) & (bb["variant"] == variant)]
                per_seed = sub.drop_duplicates(["seed"]) if "seed" in sub.columns else sub
                cells = {"Layer speed-up": _stats(
                    [v for v in per_seed["layer_speedup"] if v is not None], "x")}
                for b in sizes:
                    cells[f"Measured (batch {b})"] = _stats(
                        list(sub.loc[sub["batch_size"] == b, "measured_speedup"]), "x")
                method = variant
                label_t = spec.label_template(variant, method)
                try:
                    vlabel = label_t.format(backbone=spec.backbone_display(backbone),
                                            full=spec.backbone_full(backbone), n="?", m="?")
                except (KeyError, IndexError, ValueError):
                    vlabel = variant
                task_name = TASKS[task].display if task in TASKS else task
                rows.append(TableRow(f"{task_name}: {vlabel}", cells))
        blocks.append(Block(spec.backbone_display(backbone), rows))
    caption = (
        "Wall-clock speed-up of the real early-exit engine (full model time / engine time) "
        "beside the layer-count speed-up of equation 15, same threshold. "
        f"Batch sizes {', '.join(str(b) for b in sizes)}. "
        f"Data: {spec.data_source}; scale: {spec.scale}.")
    return Table("latency", caption, columns, blocks, row_header="Task: method")


TableBuilder = Callable[[Any, ReportSpec], Table]
TABLE_BUILDERS: dict[str, TableBuilder] = {
    "1": table1, "2": table2, "3": table3, "4": table4, "5": table5, "6": table6,
}


def build_table(name: str, frame, spec: ReportSpec) -> Table:
    """Table `name` (a TABLE_BUILDERS key or any table the spec defines)."""
    name = str(name)
    if name in TABLE_BUILDERS:
        return TABLE_BUILDERS[name](frame, spec)
    spec.table(name)  # raises a PfError listing the known tables
    return score_table(frame, spec, name)
