"""`ExitRule`: everything pf knows about an exit rule, in one torch-free descriptor.

A rule decides, after each exit, which examples leave. It is described once, here, and every
part of pf reads the description: the simulation over recorded logits (`decide`), the
parameter sweeps of calibration and curves (`default_params` or `exact_sweep`), the
near-threshold flags that tell an admissible engine/simulation difference from a bug
(`near`), the real engine (`engine_step`, torch, imported only when the engine runs), the
CLIs (`param_name`, `param_type`, `param_help`) and the config and metrics checks (the rule's
name). Built-in rules: pf/exits/entropy.py, patience.py, last.py; a plug-in registers its own
with `pf.exits.registry.register_rule`.

The engine step protocol (one call per exit of a batch, on the rows still running):

    engine_step(logits [B, C], prediction [B], param, carry, *, last, eps, track_near)
        -> EngineExit(exits [B] bool | None, near [B] bool | None, carry)

`carry` is the rule's own per-row state (a dict of batch-first tensors, e.g. PABEE's
counter), `{}` at the first exit; the engine drops the rows of exited examples from it.
`last` is true at the model's last exit, where every remaining example leaves whatever the
rule says (the step may still flag `near` there). `exits=None` means nobody leaves at this
exit (the engine then skips the host synchronisation of dropping rows). `near` may be None
when nothing is near or `track_near` is false. The engine must make exactly the decisions
of `decide` on the same logits, up to examples flagged near.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pf.errors import PfError

CONSERVATIVE = ("smaller", "larger")


@dataclass(frozen=True)
class EngineExit:
    """What an engine step decided for the rows of a batch (see the module docstring)."""

    exits: Any            # torch.BoolTensor [B] | None
    near: Any             # torch.BoolTensor [B] | None
    carry: dict[str, Any]


@dataclass(frozen=True)
class ExitRule:
    name: str
    # (logits [N, E, C] float, param) -> ExitDecision; param already checked and cast
    decide: Callable[[np.ndarray, Any], Any]
    # a function, or "module:function" imported on first use (see the module docstring)
    engine_step: Callable[..., EngineExit] | str
    param_name: str | None = None        # e.g. "tau"; None: the rule has no parameter
    param_type: type = float             # float | int
    param_min: float | None = None       # smallest admissible value, if any
    param_help: str = ""                 # one line for the CLIs (`pf latency --tau`)
    # Which parameter values keep examples longer ("smaller": a smaller value exits later,
    # like an entropy threshold; "larger": like a patience). Calibration breaks a tie
    # between parameters of equal speed-up towards keeping examples longer.
    conservative: str = "smaller"
    # logits [N, E, C] -> the parameters a sweep tries when none are given: one per distinct
    # decision (calibration picks among them, curves draw them)
    default_params: Callable[[np.ndarray], np.ndarray] | None = None
    # (logits, labels, exit_layers, n_layers, metrics, params | None) -> Sweep, for a rule
    # that can evaluate every parameter at once (entropy)
    exact_sweep: Callable[..., Any] | None = None
    # (logits, param, decision, eps) -> [N] bool: decisions a perturbation of eps could flip;
    # None: a near tie of the top two logits at an exit up to the one taken
    near: Callable[[np.ndarray, Any, Any, float], np.ndarray] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.conservative not in CONSERVATIVE:
            raise PfError(f"exit rule '{self.name}': conservative must be one of "
                          f"{', '.join(CONSERVATIVE)}, got {self.conservative!r}")
        if self.param_name is not None and self.default_params is None \
                and self.exact_sweep is None:
            raise PfError(f"exit rule '{self.name}': a rule with a parameter needs "
                          f"default_params (the values a sweep tries) or exact_sweep")

    @property
    def has_param(self) -> bool:
        return self.param_name is not None

    def check_param(self, param: Any) -> Any:
        """`param` cast to the rule's type (None for a rule without one); PfError when it is
        missing or out of range."""
        if self.param_name is None:
            return None
        if param is None:
            raise PfError(f"the {self.name} rule needs its parameter {self.param_name}")
        value = self.param_type(param)
        if self.param_min is not None and value < self.param_min:
            raise PfError(f"{self.param_name} must be >= {self.param_type(self.param_min)}; "
                          f"got {value}")
        return value

    def format_param(self, param: Any) -> str:
        """The parameter as a curve CSV writes it ('' for a rule without one)."""
        if self.param_name is None:
            return ""
        value = self.param_type(param)
        return repr(value) if self.param_type is float else str(value)

    def engine(self) -> Callable[..., EngineExit]:
        """The engine step, imported now if it was given as "module:function"."""
        step = self.engine_step
        if isinstance(step, str):
            module, _, name = step.partition(":")
            step = getattr(importlib.import_module(module), name)
        return step
