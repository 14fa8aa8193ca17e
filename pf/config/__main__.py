"""`python -m pf.config`: check a config, show its grid, export its report spec."""

from __future__ import annotations

import argparse
import json
import sys

from pf.config import Plan, load_config
from pf.errors import PfError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pf.config",
        description="Check a pf workflow config, show its grid, export its report spec.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("check", help="validate a config file")
    p.add_argument("config")
    p = sub.add_parser("grid", help="list the metrics files a table or figure needs")
    p.add_argument("config")
    p.add_argument("what", nargs="?", default=None, help="table1..table6, figure3..6 (default: all)")
    p = sub.add_parser("report-files", help="list the report files of a config (rule all)")
    p.add_argument("config")
    p = sub.add_parser("report-spec", help="write the ReportSpec JSON of a config")
    p.add_argument("config")
    p.add_argument("--out", default="-")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config)
        plan = Plan(cfg)
        if args.cmd == "check":
            print(f"{args.config}: ok ({len(plan.all_metrics())} metrics files)")
        elif args.cmd == "grid":
            if args.what is None:
                paths = plan.all_metrics()
            elif args.what.startswith("table"):
                paths = plan.table_inputs(args.what)
            else:
                paths = plan.figure_inputs(args.what)
            print("\n".join(paths))
        elif args.cmd == "report-files":
            print("\n".join(plan.report_targets()))
        else:
            from pf.reports.from_config import report_spec, write_report_spec

            if args.out == "-":
                print(json.dumps(report_spec(plan), indent=2))
            else:
                write_report_spec(cfg, args.out)
    except PfError as err:
        print(f"pf config: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
