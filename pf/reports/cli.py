"""`pf report`: tables and figures from exactly the results given.

    pf report --spec results/report_spec.json --out-dir reports --table 2 \\
              --metrics results/metrics/bert/mrpc/pf/seed42/target3.json ...
    pf report --spec spec.yaml --out-dir reports --table all --metrics reports/metrics.csv
    pf report --spec spec.yaml --out-dir reports --figure 3 \\
              --metrics reports/metrics.csv --curves results/curves/bert/*/*/seed42.csv
    pf report --spec spec.yaml --out-dir reports --latency --latency-inputs results/latency/...

`--metrics` takes metrics JSON files of `pf evaluate` and/or tidy CSVs of `pf collect`;
`--curves` curve CSVs of `pf curve` (named by their path, .../curves/B/T/V/seedS.csv);
`--outputs` per-layer outputs files (.../outputs/B/T/V/seedS/SPLIT.safetensors) for the
per-exit accuracy figure (`--figure exit_accuracy`: exit_accuracy.png and .csv);
`--latency-inputs` latency JSONs of `pf latency` or a CSV of `pf collect --latency-out`.
Nothing else is read: each table and figure takes exactly the results its spec names, and a
missing one is an error naming it. Models flagged degenerate in the metrics are marked in
the tables and named in a warning on stderr. Outputs (atomic): {out-dir}/table{N}.{tex,csv,md},
{out-dir}/figure{N}.png, {out-dir}/exit_accuracy.{png,csv}, {out-dir}/latency.{tex,csv,md}.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pf.errors import PfError

EXAMPLES = """\
examples (the layout of `make reports`; the workflow writes results/report_spec.json):
  pf report --spec results/report_spec.json --out-dir reports --table 2 \\
            --metrics reports/metrics.csv
  pf report --spec results/report_spec.json --out-dir reports --figure 3 \\
            --metrics reports/metrics.csv --curves results/curves/bert/*/pf/seed42.csv
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="render the paper's tables (LaTeX/CSV/Markdown) and figures (PNG)",
        description=__doc__, epilog=EXAMPLES)
    p.add_argument("--spec", default=None,
                   help="ReportSpec YAML/JSON (the workflow writes results/report_spec.json; "
                        "default: the paper's layout, see pf/reports/spec.py)")
    p.add_argument("--out-dir", required=True, help="where the tables and figures go")
    p.add_argument("--metrics", nargs="+", default=[], metavar="FILE",
                   help="metrics JSON files and/or tidy metrics CSVs: the only results read")
    p.add_argument("--curves", nargs="+", default=[], metavar="CSV",
                   help="trade-off curve CSVs for figures 3, 5, 6 (path "
                        ".../curves/BACKBONE/TASK/VARIANT/seedS.csv)")
    p.add_argument("--outputs", nargs="+", default=[], metavar="FILE",
                   help="per-layer outputs files for the per-exit accuracy figure (path "
                        ".../outputs/BACKBONE/TASK/VARIANT/seedS/SPLIT.safetensors)")
    p.add_argument("--latency-inputs", nargs="+", default=[], metavar="FILE",
                   help="latency JSON files of `pf latency` or a latency CSV")
    p.add_argument("--table", action="append", default=[], metavar="N",
                   help="table to render: 1..6, a table named in the spec, or 'all' "
                        "(repeatable)")
    p.add_argument("--figure", action="append", default=[], metavar="N",
                   help="figure to render: 3, 4, 5, 6, exit_accuracy (from --outputs; also "
                        "writes exit_accuracy.csv) or 'all' (repeatable)")
    p.add_argument("--latency", action="store_true",
                   help="render the latency table (from --latency-inputs)")
    p.add_argument("--all", action="store_true",
                   help="every table and figure of the spec (+ latency with --latency)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from pf.reports.spec import load_spec

    spec = load_spec(args.spec)
    out_dir = Path(args.out_dir)
    tables = list(spec.tables) if args.all or "all" in args.table else list(args.table)
    figures = (spec.figure_numbers() if args.all or "all" in args.figure
               else list(args.figure))
    if not (tables or figures or args.latency):
        raise PfError("nothing to render: give --table N, --figure N, --latency or --all")
    index = None
    if args.metrics:
        from pf.reports.collect import read_metrics
        from pf.reports.results import MetricsIndex

        index = MetricsIndex(read_metrics(args.metrics))
    elif tables:
        raise PfError("tables need their results: give --metrics FILE ... (metrics JSON "
                      "files or a CSV of `pf collect`)")
    written: list[Path] = []
    warnings: list[str] = []
    if tables:
        from pf.reports.tables import build_table

        built = [build_table(str(name), index, spec) for name in tables]
        for table in built:
            written += table.write(out_dir)
            warnings += [f"{table.name}: {d}" for d in table.degenerate]
    if figures:
        from pf.layout import EXIT_ACCURACY
        from pf.reports.exit_accuracy import write_exit_accuracy
        from pf.reports.figures import CurveFiles, render_figure

        curves = CurveFiles(args.curves)
        for num in figures:
            if str(num) == EXIT_ACCURACY:
                drawn, name = write_exit_accuracy(args.outputs, spec, out_dir), EXIT_ACCURACY
            else:
                drawn = render_figure(num, index, curves, spec, out_dir / f"figure{num}.png")
                name = f"figure{num}"
            written += drawn.paths
            warnings += [f"{name}: {d}" for d in drawn.degenerate]
    if args.latency:
        from pf.reports.collect import read_latency
        from pf.reports.tables import latency_table

        if not args.latency_inputs:
            raise PfError("--latency needs --latency-inputs FILE ...")
        written += latency_table(read_latency(args.latency_inputs), spec).write(out_dir)
    for line in warnings:
        print(f"pf report: warning: degenerate model in {line}", file=sys.stderr)
    if warnings:
        print(f"pf report: warning: {len(warnings)} degenerate result(s), marked † in the "
              f"tables and hollow in the figures: no better than a constant answer",
              file=sys.stderr)
    print(f"pf report: wrote {len(written)} file(s) to {out_dir}")
    return 0
