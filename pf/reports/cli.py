"""`pf report`: tables and figures from the tidy metrics CSV.

Outputs (atomic): {out-dir}/table{N}.{tex,csv,md}, {out-dir}/figure{N}.png,
{out-dir}/latency.{tex,csv,md}. `--table` and `--figure` repeat. Without `--metrics` the
metrics JSONs under `--results` are collected on the fly; without `--latency-csv` the
latency JSONs under `--results/latency` are. `--spec` is optional (defaults: see
pf/reports/spec.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from pf.errors import PfError

EXAMPLES = """\
examples (the layout of `make reports`; the workflow writes results/report_spec.json):
  pf report --results results --spec results/report_spec.json --out-dir reports --all
  pf report --metrics reports/metrics.csv --spec results/report_spec.json --out-dir reports --table 2
  pf report --metrics reports/metrics.csv --results results --out-dir reports --figure 3
  pf report --results results --spec results/report_spec.json --out-dir reports --latency
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="render the paper's tables (LaTeX/CSV/Markdown) and figures (PNG)",
        description=__doc__, epilog=EXAMPLES)
    p.add_argument("--metrics", default=None, help="tidy metrics CSV (from `pf collect`)")
    p.add_argument("--results", default=None,
                   help="results directory: curve CSVs (figures 3, 5, 6), latency JSONs, "
                        "and the metrics JSONs when --metrics is not given")
    p.add_argument("--spec", default=None, help="ReportSpec YAML/JSON (optional)")
    p.add_argument("--out-dir", required=True, help="where the tables and figures go")
    p.add_argument("--table", action="append", default=[], metavar="N",
                   help="table to render: 1..6, a table named in the spec, or 'all' "
                        "(repeatable)")
    p.add_argument("--figure", action="append", default=[], metavar="N",
                   help="figure to render: 3, 4, 5, 6 or 'all' (repeatable)")
    p.add_argument("--latency", action="store_true", help="render the latency table")
    p.add_argument("--latency-csv", default=None,
                   help="latency CSV from `pf collect --latency-out` (else read --results)")
    p.add_argument("--all", action="store_true",
                   help="every table and figure of the spec (+ latency if --latency); "
                        "tables without any data are skipped with a message")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from pf.reports.spec import load_spec

    spec = load_spec(args.spec)
    out_dir = Path(args.out_dir)
    tables = list(args.table)
    figures = list(args.figure)
    if args.all:
        tables, figures = ["all"], ["all"]
    if not (tables or figures or args.latency):
        raise PfError("nothing to render: give --table N, --figure N, --latency or --all")
    written: list[Path] = []
    if tables or figures:
        frame = _metrics_frame(args)
    if tables:
        from pf.reports.tables import build_table

        every = "all" in tables
        for name in (list(spec.tables) if every else tables):
            try:
                written += build_table(str(name), frame, spec).write(out_dir)
            except PfError as err:
                if not every:
                    raise
                # with --all / --table all a table without any data is skipped, loudly
                print(f"pf report: skipped table {name}: {err}", file=sys.stderr)
    if figures:
        from pf.reports.figures import figure_numbers, render_figure

        every = "all" in figures
        for num in (figure_numbers(spec) if every else figures):
            try:
                written.append(render_figure(num, frame, spec, args.results,
                                             out_dir / f"figure{num}.png"))
            except PfError as err:
                if not every:
                    raise
                print(f"pf report: skipped figure {num}: {err}", file=sys.stderr)
    if args.latency:
        from pf.reports.collect import collect_latency, read_latency_csv
        from pf.reports.tables import latency_table

        if args.latency_csv:
            lat = read_latency_csv(args.latency_csv)
        elif args.results:
            lat = collect_latency(args.results)
        else:
            raise PfError("--latency needs --latency-csv FILE or --results DIR")
        written += latency_table(lat, spec).write(out_dir)
    print(f"pf report: wrote {len(written)} file(s) to {out_dir}")
    return 0


def _metrics_frame(args):
    from pf.reports.collect import collect_metrics, normalise_frame, read_metrics_csv

    if args.metrics:
        return read_metrics_csv(args.metrics)
    if args.results:
        return normalise_frame(collect_metrics(args.results), f"{args.results}/metrics")
    raise PfError("give --metrics FILE.csv (from `pf collect`) or --results DIR")
