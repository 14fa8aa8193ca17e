"""`pf curve`: a per-layer outputs file -> score-versus-speed-up trade-off curve (CSV).

    pf curve --outputs dev.safetensors --rule RULE --out curve.csv
             [--max-gap 0.05] [--max-points N]

The points come from the recorded logits alone (`pf.exits.tradeoff_curve`): the parameters
of the rule's sweep (pf.exits.registry; for entropy the exact breakpoints, for patience every
patience 1..E-1, for `last` the single point), thinned so that neighbouring speed-ups are at
most `--max-gap` apart wherever the data allow.

CSV columns (one row per point, ascending speed-up):
    backbone, task, method, split  -- from the outputs file
    rule                           -- the exit rule (entropy, patience, last, ...)
    param_name                     -- its parameter: tau, patience, ... (empty for last)
    param                          -- the parameter's value (empty for last)
    speedup                        -- equation 15 ratio on the split
    avg_exit_layer                 -- mean 1-based exit layer
    n_examples                     -- examples in the split
    <metric> ...                   -- one column per metric of the task, fraction in [0, 1]
Light module: numpy only, no torch.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import numpy as np

from pf import exits
from pf.errors import PfError
from pf.exits.registry import get_rule, rule_names
from pf.io import atomic_write_text
from pf.layer_outputs import read_outputs
from pf.tasks import get_task

BASE_COLUMNS = ("backbone", "task", "method", "split", "rule", "param_name", "param",
                "speedup", "avg_exit_layer", "n_examples")


def curve_rows(outputs: str | Path, rule: str, max_gap: float = 0.05,
               max_points: int | None = None) -> tuple[list[str], list[list]]:
    exit_rule = get_rule(rule)
    if not max_gap > 0:
        raise PfError(f"--max-gap must be > 0; got {max_gap}")
    out = read_outputs(outputs)
    task = get_task(out.task)
    names = tuple(task.metrics)
    sw = exits.tradeoff_curve(np.asarray(out.logits), np.asarray(out.labels), rule,
                              np.asarray(out.exit_layers), int(out.n_layers), names,
                              max_gap=max_gap, max_points=max_points)
    pname = exit_rule.param_name or ""
    rows = []
    for i in range(len(sw)):
        p = exit_rule.format_param(sw.params[i])
        rows.append([out.backbone, task.name, out.method, out.split, rule, pname, p,
                     repr(float(sw.speedups[i])), repr(float(sw.avg_exit_layers[i])),
                     sw.n_examples, *(repr(float(sw.metrics[m][i])) for m in names)])
    return [*BASE_COLUMNS, *names], rows


def write_curve(outputs: str | Path, rule: str, out: str | Path, max_gap: float = 0.05,
                max_points: int | None = None) -> int:
    header, rows = curve_rows(outputs, rule, max_gap, max_points)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    atomic_write_text(out, buf.getvalue())
    return len(rows)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "curve", help="outputs file -> trade-off curve CSV",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  pf curve --outputs results/outputs/bert/rte/pf/seed42/dev.safetensors "
               "--rule entropy \\\n      --out results/curves/bert/rte/pf/seed42.csv\n")
    p.add_argument("--outputs", required=True,
                   help="per-layer outputs file (pf outputs, pf train --record)")
    p.add_argument("--rule", required=True, choices=rule_names(),
                   help="exit rule of the method (pf.exits.registry: entropy, patience, "
                        "last or a plug-in's)")
    p.add_argument("--out", required=True, help="curve CSV to write (atomically)")
    p.add_argument("--max-gap", type=float, default=0.05,
                   help="largest speed-up gap between neighbouring points where the data "
                        "allow (default 0.05)")
    p.add_argument("--max-points", type=int, default=None,
                   help="at most this many points: --max-gap is widened until they fit "
                        "(default: no cap)")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    write_curve(args.outputs, args.rule, args.out, args.max_gap, args.max_points)
    return 0
