"""Where every result lives, and how a target speed-up and a per-target variant are spelled.

The workflow (pf.config.Plan) writes results at these paths under its results folder, and
the reports (pf.reports) name the results they read by the same paths, so both come from
here. docs/ARCHITECTURE.md ("Result paths") lists the layout.
"""

from __future__ import annotations

# The per-exit accuracy figure (beyond the paper): its config key figures.exit_accuracy, its
# report-spec key, `pf report --figure exit_accuracy`, and its files exit_accuracy.png/.csv.
EXIT_ACCURACY = "exit_accuracy"


def fmt_target(target: float | int | str) -> str:
    """The spelling of a target speed-up in paths and variant names: 2.0 -> '2', 1.5 -> '1.5'."""
    value = float(target)
    if value.is_integer():
        return str(int(value))
    return f"{value:g}"


def concrete_variant(variant: str, target: float | int | str, per_target: bool) -> str:
    """The result-path name of `variant` at a target: a per-target variant (one model per
    speed-up r, m = n / r layers) is '<variant>-<r>x', any other its own name."""
    return f"{variant}-{fmt_target(target)}x" if per_target else variant


def prepared_path(backbone: str, task: str) -> str:
    return f"prepared/{backbone}/{task}/meta.json"


def model_path(backbone: str, task: str, variant: str, seed: int | str) -> str:
    return f"models/{backbone}/{task}/{variant}/seed{seed}/model.safetensors"


def outputs_path(backbone: str, task: str, variant: str, seed: int | str, split: str) -> str:
    return f"outputs/{backbone}/{task}/{variant}/seed{seed}/{split}.safetensors"


def metrics_path(backbone: str, task: str, variant: str, seed: int | str,
                 target: float | int | str) -> str:
    return f"metrics/{backbone}/{task}/{variant}/seed{seed}/target{fmt_target(target)}.json"


def curve_path(backbone: str, task: str, variant: str, seed: int | str) -> str:
    return f"curves/{backbone}/{task}/{variant}/seed{seed}.csv"


def latency_path(backbone: str, task: str, variant: str, seed: int | str) -> str:
    return f"latency/{backbone}/{task}/{variant}/seed{seed}.json"
