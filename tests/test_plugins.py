"""A user's own method and exit rule, added as a plug-in, run through the whole workflow from a
fresh copy of the repository: exactly README's "Add your own method". The toy method and its
rule (tests/plugins/toy_exit.py) are trained on the smoke configuration (config/smoke.yaml,
with tests/plugins/toy.yaml merged over it), calibrated to 2x, and shown in Table 1, Figure 3
and the latency table, while no file under pf/ or workflow/ names them.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "tests.plugins.toy_exit"
CONFIGS = ["config/smoke.yaml", "tests/plugins/toy.yaml"]     # merged in this order
# README "Add your own method", step 5: only what the toy's table, figure and latency need
TARGETS = ["reports/smoke/table1.md", "reports/smoke/figure3.png", "reports/smoke/latency.md"]
NAMES = re.compile(r"\btoy\b|maxprob|toy_exit", re.IGNORECASE)


def tracked_files(root: Path) -> list[str]:
    """The files of the checkout as a fresh clone holds them (tracked, and the new ones git
    does not ignore): the working tree as it is, not what was built in it."""
    proc = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
                           "--exclude-standard"], capture_output=True, timeout=60)
    if proc.returncode != 0:
        pytest.skip("not a git checkout: the fresh copy is made from git's file list")
    return [p for p in proc.stdout.decode().split("\0") if p and (root / p).is_file()]


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("clone") / "pf"
    for rel in tracked_files(ROOT):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
    return dest


def env(clone: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "PF_PLUGINS"}
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e.get('PATH', '')}"
    e["PYTHONPATH"] = str(clone)           # the copy's pf, not the installed checkout's
    e.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
             OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return e


def test_no_file_under_pf_or_workflow_names_the_plugin():
    """Neither the package nor the workflow (pf/, workflow/ and the Snakefile) names the toy
    method, its rule or its module."""
    files = [p for top in ("pf", "workflow") for p in sorted((ROOT / top).rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts] + [ROOT / "Snakefile"]
    named = [f"{p.relative_to(ROOT)}:{i}" for p in files
             for i, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
             if NAMES.search(line)]
    assert len(files) > 50 and not named, named
    # and the check can fail: the plug-in's own files name both
    assert NAMES.search((ROOT / "tests/plugins/toy_exit.py").read_text())


def readme_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Add your own method")
    return text[start:text.index("\n## ", start + 1)]


def test_readme_shows_the_config_and_the_command_this_test_runs():
    import yaml

    section = readme_section()
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.DOTALL)
    shown = [yaml.safe_load(textwrap.dedent(b)) for lang, b in blocks if lang == "yaml"]
    assert shown == [yaml.safe_load((ROOT / CONFIGS[1]).read_text())]
    commands = [" ".join(textwrap.dedent(b).replace("\\\n", " ").split())
                for lang, b in blocks if lang == "bash"]
    assert commands == [" ".join(["snakemake", *TARGETS, "--profile", "workflow/profiles/default",
                                  "--cores", "2", "--configfile", *CONFIGS])]


def test_a_plugin_that_cannot_be_imported_is_named(capsys):
    from pf.cli import main

    assert main(["--plugin", "no_such_plugin_module", "costs"]) == 2
    err = capsys.readouterr().err
    assert "plug-in 'no_such_plugin_module': cannot import it" in err
    assert "PYTHONPATH or from the working directory" in err


def test_a_name_is_registered_once():
    import dataclasses

    from pf.errors import PfError
    from pf.methods.registry import METHODS
    from pf.registry import Registry

    methods = Registry("method", type(METHODS["pabee"]))
    methods.register(METHODS["pabee"])
    methods.register(METHODS["pabee"])          # a plug-in imported again: no change
    with pytest.raises(PfError, match="method 'pabee' is registered twice"):
        methods.register(dataclasses.replace(METHODS["pabee"], label="Other"))
    with pytest.raises(PfError, match="must be a MethodSpec"):
        methods.register("pabee")


def merged_config(clone: Path) -> dict:
    """The config Snakemake builds from CONFIGS (mappings merged key by key)."""
    import yaml

    from pf.config.load import merge

    config: dict = {}
    for name in CONFIGS:
        config = merge(config, yaml.safe_load((clone / name).read_text()))
    return config


def test_the_overlay_adds_the_toy_to_the_smoke_grid(clone):
    config = merged_config(clone)
    assert config["plugins"] == [PLUGIN]
    assert config["tables"]["table1"]["variants"] == ["full", "toy"]
    assert "pf" in config["methods"] and "table6" in config["tables"]   # smoke's stay


def test_without_the_plugin_the_config_names_an_unknown_method(clone):
    import yaml

    config = merged_config(clone)
    config["plugins"] = []
    (clone / "no_plugin.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run([sys.executable, "-m", "pf.config", "check", "no_plugin.yaml"],
                          cwd=clone, env=env(clone), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "methods.toy.method: unknown method 'toy'" in proc.stderr


def test_costs_lists_the_plugin_method(clone):
    proc = subprocess.run(["pf", "--plugin", PLUGIN, "costs", "--hidden", "32", "--layers", "6",
                           "--json"], cwd=clone, env=env(clone), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)["rows"]}
    assert rows["toy"]["params"] == 6 * (32 * 2 + 2)


POOLING_CHECK = """
import sys
import numpy as np
import torch
sys.path.insert(0, "tests")
import tests.plugins.toy_exit
from pf.engine import compare_to_simulation, record_logits, run_engine
from pf.methods.registry import build_model
from test_methods_support import key_inputs, tiny_encoder

