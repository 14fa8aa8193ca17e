"""PABEE against an independent reference of the original code
(tests/reference/pabee_ref.py, from transformers' research_projects/bert-loses-patience):
exit logits and the layer-weighted loss on BERT/RoBERTa/ALBERT with two label counts, the
head dropout (ALBERT: classifier_dropout_prob), and the patience counter (consecutive
identical predictions; patience 0 = no early exit) on hand-made logits and in the engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pf import exits
from pf.engine import run_engine
from pf.methods.base import TrainContext
from pf.methods.registry import build_model
from reference import pabee_ref as ref
from test_methods_support import key_inputs, perturb_weights, tiny_encoder

FAMILIES = ("bert", "roberta", "albert")
TOL = 1e-5
N = 4


def pabee(family: str, num_labels: int, seed: int = 0):
    torch.manual_seed(seed)
    model = build_model("pabee", {}, tiny_encoder(family, N, seed=seed), num_labels)
    perturb_weights(model, seed + 100, head_scale=0.5)
    return model.eval()


def reference_logits(model, inputs):
    return ref.logits(model.encoder.model, model.encoder.family,
                      [(c.weight, c.bias) for c in model.classifiers],
                      inputs.input_ids, inputs.attention_mask, inputs.token_type_ids)


@pytest.mark.parametrize("num_labels", [2, 3])
@pytest.mark.parametrize("family", FAMILIES)
def test_pabee_logits_and_loss_match_reference(family, num_labels):
    model = pabee(family, num_labels)
    inputs, labels = key_inputs(6, seed=11)
    labels = labels % num_labels
    assert (inputs.attention_mask == 0).any()
    with torch.no_grad():
        out = model(inputs, TrainContext())
        theirs = reference_logits(model, inputs)
        for i in range(N):
            assert (out.logits[:, i] - theirs[i]).abs().max() <= TOL, i
        ours = model.loss(out, labels, TrainContext()).total
        assert abs(float(ours - ref.loss(theirs, labels))) <= TOL


@pytest.mark.parametrize("family,key", [("bert", "hidden_dropout_prob"),
                                        ("roberta", "hidden_dropout_prob"),
                                        ("albert", "classifier_dropout_prob")])
def test_head_dropout_as_the_original(family, key):
    model = pabee(family, 2)
    expected = getattr(model.encoder.model.config, key)
    assert model.dropout.p == expected
    if family == "albert":          # the point of the fix: ALBERT's hidden dropout is 0
        assert expected == 0.1 and model.encoder.model.config.hidden_dropout_prob == 0.0


def _from_preds(preds, c=3):
    return (np.eye(c)[np.asarray(preds)] * 4.0).astype(np.float32)


def test_patience_counter_on_hand_made_logits():
    logits = _from_preds([[0, 0, 0, 1, 1, 1],
                          [0, 1, 0, 1, 0, 1],
                          [2, 2, 1, 1, 1, 1],
                          [1, 1, 1, 1, 1, 1],
                          [0, 2, 2, 0, 0, 0]])
    for patience in range(0, 8):
        dec = exits.patience_exits(logits, patience)
        for r in range(logits.shape[0]):
            layer, chosen = ref.exit_layer([torch.tensor(logits[r, k:k + 1])
                                            for k in range(logits.shape[1])], patience)
            assert dec.exit_index[r] == layer, (patience, r)
            assert dec.prediction[r] == int(chosen.argmax()), (patience, r)
    assert exits.patience_exits(logits, 0).exit_index.tolist() == [6] * 5


def test_default_sweep_leaves_patience_zero_out():
    logits = _from_preds([[0, 0, 1, 1], [1, 1, 1, 1]], c=2)
    labels = np.array([1, 1])
    sw = exits.sweep(logits, labels, "patience", np.arange(1, 5), 4)
    assert sw.params.tolist() == [1, 2, 3] and 0 not in sw.params
    asked = exits.sweep(logits, labels, "patience", np.arange(1, 5), 4, params=[0])
    assert asked.speedups.tolist() == [1.0]                # asked for: no early exit


@pytest.mark.parametrize("family", FAMILIES)
def test_engine_patience_matches_reference(family):
    model = pabee(family, 3)
    inputs, _ = key_inputs(16, seed=4)
    with torch.no_grad():
        theirs = reference_logits(model, inputs)
    for patience in (0, 1, 2):
        res = run_engine(model, inputs, "patience", patience, batch_size=5)
        for r in range(16):
            layer, chosen = ref.exit_layer([t[r:r + 1] for t in theirs], patience)
            if not res.near[r]:
                assert res.exit_layer[r] == layer and res.prediction[r] == int(chosen.argmax())
