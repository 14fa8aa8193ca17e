"""Option `exit_pooling` (cls | mean) of every method: what the heads read, the engine's
agreement with the recorded logits, padding invariance, checkpoints and validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pf import exits
from pf.engine import record_logits
from pf.errors import PfError
from pf.methods.base import TOKEN_MASK, TrainContext, masked_mean
from pf.methods.checkpoint import load_checkpoint, save_checkpoint
from pf.methods.registry import build_model, parse_method_options
from _engine_models import early_exits_agreeing
from test_methods_support import key_inputs, tiny_encoder

# every method family and head shape: single exit, off-ramps, shared pooler, the released
# tied concat head, the paper's vector heads, prediction-level strategies
CASES = [
    ("full", {}), ("truncated", {"layers": 2}), ("deebert", {}), ("pabee", {}),
    ("pf", {}), ("pf", {"variant": "paper"}), ("pf", {"strategy": "lstm"}),
    ("pf", {"strategy": "attn", "variant": "paper"}), ("pf", {"strategy": "voting"}),
    ("pf", {"future": False}),
]
IDS = [f"{m}-{'-'.join(f'{k}={v}' for k, v in o.items()) or 'default'}" for m, o in CASES]


def make(method, options, pooling, family="bert", seed=0, spread=1.0):
    torch.manual_seed(seed)
    model = build_model(method, {**options, "exit_pooling": pooling},
                        tiny_encoder(family, 4, seed=seed), 3)
    if spread != 1.0:           # spread the random heads so entropies differ between rows
        with torch.no_grad():
            for _, p in model.head_parameters():
                p.mul_(spread)
    return model.eval()


def mixed_inputs(n=24, seed=1):
    """Rows of different lengths, right-padded (the first column is [CLS])."""
    inputs, _ = key_inputs(n, length=12, seed=seed)
    return inputs


def test_masked_mean_averages_attended_tokens_only():
    h = torch.arange(2 * 4 * 3, dtype=torch.float32).view(2, 4, 3)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    out = masked_mean(h, mask)
    torch.testing.assert_close(out[0], h[0, :2].mean(0))
    torch.testing.assert_close(out[1], h[1].mean(0))


@pytest.mark.parametrize("method,options", CASES, ids=IDS)
def test_mean_pooling_reads_the_token_mean(method, options):
    """With exit_pooling mean the heads see the mean of the attended tokens: changing a
    non-[CLS] token changes every exit, and the logits differ from cls pooling of the same
    weights; the state carries the mask through every layer."""
    model = make(method, options, "mean")
    x = mixed_inputs()
    with torch.no_grad():
        mean_logits = model(x).logits
        model.options = parse_method_options(method, {**options, "exit_pooling": "cls"})
        cls_logits = model(x).logits
        model.options = parse_method_options(method, {**options, "exit_pooling": "mean"})
    assert not torch.allclose(mean_logits, cls_logits)
    state = model.start_state(x)
    assert torch.equal(state[TOKEN_MASK], x.attention_mask)
    h = model.encoder.embed(x)
    bias = model.encoder.attention_bias(x.attention_mask, h.dtype)
    for i in range(model.encoder.n_layers):
        h = model.encoder.layer(i, h, bias)
        _, state = model.exit_step(i, h, state)
        assert torch.equal(state[TOKEN_MASK], x.attention_mask)


@pytest.mark.parametrize("method,options", CASES, ids=IDS)
def test_mean_pooling_ignores_padding(method, options):
    """Dynamic padding (batches cut to their longest row, grouped by length) gives the
    fully padded computation's logits: padded positions never enter the mean."""
    model = make(method, options, "mean")
    x = mixed_inputs(30, seed=3)
    padded = record_logits(model, x, batch_size=7, group_by_length=False, trim=False)
    dynamic = record_logits(model, x, batch_size=7)
    np.testing.assert_allclose(dynamic, padded, rtol=0, atol=1e-5)


