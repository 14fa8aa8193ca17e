"""DeeBERT against an independent reference of the original code
(tests/reference/deebert_ref.py, from transformers' research_projects/deebert): exit
logits and both stages' losses on BERT/RoBERTa/ALBERT with two label counts, what each
stage trains, stage 2's gradient clipping over every gradient (the clip factor and the
off-ramp weights after training), and the exit decision, including the original's n-th
off-ramp that pf leaves out on purpose (docs/METHODS.md)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pf.methods.base import TrainContext
from pf.methods.registry import build_model
from pf.train.args import TrainingArgs
from pf.train.data import Examples
from pf.train.trainer import train
from reference import deebert_ref as ref
from test_methods_support import key_inputs, perturb_weights, tiny_encoder

FAMILIES = ("bert", "roberta", "albert")
TOL = 1e-5
N = 4


def deebert(family: str, num_labels: int, seed: int = 0, no_dropout: bool = False):
    torch.manual_seed(seed)
    model = build_model("deebert", {}, tiny_encoder(family, N, seed=seed), num_labels)
    perturb_weights(model, seed + 100, head_scale=0.3)
    if no_dropout:
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.p = 0.0
    return model


def original_of(model) -> ref.OriginalDeeBert:
    """The original module tree holding pf's weights (highway n: random, never trained)."""
    p = model.dropout.p
    orig = ref.OriginalDeeBert(model.encoder.model, model.encoder.family, model.num_labels, p)
    with torch.no_grad():
        for i, ramp in enumerate(model.ramps):
            orig.highway[i].pooler.load_state_dict(ramp.pooler.dense.state_dict())
            orig.highway[i].classifier.load_state_dict(ramp.classifier.state_dict())
        orig.classifier.load_state_dict(model.classifier.state_dict())
    for m in orig.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0 if p == 0.0 else m.p
    return orig


@pytest.mark.parametrize("num_labels", [2, 3])
@pytest.mark.parametrize("family", FAMILIES)
def test_deebert_logits_and_losses_match_reference(family, num_labels):
    model = deebert(family, num_labels).eval()
    orig = original_of(model).eval()
    inputs, labels = key_inputs(6, seed=11)
    labels = labels % num_labels
    assert (inputs.attention_mask == 0).any()
    out = model(inputs)
    highway, final = orig(inputs.input_ids, inputs.attention_mask, inputs.token_type_ids)
    for i in range(N - 1):
        assert (out.logits[:, i] - highway[i]).abs().max() <= TOL, i
    assert (out.logits[:, -1] - final).abs().max() <= TOL
    for stage, train_highway in (("backbone", False), ("ramps", True)):
        ours = model.loss(out, labels, TrainContext(stage=stage)).total
        theirs = orig.loss(highway, final, labels, train_highway)
        assert abs(float((ours - theirs).detach())) <= TOL, stage


def _data(n=32, seed=5):
    inputs, labels = key_inputs(n, seed=seed)
    return inputs, labels, Examples(inputs.input_ids, inputs.attention_mask,
                                    inputs.token_type_ids, labels)


def test_each_stage_trains_what_the_original_trains():
    model = deebert("bert", 2)
    _, _, data = _data()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    args = TrainingArgs(lr=1e-2, batch_size=16, epochs=1)
    train(model, data, args, seed=0, device="cpu", progress=False, only_stages=("backbone",))
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert not any(k.startswith("ramps.") for k in changed)          # stage 1: not the ramps
    assert any(k.startswith("classifier.") for k in changed)
    assert any(k.startswith("encoder.") for k in changed)
    before = {k: v.clone() for k, v in after.items()}
    train(model, data, args, seed=0, device="cpu", progress=False, only_stages=("ramps",))
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("ramps.") for k in changed)  # stage 2: only the ramps


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_stage2_clipping_matches_the_original(family):
    """Stage 2 as run_glue_deebert.train(train_highway=True): the gradient norm that
    clip_grad_norm_ sees includes the backbone's gradients, so the clip factor and the
    off-ramps after training are the original's (the old ramps-only clip was not)."""
    steps, max_norm = 4, 1.0
    model = deebert(family, 2, no_dropout=True)
    inputs, labels, data = _data()
    orig = original_of(model)
    batch = (inputs.input_ids, inputs.attention_mask, inputs.token_type_ids, labels)
    norms = ref.train_steps(orig, [batch] * steps, True, lr=1e-2, max_grad_norm=max_norm,
                            weight_decay=0.01)
    args = TrainingArgs(lr=1e-2, batch_size=len(data), epochs=steps, weight_decay=0.01,
                        max_grad_norm=max_norm)
    result = train(model, data, args, seed=0, device="cpu", progress=False,
                   only_stages=("ramps",))
    ours = [r["grad_norm"] for r in result.log if r["kind"] == "step"]
    assert len(ours) == steps
    for a, b in zip(ours, norms):
        assert abs(a - b) <= 1e-4 * max(1.0, b), (ours, norms)
    for i, ramp in enumerate(model.ramps):
        for a, b in ((ramp.pooler.dense.weight, orig.highway[i].pooler.weight),
                     (ramp.classifier.weight, orig.highway[i].classifier.weight),
                     (ramp.classifier.bias, orig.highway[i].classifier.bias)):
            assert (a - b).abs().max() <= TOL, i
    # the off-ramps alone would have given another factor: the test can tell them apart
    fresh = deebert(family, 2, no_dropout=True)
    fresh.train()
    out = fresh(inputs, TrainContext(stage="ramps"))
    fresh.loss(out, labels, TrainContext(stage="ramps")).total.backward()
    ramps_only = torch.norm(torch.stack([p.grad.norm() for p in fresh.ramps.parameters()
                                         if p.grad is not None]))
    assert ref.clip_factor(norms[0], max_norm) < 0.8 * ref.clip_factor(float(ramps_only), max_norm)


def test_exit_decisions_on_hand_made_logits():
    """pf's entropy rule over [off-ramps 1..n-1, final] is the paper's DeeBERT; the
    original also tests its untrained n-th off-ramp before the final classifier."""
    import numpy as np

    from pf import exits

    flat, sure, wrong = [0.0, 0.0], [6.0, 0.0], [0.0, 6.0]
    cases = [  # highways 1..n, final
        ([flat, sure, flat, flat], flat),       # exits at 2
        ([flat, flat, flat, flat], sure),       # nobody fires: final
        ([flat, flat, flat, wrong], sure),      # the n-th highway fires in the original only
    ]
    tau = 0.1
    for highway, final in cases:
        hw = [torch.tensor([h]) for h in highway]
        fin = torch.tensor([final])
        paper_layer, paper_logits = ref.paper_exit(hw, fin, tau)
        stacked = np.array([highway[:-1] + [final]], dtype=np.float32)
        dec = exits.entropy_exits(stacked, tau)
        assert dec.exit_index.tolist() == [paper_layer]
        assert dec.prediction.tolist() == [int(paper_logits.argmax())]
    layer, logits = ref.original_exit([torch.tensor([h]) for h in cases[2][0]],
                                      torch.tensor([cases[2][1]]), tau)
    assert layer == N and int(logits.argmax()) == 1             # the untrained highway answers
    assert exits.entropy_exits(np.array([cases[2][0][:-1] + [cases[2][1]]], dtype=np.float32),
                               tau).prediction.tolist() == [0]  # pf: the final classifier
