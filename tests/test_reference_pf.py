"""Past-Future `released` against an independent reference of the released code
(tests/reference/released_pf.py, written from lancopku/Early-Exit, importing nothing from pf):
every exit's logits, the loss, the imitation loss and every gradient, on tiny BERT, RoBERTa
and ALBERT, with non-zero biases, padding in the batch and two label counts; then the
freeze probability and the exit decision."""

from __future__ import annotations

import copy

import pytest
import torch

from pf.methods.base import FreezeDecision, TrainContext
from pf.methods.registry import build_model
from reference import released_pf as ref
from reference.backbone import layer_outputs
from test_methods_support import key_inputs, perturb_weights, tiny_encoder

FAMILIES = ("bert", "roberta", "albert")
TOL = 1e-5
N = 4


def released_model(family: str, num_labels: int, seed: int = 0, **options):
    torch.manual_seed(seed)
    model = build_model("pf", {"variant": "released", "strategy": "concat", **options},
                        tiny_encoder(family, N, seed=seed), num_labels)
    perturb_weights(model, seed + 100, head_scale=0.3)
    return model.eval()


def heads_of(model) -> ref.ReleasedHeads:
    """pf's parameters in the released code's layout (transposes, learner index shift)."""
    n, d = model.encoder.n_layers, model.encoder.hidden_size
    if model.encoder.family == "albert":
        pooler = model.encoder.pretrained_pooler()
        poolers = [(pooler.weight, pooler.bias)] * n
    else:
        poolers = [(model.pool_weight[i], model.pool_bias[i]) for i in range(n)]
    filler = torch.randn(1, d, d)            # CLSPredLayer.weight[0]: never read
    pred_w = torch.cat([filler, model.learner_weight.transpose(1, 2)], 0)
    pred_b = torch.cat([torch.randn(1, d), model.learner_bias], 0)
    return ref.ReleasedHeads(poolers, pred_w, pred_b, model.proj_weight.transpose(1, 2),
                             model.proj_bias, model.gate.weight, model.gate.bias)


def reference_run(model, inputs, labels, detach=()):
    """The reference's logits and loss on a copy of pf's weights (its own autograd graph)."""
    twin = copy.deepcopy(model)
    hs = layer_outputs(twin.encoder.model, twin.encoder.family, inputs.input_ids,
                       inputs.attention_mask, inputs.token_type_ids, detach=detach)
    out = ref.forward(heads_of(twin), hs, model.num_labels)
    return twin, out, ref.loss(out, labels, model.num_labels)


def compare(family: str, num_labels: int, detach=()) -> dict[str, float]:
    """Largest |pf - reference| of the exit logits, losses and gradients."""
    model = released_model(family, num_labels)
    inputs, labels = key_inputs(6, seed=11)
    labels = labels % num_labels
    assert (inputs.attention_mask == 0).any()                 # padding in the batch
    ctx = TrainContext(freeze=FreezeDecision(detached=(tuple(detach),)))
    out = model(inputs, ctx)
    terms = model.loss(out, labels, ctx)
    terms.total.backward()
    twin, rout, rloss = reference_run(model, inputs, labels, detach)
    rloss.total.backward()
    diffs = {
        "logits": max(float((out.logits[:, i] - rout.logits[i]).detach().abs().max())
                      for i in range(N)),
        "loss": abs(float((terms.total - rloss.total).detach())),
        "imitation": abs(float((out.extras["imitation"].mean() - rloss.imitation).detach())),
        "ce": abs(float((terms.parts["ce"] - rloss.ce).detach())),
    }
    grads = 0.0
    for (name, p), (_, q) in zip(model.named_parameters(), twin.named_parameters()):
        a = torch.zeros_like(p) if p.grad is None else p.grad
        b = torch.zeros_like(q) if q.grad is None else q.grad
        grads = max(grads, float((a - b).abs().max()))
    diffs["grad"] = grads
    return diffs


@pytest.mark.parametrize("num_labels", [2, 3])
@pytest.mark.parametrize("family", FAMILIES)
def test_released_pf_matches_reference(family, num_labels):
    diffs = compare(family, num_labels)
    assert all(v <= TOL for v in diffs.values()), diffs


@pytest.mark.parametrize("family", ["bert", "albert"])
def test_released_pf_matches_reference_with_frozen_layers(family):
    diffs = compare(family, 3, detach=(1, 2))
    assert all(v <= TOL for v in diffs.values()), diffs


