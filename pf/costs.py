"""`pf costs`: what each method's exit head adds to the backbone, in parameters and FLOPs.

pf costs --hidden 768 --layers 12 --seq-len 128 --labels 2 [--intermediate 3072] [--json]

The conventions (what a FLOP counts, which parameters are "added") are stated once, in
pf/methods/cost_model.py; each method's cost function lives in its spec
(`MethodSpec.head_cost`, pf/methods/*_spec.py, or a plug-in's), and so do its rows here
(`MethodSpec.cost_rows`). Past-Future's imitation learners run at exit i for every j > i, so
its head cost falls with depth; the table gives exit 1 (the maximum), the mean over exits
and the share of one transformer layer.
This module is pure arithmetic (no torch); tests check the parameter counts against the
real models.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from pf.errors import PfError
from pf.methods.cost_model import Dims, layer_flops
from pf.methods.registry import METHODS, method_spec

__all__ = ["Dims", "HeadCost", "cost_table", "default_rows", "format_table", "head_cost",
           "layer_flops"]


@dataclass
class HeadCost:
    name: str                        # row label, e.g. "pf (released, concat)"
    method: str
    options: dict[str, Any]
    params: int                      # parameters added to the backbone
    exit_layers: list[int]           # 1-based
    flops_per_exit: list[int]        # head FLOPs at each exit, per example
    layer_flops: int                 # one transformer layer, per example
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def max_flops(self) -> int:
        return max(self.flops_per_exit)

    @property
    def mean_flops(self) -> float:
        return sum(self.flops_per_exit) / len(self.flops_per_exit)

    def share_of_layer(self, flops: float) -> float:
        return flops / self.layer_flops

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(max_flops=self.max_flops, mean_flops=self.mean_flops,
                 max_share_of_layer=self.share_of_layer(self.max_flops),
                 mean_share_of_layer=self.share_of_layer(self.mean_flops))
        return d


def head_cost(method: str, options: dict[str, Any] | None, dims: Dims, name: str | None = None
              ) -> HeadCost:
    """Parameters and per-exit FLOPs of one method's head (see the conventions)."""
    opts = dict(options or {})
    shape = method_spec(method).costs(dims, opts)
    return HeadCost(name or method, method, opts, shape.params, list(shape.exit_layers),
                    list(shape.flops_per_exit), layer_flops(dims))


def default_rows(dims: Dims) -> list[tuple[str, str, dict[str, Any]]]:
    """(row name, method, options) of every row of `pf costs`: each registered method's."""
    return [(name, spec.name, opts) for spec in METHODS.values()
            for name, opts in spec.rows_of_costs(dims)]


def cost_table(dims: Dims) -> list[HeadCost]:
    return [head_cost(method, opts, dims, name) for name, method, opts in default_rows(dims)]


def format_table(rows: list[HeadCost], dims: Dims) -> str:
    head = (f"exit-head costs: d={dims.hidden}, n={dims.layers}, L={dims.seq_len}, C={dims.labels}; "
            f"one transformer layer = {layer_flops(dims):,} FLOPs/example")
    cols = ["method", "params added", "FLOPs exit 1/first", "FLOPs mean/exit", "% layer (max)",
            "% layer (mean)"]
    lines = [[r.name, f"{r.params:,}", f"{r.flops_per_exit[0]:,}", f"{r.mean_flops:,.0f}",
              f"{100 * r.share_of_layer(r.max_flops):.3f}",
              f"{100 * r.share_of_layer(r.mean_flops):.3f}"] for r in rows]
    widths = [max(len(c), *(len(x[k]) for x in lines)) for k, c in enumerate(cols)]
    fmt = lambda xs: "  ".join(x.ljust(w) if k == 0 else x.rjust(w)            # noqa: E731
                               for k, (x, w) in enumerate(zip(xs, widths)))
    return "\n".join([head, fmt(cols), fmt(["-" * w for w in widths]), *map(fmt, lines)])


def _run(args) -> int:
    for flag in ("hidden", "layers", "seq_len", "labels"):
        if getattr(args, flag) < 1:
            raise PfError(f"--{flag.replace('_', '-')} must be positive, got {getattr(args, flag)}")
    dims = Dims(args.hidden, args.layers, args.seq_len, args.labels, args.intermediate)
    rows = cost_table(dims)
    if args.json:
        print(json.dumps({"dims": asdict(dims), "layer_flops": layer_flops(dims),
                          "rows": [r.to_dict() for r in rows]}, indent=2, sort_keys=True))
    else:
        print(format_table(rows, dims))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "costs", help="parameters and FLOPs of each method's exit head",
        description=__doc__,
        epilog="examples:\n"
               "  pf costs                                  BERT-base: d 768, 12 layers, L 128\n"
               "  pf costs --hidden 64 --layers 6 --seq-len 48 --json   a tiny backbone, as JSON\n")
    p.add_argument("--hidden", type=int, default=768, help="hidden size d of the backbone")
    p.add_argument("--layers", type=int, default=12, help="transformer layers n (one exit each)")
    p.add_argument("--seq-len", type=int, default=128,
                   help="sequence length L of the transformer-layer FLOPs")
    p.add_argument("--labels", type=int, default=2, help="classes of the task (3 for MNLI)")
    p.add_argument("--intermediate", type=int, default=None,
                   help="feed-forward width d_ff (default: 4 * hidden)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_run)

