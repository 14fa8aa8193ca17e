"""`pf costs`: parameter counts equal the real heads; the Past-Future FLOP bar."""

from __future__ import annotations

import json

import pytest
import torch

from pf.cli import main as pf_main
from pf.costs import Dims, cost_table, default_rows, head_cost, layer_flops
from pf.methods.registry import build_model
from test_methods_support import tiny_encoder

DIMS = Dims(hidden=32, layers=4, seq_len=16, labels=3, intermediate=64)


@pytest.mark.parametrize("name,method,options", default_rows(DIMS), ids=lambda x: str(x))
def test_parameter_counts_match_models(name, method, options):
    if method == "kd":          # a student head is the truncated head
        method = "truncated"
    torch.manual_seed(0)
    model = build_model(method, options, tiny_encoder("bert", DIMS.layers, DIMS.hidden), DIMS.labels)
    real = sum(p.numel() for _, p in model.head_parameters())
    assert head_cost(method, options, DIMS).params == real


def test_layer_flops_and_past_future_bar_at_bert_base():
    base = Dims(768, 12, 128, 2)
    assert layer_flops(base) == 2 * (128 * (4 * 768**2 + 2 * 768 * 3072) + 2 * 128**2 * 768)
    pf = head_cost("pf", {}, base)
    assert len(pf.flops_per_exit) == 12
    assert pf.flops_per_exit[0] == max(pf.flops_per_exit)     # learners shrink with depth
    assert pf.share_of_layer(pf.max_flops) <= 0.02


def test_cli_table_and_json(capsys):
    assert pf_main(["costs", "--hidden", "768", "--layers", "12", "--seq-len", "128",
                    "--labels", "2"]) == 0
    assert "pf (released, concat)" in capsys.readouterr().out
    assert pf_main(["costs", "--json", "--hidden", "64", "--layers", "4"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in data["rows"]} == {r.name for r in cost_table(Dims(64, 4))}
