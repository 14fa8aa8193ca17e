"""Every method learns: a few hundred steps on the key-token task beat chance clearly."""

from __future__ import annotations

import pytest
import torch

from pf.methods.checkpoint import save_checkpoint
from pf.methods.registry import build_model
from pf.train.args import TrainingArgs
from pf.train.data import Examples
from pf.train.trainer import exit_accuracies, train
from test_methods_support import key_task, tiny_encoder

ARGS = TrainingArgs(lr=2e-3, batch_size=32, epochs=25, max_steps=200, warmup_ratio=0.05,
                    weight_decay=0.01)


def _data(n, seed):
    ids, mask, tt, labels = key_task(n, length=10, seed=seed)
    return Examples(ids, mask, tt, labels)


@pytest.fixture(scope="module")
def task():
    return _data(256, 1), _data(200, 2)


def _fit(method, options, task, seed=0):
    train_data, dev = task
    torch.manual_seed(seed)
    model = build_model(method, options, tiny_encoder("bert", 4, seed=seed), 2)
    train(model, train_data, ARGS, seed, device="cpu", progress=False)
    return model, exit_accuracies(model, dev, 100, "cpu", "fp32")


@pytest.fixture(scope="module")
def teacher(task, tmp_path_factory):
    model, accs = _fit("full", {}, task)
    path = save_checkpoint(model, tmp_path_factory.mktemp("teacher"), {"task": "sst2"})
    return path, accs[-1]


@pytest.mark.parametrize("method,options", [
    ("pf", {}), ("pf", {"variant": "paper", "strategy": "max"}), ("deebert", {}),
    ("pabee", {}), ("truncated", {"layers": 2}),
])
def test_method_beats_chance(task, method, options):
    _, accs = _fit(method, options, task)
    assert accs[-1] > 0.8, accs


def test_full_beats_chance(teacher):
    assert teacher[1] > 0.8


@pytest.mark.parametrize("method", ["kd", "pkd", "tinybert"])
def test_students_beat_chance(task, teacher, method):
    _, accs = _fit(method, {"layers": 2, "teacher": str(teacher[0])}, task)
    assert accs[-1] > 0.8, accs
