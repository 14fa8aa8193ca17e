"""TinyBERT's attention loss compares attention scores (pre-softmax Q K^T / sqrt(d_head)),
as the TinyBERT paper defines it, for student and teacher alike: no softmax and no
attention dropout enters what is compared."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pf.methods.base import TrainContext
from pf.methods.checkpoint import save_checkpoint
from pf.methods.distill import _attention_module, trace_encoder
from pf.methods.registry import build_model
from test_methods_support import key_inputs, tiny_encoder

FAMILIES = ("bert", "roberta", "albert")


def _attention_dropout_only(model: nn.Module, p: float) -> None:
    for name, m in model.named_modules():
        if isinstance(m, nn.Dropout):
            m.p = p if name.endswith(("attention.self.dropout", "attention.attention_dropout")) \
                else 0.0


@pytest.fixture(scope="module", params=FAMILIES)
def student(request, tmp_path_factory):
    family = request.param
    torch.manual_seed(7)
    teacher = build_model("full", {}, tiny_encoder(family, 4, seed=7), 2)
    path = save_checkpoint(teacher, tmp_path_factory.mktemp(f"t-{family}"),
                           {"task": "sst2", "backbone": {"name": family}})
    torch.manual_seed(0)
    # m = n: student layer k starts as teacher layer k
    model = build_model("tinybert", {"layers": 4, "teacher": str(path)},
                        tiny_encoder(family, 4, seed=7), 2)
    _attention_dropout_only(model, 0.5)
    _attention_dropout_only(model.teacher, 0.5)
    return model


def test_scores_are_pre_softmax(student):
    """softmax(scores + mask) is exactly the attention probability eager attention uses
    (the student runs sdpa, which returns none; eager is switched on to compare)."""
    enc = student.encoder
    inputs, _ = key_inputs(5, seed=3)
    assert (inputs.attention_mask == 0).any()
    student.eval()
    kernel = enc.attn_implementation
    with torch.no_grad():
        trace = trace_encoder(enc, inputs, attention=True)
        seen = []
        module = _attention_module(enc, 0)
        handle = module.register_forward_hook(lambda m, a, out: seen.append(out[1]))
        try:
            enc.set_attn_implementation("eager")
            enc.layer(0, trace.embeddings, enc.attention_bias(inputs.attention_mask,
                                                               trace.embeddings.dtype))
        finally:
            handle.remove()
            enc.set_attn_implementation(kernel)
    scores = trace.attention[0]
    assert scores.shape == (5, module.num_attention_heads, 10, 10)
    pad = inputs.attention_mask[:, None, None, :] == 0
    assert (scores.masked_select(pad) == 0).all()
    probs = scores.masked_fill(pad, float("-inf")).softmax(-1)
    torch.testing.assert_close(probs, seen[0], rtol=1e-5, atol=1e-6)
    assert (scores.abs() > 1.0 + 1e-6).any() or (scores < 0).any()   # not probabilities


def test_no_attention_dropout_in_what_is_compared(student):
    """In training mode with attention dropout 0.5 the student's first-layer scores equal
    the teacher's (same weights, same input); probabilities after dropout would not."""
    inputs, labels = key_inputs(6, seed=1)
    student.train()
    ctx = TrainContext(stage="intermediate")
    out = student(inputs, ctx)
    torch.testing.assert_close(out.extras["attn"][:, 0], out.extras["teacher_attn"][:, 0],
                               rtol=0, atol=1e-6)
    with torch.no_grad():
        student.eval()
        again = trace_encoder(student.encoder, inputs, attention=True).attention[0]
    torch.testing.assert_close(out.extras["attn"][:, 0].detach(), again, rtol=0, atol=1e-6)
    terms = student.loss(out, labels, ctx)
    assert torch.isfinite(terms.total)
