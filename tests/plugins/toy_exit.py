"""A toy early-exit method with its own exit rule, added as a plug-in: nothing under pf/ or
workflow/ names it (README, "Add your own method"; tests/test_plugins.py runs it through the
whole workflow on the smoke configuration with tests/plugins/toy.yaml merged over it).

Method `toy`: one linear classifier per layer on its summary vector ([CLS], or the token
mean under option exit_pooling mean), trained on the mean cross-entropy over the exits (the
model: toy_exit_model.py, imported only to build one).
Rule `maxprob`: an example leaves at the first exit whose largest softmax probability
exceeds a threshold (and at the last exit otherwise).

This module imports no torch: the workflow imports it to check the config, every `pf`
command imports it (PF_PLUGINS), and only the engine step touches torch, when it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pf.exits import EngineExit, ExitRule, first_exit, register_rule, up_to_exit
from pf.methods.cost_model import HeadShape, linear_params
from pf.methods.options import MethodOptions, check_range
from pf.methods.registry import register_method
from pf.methods.spec import MethodSpec

# --------------------------------------------------------------------------- the rule


def max_probs(logits: np.ndarray) -> np.ndarray:
    """[N, E] the largest softmax probability of every exit (float64)."""
    z = logits.astype(np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return (z / z.sum(axis=-1, keepdims=True)).max(axis=-1)


def decide(logits: np.ndarray, threshold: float):
    """First exit whose largest probability is above `threshold`, else the last."""
    return first_exit(logits, max_probs(logits) > threshold)


def thresholds(logits: np.ndarray) -> np.ndarray:
    """One threshold per distinct decision: 0 (everyone leaves at exit 1), 1 (nobody leaves
    early) and the midpoints between the probabilities the exits before the last show."""
    values = np.unique(max_probs(logits)[:, :-1])
    return np.concatenate([[0.0], (values[:-1] + values[1:]) / 2, [1.0]])


def near(logits: np.ndarray, threshold: float, decision, eps: float) -> np.ndarray:
    """A probability within eps of the threshold at an exit passed (the last is forced)."""
    close = np.abs(max_probs(logits) - threshold) <= eps
    close[:, -1] = False
    return (close & up_to_exit(decision, logits.shape[1])).any(axis=1)


def engine_step(logits, prediction, threshold, carry, *, last, eps, track_near):
    """The same decision on the engine's rows (torch, float64 like the simulation)."""
    import torch

    if last:
        return EngineExit(None, None, carry)
    prob = torch.softmax(logits.double(), dim=-1).max(dim=-1).values
    return EngineExit(prob > threshold, (prob - threshold).abs() <= eps if track_near else None,
                      carry)


MAXPROB = register_rule(ExitRule(
    name="maxprob", decide=decide, engine_step=engine_step, param_name="threshold",
    param_type=float, param_help="largest softmax probability to exit above",
    conservative="larger", default_params=thresholds, near=near,
    description="exit once the largest softmax probability exceeds a threshold"))

# --------------------------------------------------------------------------- the method


@dataclass(frozen=True)
class ToyOptions(MethodOptions):
    dropout: float | None = None     # classifier dropout; None = the backbone's

    def check(self, method: str) -> None:
        check_range(method, "dropout", self.dropout, 0.0, 1.0)


def head_cost(dims, options) -> HeadShape:
    """A linear classifier d -> C per layer."""
    n = dims.layers
    return HeadShape(n * linear_params(dims.hidden, dims.labels), list(range(1, n + 1)),
                     [2 * dims.hidden * dims.labels] * n)


TOY = register_method(MethodSpec(
    name="toy", model="tests.plugins.toy_exit_model:ToyModel", options=ToyOptions,
    exit_rule="maxprob", label="Toy", head_cost=head_cost,
    description="a linear classifier per layer; exits on the largest probability"))
