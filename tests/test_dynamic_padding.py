"""Dynamic padding, length grouping, attention kernels, devices and mixed precision.

Recorded logits with rows grouped by length and batches cut to their longest row equal
the fully padded computation (1e-5); `sdpa` equals `eager` (1e-5); a method that asks for
`eager` attention gets it. CUDA-only paths (bf16/fp16 autocast, the fp16 loss scaler,
sdpa on the GPU, no per-step host synchronisation) are tested where a GPU exists and skip
cleanly elsewhere; the CPU always runs fp32.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from pf.backbones import EncoderInputs, sequence_lengths
from pf.engine import record_logits
from pf.errors import PfError
from pf.methods.checkpoint import load_checkpoint
from pf.methods.registry import build_model
from pf.prepare import load_split
from pf.train.cli import run_train
from pf.train.data import (Examples, batch_rows, length_grouped, length_grouped_training,
                           restore_order, training_batches)
from test_methods_support import key_inputs, tiny_encoder, write_prepared

FAMILIES = ("bert", "roberta", "albert")
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def padded_inputs(n: int = 40, length: int = 24, seed: int = 0) -> EncoderInputs:
    """Rows of very different lengths, right-padded to `length` (as `pf prepare` writes)."""
    inputs, _ = key_inputs(n, length=length, seed=seed)
    g = torch.Generator().manual_seed(seed + 7)
    lengths = torch.randint(2, length + 1, (n,), generator=g)
    mask = (torch.arange(length)[None] < lengths[:, None]).long()
    return EncoderInputs(inputs.input_ids * mask, mask, inputs.token_type_ids)


def test_lengths_trim_grouping_and_order():
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0], [0, 0, 0, 0]])
    assert sequence_lengths(mask).tolist() == [2, 4, 1, 1]
    ex = Examples(mask * 7, mask, torch.zeros_like(mask), torch.tensor([0, 1, 0, 1]))
    inputs, labels = ex.batch(torch.tensor([0, 2]))
    assert inputs.input_ids.shape == (2, 2) and labels.tolist() == [0, 0]
    assert ex.batch(torch.tensor([0, 1]))[0].input_ids.shape == (2, 4)
    padded = Examples(mask * 7, mask, torch.zeros_like(mask), torch.tensor([0, 1, 0, 1]),
                      pad_to_max=True)
    assert padded.batch(torch.tensor([0, 2]))[0].input_ids.shape == (2, 4)
    groups = length_grouped(torch.tensor([3, 9, 1, 9, 5]), 2)
    assert [g.tolist() for g in groups] == [[1, 3], [4, 0], [2]]     # longest first, stable
    values = [torch.tensor([10.0, 30.0]), torch.tensor([40.0, 0.0]), torch.tensor([20.0])]
    assert restore_order(values, groups).tolist() == [0.0, 10.0, 20.0, 30.0, 40.0]
    # training batches keep their seeded random order unless group_by_length asks
    a = batch_rows(10, 4, torch.Generator().manual_seed(3))
    b = batch_rows(10, 4, torch.Generator().manual_seed(3))
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def padded_tokens(lengths: torch.Tensor, batches: list[torch.Tensor]) -> int:
    return sum(len(rows) * int(lengths[rows].max()) for rows in batches)


def test_training_batches_grouped_by_length_are_seeded_pools_of_similar_length():
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(5, 129, (2010,), generator=g)
    grouped = length_grouped_training(lengths, 16, torch.Generator().manual_seed(1))
    rows = torch.cat(grouped)
    assert sorted(rows.tolist()) == list(range(2010))                  # every row once
    assert sum(len(b) != 16 for b in grouped) == 1                     # as random batches
    again = length_grouped_training(lengths, 16, torch.Generator().manual_seed(1))
    assert all(torch.equal(x, y) for x, y in zip(grouped, again))
    other = length_grouped_training(lengths, 16, torch.Generator().manual_seed(2))
    assert not all(torch.equal(x, y) for x, y in zip(grouped, other))
    # a batch holds rows of similar length: far less padding than random batches
    random = batch_rows(2010, 16, torch.Generator().manual_seed(1))
    assert padded_tokens(lengths, grouped) < 0.6 * padded_tokens(lengths, random)
    assert padded_tokens(lengths, grouped) < 1.05 * int(lengths.sum())
    # still random: the batches are not in order of length, as in evaluation
    maxes = [int(lengths[b].max()) for b in grouped]
    assert maxes != sorted(maxes, reverse=True)
    # the pools are of 50 batches: a pool of 800 rows is sorted by length
    one_pool = length_grouped_training(lengths[:800], 16, torch.Generator().manual_seed(1))
    by_max = sorted(one_pool, key=lambda b: -int(lengths[b].max()))
    assert all(int(lengths[x].min()) >= int(lengths[y].max())
               for x, y in zip(by_max, by_max[1:]))


def test_training_batches_choose_between_random_and_grouped():
    mask = (torch.arange(12)[None] < torch.tensor([3, 12, 5, 7, 2, 12, 9, 4])[:, None]).long()
    ex = Examples(mask, mask, torch.zeros_like(mask), torch.zeros(8, dtype=torch.long))
    plain = training_batches(ex, 3, torch.Generator().manual_seed(5))
    assert [b.tolist() for b in plain] == \
        [b.tolist() for b in batch_rows(8, 3, torch.Generator().manual_seed(5))]
    grouped = training_batches(ex, 3, torch.Generator().manual_seed(5), group_by_length=True)
    assert [b.tolist() for b in grouped] == [b.tolist() for b in length_grouped_training(
        ex.lengths, 3, torch.Generator().manual_seed(5))]
    padded = Examples(mask, mask, torch.zeros_like(mask), torch.zeros(8, dtype=torch.long),
                      pad_to_max=True)         # every batch is padded anyway: nothing to save
    assert [b.tolist() for b in training_batches(padded, 3, torch.Generator().manual_seed(5),
                                                 group_by_length=True)] == \
        [b.tolist() for b in plain]


def test_grouped_training_is_reproducible_and_recorded(tmp_path):
    prepared = write_prepared(tmp_path / "prep", n_train=64, n_dev=16, length=16)
    training = {"lr": 1e-3, "epochs": 2, "batch_size": 4, "group_by_length": True}
    for name in ("a", "b"):
        run_train(str(prepared), "pabee", {}, training, 0, str(tmp_path / name),
                  device="cpu", progress=False)
    run_train(str(prepared), "pabee", {}, {**training, "group_by_length": False}, 0,
              str(tmp_path / "random"), device="cpu", progress=False)
    a, b, random = (tmp_path / n / "model.safetensors" for n in ("a", "b", "random"))
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != random.read_bytes()       # another data order, another model
    assert json.loads((tmp_path / "a" / "model.json").read_text())["training"]["group_by_length"]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", ["pf", "deebert", "pabee"])
def test_recorded_logits_equal_the_fully_padded_computation(family, method):
    torch.manual_seed(0)
    model = build_model(method, {}, tiny_encoder(family), 2).eval()
    x = padded_inputs()
    dynamic = record_logits(model, x, batch_size=8)                 # grouped and trimmed
    full = record_logits(model, x, batch_size=8, group_by_length=False, trim=False)
    np.testing.assert_allclose(dynamic, full, rtol=0, atol=1e-5)
    with torch.no_grad():
        one_batch = model(x).logits.numpy()                           # all rows at once
    np.testing.assert_allclose(dynamic, one_batch, rtol=0, atol=1e-5)


def test_pf_outputs_equal_the_fully_padded_computation(tmp_path):
    from pf.outputs import record_outputs

    prepared = write_prepared(tmp_path / "prep", n_train=64, n_dev=50, length=16)
    run_train(str(prepared), "pf", {}, {"lr": 1e-3, "epochs": 1}, 0, str(tmp_path / "m"),
              device="cpu", progress=False)
    out = record_outputs(tmp_path / "m", prepared, "dev", tmp_path / "dev.safetensors",
                         batch_size=8, device="cpu")
    split = load_split(prepared, "dev")
    assert out.ids == split.ids
    model = load_checkpoint(tmp_path / "m").model
    with torch.no_grad():
        full = model(split.inputs()).logits.numpy()                   # padded to 16 columns
    np.testing.assert_allclose(out.logits, full, rtol=0, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_sdpa_equals_eager(family):
    torch.manual_seed(0)
    model = build_model("pf", {}, tiny_encoder(family), 2).eval()
    enc = model.encoder
    assert enc.attn_implementation == "sdpa"                         # the default
    x = padded_inputs(seed=3)
    with torch.no_grad():
        sdpa = model(x).logits
        enc.set_attn_implementation("eager")
        assert enc.attn_implementation == "eager"
        eager = model(x).logits
    torch.testing.assert_close(sdpa, eager, rtol=0, atol=1e-5)


def test_a_method_asking_for_eager_attention_gets_it(tmp_path, monkeypatch):
    """Every method runs sdpa (TinyBERT too: it recomputes its attention scores from the
    layers' inputs); a method class with attn_implementation = "eager" gets eager, for its
    backbone and its teacher, and model.json records it."""
    from pf.methods.distill import TinyBertModel

    prepared = write_prepared(tmp_path / "prep", n_train=32, n_dev=16)
    teacher = tmp_path / "teacher"
    run_train(str(prepared), "full", {}, {"epochs": 1}, 0, str(teacher), device="cpu",
              progress=False)
    assert json.loads((teacher / "model.json").read_text())["attn_implementation"] == "sdpa"
    out = tmp_path / "sdpa"
    model, _, _ = run_train(str(prepared), "tinybert", {"layers": 2}, {"epochs": 1}, 0,
                            str(out), teacher=str(teacher), device="cpu", progress=False)
    assert model.encoder.attn_implementation == "sdpa"
    monkeypatch.setattr(TinyBertModel, "attn_implementation", "eager")
    out = tmp_path / "eager"
    model, _, _ = run_train(str(prepared), "tinybert", {"layers": 2}, {"epochs": 1}, 0,
                            str(out), teacher=str(teacher), device="cpu", progress=False)
    assert model.encoder.attn_implementation == "eager"
    assert model.teacher.encoder.attn_implementation == "eager"
    assert json.loads((out / "model.json").read_text())["attn_implementation"] == "eager"
    monkeypatch.undo()
    model, _, _ = run_train(str(prepared), "pabee", {}, {"epochs": 1}, 0, str(tmp_path / "p"),
                            device="cpu", progress=False)
    assert model.encoder.attn_implementation == "sdpa"


@pytest.mark.parametrize("method", ["kd", "pkd", "tinybert"])
def test_teacher_logits_are_computed_once_per_example(tmp_path, method):
    """Over 3 epochs the teacher's last layer sees every training row once (kd, pkd,
    tinybert's prediction stage read the cached logits); tinybert's intermediate stage
    still runs the whole teacher, for its hidden states and attention maps."""
    prepared = write_prepared(tmp_path / "prep", n_train=48, n_dev=16)
    teacher = tmp_path / "teacher"
    run_train(str(prepared), "full", {}, {"epochs": 1}, 0, str(teacher), device="cpu",
              progress=False)
    from pf.methods import distill

    seen: list[int] = []
    real = distill.DistillModel.create.__func__

    def create(cls, *args, **kwargs):
        model = real(cls, *args, **kwargs)
        if model.teacher is not None:
            last = model.teacher.encoder.layer_module(model.teacher.encoder.n_layers - 1)
            last.register_forward_hook(lambda mod, a, out: seen.append(a[0].shape[0]))
        return model
    mp = pytest.MonkeyPatch()
    mp.setattr(distill.DistillModel, "create", classmethod(create))
    try:
        run_train(str(prepared), method, {"layers": 2}, {"epochs": 3, "batch_size": 8}, 0,
                  str(tmp_path / "s"), teacher=str(teacher), device="cpu", progress=False)
    finally:
        mp.undo()
    per_stage = 48 * 3 if method == "tinybert" else 0        # intermediate stage: 3 epochs
    assert sum(seen) == 48 + per_stage


def test_device_cuda_without_a_gpu_is_a_clear_error(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    prepared = write_prepared(tmp_path / "prep", n_train=16, n_dev=8)
    with pytest.raises(PfError, match="--device cuda: no CUDA device"):
        run_train(str(prepared), "pabee", {}, {"epochs": 1}, 0, str(tmp_path / "m"),
                  device="cuda", progress=False)
    with pytest.raises(PfError, match="--device"):
        run_train(str(prepared), "pabee", {}, {"epochs": 1}, 0, str(tmp_path / "m"),
                  device="tpu", progress=False)


def test_cpu_runs_fp32_whatever_the_precision(tmp_path):
    prepared = write_prepared(tmp_path / "prep", n_train=32, n_dev=16)
    a, b = tmp_path / "a", tmp_path / "b"
    run_train(str(prepared), "pabee", {}, {"epochs": 1, "precision": "bf16"}, 0, str(a),
              device="cpu", progress=False)
    run_train(str(prepared), "pabee", {}, {"epochs": 1, "precision": "fp32"}, 0, str(b),
              device="cpu", progress=False)
    assert json.loads((a / "model.json").read_text())["precision"] == "fp32"
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()


# ------------------------------------------------------------------------------- CUDA

@CUDA
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_cuda_mixed_precision_trains_and_records(tmp_path, precision):
    from pf.outputs import record_outputs

    prepared = write_prepared(tmp_path / "prep", n_train=128, n_dev=32)
    out = tmp_path / "m"
    _, result, _ = run_train(str(prepared), "pf", {}, {"lr": 1e-3, "epochs": 2,
                                                       "precision": precision},
                             0, str(out), device="cuda", progress=False)
    assert result.device.startswith("cuda") and result.precision == precision
    steps = [r for r in result.log if r["kind"] == "step"]
    assert all(np.isfinite(r["loss"]) for r in steps)
    rec = record_outputs(out, prepared, "dev", tmp_path / "dev.safetensors", device="cuda")
    assert rec.logits.dtype == np.float32 and np.isfinite(rec.logits).all()
    fp32 = record_outputs(out, prepared, "dev", tmp_path / "dev32.safetensors", device="cuda",
                          precision="fp32")
    np.testing.assert_allclose(rec.logits, fp32.logits, atol=0.1)   # half precision, same model


@CUDA
def test_cuda_fp16_uses_the_loss_scaler(tmp_path, monkeypatch):
    calls = []
    real = torch.amp.GradScaler.step

    def step(self, optimizer, *args, **kwargs):
        calls.append(self.get_scale())
        return real(self, optimizer, *args, **kwargs)
    monkeypatch.setattr(torch.amp.GradScaler, "step", step)
    prepared = write_prepared(tmp_path / "prep", n_train=64, n_dev=16)
    run_train(str(prepared), "pabee", {}, {"epochs": 1, "precision": "fp16"}, 0,
              str(tmp_path / "m"), device="cuda", progress=False)
    assert len(calls) == 4 and all(s > 1 for s in calls)


@CUDA
def test_cuda_sdpa_equals_eager():
    torch.manual_seed(0)
    model = build_model("pf", {}, tiny_encoder("bert"), 2).eval().cuda()
    x = padded_inputs(seed=5).to("cuda")
    with torch.no_grad():
        sdpa = model(x).logits
        model.encoder.set_attn_implementation("eager")
        eager = model(x).logits
    torch.testing.assert_close(sdpa, eager, rtol=0, atol=1e-4)


@CUDA
def test_cuda_training_steps_do_not_synchronise_with_the_host(tmp_path):
    """40 optimizer steps, progress records only at the end: torch's sync debug mode must
    see far fewer synchronising calls than steps (the ones left: the epoch-end fetch)."""
    prepared = write_prepared(tmp_path / "prep", n_train=320, n_dev=16)
    from pf.prepare import read_meta
    from pf.train.args import TrainingArgs
    from pf.train.cli import backbone_spec_of
    from pf.backbones import load_encoder
    from pf.train.trainer import Monitor, train

    meta = read_meta(prepared)
    torch.manual_seed(0)
    model = build_model("pf", {}, load_encoder(backbone_spec_of(meta), 24, 0, 0), 2)
    data = Examples.from_split(load_split(prepared, "train"))
    args = TrainingArgs.from_dict({"epochs": 1, "batch_size": 8, "lr": 1e-3})
    model.to("cuda")
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            train(model, data, args, 0, device="cuda",
                  monitor=Monitor(display=False, every_steps=10_000, every_seconds=1e9))
        finally:
            torch.cuda.set_sync_debug_mode(0)
    syncs = [w for w in caught if "synchroniz" in str(w.message).lower()]
    assert len(syncs) < 10, [str(w.message)[:200] for w in syncs[:5]]
