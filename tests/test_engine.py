"""The real early-exit engine agrees with the simulation over recorded logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pf import exits
from pf.engine import compare_to_simulation, record_logits, run_engine
from pf.errors import PfError

from _engine_models import make_model, random_inputs


class Spy:
    """Wraps a model and records the batch size each layer and exit head saw."""

    def __init__(self, model):
        self.model = model
        self.rows: list[tuple[int, int]] = []
        self.state_rows: list[int] = []

    def __getattr__(self, name):
        return getattr(self.model, name)

    def parameters(self):
        return self.model.parameters()

    def eval(self):
        self.model.eval()
        return self

    def exit_step(self, i, h, state):
        self.rows.append((i, h.shape[0]))
        self.state_rows += [v.shape[0] for v in state.values()]
        return self.model.exit_step(i, h, state)


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = make_model(n_layers=6, num_labels=3, seed=0, temperature=4.0)
    x = random_inputs(160, seed=1)
    logits = record_logits(model, x, batch_size=40)
    return model, x, logits


def _taus(logits, layers=None, n=None):
    """Thresholds giving real early exits: calibrated (breakpoint midpoints) and raw quantiles."""
    layers = np.arange(1, logits.shape[1] + 1) if layers is None else np.asarray(layers)
    n = int(layers[-1]) if n is None else n
    labels = np.zeros(logits.shape[0], dtype=np.int64)
    cal = [exits.calibrate(logits, labels, "entropy", t, layers, n).param
           for t in (1.3, 1.5 if n == 2 else 2.0, min(3.0, n))]
    ent = exits.entropies(logits)[:, :-1]
    return [*cal, *np.quantile(ent, [0.2, 0.5]).tolist()]


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_engine_equals_simulation_entropy(setup, batch_size):
    model, x, logits = setup
    speedups = []
    for tau in _taus(logits):
        res = run_engine(model, x, "entropy", tau, batch_size=batch_size)
        agree = compare_to_simulation(res, logits, "entropy", tau)
        assert agree.n_mismatch_far == 0, agree
        assert agree.n_equal + agree.n_mismatch_near == agree.n
        dec = exits.entropy_exits(logits, tau)
        assert res.speedup == pytest.approx(
            exits.speedup(dec.layers(model.exit_layers), 6), rel=0.02)
        speedups.append(res.speedup)
    assert max(speedups) > 1.5      # the thresholds really make examples leave early


@pytest.mark.parametrize("batch_size", [1, 16])
def test_engine_equals_simulation_patience_and_last(setup, batch_size):
    model, x, logits = setup
    for p in (0, 1, 2, 10):
        res = run_engine(model, x, "patience", p, batch_size=batch_size)
        assert compare_to_simulation(res, logits, "patience", p).ok
    res = run_engine(model, x, "last", None, batch_size=batch_size)
    assert (res.exit_layer == 6).all()
    assert compare_to_simulation(res, logits, "last", None).ok


def test_exited_rows_leave_the_batch(setup):
    model, x, logits = setup
    tau = exits.calibrate(logits, np.zeros(len(logits), np.int64), "entropy", 2.0,
                          np.arange(1, 7), 6).param
    spy = Spy(model)
    res = run_engine(spy, x, "entropy", tau, batch_size=x.input_ids.shape[0])
    dec = exits.entropy_exits(logits, tau)
    # rows entering layer i (0-based) = examples that did not exit before it
    expected = [(i, int((dec.exit_index > i).sum())) for i in range(6)]
    expected = [(i, r) for i, r in expected if r > 0]
    assert spy.rows == expected
    assert res.layer_rows == sum(r for _, r in expected)
    assert res.layer_rows == int(dec.layers(np.arange(1, 7)).sum())
    # every state tensor shrank with the batch (running sums and counts)
    assert sorted(set(spy.state_rows)) == sorted({r for _, r in expected})


def test_engine_sparse_exits_and_property_over_random_models():
    for seed in (3, 4):
        model = make_model(n_layers=4, num_labels=2, seed=seed, exit_every=2, temperature=6.0)
        x = random_inputs(48, seed=seed)
        logits = record_logits(model, x, batch_size=48)
        assert logits.shape == (48, 2, 2)
        for tau in _taus(logits, model.exit_layers, 4):
            for bs in (5, 48):
                res = run_engine(model, x, "entropy", tau, batch_size=bs)
                assert set(res.exit_layer.tolist()) <= {2, 4}
                assert compare_to_simulation(res, logits, "entropy", tau).ok


def test_near_threshold_examples_are_counted(setup):
    model, x, logits = setup
    ent = exits.entropies(logits)
    tau = float(ent[5, 0])             # exactly on one example's entropy at exit 1
    res = run_engine(model, x, "entropy", tau, batch_size=32)
    agree = compare_to_simulation(res, logits, "entropy", tau)
    assert agree.n_near >= 1
    assert res.near[5] or exits.near_threshold(logits, "entropy", tau)[5]
    assert agree.ok


def test_engine_rejects_bad_arguments(setup):
    model, x, _ = setup
    with pytest.raises(PfError):
        run_engine(model, x, "entropy", None)
    with pytest.raises(PfError):
        run_engine(model, x, "patience", -1)
    with pytest.raises(PfError):
        run_engine(model, x, "speed", 1)
    with pytest.raises(PfError):
        run_engine(model, x, "last", None, batch_size=0)
