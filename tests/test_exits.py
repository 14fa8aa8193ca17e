"""Exit rules, speed-up, calibration and curves over hand-built and synthetic logits."""

from __future__ import annotations

import numpy as np
import pytest

from pf import exits
from pf.errors import PfError

CONF0 = [8.0, 0.0]   # confident, class 0: H ~ 3e-3
CONF1 = [0.0, 8.0]   # confident, class 1
UNIF = [0.0, 0.0]    # H = log 2
MID = [1.0, 0.0]     # H ~ 0.58


def L(*rows):
    return np.asarray(rows, dtype=np.float32)


def realistic(n=4000, e=12, c=2, seed=0):
    """Confidence grows with depth and varies by example; labels mostly learnable."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    ease = rng.gamma(2.0, 1.0, (n, 1, 1))
    scale = np.linspace(0.2, 4.0, e)[None, :, None] * ease
    logits = np.eye(c)[labels][:, None, :] * scale + rng.normal(0, 1, (n, e, c))
    return logits.astype(np.float32), labels


# --- entropy rule ------------------------------------------------------------------
def test_entropy_hand_built():
    logits = L([UNIF, CONF1, CONF0],     # exits at 2 (first confident), predicts 1
               [CONF0, UNIF, CONF1],     # exits at 1, predicts 0
               [UNIF, MID, UNIF],        # nothing below 0.1: last exit, predicts 0 (tie->0)
               [MID, UNIF, CONF1])       # last exit, predicts 1
    d = exits.entropy_exits(logits, 0.1)
    assert d.exit_index.tolist() == [2, 1, 3, 3]
    assert d.prediction.tolist() == [1, 0, 0, 1]
    assert d.layers([2, 4, 6]).tolist() == [4, 2, 6, 6]
    # tau between H(MID) and log 2: the MID rows now exit at their MID exit
    d = exits.entropy_exits(logits, 0.6)
    assert d.exit_index.tolist() == [2, 1, 2, 1]
    assert d.prediction.tolist() == [1, 0, 0, 0]


def test_entropy_nobody_and_everybody():
    logits, _ = realistic(200, 6, 3)
    nobody = exits.entropy_exits(logits, 0.0)
    assert (nobody.exit_index == 6).all()
    assert (nobody.prediction == logits[:, -1].argmax(-1)).all()
    everybody = exits.entropy_exits(logits, np.log(3) + 1)
    assert (everybody.exit_index == 1).all()
    assert (everybody.prediction == logits[:, 0].argmax(-1)).all()


def test_entropy_equal_to_tau_does_not_exit():
    logits = L([UNIF, MID, CONF0])
    h = exits.entropies(logits)
    assert h[0, 0] == pytest.approx(np.log(2))
    assert exits.entropy_exits(logits, h[0, 1]).exit_index.tolist() == [3]   # H == tau: stays
    assert exits.entropy_exits(logits, np.nextafter(h[0, 1], 1)).exit_index.tolist() == [2]
    assert exits.entropy_exits(logits, h[0, 0]).exit_index.tolist() == [2]


def test_entropy_is_stable_for_huge_logits():
    logits = L([[1e4, -1e4], [0.0, 0.0]], [[3e4, 3e4], [1e4, 0.0]])
    h = exits.entropies(logits)
    assert np.isfinite(h).all()
    assert h[0, 0] == pytest.approx(0.0, abs=1e-12)
    assert h[1, 0] == pytest.approx(np.log(2))
    assert exits.entropy_exits(logits, 0.1).exit_index.tolist() == [1, 2]


# --- patience rule -----------------------------------------------------------------
def _from_preds(preds, c=2):
    preds = np.asarray(preds)
    return (np.eye(c)[preds] * 5.0).astype(np.float32)


def test_patience_hand_built():
    logits = _from_preds([[0, 0, 0, 1, 1],     # counters 0 1 2 0 1
                          [0, 1, 0, 1, 0],     # 0 0 0 0 0
                          [1, 1, 0, 0, 0]])    # 0 1 0 1 2
    preds = logits.argmax(-1)
    assert exits.patience_counters(preds).tolist() == [[0, 1, 2, 0, 1], [0, 0, 0, 0, 0],
                                                       [0, 1, 0, 1, 2]]
    d = exits.patience_exits(logits, 1)
    assert d.exit_index.tolist() == [2, 5, 2]
    assert d.prediction.tolist() == [0, 0, 1]
    d = exits.patience_exits(logits, 2)
    assert d.exit_index.tolist() == [3, 5, 5]
    assert d.prediction.tolist() == [0, 0, 0]
    d = exits.patience_exits(logits, 3)             # nobody reaches 3: last exit
    assert d.exit_index.tolist() == [5, 5, 5]
    assert d.prediction.tolist() == [1, 0, 0]
    d = exits.patience_exits(logits, 0)             # PABEE's original: no early exit
    assert d.exit_index.tolist() == [5, 5, 5]
    assert d.prediction.tolist() == [1, 0, 0]


def test_patience_larger_than_layers():
    logits, _ = realistic(100, 4, 2)
    logits[:] = logits[:, :1]                       # every layer agrees
    assert (exits.patience_exits(logits, 3).exit_index == 4).all()   # reaches 3 at exit 4
    assert (exits.patience_exits(logits, 2).exit_index == 3).all()
    for p in (4, 5, 100):
        d = exits.patience_exits(logits, p)
        assert (d.exit_index == 4).all()
        assert (d.prediction == logits[:, -1].argmax(-1)).all()
    with pytest.raises(PfError):
        exits.patience_exits(logits, -1)


def test_last_exits():
    logits = L([CONF0, CONF1], [CONF1, CONF0])
    d = exits.last_exits(logits)
    assert d.exit_index.tolist() == [2, 2] and d.prediction.tolist() == [1, 0]


# --- speed-up and metrics ------------------------------------------------------------
def test_speedup_formula():
    assert exits.speedup([12] * 5, 12) == 1.0
    assert exits.speedup([6] * 7, 12) == 2.0
    assert exits.speedup([4, 4, 4], 12) == 3.0
    assert exits.speedup([1, 12], 12) == pytest.approx(24 / 13)
    assert exits.speedup([1, 2, 3], 3) == pytest.approx(9 / 6)
    assert exits.speedup(np.array([1] * 10), 12) == 12.0
    with pytest.raises(PfError):
        exits.speedup([], 12)
    with pytest.raises(PfError):
        exits.speedup([13], 12)


def test_metrics():
    pred = np.array([1, 1, 0, 0, 1])
    lab = np.array([1, 0, 0, 1, 1])
    assert exits.accuracy(pred, lab) == pytest.approx(3 / 5)
    # tp=2 fp=1 fn=1
    assert exits.f1(pred, lab) == pytest.approx(4 / 6)
    assert exits.f1(np.zeros(3, int), np.zeros(3, int)) == 0.0
    with pytest.raises(PfError):
        exits.compute_metrics(pred, lab, ("bleu",))


# --- sweeps, calibration and curves ------------------------------------------------------
@pytest.mark.parametrize("c", [2, 3])
def test_sweep_matches_direct_rules(c):
    logits, labels = realistic(600, 6, c, seed=c)
    layers = np.arange(1, 7)
    taus = np.concatenate([[0.0, 2.0], np.quantile(exits.entropies(logits), [.1, .3, .5, .9])])
    sw = exits.sweep(logits, labels, "entropy", layers, 6, ("accuracy", "f1"), params=taus)
    for i, tau in enumerate(taus):
        d = exits.entropy_exits(logits, tau)
        assert sw.total_layers[i] == d.layers(layers).sum()
        assert sw.speedups[i] == pytest.approx(exits.speedup(d.layers(layers), 6))
        m = exits.compute_metrics(d.prediction, labels, ("accuracy", "f1"), c)
        assert sw.metrics["accuracy"][i] == pytest.approx(m["accuracy"])
        assert sw.metrics["f1"][i] == pytest.approx(m["f1"])
    # every candidate tau is a distinct decision, and they are exact
    full = exits.sweep(logits, labels, "entropy", layers, 6)
    for i in np.random.default_rng(0).choice(len(full), 20, replace=False):
        d = exits.entropy_exits(logits, full.params[i])
        assert full.total_layers[i] == d.layers(layers).sum()


def test_sweep_with_sparse_exits():
    logits, labels = realistic(300, 4, 2)
    layers = np.array([3, 6, 9, 12])
    sw = exits.sweep(logits, labels, "entropy", layers, 12)
    for i in range(0, len(sw), max(1, len(sw) // 15)):
        d = exits.entropy_exits(logits, sw.params[i])
        assert sw.speedups[i] == pytest.approx(exits.speedup(d.layers(layers), 12))
    assert sw.speedups.max() == pytest.approx(4.0)


@pytest.mark.parametrize("rule", ["entropy", "patience"])
def test_calibration_hits_target(rule):
    logits, labels = realistic(4000, 12, 2)
    cal = exits.calibrate(logits, labels, rule, 2.0, np.arange(1, 13), 12, "accuracy",
                          ("accuracy", "f1"))
    d = exits.apply_rule(logits, rule, cal.param)
    assert cal.speedup == pytest.approx(exits.speedup(d.layers(np.arange(1, 13)), 12))
    assert cal.score == pytest.approx(exits.accuracy(d.prediction, labels))
    if rule == "entropy":       # thousands of breakpoints: the target is reachable
        assert abs(cal.speedup - 2.0) <= 0.02
        assert cal.param_name == "tau"
    else:                       # 12 patiences: closest of the few achievable values
        sw = exits.sweep(logits, labels, "patience", np.arange(1, 13), 12)
        assert abs(cal.speedup - 2.0) == pytest.approx(np.abs(sw.speedups - 2.0).min())
        assert isinstance(cal.param, int)


def test_calibration_reports_unreachable_target_and_ties_to_faster():
    # identical examples whose entropy falls at every layer: achievable speed-ups are 12/k
    one = np.stack([[0.5 * k, 0.0] for k in range(12)]).astype(np.float32)
    logits = np.repeat(one[None], 50, axis=0)
    labels = np.zeros(50, dtype=np.int64)
    layers = np.arange(1, 13)
    achievable = exits.sweep(logits, labels, "entropy", layers, 12).speedups
    assert np.allclose(np.sort(achievable), np.sort(12 / np.arange(1, 13)))
    # 6x and 4x are equally far from 5x: ties go to the faster
    cal = exits.calibrate(logits, labels, "entropy", 5.0, layers, 12)
    assert cal.speedup == pytest.approx(6.0)
    assert exits.entropy_exits(logits, cal.param).exit_index.tolist() == [2] * 50
    # 9x: closest achievable is 12x (|3|) vs 6x (|3|): tie -> 12x
    assert exits.calibrate(logits, labels, "entropy", 9.0, layers, 12).speedup == 12.0
    # exits every 2 layers: at most 6x; a 12x target reports what it achieved
    logits2, labels2 = realistic(500, 6, 2)
    cal = exits.calibrate(logits2, labels2, "entropy", 12.0, [2, 4, 6, 8, 10, 12], 12)
    assert cal.speedup == pytest.approx(6.0) and cal.target == 12.0
    # patience 1 (the fastest in the default sweep) leaves at exit 2 the earliest: <= 3x
    cal = exits.calibrate(logits2, labels2, "patience", 12.0, [2, 4, 6, 8, 10, 12], 12)
    assert cal.speedup <= 3.0 + 1e-9 and cal.param == 1


def test_calibration_on_heldout_applies_to_eval():
    logits, labels = realistic(3000, 12, 2, seed=1)
    cal = exits.calibrate(logits[:1000], labels[:1000], "entropy", 2.0, np.arange(1, 13), 12,
                          eval_logits=logits[1000:], eval_labels=labels[1000:])
    d = exits.entropy_exits(logits[1000:], cal.param)
    assert cal.eval_speedup == pytest.approx(exits.speedup(d.layers(np.arange(1, 13)), 12))
    assert cal.eval_score == pytest.approx(exits.accuracy(d.prediction, labels[1000:]))
    assert abs(cal.speedup - 2.0) <= 0.02
    assert abs(cal.eval_speedup - 2.0) < 0.2


@pytest.mark.parametrize("target", [1.0, 0.5, 12.5])
def test_calibration_rejects_bad_targets(target):
    logits, labels = realistic(50, 12, 2)
    with pytest.raises(PfError):
        exits.calibrate(logits, labels, "entropy", target, np.arange(1, 13), 12)


def test_curve_gap_property_and_exactness():
    logits, labels = realistic(3000, 12, 2, seed=3)
    layers = np.arange(1, 13)
    curve = exits.tradeoff_curve(logits, labels, "entropy", layers, 12, ("accuracy", "f1"))
    full = exits.sweep(logits, labels, "entropy", layers, 12)
    s = curve.speedups
    assert (np.diff(s) > 0).all()
    assert s[0] == pytest.approx(1.0) and s[-1] == pytest.approx(12.0)
    for a, b in zip(s[:-1], s[1:]):
        if b - a > 0.05 + 1e-12:      # only where no threshold gives a speed-up in between
            assert not ((full.speedups > a + 1e-12) & (full.speedups < b - 1e-12)).any()
    dense = s[s < 6]                  # realistic data: dense breakpoints in the useful range
    assert np.diff(dense).max() <= 0.05 + 1e-12
    for i in range(0, len(curve), 17):
        d = exits.entropy_exits(logits, curve.params[i])
        assert s[i] == pytest.approx(exits.speedup(d.layers(layers), 12))
        assert curve.metrics["accuracy"][i] == pytest.approx(exits.accuracy(d.prediction, labels))
    capped = exits.tradeoff_curve(logits, labels, "entropy", layers, 12, max_points=40)
    assert len(capped) <= 40
    pat = exits.tradeoff_curve(logits, labels, "patience", layers, 12)
    assert len(pat) <= 11 and pat.speedups[0] == pytest.approx(1.0, abs=0.01)
    assert pat.speedups[-1] <= 6.0 + 1e-9           # patience 1 exits at layer 2 the earliest
    assert 0 not in pat.params


def test_curve_of_200_thresholds_equals_one_decision_per_threshold():
    # Its speed (well under 1 s) is measured by benchmarks/exits_speed.py, not here.
    logits, labels = realistic(10000, 12, 2)
    layers = np.arange(1, 13)
    taus = np.linspace(0.0, 0.7, 200)
    sw = exits.tradeoff_curve(logits, labels, "entropy", layers, 12, ("accuracy", "f1"),
                              params=taus)
    assert len(sw) == 200 and np.all(np.diff(sw.speedups) >= 0)
    for i in (0, 57, 123, 199):
        tau = sw.params[i]
        d = exits.entropy_exits(logits, tau)
        assert sw.speedups[i] == exits.speedup(d.layers(layers), 12)
        assert sw.metrics["accuracy"][i] == pytest.approx(float((d.prediction == labels).mean()))


def test_near_threshold_flags():
    logits = L([UNIF, MID, CONF0], [CONF0, CONF0, CONF0])
    h = exits.entropies(logits)
    near = exits.near_threshold(logits, "entropy", h[0, 1] + 5e-7)
    assert near.tolist() == [True, False]
    tied = L([[1.0, 1.0 + 1e-8], CONF0, CONF0])
    assert exits.near_threshold(tied, "patience", 1).tolist() == [True]
