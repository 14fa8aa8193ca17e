"""Numeric diff of report tables (`pf diff`).

    pf diff OLD NEW [--tol 0.5]

OLD and NEW are two report directories (every table `*.csv` in either is compared, matched
by file name; a table CSV is one whose header starts with `block,row`, so the tidy
metrics.csv beside the tables is skipped) or two CSV files (compared whatever their header).
Rows are matched by their key columns (`block`, `row` and `column` for the tables of
pf.reports.tables, one row per cell; otherwise the first column), columns by header.
A cell is parsed as numbers: "84.3 ± 0.4" gives mean 84.3 and std 0.4, "2.01×" gives 2.01,
empty / "–" / "--" is missing. Reported: every number that moved by more than `--tol`
(absolute), cells that became (non-)numeric, text that changed, and missing or extra
tables, rows and columns. Exit status 1 when anything is reported, 0 otherwise (with a
one-line summary); 2 on unreadable input.
"""

from __future__ import annotations

import csv
import fnmatch
import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from pf.errors import PfError

KEY_COLUMNS = ("block", "row", "column")
_MISSING = {"", "–", "-", "--", "—", "nan", "NaN", "n/a", "NA"}
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_CELL = re.compile(rf"^\s*\**\s*({_NUM})\s*(?:%|×|x)?\s*(?:(?:±|\+/-|\$\\pm\$)\s*({_NUM}))?"
                   rf"\s*(?:%|×|x)?\s*\**\s*$")


@dataclass(frozen=True)
class Change:
    table: str
    row: str
    column: str
    old: str
    new: str
    delta: float | None = None
    kind: str = "moved"   # moved | missing-table | extra-table | missing-row | extra-row |
                          # missing-column | extra-column | changed

    def line(self) -> str:
        if self.kind == "moved":
            return (f"{self.table}: [{self.row}] {self.column}: {self.old} -> {self.new} "
                    f"(delta {self.delta:+.4g})")
        if self.kind == "changed":
            return f"{self.table}: [{self.row}] {self.column}: {self.old!r} -> {self.new!r}"
        what = self.row or self.column or self.table
        return f"{self.table}: {self.kind.replace('-', ' ')}: {what}"


def parse_cell(text: str) -> tuple[float, float | None] | None:
    """'84.3 ± 0.4' -> (84.3, 0.4); '2.01×' -> (2.01, None); non-numeric -> None."""
    s = (text or "").strip()
    if s in _MISSING:
        return None
    s = s.replace(r"\textbf{", "").replace("}", "")
    m = _CELL.match(s)
    if not m:
        return None
    return float(m.group(1)), (float(m.group(2)) if m.group(2) else None)


def read_table_csv(path: Path) -> tuple[list[str], list[str], dict[tuple[str, ...], dict]]:
    """(key columns, data columns, {row key: {column: text}}) of one table CSV."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as err:
        raise PfError(f"{path}: cannot read ({err})") from None
    if not rows:
        raise PfError(f"{path}: empty CSV")
    header = rows[0]
    keys = [c for c in header if c in KEY_COLUMNS] or header[:1]
    idx = [header.index(k) for k in keys]
    data_cols = [c for c in header if c not in keys]
    table: dict[tuple[str, ...], dict] = {}
    for n, r in enumerate(rows[1:], start=2):
        if not any(r):
            continue
        r = r + [""] * (len(header) - len(r))
        key = tuple(r[i] for i in idx)
        if key in table:
            # keep both: disambiguate repeated keys by occurrence
            k = 2
            while key + (f"#{k}",) in table:
                k += 1
            key = key + (f"#{k}",)
        table[key] = {c: r[header.index(c)] for c in data_cols}
    return keys, data_cols, table


def _key_text(key: tuple[str, ...]) -> str:
    return " / ".join(k for k in key if k != "")


def _close(a: float, b: float, tol: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    return abs(a - b) <= tol + 1e-12


def diff_tables(old: Path, new: Path, tol: float, name: str | None = None) -> list[Change]:
    name = name or new.name
    _, ocols, orows = read_table_csv(old)
    _, ncols, nrows = read_table_csv(new)
    out: list[Change] = []
    for c in ocols:
        if c not in ncols:
            out.append(Change(name, "", c, "", "", kind="missing-column"))
    for c in ncols:
        if c not in ocols:
            out.append(Change(name, "", c, "", "", kind="extra-column"))
    cols = [c for c in ocols if c in ncols]
    for key, orow in orows.items():
        if key not in nrows:
            out.append(Change(name, _key_text(key), "", "", "", kind="missing-row"))
            continue
        nrow = nrows[key]
        for c in cols:
            a, b = orow.get(c, ""), nrow.get(c, "")
            pa, pb = parse_cell(a), parse_cell(b)
            if pa is None and pb is None:
                if a.strip() != b.strip() and not (a.strip() in _MISSING
                                                   and b.strip() in _MISSING):
                    out.append(Change(name, _key_text(key), c, a, b, kind="changed"))
                continue
            if pa is None or pb is None:
                out.append(Change(name, _key_text(key), c, a or "(empty)", b or "(empty)",
                                  kind="changed"))
                continue
            if not _close(pa[0], pb[0], tol):
                out.append(Change(name, _key_text(key), c, a, b, pb[0] - pa[0]))
            elif (pa[1] is None) != (pb[1] is None):
                out.append(Change(name, _key_text(key), c, a, b, kind="changed"))
            elif pa[1] is not None and not _close(pa[1], pb[1], tol):
                out.append(Change(name, _key_text(key), f"{c} (std)", a, b, pb[1] - pa[1]))
    for key in nrows:
        if key not in orows:
            out.append(Change(name, _key_text(key), "", "", "", kind="extra-row"))
    return out


def is_table_csv(path: Path) -> bool:
    """A report table CSV starts with the columns `block,row` (metrics.csv does not)."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            header = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError):
        return True  # let read_table_csv report it
    return header[:2] == list(KEY_COLUMNS[:2])


