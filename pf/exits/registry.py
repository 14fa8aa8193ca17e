"""The exit rules pf knows, by name: the built-in ones and those plug-ins register.

    from pf.exits.registry import ExitRule, register_rule
    register_rule(ExitRule(name="margin", decide=..., engine_step="my_rules:step", ...))

Everything that names a rule looks it up here (`get_rule`): the config checks, `pf evaluate`,
`pf curve`, `pf latency`, the engine and the metrics schema. The functions below apply a rule
to recorded logits whatever rule it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pf.exits.decision import ExitDecision, check_logits, near_tie
from pf.exits.entropy import ENTROPY
from pf.exits.last import LAST
from pf.exits.patience import PATIENCE
from pf.exits.rule import ExitRule
from pf.exits.sweeps import Sweep, check_inputs, check_metric_names, decision_sweep
from pf.registry import Registry

RULES: Registry[ExitRule] = Registry("exit rule", ExitRule)
# Add a rule (a plug-in's): PfError if its name is taken by another.
register_rule = RULES.register
# The rule registered as a name (PfError with a suggestion if unknown).
get_rule = RULES.lookup

for _rule in (ENTROPY, PATIENCE, LAST):
    register_rule(_rule)


def rule_names() -> tuple[str, ...]:
    return tuple(RULES)


def apply_rule(logits: np.ndarray, rule: str, param: float | int | None = None) -> ExitDecision:
    """Where every example exits under `rule` with `param`, and what it predicts."""
    r = get_rule(rule)
    return r.decide(check_logits(logits), r.check_param(param))


def near_threshold(logits: np.ndarray, rule: str, param: float | int | None,
                   eps: float = 1e-6) -> np.ndarray:
    """[N] bool: examples whose decision could flip under a perturbation of size `eps`
    (the rule's own `near`; by default a near tie of the top two logits at an exit up to
    the one taken)."""
    logits = check_logits(logits)
    r = get_rule(rule)
    param = r.check_param(param)
    dec = r.decide(logits, param)
    return (r.near or near_tie)(logits, param, dec, eps)


def sweep(logits: np.ndarray, labels: np.ndarray, rule: str, exit_layers, n_layers: int,
          metrics: Sequence[str] = ("accuracy",), params=None) -> Sweep:
    """Outcome of `rule` at `params` (default: every distinct decision) on recorded logits."""
    r = get_rule(rule)
    if r.exact_sweep is not None:
        return r.exact_sweep(logits, labels, exit_layers, n_layers, metrics, params)
    logits, labels, layers = check_inputs(logits, labels, exit_layers, n_layers)
    check_metric_names(metrics)
    if not r.has_param:
        values = [None]
    else:
        values = r.default_params(logits) if params is None else params
        values = np.asarray(values, dtype=np.int64 if r.param_type is int else np.float64).ravel()
    return decision_sweep(logits, labels, layers, n_layers, r, values, metrics)