@pytest.mark.parametrize("method,options",
                         [c for c in CASES if c[0] in ("deebert", "pabee", "pf")],
                         ids=[i for c, i in zip(CASES, IDS) if c[0] in ("deebert", "pabee", "pf")])
def test_engine_equals_recorded_logits_with_mean_pooling(method, options):
    """The engine drops exited rows from the state too, mask included, and makes the same
    exits and predictions as the simulation over the recorded logits."""
    model = make(method, options, "mean", spread=40.0)
    x = mixed_inputs(40, seed=2)
    logits = record_logits(model, x, batch_size=40)
    rule = model.exit_rule
    layers = np.asarray(model.exit_layers)
    n = model.n_layers_full
    if rule == "entropy":
        labels = np.zeros(40, dtype=np.int64)
        params = [exits.calibrate(logits, labels, "entropy", t, layers, n).param
                  for t in (1.5, 2.0, 3.0)]
    else:
        params = [1, 2]
    assert early_exits_agreeing(model, x, logits, rule, params, method) > 0


def test_cls_pooling_is_the_default_and_reads_the_first_token():
    model = make("pabee", {}, "cls")
    assert model.options.exit_pooling == "cls"
    assert parse_method_options("pabee", {}).exit_pooling == "cls"
    x = mixed_inputs()
    assert TOKEN_MASK not in model.start_state(x)      # the state is what it always was
    with torch.no_grad():
        h = model.encoder.forward_layers(x)[0]
        assert torch.equal(model.summary(h, model.start_state(x)), h[:, 0])


def test_mean_pooling_without_the_mask_says_how_to_start():
    model = make("pabee", {}, "mean")
    x = mixed_inputs(4)
    h = model.encoder.forward_layers(x)[0]
    with pytest.raises(PfError, match="start_state"):
        model.exit_step(0, h, model.init_state(4, "cpu"))


@pytest.mark.parametrize("method", ["full", "deebert", "pabee", "pf", "kd"])
def test_bad_exit_pooling_is_refused_naming_it(method):
    options = {"layers": 2} if method == "kd" else {}
    with pytest.raises(PfError, match=r"option 'exit_pooling' = 'max' is not one of cls, mean"):
        parse_method_options(method, {**options, "exit_pooling": "max"})


def test_checkpoint_keeps_exit_pooling(tmp_path):
    model = make("pf", {}, "mean")
    x = mixed_inputs(8)
    with torch.no_grad():
        before = model(x).logits
    save_checkpoint(model, tmp_path / "m", {"task": "sst2", "seed": 0})
    loaded = load_checkpoint(tmp_path / "m")
    assert loaded.info["options"]["exit_pooling"] == "mean"
    assert loaded.model.options.exit_pooling == "mean"
    with torch.no_grad():
        torch.testing.assert_close(loaded.model.eval()(x).logits, before, rtol=0, atol=1e-6)


@pytest.mark.parametrize("method", ["kd", "pkd"])
def test_students_and_teacher_pool_alike(tmp_path, method):
    """A mean-pooling student trains from a mean-pooling teacher: the teacher's logits (and
    PKD's layer vectors) come from the token mean too."""
    teacher = make("full", {}, "mean")
    save_checkpoint(teacher, tmp_path / "t", {"task": "sst2", "seed": 0})
    torch.manual_seed(0)
    student = build_model(method, {"layers": 2, "teacher": str(tmp_path / "t"),
                                   "exit_pooling": "mean"}, tiny_encoder("bert", 4), 3)
    x = mixed_inputs(6)
    student.train()
    torch.manual_seed(5)              # the same dropout masks for the check below
    out = student(x, TrainContext())
    with torch.no_grad():
        expected = student.teacher(x).logits[:, -1]
    torch.testing.assert_close(out.extras["teacher_logits"], expected)
    loss = student.loss(out, torch.zeros(6, dtype=torch.long), TrainContext())
    assert torch.isfinite(loss.total)
    if method == "pkd":
        torch.manual_seed(5)
        h = student.encoder.forward_layers(x)[0]
        torch.testing.assert_close(out.extras["cls"][:, 0],
                                   masked_mean(h, x.attention_mask))
