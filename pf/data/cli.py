"""`pf data summary`: split sizes and label counts of a task from one source."""

from __future__ import annotations

import argparse
import sys

from pf.io import dumps_json
from pf.jsonargs import json_arg
from pf.tasks import TASK_ORDER


EXAMPLES = """\
examples:
  pf data summary --task all --source synthetic
  pf data summary --task rte --source glue_dir --data-dir /data/glue --json
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "data", help="inspect task data (GLUE hub, GLUE directory, synthetic)",
        description="Inspect the data of the six GLUE tasks from any of the three sources "
                    "(data.source in a config): hub (nyu-mll/glue on the Hugging Face hub), "
                    "glue_dir (a GLUE download) or synthetic (the offline stand-in).",
        epilog=EXAMPLES)
    sub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    sub.required = True
    s = sub.add_parser(
        "summary", help="split sizes and label counts",
        description="Split sizes and label counts of a task (or all six) from one source.",
        epilog=EXAMPLES)
    s.add_argument("--task", required=True, help=f"one of {', '.join(TASK_ORDER)}, or 'all'")
    s.add_argument("--source", required=True,
                   help="hub (nyu-mll/glue), glue_dir (needs --data-dir) or synthetic")
    s.add_argument("--data-dir", default=None, help="GLUE directory (source glue_dir)")
    s.add_argument("--synthetic-json", default=None,
                   help='sizes of the synthetic splits, e.g. \'{"train_size": 3000, "dev_size": 500}\'')
    s.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.set_defaults(func=run_summary)


def run_summary(args: argparse.Namespace) -> int:
    from pf.data import SOURCES, load_task
    from pf.errors import unknown
    from pf.tasks import get_task

    if args.source not in SOURCES:
        raise unknown("data source", args.source, SOURCES)
    tasks = list(TASK_ORDER) if args.task == "all" else [get_task(args.task).name]
    synthetic = json_arg("--synthetic-json", args.synthetic_json)
    summaries = [load_task(t, args.source, data_dir=args.data_dir, synthetic=synthetic,
                           seed=args.seed).summary() for t in tasks]
    if args.json:
        sys.stdout.write(dumps_json(summaries[0] if args.task != "all" else summaries))
        return 0
    for s in summaries:
        print(f"{s['task']} ({s['source']})")
        for split, info in s["splits"].items():
            counts = ", ".join(f"{k}: {v:,}" for k, v in info["label_counts"].items())
            print(f"  {split:<6} {info['size']:>8,}   {counts}")
    return 0
