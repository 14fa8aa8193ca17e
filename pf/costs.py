"""`pf costs`: what each method's exit head adds to the backbone, in parameters and FLOPs.

pf costs --hidden 768 --layers 12 --seq-len 128 --labels 2 [--intermediate 3072] [--json]

Conventions (stated once, used for every row):
- FLOPs are per example, at inference; a multiply-add counts as 2 FLOPs. Only matrix
  products are counted: biases, activations (tanh, sigmoid, GELU, softmax), LayerNorm and
  element-wise max/mean/add are ignored, for heads and transformer layers alike.
- One transformer layer at sequence length L: 2 * (L * (4 d^2 + 2 d d_ff) + 2 L^2 d)
  (Q, K, V, output projections; feed-forward; attention scores and context).
- Head FLOPs at exit i are the work done after layer i for that exit: heads read the [CLS]
  vector only. Poolers are counted (including the backbone's own pooler where a method uses
  it), since they run once per exit. Past-Future's imitation learners run at exit i for every
  j > i, so its head cost falls with depth; the table gives exit 1 (the maximum), the mean
  over exits and the share of one transformer layer.
- Parameters added = parameters outside the backbone (the pretrained pooler is part of the
  backbone; DeeBERT's off-ramp poolers are copies and count).
This module is pure arithmetic (no torch); tests check the parameter counts against the
real models.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from pf.errors import PfError


@dataclass(frozen=True)
class Dims:
    hidden: int = 768
    layers: int = 12
    seq_len: int = 128
    labels: int = 2
    intermediate: int | None = None      # default 4 * hidden

    @property
    def d_ff(self) -> int:
        return self.intermediate or 4 * self.hidden


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


def layer_flops(dims: Dims) -> int:
    d, L = dims.hidden, dims.seq_len
    return 2 * (L * (4 * d * d + 2 * d * dims.d_ff) + 2 * L * L * d)


def _linear(i: int, o: int) -> int:
    """Parameters of Linear(i, o) with bias."""
    return i * o + o


def _single(dims: Dims, m: int) -> tuple[int, list[int], list[int]]:
    d, C = dims.hidden, dims.labels
    return _linear(d, C), [m], [2 * d * d + 2 * d * C]


def _pf(dims: Dims, opts: dict[str, Any]) -> tuple[int, list[int], list[int]]:
    d, n, C = dims.hidden, dims.layers, dims.labels
    variant = opts.get("variant", "released")
    strategy = opts.get("strategy", "concat")
    future = opts.get("future", True)
    prediction = strategy in ("voting", "ensemble")
    gated = future and not prediction and opts.get("gate", True) is not False
    params = n * _linear(d, d)                                   # per-layer poolers
    if future and n > 1:
        params += (n - 1) * _linear(d, d)                        # learners j = 2..n
    flops = []
    if variant == "released" and strategy == "concat":
        width = 2 * C if gated else C
        params += n * _linear(d, width) + (_linear(C, C) if gated else 0)
        for i in range(1, n + 1):
            f = 2 * d * d + 2 * d * width
            if future and i < n:
                f += (n - i) * (2 * d * d + 2 * d * C) + (2 * C * C if gated else 0)
            flops.append(f)
        return params, list(range(1, n + 1)), flops
    params += n * _linear(d, C)                                  # per-exit classifiers
    if prediction:
        for i in range(1, n + 1):
            f = 2 * d * d + 2 * d * C
            if future and i < n:
                f += (n - i) * (2 * d * d + 2 * d * C)
            flops.append(f)
        return params, list(range(1, n + 1)), flops
    if strategy == "concat":                                     # paper: per-exit block maps
        params += n * n * d * d + 2 * n * d
    elif strategy == "lstm":
        params += 2 * (4 * d * 2 * d + 8 * d)                    # past and future LSTM cells
    if gated:
        params += _linear(d, 1)
    for i in range(1, n + 1):
        f = 2 * d * d + 2 * d * C                                # pooler + classifier
        fut = future and i < n
        if fut:
            f += (n - i) * 2 * d * d                             # learners
        if strategy == "attn":
            f += 2 * 2 * i * d + (2 * 2 * (n - i) * d if fut else 0)
        elif strategy == "concat":
            f += 2 * i * d * d + (2 * (n - i) * d * d if fut else 0)
        elif strategy == "lstm":
            f += 16 * d * d + (16 * d * d * (n - i) if fut else 0)
        if gated and fut:
            f += 2 * d
        flops.append(f)
    return params, list(range(1, n + 1)), flops


def head_cost(method: str, options: dict[str, Any] | None, dims: Dims, name: str | None = None
              ) -> HeadCost:
    """Parameters and per-exit FLOPs of one method's head (see module conventions)."""
    opts = dict(options or {})
    d, n, C = dims.hidden, dims.layers, dims.labels
    if method == "full":
        params, layers, flops = _single(dims, n)
    elif method in ("truncated", "kd", "pkd", "tinybert"):
        m = int(opts.get("layers", max(1, n // 2)))
        params, layers, flops = _single(dims, m)
    elif method == "pabee":
        params, layers = n * _linear(d, C), list(range(1, n + 1))
        flops = [2 * d * d + 2 * d * C] * n
    elif method == "deebert":
        params = (n - 1) * (_linear(d, d) + _linear(d, C)) + _linear(d, C)
        layers, flops = list(range(1, n + 1)), [2 * d * d + 2 * d * C] * n
    elif method == "pf":
        params, layers, flops = _pf(dims, opts)
    else:
        from pf.errors import unknown

        raise unknown("method", method, ("full", "truncated", "kd", "pkd", "tinybert", "pabee",
                                         "deebert", "pf"))
    return HeadCost(name or method, method, opts, params, layers, flops, layer_flops(dims))


def default_rows(dims: Dims) -> list[tuple[str, str, dict[str, Any]]]:
    m2 = max(1, dims.layers // 2)
    rows: list[tuple[str, str, dict[str, Any]]] = [
        ("full", "full", {}),
        (f"truncated ({m2}L)", "truncated", {"layers": m2}),
        ("deebert", "deebert", {}),
        ("pabee", "pabee", {}),
        ("pf (released, concat)", "pf", {}),
        ("pf (released, concat, no gate)", "pf", {"gate": False}),
        ("pf past only (released)", "pf", {"future": False}),
    ]
    for s in ("max", "avg", "attn", "lstm", "voting", "ensemble"):
        rows.append((f"pf (released, {s})", "pf", {"strategy": s}))
    rows.append(("pf (paper, concat)", "pf", {"variant": "paper"}))
    rows.append((f"kd/pkd/tinybert ({m2}L student)", "kd", {"layers": m2}))
    return rows


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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(0)
