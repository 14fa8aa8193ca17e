"""Exit methods: shapes, the step/forward contract, loss weights, Past-Future's pieces,
DeeBERT's frozen stage, freezing, distillation students and option validation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pf.errors import PfError
from pf.methods.base import ExitOutputs, FreezeDecision, TrainContext, exit_weights
from pf.methods.checkpoint import save_checkpoint
from pf.methods.registry import build_model, get_method
from test_methods_support import key_inputs, tiny_encoder

FAMILIES = ("bert", "roberta", "albert")
CONFIGS = [
    ("full", {}), ("truncated", {"layers": 2}), ("deebert", {}), ("pabee", {}),
    ("pf", {}), ("pf", {"gate": False}), ("pf", {"future": False}), ("pf", {"variant": "paper"}),
    ("pf", {"strategy": "max"}), ("pf", {"strategy": "avg"}), ("pf", {"strategy": "attn"}),
    ("pf", {"strategy": "lstm"}), ("pf", {"strategy": "voting"}),
    ("pf", {"strategy": "ensemble"}), ("pf", {"strategy": "lstm", "variant": "paper"}),
    ("pf", {"frozen_layers": 2, "freeze_schedule": "paper"}),
]
IDS = [f"{m}-{'-'.join(f'{k}={v}' for k, v in o.items()) or 'default'}" for m, o in CONFIGS]


def make(method, options, family="bert", n_layers=4, seed=0, **kw):
    torch.manual_seed(seed)
    return build_model(method, options, tiny_encoder(family, n_layers, seed=seed), 3, **kw)


def manual_logits(model, inputs, drop_after: int | None = None, keep=None):
    """embed -> layer -> exit_step, optionally dropping rows after layer `drop_after`."""
    enc = model.encoder
    h = enc.embed(inputs)
    bias = enc.attention_bias(inputs.attention_mask, h.dtype)
    state = model.init_state(h.shape[0], h.device)
    out = []
    for i in range(enc.n_layers):
        h = enc.layer(i, h, bias)
        logits, state = model.exit_step(i, h, state)
        if logits is not None:
            out.append(logits)
        if drop_after is not None and i == drop_after:
            h, bias = h[keep], bias[keep]
            state = {k: v[keep] for k, v in state.items()}
            out = [o[keep] for o in out]
    return torch.stack(out, 1)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method,options", CONFIGS, ids=IDS)
def test_logits_shapes_and_finite(family, method, options):
    model = make(method, options, family)
    inputs, labels = key_inputs(5)
    out = model(inputs, TrainContext())
    E = len(model.exit_layers)
    assert out.logits.shape == (5, E, 3)
    assert torch.isfinite(out.logits).all()
    assert list(model.exit_layers) == sorted(model.exit_layers)
    terms = model.loss(out, labels, TrainContext(stage=model.stages()[-1]))
    assert terms.total.ndim == 0 and torch.isfinite(terms.total)
    terms.total.backward()


@pytest.mark.parametrize("method,options", CONFIGS, ids=IDS)
def test_forward_equals_manual_step_loop_and_rows_can_leave(method, options):
    model = make(method, options).eval()
    inputs, _ = key_inputs(6, seed=3)
    with torch.no_grad():
        ref = model(inputs).logits
        manual = manual_logits(model, inputs)
        assert torch.equal(ref, manual)
        keep = torch.tensor([0, 2, 5])
        dropped = manual_logits(model, inputs, drop_after=1, keep=keep)
    torch.testing.assert_close(dropped, ref[keep], rtol=1e-5, atol=1e-6)


def test_exit_layers_and_depths():
    assert make("full", {}).exit_layers == (4,)
    t = make("truncated", {"layers": 2})
    assert t.exit_layers == (2,) and t.n_layers_full == 4 and t.encoder.n_layers == 2
    assert make("pf", {}).exit_layers == (1, 2, 3, 4)
    assert get_method("pabee").exit_rule == "patience" and get_method("full").exit_rule == "last"


def test_pabee_loss_weights_are_i_over_sum():
    model = make("pabee", {})
    inputs, labels = key_inputs(7)
    out = model(inputs, TrainContext())
    n = 4
    w = torch.tensor([i / (n * (n + 1) / 2) for i in range(1, n + 1)])
    torch.testing.assert_close(model.loss_weights(), w)
    ce = torch.stack([F.cross_entropy(out.logits[:, i], labels) for i in range(n)])
    torch.testing.assert_close(model.loss(out, labels, TrainContext()).total, (w * ce).sum())


class HostToDeviceCopies(torch.overrides.TorchFunctionMode):
    """Records every torch call that makes a tensor on another device out of a host tensor."""

    def __init__(self):
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if isinstance(out, torch.Tensor) and out.device.type != "cpu" and any(
                isinstance(a, torch.Tensor) and a.device.type == "cpu" for a in args):
            self.calls.append(getattr(func, "__name__", str(func)))
        return out


@pytest.mark.parametrize("method", ["pabee", "pf", "deebert", "full"])
def test_training_losses_copy_nothing_from_the_host(method):
    """On a GPU a host tensor copied into the loss at every step waits for the GPU's queue
    (a host synchronisation per step, seen with torch's sync debug mode on an H200 before
    the exit weights were made on the logits' device). Here the logits live on the `meta`
    device, so any such copy is visible without a GPU."""
    model = make(method, {})
    inputs, labels = key_inputs(7)
    out = model(inputs, TrainContext())
    meta = ExitOutputs(out.logits.detach().to("meta"),
                       {k: v.detach().to("meta") for k, v in out.extras.items()})
    meta_labels = labels.to("meta")
    with HostToDeviceCopies() as copies:
        terms = model.loss(meta, meta_labels, TrainContext())
    assert terms.total.device.type == "meta"
    assert copies.calls == []


@pytest.mark.parametrize("variant,scale", [("paper", 1.0), ("released", 0.5)])
def test_past_future_ce_weights_are_i_over_sum(variant, scale):
    model = make("pf", {"variant": variant, "future": False})
    inputs, labels = key_inputs(7)
    out = model(inputs, TrainContext())
    ce = torch.stack([F.cross_entropy(out.logits[:, i], labels) for i in range(4)])
    expected = (exit_weights(4) * ce).sum() * scale
    torch.testing.assert_close(model.loss(out, labels, TrainContext()).total, expected)


@pytest.mark.parametrize("variant", ["released", "paper"])
def test_perfect_learners_give_zero_imitation_loss(variant):
    model = make("pf", {"variant": variant})
    with torch.no_grad():
        # every state s_j = tanh(c_j), whatever the input; learner j outputs exactly that
        c = torch.randn(4, 32)
        model.pool_weight.zero_()
        model.pool_bias.copy_(c)
        model.learner_weight.zero_()
        model.learner_bias.copy_(c[1:] if variant == "released" else torch.tanh(c[1:]))
    inputs, labels = key_inputs(5)
    out = model(inputs, TrainContext())
    assert out.extras["imitation"].abs().max() < 1e-6


@pytest.mark.parametrize("input_grad", [False, True])
def test_imitation_targets_receive_no_gradient(input_grad):
    model = make("pf", {"imitation_input_grad": input_grad})
    inputs, _ = key_inputs(5)
    out = model(inputs, TrainContext())
    loss = out.extras["imitation"].mean()
    assert loss > 0.01
    loss.backward()
    pool_grad = model.pool_weight.grad
    if pool_grad is None:
        pool_grad = torch.zeros_like(model.pool_weight)
    # s_4 (last layer) is only ever an imitation target: no gradient reaches its pooler or layer
    assert torch.count_nonzero(pool_grad[3]) == 0
    assert all(p.grad is None or torch.count_nonzero(p.grad) == 0
               for p in model.encoder.layer_parameters(3))
    assert torch.count_nonzero(model.learner_weight.grad) > 0
    # s_1 is a learner input: it gets L_cos gradient only when asked
    assert (torch.count_nonzero(pool_grad[0]) > 0) == input_grad


def _states(model, inputs):
    hs = model.encoder.forward_layers(inputs)
    return [model.pool(i, h) for i, h in enumerate(hs)]


def test_released_concat_is_a_tied_block_linear_map():
    model = make("pf", {}).eval()
    n, C = 4, 3
    inputs, _ = key_inputs(6, seed=5)
    with torch.no_grad():
        got = model(inputs).logits
        s = _states(model, inputs)
        W, b = model.proj_weight, model.proj_bias          # [n, 2C, d], [n, 2C]
        for i in range(1, n + 1):
            big = torch.cat([W[k, :C] for k in range(i)], dim=1)     # [C, i*d]
            past = torch.cat(s[:i], dim=1) @ big.T + b[:i, :C].sum(0)
            if i == n:
                torch.testing.assert_close(got[:, i - 1], past, rtol=1e-5, atol=1e-5)
                continue
            gates = torch.cat(s[:i], dim=1) @ torch.cat([W[k, C:] for k in range(i)], 1).T
            gmean = (gates + b[:i, C:].sum(0)) / i
            alpha = torch.sigmoid(model.gate(torch.tanh(gmean)))
            shat = model.imitate(i - 1, s[i - 1])                     # [B, n-i, d]
            fut_big = torch.cat([W[j, :C] for j in range(i, n)], dim=1)
            future = shat.reshape(shat.shape[0], -1) @ fut_big.T + b[i:, :C].sum(0)
            expected = 2 * alpha * past + (2 - 2 * alpha) * future
            torch.testing.assert_close(got[:, i - 1], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("strategy", ["concat", "max", "lstm"])
def test_no_gate_equals_alpha_one_half(strategy):
    gated = make("pf", {"strategy": strategy}).eval()
    plain = make("pf", {"strategy": strategy, "gate": False}).eval()
    with torch.no_grad():
        gated.gate.weight.zero_()
        gated.gate.bias.zero_()                     # sigmoid(0) = 0.5
        src = gated.state_dict()
        for k, v in plain.state_dict().items():
            v.copy_(src[k][tuple(slice(0, s) for s in v.shape)])
    inputs, _ = key_inputs(6)
    with torch.no_grad():
        torch.testing.assert_close(gated(inputs).logits, plain(inputs).logits)


@pytest.mark.parametrize("variant,strategy,expect_grad", [
    ("released", "concat", False), ("released", "avg", False), ("released", "max", False),
    ("released", "attn", False), ("released", "lstm", False), ("paper", "avg", True),
    ("paper", "concat", True),
])
def test_released_past_states_are_detached_paper_are_not(variant, strategy, expect_grad):
    inputs, _ = key_inputs(4)
    model = make("pf", {"variant": variant, "strategy": strategy})
    out = model(inputs, TrainContext())
    out.logits[:, 1].sum().backward()            # exit 2 only
    g = model.pool_weight.grad[0]                # pooler of layer 1 (a past state at exit 2)
    assert (torch.count_nonzero(g) > 0) == expect_grad


def test_deebert_stage2_leaves_backbone_and_final_classifier_bit_identical():
    from pf.train.args import TrainingArgs
    from pf.train.data import Examples
    from pf.train.trainer import train

    model = make("deebert", {})
    inputs, labels = key_inputs(48)
    data = Examples(inputs.input_ids, inputs.attention_mask, inputs.token_type_ids, labels)
    frozen = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("ramps.")}
    ramps = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("ramps.")}
    args = TrainingArgs(lr=1e-2, batch_size=16, epochs=2, weight_decay=0.1)
    train(model, data, args, seed=0, device="cpu", progress=False, only_stages=("ramps",))
    after = model.state_dict()
    for k, v in frozen.items():
        assert torch.equal(after[k], v), k
    assert any(not torch.equal(after[k], v) for k, v in ramps.items())
    # off-ramp poolers start as copies of the pretrained pooler
    fresh = make("deebert", {})
    pooler = fresh.encoder.pretrained_pooler()
    assert torch.equal(fresh.ramps[0].pooler.dense.weight, pooler.weight)
    # stage 2 as the original: the optimizer holds the off-ramps only, nothing is frozen
    fresh.set_stage("ramps")
    assert {id(p) for p in fresh.optimizer_parameters("ramps")} == \
        {id(p) for p in fresh.ramps.parameters()}
    assert all(p.requires_grad for p in fresh.encoder.parameters())


def test_released_freeze_detaches_lowest_layers_with_time_decay():
    model = make("pf", {"frozen_layers": 2})
    g = torch.Generator().manual_seed(0)
    first = model.sample_freeze(TrainContext(step=0, total_steps=10, generator=g))
    assert first.detached == ((1, 2),)             # u > 0 (almost surely): both detached
    last = model.sample_freeze(TrainContext(step=10, forward_step=10, total_steps=10,
                                            generator=g))
    assert last.detached == ((),)                  # u > 1 never
    # one draw per micro-batch: forward passes 3..6 of 8
    acc = model.sample_freeze(TrainContext(step=1, total_steps=2, forward_step=3,
                                           micro_batches=4, generator=g))
    assert len(acc.detached) == 4
    inputs, labels = key_inputs(5)
    ctx = TrainContext(freeze=FreezeDecision(detached=((1, 2),)))
    model.loss(model(inputs, ctx), labels, ctx).total.backward()
    for i, expect in ((0, False), (1, False), (2, True)):
        has = any(p.grad is not None and torch.count_nonzero(p.grad) > 0
                  for p in model.encoder.layer_parameters(i))
        assert has == expect, i


def test_paper_freeze_probability_falls_over_layers():
    model = make("pf", {"frozen_layers": 3, "variant": "paper"})
    g = torch.Generator().manual_seed(0)
    counts = torch.zeros(5)
    for _ in range(600):
        d = model.sample_freeze(TrainContext(generator=g))
        for k in d.frozen_layers:
            counts[k] += 1
    freq = counts / 600
    assert freq[1] == 1.0 and freq[4] == 0.0
    assert abs(freq[2] - 2 / 3) < 0.07 and abs(freq[3] - 1 / 3) < 0.07
    params = {id(p) for p in model.frozen_parameters(FreezeDecision(frozen_layers=(1,)))}
    assert all(id(p) in params for p in model.encoder.layer_parameters(0))
    assert not any(id(p) in params for p in model.encoder.layer_parameters(1))


@pytest.mark.parametrize("method,options,message", [
    ("pf", {"strategi": "max"}, "did you mean 'strategy'"),
    ("pf", {"strategy": "concatt"}, "did you mean 'concat'"),
    ("pf", {"variant": 3}, "must be str"),
    ("pf", {"strategy": "voting", "gate": True}, "no merging gate"),
    ("pf", {"frozen_layers": -1}, "outside"),
    ("truncated", {}, "'layers'"),
    ("kd", {"layers": 2}, "'teacher'"),
    ("pabe", {}, "did you mean 'pabee'"),
])
def test_bad_options_are_refused_by_name(method, options, message):
    with pytest.raises(PfError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make(method, options)


@pytest.fixture(scope="module")
def teacher_dirs(tmp_path_factory):
    dirs = {}
    for family in FAMILIES:
        model = make("full", {}, family, seed=7)
        dirs[family] = save_checkpoint(model, tmp_path_factory.mktemp(f"teacher-{family}"),
                                       {"task": "sst2", "backbone": {"name": family}})
    return dirs


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", ["kd", "pkd", "tinybert"])
def test_distillation_students(teacher_dirs, family, method):
    torch.manual_seed(0)
    model = build_model(method, {"layers": 2, "teacher": str(teacher_dirs[family])},
                        tiny_encoder(family), 3)
    teacher = model.teacher
    assert model.exit_layers == (2,) and model.n_layers_full == 4 and model.encoder.n_layers == 2
    assert not any(k.startswith("_teacher") or "teacher" in k for k in model.state_dict())
    for i in range(2):   # student layers start as the teacher's lower layers
        for a, b in zip(model.encoder.layer_parameters(i), teacher.encoder.layer_parameters(i)):
            assert torch.equal(a, b)
    inputs, labels = key_inputs(5)
    model.train()
    assert not teacher.training
    outs = {}
    for stage in model.stages():
        ctx = TrainContext(stage=stage)
        out = outs[stage] = model(inputs, ctx)
        assert out.logits.shape == (5, 1, 3)
        terms = model.loss(out, labels, ctx)
        assert torch.isfinite(terms.total)
        terms.total.backward()
    assert all(p.grad is None for p in teacher.parameters())
    if method == "tinybert":
        assert outs["intermediate"].extras["attn"].shape[1] == 2
        assert set(model.stages()) == {"intermediate", "prediction"}