def diff_paths(old: str | os.PathLike, new: str | os.PathLike, tol: float,
               ignore: tuple[str, ...] = ()) -> tuple[list[Change], int]:
    """Changes between two table CSVs or two directories; also the number of tables seen.

    `ignore`: glob patterns of table file names to leave out (e.g. the wall-clock
    `latency.csv`, which no tolerance makes reproducible across runs)."""
    old, new = Path(old), Path(new)
    for p in (old, new):
        if not p.exists():
            raise PfError(f"{p}: not found")
    if old.is_file() and new.is_file():
        return diff_tables(old, new, tol), 1
    if old.is_dir() and new.is_dir():
        def tables(d: Path) -> set[str]:
            return {p.name for p in d.glob("*.csv") if is_table_csv(p)
                    and not any(fnmatch.fnmatch(p.name, pat) for pat in ignore)}

        onames, nnames = tables(old), tables(new)
        if not onames and not nnames:
            raise PfError(f"{old} and {new}: no *.csv tables in either directory")
        out: list[Change] = []
        for n in sorted(onames | nnames):
            if n not in nnames:
                out.append(Change(n, "", "", "", "", kind="missing-table"))
            elif n not in onames:
                out.append(Change(n, "", "", "", "", kind="extra-table"))
            else:
                out.extend(diff_tables(old / n, new / n, tol, n))
        return out, len(onames | nnames)
    raise PfError(f"{old} and {new}: give two directories or two CSV files")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "diff", help="compare two report directories or table CSVs with a tolerance",
        description="Compare the *.csv tables of two report directories (or two table CSV "
                    "files) number by number. Exit 1 when a number moved by more than "
                    "--tol or a table/row/column is missing or extra; 0 otherwise.",
        epilog="example:\n  pf diff reports/smoke /tmp/new/reports/smoke --tol 0.15 "
               "--ignore latency.csv\n")
    p.add_argument("old", help="reference report directory or table CSV")
    p.add_argument("new", help="new report directory or table CSV")
    p.add_argument("--tol", type=float, default=0.0,
                   help="absolute tolerance in the tables' units (default 0)")
    p.add_argument("--ignore", action="append", default=[], metavar="GLOB",
                   help="leave out table files matching GLOB (repeatable), e.g. latency.csv")
    p.set_defaults(func=_run)


def _run(args) -> int:
    if args.tol < 0 or math.isnan(args.tol):
        raise PfError(f"--tol must be >= 0, got {args.tol}")
    changes, n_tables = diff_paths(args.old, args.new, args.tol, tuple(args.ignore))
    for ch in changes:
        print(ch.line())
    if changes:
        print(f"pf diff: {len(changes)} difference(s) beyond tolerance {args.tol:g} "
              f"in {n_tables} table(s)", file=sys.stderr)
        return 1
    print(f"pf diff: {n_tables} table(s) agree within tolerance {args.tol:g}")
    return 0
