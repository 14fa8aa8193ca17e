"""Engine versus forward (recorded logits -> pf.exits) over the real methods of pf.methods."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pf import exits
from pf.engine import record_logits

from _engine_models import early_exits_agreeing, random_inputs, tiny_encoder

registry = pytest.importorskip("pf.methods.registry")

CASES = [
    ("pf", {"strategy": "concat"}),
    ("pf", {"strategy": "lstm", "variant": "paper"}),
    ("pf", {"strategy": "attn", "variant": "paper"}),
    ("pf", {"strategy": "max", "future": False}),
    ("deebert", {}),
    ("pabee", {}),
]


def _model(method, options, seed=0):
    enc = tiny_encoder(n_layers=4, hidden=32, seed=seed)
    torch.manual_seed(seed + 10)
    model = registry.build_model(method, options, enc, 3)
    with torch.no_grad():        # spread the random heads so entropies differ between rows
        for _, p in model.head_parameters():
            p.mul_(40.0)
    return model.eval()


@pytest.mark.parametrize("method,options", CASES, ids=[f"{m}-{o}" for m, o in CASES])
def test_engine_equals_forward(method, options):
    model = _model(method, options)
    x = random_inputs(40, seed=2)
    logits = record_logits(model, x, batch_size=40)
    assert logits.shape == (40, len(model.exit_layers), 3)
    rule = getattr(model, "exit_rule", "entropy")
    layers = np.asarray(model.exit_layers)
    n = model.n_layers_full
    labels = np.zeros(40, dtype=np.int64)
    if rule == "entropy":
        params = [exits.calibrate(logits, labels, "entropy", t, layers, n).param
                  for t in (1.5, 2.0, 3.0)]
        params.append(float(np.median(exits.entropies(logits)[:, 0])))
    else:
        params = [0, 1, 2, 5]
    assert early_exits_agreeing(model, x, logits, rule, params, method) > 0
