"""Spec and options of `pf`, Global Past-Future (torch-free; the model: past_future.py,
whose docstring explains every option)."""

from __future__ import annotations

from dataclasses import dataclass

from pf.errors import PfError
from pf.methods.cost_model import Dims, HeadShape, linear_params
from pf.methods.options import MethodOptions, check_choice, check_range
from pf.methods.spec import MethodSpec

VARIANTS = ("released", "paper")
VECTOR_STRATEGIES = ("max", "avg", "attn", "concat", "lstm")   # pf_strategies.STRATEGIES
PREDICTION_STRATEGIES = ("voting", "ensemble")
ALL_STRATEGIES = VECTOR_STRATEGIES + PREDICTION_STRATEGIES


@dataclass(frozen=True)
class PastFutureOptions(MethodOptions):
    variant: str = "released"
    strategy: str = "concat"
    future: bool = True
    gate: bool | None = None
    frozen_layers: int = 0
    freeze_schedule: str | None = None
    dropout: float | None = None
    imitation_input_grad: bool = True

    def check(self, method: str) -> None:
        check_choice(method, "variant", self.variant, VARIANTS)
        check_choice(method, "strategy", self.strategy, ALL_STRATEGIES)
        if self.freeze_schedule is not None:
            check_choice(method, "freeze_schedule", self.freeze_schedule, VARIANTS)
        check_range(method, "frozen_layers", self.frozen_layers, 0)
        check_range(method, "dropout", self.dropout, 0.0, 1.0)
        if self.gate and self.strategy in PREDICTION_STRATEGIES:
            raise PfError(f"method '{method}': strategy '{self.strategy}' pools predictions and "
                          f"has no merging gate; drop option 'gate' or set it to false")

    @property
    def gated(self) -> bool:
        """Whether a learned gate merges past and future."""
        if not self.future or self.strategy in PREDICTION_STRATEGIES:
            return False
        return True if self.gate is None else self.gate

    @property
    def schedule(self) -> str:
        return self.freeze_schedule or self.variant


# The paper's names for the analyses of Tables 3, 4 and 6.
STRATEGY_LABELS = {"voting": "Voting", "ensemble": "Ensemble", "max": "Max-Pooling",
                   "avg": "Avg-Pooling", "attn": "Attention", "lstm": "LSTM"}


def label(options) -> str:
    """'Ours', or the paper's name of the ablation these options make."""
    if options.get("future") is False:
        return "Global Past"
    if options.get("strategy", "concat") in STRATEGY_LABELS:
        return STRATEGY_LABELS[options["strategy"]]
    if options.get("gate") is False:
        return "Ours w/o gate"
    return "Ours"


def head_cost(dims: Dims, opts) -> HeadShape:
    """Per-layer poolers, learners j = 2..n (run at exit i for every j > i, so the cost falls
    with depth) and the head of the variant and strategy."""
    d, n, C = dims.hidden, dims.layers, dims.labels
    variant = opts.get("variant", "released")
    strategy = opts.get("strategy", "concat")
    future = opts.get("future", True)
    prediction = strategy in PREDICTION_STRATEGIES
    gated = future and not prediction and opts.get("gate", True) is not False
    exits = list(range(1, n + 1))
    params = n * linear_params(d, d)                               # per-layer poolers
    if future and n > 1:
        params += (n - 1) * linear_params(d, d)                    # learners j = 2..n
    flops = []
    if variant == "released" and strategy == "concat":
        width = 2 * C if gated else C
        params += n * linear_params(d, width) + (linear_params(C, C) if gated else 0)
        for i in exits:
            f = 2 * d * d + 2 * d * width
            if future and i < n:
                f += (n - i) * (2 * d * d + 2 * d * C) + (2 * C * C if gated else 0)
            flops.append(f)
        return HeadShape(params, exits, flops)
    params += n * linear_params(d, C)                              # per-exit classifiers
    if prediction:
        for i in exits:
            f = 2 * d * d + 2 * d * C
            if future and i < n:
                f += (n - i) * (2 * d * d + 2 * d * C)
            flops.append(f)
        return HeadShape(params, exits, flops)
    if strategy == "concat":                                       # paper: per-exit block maps
        params += n * n * d * d + 2 * n * d
    elif strategy == "lstm":
        params += 2 * (4 * d * 2 * d + 8 * d)                      # past and future LSTM cells
    if gated:
        params += linear_params(d, 1)
    for i in exits:
        f = 2 * d * d + 2 * d * C                                  # pooler + classifier
        fut = future and i < n
        if fut:
            f += (n - i) * 2 * d * d                               # learners
        if strategy == "attn":
            f += 2 * 2 * i * d + (2 * 2 * (n - i) * d if fut else 0)
        elif strategy == "concat":
            f += 2 * i * d * d + (2 * (n - i) * d * d if fut else 0)
        elif strategy == "lstm":
            f += 16 * d * d + (16 * d * d * (n - i) if fut else 0)
        if gated and fut:
            f += 2 * d
        flops.append(f)
    return HeadShape(params, exits, flops)


def cost_rows(dims: Dims) -> list[tuple[str, dict]]:
    rows: list[tuple[str, dict]] = [
        ("pf (released, concat)", {}),
        ("pf (released, concat, no gate)", {"gate": False}),
        ("pf past only (released)", {"future": False}),
    ]
    rows += [(f"pf (released, {s})", {"strategy": s})
             for s in ("max", "avg", "attn", "lstm", "voting", "ensemble")]
    rows.append(("pf (paper, concat)", {"variant": "paper"}))
    return rows


PAST_FUTURE = MethodSpec(
    name="pf", model="pf.methods.past_future:PastFutureModel", options=PastFutureOptions,
    exit_rule="entropy", label=label, head_cost=head_cost, cost_rows=cost_rows,
    uses_frozen_layers=True,
    description="Global Past-Future early exit (Liao et al., NAACL 2021)")