def test_last_exit_is_two_alpha_past():
    model = released_model("bert", 3)
    inputs, _ = key_inputs(6, seed=2)
    with torch.no_grad():
        last = model(inputs).logits[:, -1]
        hs = model.encoder.forward_layers(inputs)
        states = torch.stack([model.pool(i, h) for i, h in enumerate(hs)], 1)
        proj = torch.einsum("bkd,kcd->bkc", states, model.proj_weight) + model.proj_bias
        past, gate = proj[..., :3].sum(1), proj[..., 3:].mean(1)
        alpha = torch.sigmoid(model.gate(torch.tanh(gate)))
    torch.testing.assert_close(last, 2 * alpha * past, rtol=0, atol=TOL)
    assert (last - past).abs().max() > 1e-2                  # the old `past` alone differs


def test_imitation_loss_reaches_the_learner_input_by_default():
    model = released_model("bert", 2)
    inputs, _ = key_inputs(5)
    out = model(inputs, TrainContext())
    out.extras["imitation"].mean().backward()
    assert torch.count_nonzero(model.pool_weight.grad[0]) > 0   # s_1 = learner input
    assert torch.count_nonzero(model.pool_weight.grad[N - 1]) == 0  # s_n: a target only


def test_freeze_probability_per_layer_and_forward_pass():
    """Each of the lowest L layers is detached independently with the reference's
    probability 1 - t/T, t counting forward passes (micro-batches), T optimizer steps."""
    model = released_model("bert", 2, frozen_layers=3)
    g = torch.Generator().manual_seed(0)
    total, accum, trials = 8, 2, 3000
    counts = torch.zeros(total * accum, 3)
    both = torch.zeros(total * accum)
    for _ in range(trials):
        for step in range(total):
            d = model.sample_freeze(TrainContext(step=step, total_steps=total,
                                                 forward_step=step * accum,
                                                 micro_batches=accum, generator=g))
            for j, layers in enumerate(d.detached):
                t = step * accum + j
                for k in layers:
                    counts[t, k - 1] += 1
                both[t] += {1, 2} <= set(layers)
    freq = counts / trials
    for t in range(total * accum):
        p = ref.detach_probability(t, total)
        assert torch.allclose(freq[t], torch.full((3,), p), atol=0.035), (t, freq[t], p)
        assert abs(float(both[t]) / trials - p * p) < 0.035      # independent layers
    assert ref.detach_probability(total, total) == 0.0 and (freq[total:] == 0).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_exit_decision_matches_reference(family):
    from pf import exits

    model = released_model(family, 3)
    inputs, labels = key_inputs(12, seed=4)
    with torch.no_grad():
        logits = model(inputs).logits
        hs = layer_outputs(model.encoder.model, family, inputs.input_ids,
                           inputs.attention_mask, inputs.token_type_ids)
        per_layer = ref.forward(heads_of(model), hs, 3).logits
    ent = exits.entropies(logits.numpy())
    for tau in sorted(set(ent[:, :-1].ravel().round(6).tolist()))[::3] + [0.0, 9.0]:
        dec = exits.entropy_exits(logits.numpy(), tau)
        for r in range(12):
            layer, chosen = ref.exit_layer([x[r:r + 1] for x in per_layer], tau)
            near = abs(ent[r, :layer] - tau).min() < 1e-5
            if not near:
                assert dec.exit_index[r] == layer
                assert dec.prediction[r] == int(chosen.argmax())


def test_hand_made_entropy_decisions():
    """Hand-made logits: the released loop and pf.exits agree exit by exit."""
    import numpy as np

    from pf import exits

    rows = np.array([[[0.0, 0.0], [3.0, 0.0], [9.0, 0.0]],    # H: ln2, 0.18, 0.001
                     [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]],    # never below ln 2
                     [[8.0, 0.0], [0.0, 0.0], [0.0, 5.0]]], dtype=np.float32)
    for tau, expected in ((0.5, [2, 3, 1]), (0.01, [3, 3, 1]), (0.0, [3, 3, 3])):
        assert exits.entropy_exits(rows, tau).exit_index.tolist() == expected
        got = [ref.exit_layer([torch.tensor(r[k:k + 1]) for k in range(3)], tau)[0]
               for r in rows]
        assert got == expected
