"""The per-exit accuracy figure: numbers from exactly the outputs files given, the PNG and
CSV `pf report --figure exit_accuracy` writes, and the config's plan for it."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pf.cli import main as pf_main
from pf.config import Plan, check_config
from pf.errors import PfError
from pf.layer_outputs import LayerOutputs, save_outputs
from pf.reports.exit_accuracy import exit_accuracy_frame, write_exit_accuracy
from pf.reports.from_config import report_spec
from pf.reports.spec import spec_from_dict

ROOT = Path(__file__).resolve().parent.parent


def write_outputs(root: Path, task: str, variant: str, seed: int, correct: list[list[bool]],
                  exit_layers: list[int], labels: list[int], n_layers: int = 4) -> Path:
    """An outputs file whose exit e predicts the gold label exactly where correct[e] is."""
    labels_a = np.asarray(labels, dtype=np.int64)
    n, e = len(labels), len(exit_layers)
    logits = np.zeros((n, e, 2), dtype=np.float32)
    for k in range(e):
        pred = np.where(np.asarray(correct[k]), labels_a, 1 - labels_a)
        logits[np.arange(n), k, pred] = 1.0
    path = root / "outputs" / "mini" / task / variant / f"seed{seed}" / "dev.safetensors"
    save_outputs(path, LayerOutputs(logits, labels_a, np.asarray(exit_layers, dtype=np.int64),
                                    [f"dev-{i}" for i in range(n)], n_layers, task, "mini",
                                    variant.split("-")[0], "dev"))
    return path


def spec_for(variants, tasks=("sst2",), seeds=(1, 2)):
    return spec_from_dict({"backbones": {"mini": "Mini-4L"}, "tasks": list(tasks),
                           "seeds": list(seeds),
                           "figures": {"curves": {}, "exit_distribution": None,
                                       "exit_accuracy": {"backbone": "mini",
                                                         "variants": list(variants),
                                                         "tasks": list(tasks)}}})


@pytest.fixture
def files(tmp_path):
    labels = [0, 0, 0, 1]                        # majority 0.75
    out = []
    for seed, shift in ((1, 0), (2, 1)):
        ok = [[i < k + shift for i in range(4)] for k in range(4)]   # exit k right on k(+1)
        out.append(write_outputs(tmp_path, "sst2", "pabee", seed, ok, [1, 2, 3, 4], labels))
        out.append(write_outputs(tmp_path, "sst2", "truncated-2x", seed, [[True] * 4], [2],
                                 labels))
    return out


def test_frame_has_the_accuracy_of_every_exit(files):
    frame = exit_accuracy_frame(files)
    pabee = frame[frame["variant"] == "pabee"]
    assert pabee[pabee["seed"] == 1]["accuracy"].tolist() == [0.0, 0.25, 0.5, 0.75]
    assert pabee[pabee["seed"] == 2]["accuracy"].tolist() == [0.25, 0.5, 0.75, 1.0]
    assert set(frame["majority"]) == {0.75}
    trunc = frame[frame["variant"] == "truncated-2x"]
    assert trunc["layer"].tolist() == [2, 2] and trunc["accuracy"].tolist() == [1.0, 1.0]
    assert list(frame.columns) == ["backbone", "task", "variant", "method", "seed", "split",
                                   "layer", "accuracy", "majority", "degenerate",
                                   "degenerate_reason", "n_examples"]
    # the metrics' rule, exit by exit: at most 2 points above the majority class (0.75)
    assert pabee[pabee["seed"] == 1]["degenerate"].tolist() == [True] * 4
    assert pabee[pabee["seed"] == 2]["degenerate"].tolist() == [True, True, True, False]
    assert trunc["degenerate"].tolist() == [False, False]
    # each flagged exit says why, by the metrics' own words; the others say nothing
    assert pabee["degenerate_reason"].iloc[0] == ("score 0.0000 is not more than 0.02 above "
                                                  "the majority-class score 0.7500")
    assert (frame["degenerate_reason"] != "").tolist() == frame["degenerate"].tolist()


def test_writes_png_and_csv(files, tmp_path):
    drawn = write_exit_accuracy(files, spec_for(["pabee", "truncated-2x"]), tmp_path / "rep")
    written = drawn.paths
    assert [p.name for p in written] == ["exit_accuracy.png", "exit_accuracy.csv"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    csv = pd.read_csv(written[1])
    assert len(csv) == 10 and csv["accuracy"].max() == 1.0
    assert csv["degenerate"].sum() == 7
    assert len(drawn.degenerate) == 7
    assert drawn.degenerate[0] == ("sst2/pabee/seed1 exit 1: score 0.0000 is not more than "
                                   "0.02 above the majority-class score 0.7500")
    assert csv["degenerate_reason"].notna().tolist() == csv["degenerate"].tolist()
    again = write_exit_accuracy(files, spec_for(["pabee", "truncated-2x"]), tmp_path / "rep2")
    assert [p.read_bytes() for p in again.paths] == [p.read_bytes() for p in written]


def test_a_missing_file_is_named(files, tmp_path):
    with pytest.raises(PfError, match=r"outputs/mini/sst2/pf/seed1/dev.safetensors"):
        write_exit_accuracy(files, spec_for(["pabee", "pf"]), tmp_path / "rep")


def test_a_file_whose_path_lies_is_refused(files, tmp_path):
    moved = tmp_path / "outputs" / "mini" / "mrpc" / "pabee" / "seed1" / "dev.safetensors"
    moved.parent.mkdir(parents=True)
    moved.write_bytes(files[0].read_bytes())
    with pytest.raises(PfError, match="task 'sst2' but its path says 'mrpc'"):
        exit_accuracy_frame([moved])


def test_pf_report_draws_it_from_outputs(files, tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"backbones": {"mini": "Mini-4L"}, "tasks": ["sst2"],
                                    "seeds": [1, 2], "figures": {
                                        "curves": {}, "exit_distribution": None,
                                        "exit_accuracy": {"backbone": "mini",
                                                          "variants": ["pabee"]}}}))
    rc = pf_main(["report", "--spec", str(spec), "--out-dir", str(tmp_path / "r"),
                  "--figure", "exit_accuracy", "--outputs", *map(str, files)])
    assert rc == 0
    assert (tmp_path / "r" / "exit_accuracy.png").is_file()
    assert (tmp_path / "r" / "exit_accuracy.csv").is_file()
    err = capsys.readouterr().err
    assert "degenerate model in exit_accuracy: sst2/pabee/seed1 exit 1:" in err


def test_plan_declares_exactly_the_figures_outputs():
    cfg = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    cfg = copy.deepcopy(cfg)
    cfg.setdefault("figures", {})["exit_accuracy"] = {
        "backbone": next(iter(cfg["backbones"])), "variants": ["pabee", "truncated"],
        "seeds": [cfg.get("seeds", [42])[0]]}
    plan = Plan(check_config(cfg, "test"))
    seed = cfg.get("seeds", [42])[0]
    b = next(iter(cfg["backbones"]))
    variants = ["pabee"] + [f"truncated-{t}x" for t in plan.targets]
    assert plan.exit_accuracy_variants() == variants
    expected = [plan.outputs(b, t, v, seed, "dev") for t in plan.tasks for v in variants]
    assert plan.exit_accuracy_inputs() == expected
    assert f"{plan.reports}/exit_accuracy.png" in plan.report_targets()
    assert report_spec(plan)["figures"]["exit_accuracy"]["variants"] == variants
    cfg["figures"]["exit_accuracy"]["variants"] = ["pabe"]
    with pytest.raises(PfError, match=r"figures.exit_accuracy.variants: unknown variant 'pabe'"):
        check_config(cfg, "test")
