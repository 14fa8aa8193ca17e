"""config/minilm.yaml and the config keys it uses: exit_pooling reaches every variant alike,
and the GLUE directory and the model source are overridden with Snakemake's --config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pf.config import Plan, load_config

REPO = Path(__file__).resolve().parents[1]
HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


def minilm() -> dict:
    return yaml.safe_load((REPO / "config" / "minilm.yaml").read_text())


def test_every_variant_gets_the_same_exit_pooling():
    plan = Plan(load_config(minilm()))
    for task in plan.tasks:
        for variant in ("full", "truncated-2x", "truncated-3x", "deebert", "pabee", "pf"):
            assert plan.method_options("minilm", task, variant)["exit_pooling"] == "mean"
            assert "exit_pooling" not in plan.trainer_args("minilm", task, variant)
    # frozen layers reach pf only, as before
    assert plan.method_options("minilm", "mrpc", "pf")["frozen_layers"] == 2
    assert "frozen_layers" not in plan.method_options("minilm", "mrpc", "pabee")


def test_cls_pooling_leaves_the_options_as_they_were():
    cfg = minilm()
    cfg["training"]["defaults"]["exit_pooling"] = "cls"
    plan = Plan(load_config(cfg))
    assert plan.method_options("minilm", "rte", "pabee") == {}
    cfg = minilm()
    cfg["methods"]["pabee"]["options"] = {"exit_pooling": "cls"}     # a variant's own wins
    assert Plan(load_config(cfg)).method_options("minilm", "rte", "pabee") == {
        "exit_pooling": "cls"}


def test_a_misspelled_pooling_is_named():
    from pf.errors import PfError

    cfg = minilm()
    cfg["training"]["defaults"]["exit_pooling"] = "avg"
    with pytest.raises(PfError, match="exit_pooling"):
        load_config(cfg)


def test_the_grid_covers_tables_1_2_and_the_exit_accuracy_figure():
    plan = Plan(load_config(minilm()))
    assert plan.tasks == ["mrpc", "rte", "sst2"] and len(plan.seeds) >= 2
    assert {j.variant for j in plan.table_jobs("table1")} == {
        "full", "truncated-2x", "deebert", "pabee", "pf"}
    assert {j.variant for j in plan.table_jobs("table2")} == {
        "full", "truncated-3x", "deebert", "pabee", "pf"}
    assert len(plan.exit_accuracy_inputs()) == 3 * 6 * len(plan.seeds)
    targets = plan.report_targets()
    for name in ("table1.md", "table2.md", "figure3.png", "exit_accuracy.png",
                 "exit_accuracy.csv", "metrics.csv"):
        assert f"{plan.reports}/{name}" in targets


@pytest.mark.slow
def test_snakemake_config_overrides_the_glue_dir_and_the_model(tmp_path):
    """The documented overrides, as Snakemake 9 parses them: a nested mapping merges into the
    file's config (a dotted key is refused by Snakemake itself). The hub id needs neither the
    package nor the network for a dry run."""
    cfg = minilm()
    for key in ("results_dir", "reports_dir", "logs_dir"):
        cfg[key] = str(tmp_path / key)
    path = tmp_path / "minilm.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "snakemake", "all", "-n", "-p", "--cores", "1",
           "--configfile", str(path), "--config", "data={glue_dir: /data/my-glue}",
           f"backbones={{minilm: {{pretrained: {HUB_ID}}}}}"]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "--data-dir /data/my-glue" in out and "--train-limit 6000" in out
    assert f"pf download --model {HUB_ID}" in out
    assert f'"pretrained": "{HUB_ID}"' in out and '"label"' not in out
    # numbers inside a nested mapping reach Snakemake as strings; the schema's numbers
    # are numbers again (pf.config.schema.coerce_scalar_strings), the file's other keys stay
    numbers = subprocess.run(cmd + ["training={tasks: {mrpc: {lr: 5e-5, epochs: 3}}}"],
                             cwd=REPO, capture_output=True, text=True, timeout=300)
    out = numbers.stdout + numbers.stderr
    assert numbers.returncode == 0, out
    mrpc = [line for line in out.splitlines()
            if "pf train" in line and "prepared/minilm/mrpc " in line]
    # full, truncated at 2x and 3x, DeeBERT, PABEE, Past-Future; two seeds
    assert len(mrpc) == 6 * 2
    assert all('"epochs": 3,' in line and '"lr": 5e-05,' in line for line in mrpc)
    pf_lines = [line for line in mrpc if "--method pf " in line]
    assert len(pf_lines) == 2 and all('"frozen_layers": 2,' in line for line in pf_lines)
    dotted = subprocess.run(cmd[:-2] + ["data.glue_dir=/x"], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert dotted.returncode != 0
    assert "valid identifier" in dotted.stdout + dotted.stderr
