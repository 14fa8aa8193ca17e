"""Exit rules, speed-up, calibration and trade-off curves over recorded logits (numpy only).

Everything here works on the per-layer logits of one forward pass, `logits [N, E, C]`
(N examples, E exits, C labels; see `pf.layer_outputs`). Because an exit decision at exit k
only depends on exits 1..k, these logits give the outcome of any parameter exactly (SPEC §5).

Modules:
    rule.py       ExitRule: the descriptor every part of pf reads a rule from
    registry.py   the rules by name (built-in + plug-ins), apply_rule, near_threshold, sweep
    entropy.py    rule "entropy" (pf, deebert), with its exact breakpoint sweep
    patience.py   rule "patience" (pabee)
    last.py       rule "last" (full, truncated, distillation students)
    decision.py   ExitDecision, speed-up (equation 15), exit counts
    scoring.py    accuracy and F1 (fractions in [0, 1])
    sweeps.py     Sweep: a rule's outcome for many parameters
    calibrate.py  the parameter closest to a target speed-up
    tradeoff.py   score-versus-speed-up curves
Torch appears only inside the rules' engine steps (and torch_ops.py), imported when the
engine runs.
"""

from pf.exits.calibrate import Calibration, calibrate, check_target
from pf.exits.decision import ExitDecision, exit_counts, first_exit, speedup, up_to_exit
from pf.exits.entropy import EntropySweeper, entropies, entropy_exits
from pf.exits.last import last_exits
from pf.exits.patience import patience_counters, patience_exits
from pf.exits.registry import (RULES, apply_rule, get_rule, near_threshold, register_rule,
                               rule_names, sweep)
from pf.exits.rule import EngineExit, ExitRule
from pf.exits.scoring import METRICS, accuracy, compute_metrics, confusion, f1
from pf.exits.sweeps import Sweep
from pf.exits.tradeoff import thin_by_speedup, tradeoff_curve

__all__ = [
    "Calibration", "EngineExit", "EntropySweeper", "ExitDecision", "ExitRule", "METRICS",
    "RULES", "Sweep", "accuracy", "apply_rule", "calibrate", "check_target",
    "compute_metrics", "confusion", "entropies", "entropy_exits", "exit_counts", "f1",
    "first_exit", "up_to_exit",
    "get_rule", "last_exits", "near_threshold", "patience_counters", "patience_exits",
    "register_rule", "rule_names", "speedup", "sweep", "thin_by_speedup", "tradeoff_curve",
]