inputs, _ = key_inputs(24, length=12, seed=1)
logits = {}
for pooling in ("cls", "mean"):
    torch.manual_seed(0)
    model = build_model("toy", {"exit_pooling": pooling}, tiny_encoder("bert", 4, seed=0), 3).eval()
    logits[pooling] = record_logits(model, inputs, batch_size=8)
    for threshold in (0.34, 0.36, 0.4):
        res = run_engine(model, inputs, "maxprob", threshold, batch_size=5)
        assert compare_to_simulation(res, logits[pooling], "maxprob", threshold).ok
assert not np.allclose(logits["cls"], logits["mean"])
print("ok")
"""


def test_the_plugin_method_honours_exit_pooling_and_the_engine_agrees(clone):
    """exit_pooling is an option of every method, a plug-in's too: the toy's heads read the
    token mean under "mean" (other logits than [CLS] with the same weights), and the real
    engine makes the toy rule's decisions on both."""
    proc = subprocess.run([sys.executable, "-c", POOLING_CHECK], cwd=clone, env=env(clone),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


@pytest.mark.slow
def test_plugin_method_runs_through_the_workflow_into_the_reports(clone):
    cmd = [sys.executable, "-m", "snakemake", *TARGETS, "--profile", "workflow/profiles/default",
           "--cores", "2", "--configfile", *CONFIGS]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=clone, env=env(clone), capture_output=True, text=True,
                          timeout=1500, stdin=subprocess.DEVNULL)
    print(f"\nplug-in DAG from a fresh copy: {time.perf_counter() - started:.0f} s")
    # every `pf` job imported the plug-in (PF_PLUGINS): evaluate, curve, latency and the
    # reports below all read the method or its rule
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]

    reports, results = clone / "reports/smoke", clone / "results/smoke"
    with (reports / "table1.csv").open(encoding="utf-8", newline="") as f:
        cells = {(r["row"], r["column"]): r for r in csv.DictReader(f)}
    assert {row for row, _ in cells} == {"BERT-tiny", "Toy"}
    toy = cells[("Toy", "SST-2")]
    assert 0.0 < float(toy["mean"]) <= 100.0 and float(toy["speedup"]) > 1.2
    assert "| Toy |" in (reports / "table1.md").read_text()
    assert (reports / "figure3.png").read_bytes()[:4] == b"\x89PNG"

    metrics = json.loads((results / "metrics/bert/sst2/toy/seed42/target2.json").read_text())
    assert (metrics["method"], metrics["rule"], metrics["rule_param_name"]) == \
        ("toy", "maxprob", "threshold")
    with (results / "curves/bert/sst2/toy/seed42.csv").open(encoding="utf-8") as f:
        curve = list(csv.DictReader(f))
    assert len(curve) > 2 and {r["rule"] for r in curve} == {"maxprob"}
    latency = json.loads((results / "latency/bert/sst2/toy/seed42.json").read_text())
    assert latency["rule"] == "maxprob"
    assert latency["rule_param"] == pytest.approx(metrics["rule_param"])
    # the real engine makes the rule's decisions (up to near-threshold examples)
    assert latency["agreement"]["n"] == 32 and latency["agreement"]["n_mismatch_far"] == 0
    assert "Toy" in (reports / "latency.md").read_text()
