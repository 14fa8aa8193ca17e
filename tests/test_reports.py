"""Reports: collect -> tables (LaTeX/CSV/Markdown) -> figures, on hand-written numbers."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from pf.cli import main
from pf.errors import PfError
from pf.io import atomic_write_json
from pf.reports import collect, tables
from pf.reports.fake import metrics_obj, write_fake_results
from pf.reports.spec import load_spec, spec_from_dict

# ----------------------------------------------------------------- fixtures

DYN = {"deebert": ("deebert", "entropy"), "pabee": ("pabee", "patience"),
       "pf": ("pf", "entropy"), "pf-past": ("pf", "entropy")}


def write_metrics(results: Path, backbone, task, variant, seed, target, score,
                  speedup, method=None, rule=None, f1=None, n_layers=12):
    method = method or DYN.get(variant, (variant, "last"))[0]
    rule = rule or DYN.get(variant, (variant, "last"))[1]
    obj = metrics_obj(backbone, task, variant, seed, target, score, speedup, method, rule, {},
                      n_layers=n_layers)
    if f1 is not None:
        obj["metrics"]["f1"] = f1
    name = "targetnone" if target is None else f"target{target}"
    path = results / "metrics" / backbone / task / variant / f"seed{seed}" / f"{name}.json"
    atomic_write_json(path, obj)
    return path


def small_results(results: Path) -> Path:
    """BERT on MRPC and RTE with known numbers.

    MRPC at 2x: full 0.90 (ref), truncated-6l 0.70, truncated-4l 0.60, deebert 0.75,
    pabee 0.78, pf seeds 1/2 = 0.80/0.82. RTE at 2x: deebert 0.66, pabee 0.65, pf 0.64/0.66.
    """
    for task in ("mrpc", "rte"):
        write_metrics(results, "bert", task, "full", 1, None, 0.90, 1.0,
                      f1=0.93 if task == "mrpc" else None)
        write_metrics(results, "bert", task, "truncated-6l", 1, 2.0, 0.70, 2.0,
                      method="truncated")
        write_metrics(results, "bert", task, "truncated-4l", 1, 3.0, 0.60, 3.0,
                      method="truncated")
    write_metrics(results, "bert", "mrpc", "deebert", 1, 2.0, 0.75, 2.01)
    write_metrics(results, "bert", "mrpc", "pabee", 1, 2.0, 0.78, 1.99, f1=0.85)
    write_metrics(results, "bert", "mrpc", "pf", 1, 2.0, 0.80, 2.0, f1=0.86)
    write_metrics(results, "bert", "mrpc", "pf", 2, 2.0, 0.82, 2.04, f1=0.88)
    write_metrics(results, "bert", "rte", "deebert", 1, 2.0, 0.66, 2.0)
    write_metrics(results, "bert", "rte", "pabee", 1, 2.0, 0.65, 2.0)
    write_metrics(results, "bert", "rte", "pf", 1, 2.0, 0.64, 2.0)
    write_metrics(results, "bert", "rte", "pf", 2, 2.0, 0.66, 2.0)
    # 3x: only ours and deebert on MRPC
    write_metrics(results, "bert", "mrpc", "pf", 1, 3.0, 0.77, 3.0)
    write_metrics(results, "bert", "mrpc", "deebert", 1, 3.0, 0.70, 3.0)
    return results


SPEC = {"scale": "smoke", "data_source": "unit-test numbers", "backbones": ["bert"],
        "tasks": ["rte", "mrpc"], "analysis_tasks": ["mrpc"]}


@pytest.fixture()
def frame(tmp_path):
    res = small_results(tmp_path / "results")
    return collect.normalise_frame(collect.collect_metrics(res))


def csv_cells(table) -> dict[tuple[str, str], dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(table.to_csv())))
    return {(r["block"], r["row"]): r for r in rows}


# ----------------------------------------------------------------- collect

def test_collect_writes_tidy_csv(tmp_path):
    res = small_results(tmp_path / "results")
    out = tmp_path / "reports" / "metrics.csv"
    assert main(["collect", "--results", str(res), "--out", str(out)]) == 0
    df = collect.read_metrics_csv(out)
    assert len(df) == 16
    assert {"metric_accuracy", "metric_f1", "score", "speedup", "target"} <= set(df.columns)
    row = df[(df.variant == "pf") & (df.seed == 2) & (df.task == "mrpc")].iloc[0]
    assert row.score == pytest.approx(0.82) and row.metric_f1 == pytest.approx(0.88)
    assert isinstance(row.exit_counts, list) and len(row.exit_counts) == 12
    assert row.source == "metrics/bert/mrpc/pf/seed2/target2.0.json"
    # sorted, deterministic
    again = tmp_path / "again.csv"
    main(["collect", "--results", str(res), "--out", str(again)])
    assert again.read_bytes() == out.read_bytes()


def test_collect_missing_field_names_file_and_field(tmp_path, capsys):
    res = tmp_path / "results"
    path = write_metrics(res, "bert", "mrpc", "pf", 1, 2.0, 0.8, 2.0)
    obj = json.loads(path.read_text())
    del obj["exit_counts"]
    path.write_text(json.dumps(obj))
    with pytest.raises(PfError, match=r"target2\.0\.json.*'exit_counts'"):
        collect.collect_metrics(res)
    out = tmp_path / "m.csv"
    assert main(["collect", "--results", str(res), "--out", str(out)]) == 2
    assert not out.exists()
    assert "exit_counts" in capsys.readouterr().err


def test_collect_path_disagreeing_with_content(tmp_path):
    res = tmp_path / "results"
    path = write_metrics(res, "bert", "mrpc", "pf", 1, 2.0, 0.8, 2.0)
    wrong = path.parents[1].parent / "pabee" / "seed1" / "target2.0.json"
    wrong.parent.mkdir(parents=True)
    path.rename(wrong)
    with pytest.raises(PfError, match=r"'variant' is 'pf' but the path says 'pabee'"):
        collect.collect_metrics(res)


def test_collect_empty_results(tmp_path):
    (tmp_path / "metrics").mkdir()
    with pytest.raises(PfError, match="no metrics JSON"):
        collect.collect_metrics(tmp_path)


# ----------------------------------------------------------------- tables

def test_table1_numbers_columns_bold_and_std(frame):
    spec = spec_from_dict(SPEC)
    t = tables.table1(frame, spec)
    assert t.columns == ["MRPC", "RTE", "Avg.", "Speed-up"]   # paper order, not spec order
    cells = csv_cells(t)
    assert list(r for _, r in cells) == ["BERT-base", "BERT-6L", "DeeBERT", "PABEE", "Ours"]
    ours = cells[("BERT", "Ours")]
    assert ours["MRPC"] == "81.0 ± 1.4"          # (80 + 82) / 2, sample std sqrt(2)
    assert ours["RTE"] == "65.0 ± 1.4"
    assert ours["Speed-up"] == "2.01"            # mean of 2.0, 2.04, 2.0, 2.0 = 2.01
    assert cells[("BERT", "PABEE")]["MRPC"] == "78.0"
    assert cells[("BERT", "BERT-6L")]["Speed-up"] == "2.00"
    assert cells[("BERT", "BERT-base")]["MRPC"] == "90.0"
    latex = t.to_latex()
    # best accelerated MRPC score is bold; the full model (90.0) is a reference, never bold
    assert r"\textbf{81.0 $\pm$ 1.4}" in latex
    assert r"\textbf{90.0}" not in latex
    # RTE: the 6-layer model (70.0) beats DeeBERT (66.0) and ours (65.0)
    assert r"\textbf{70.0}" in latex and r"\textbf{66.0}" not in latex
    md = t.to_markdown()
    assert "**81.0 ± 1.4**" in md and "| BERT | DeeBERT | 75.0 | 66.0 |" in md
    assert "| BERT | BERT-6L | 70.0 | **70.0** |" in md


def test_average_column_is_per_seed_then_over_seeds(frame):
    # ours: seed 1 avg (80+64)/2 = 72, seed 2 avg (82+66)/2 = 74 -> 73.0 ± 1.4
    cells = csv_cells(tables.table1(frame, spec_from_dict(SPEC)))
    assert cells[("BERT", "Ours")]["Avg."] == "73.0 ± 1.4"


def test_table2_picks_the_truncated_model_of_its_speedup(frame):
    spec = spec_from_dict(SPEC)
    cells = csv_cells(tables.table2(frame, spec))
    assert cells[("BERT", "BERT-4L")]["MRPC"] == "60.0"
    assert ("BERT", "BERT-6L") not in cells
    assert cells[("BERT", "Ours")]["MRPC"] == "77.0"
    assert cells[("BERT", "Ours")]["RTE"] == ""           # missing -> empty in CSV
    assert cells[("BERT", "Ours")]["Avg."] == ""          # a task missing -> no average
    assert cells[("BERT", "PABEE")]["MRPC"] == ""


def test_table_metric_override_reads_f1(frame):
    spec = spec_from_dict({**SPEC, "table_metric": {"mrpc": "f1"}})
    cells = csv_cells(tables.table1(frame, spec))
    assert cells[("BERT", "Ours")]["MRPC"] == "87.0 ± 1.4"
    assert cells[("BERT", "BERT-base")]["MRPC"] == "93.0"
    assert "MRPC f1" in tables.table1(frame, spec).caption


def test_latex_structure_and_caption(frame):
    t = tables.table1(frame, spec_from_dict(SPEC))
    tex = t.to_latex()
    for token in (r"\begin{table*}", r"\toprule", r"\midrule", r"\bottomrule",
                  r"\begin{tabular}{lcccc}", r"\end{tabular}", r"\label{tab:table1}"):
        assert token in tex
    assert tex.index(r"\toprule") < tex.index(r"\midrule") < tex.index(r"\bottomrule")
    body = tex[tex.index(r"\midrule"):tex.index(r"\bottomrule")]
    for line in body.splitlines():
        if line.startswith(("\\midrule", "\\multicolumn")):
            continue
        assert line.endswith(r"\\") and line.count("&") == 4, line
    cap = re.search(r"\\caption\{(.*)\}", tex).group(1)
    assert "BERT-base (12 layers)" in cap and "unit-test numbers" in cap and "smoke" in cap
    assert "\\%" in cap and "2 seeds" in cap
    assert tex.count("{") == tex.count("}")


def test_write_produces_tex_csv_md(frame, tmp_path):
    paths = tables.table1(frame, spec_from_dict(SPEC)).write(tmp_path / "rep")
    assert sorted(p.name for p in paths) == ["table1.csv", "table1.md", "table1.tex"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert (tmp_path / "rep" / "table1.csv").read_text().startswith("block,row,MRPC,RTE")


def test_analysis_tables_use_analysis_tasks(frame):
    spec = spec_from_dict({**SPEC, "tables": {"4": {"targets": [2, 3], "tasks": "analysis",
                                                    "rows": ["pf-past", "pf"]}}})
    with pytest.raises(PfError, match="table 4: the metrics frame has none"):
        tables.table4(frame, spec)   # no pf-past anywhere
    spec = spec_from_dict({**SPEC, "tables": {"7": {"targets": [2, 3], "tasks": "analysis",
                                                    "rows": ["deebert", "pf"]}}})
    t = tables.build_table("7", frame, spec)
    assert t.name == "table7" and t.columns == ["MRPC", "Avg.", "Speed-up"]
    assert [b.title for b in t.blocks] == ["BERT, target 2.00×", "BERT, target 3.00×"]
    cells = csv_cells(t)
    assert cells[("BERT, target 3.00×", "DeeBERT")]["MRPC"] == "70.0"


def test_spec_files_and_errors(tmp_path):
    y = tmp_path / "spec.yaml"
    y.write_text("scale: paper\nbackbones: {bert: {display: BERT}}\n"
                 "tables:\n  '1': {target: 2, rows: [pf, {method: truncated, label: T}]}\n")
    spec = load_spec(y)
    assert spec.scale == "paper" and spec.backbone_full("bert") == "BERT-base"
    assert spec.table("1").rows[1].method == "truncated"
    assert set(spec.tables) >= {"1", "2", "3", "4", "5", "6"}
    y.write_text("scael: paper\n")
    with pytest.raises(PfError, match="did you mean 'scale'"):
        load_spec(y)
    with pytest.raises(PfError, match="unknown task 'mrcp'"):
        spec_from_dict({"analysis_tasks": ["mrcp"]})
    with pytest.raises(PfError, match="unknown table '9'"):
        spec_from_dict({}).table("9")


# ----------------------------------------------------------------- latency

def test_latency_collect_shapes_and_table(tmp_path):
    res = tmp_path / "results"
    atomic_write_json(res / "latency/bert/mrpc/pf/seed1.json", {
        "backbone": "bert", "task": "mrpc", "variant": "pf", "tau": 0.2,
        "layer_speedup": 2.0,
        "batches": [{"batch_size": 1, "full_seconds": 2.0, "engine_seconds": 1.25},
                    {"batch_size": 32, "full_seconds": 4.0, "engine_seconds": 4.0}]})
    atomic_write_json(res / "latency/bert/rte/pf/seed1.json", {
        "backbone": "bert", "task": "rte", "variant": "pf", "rule_param": 0.2,
        "layer_speedup": 3.0,
        "by_batch_size": {"1": {"measured_speedup": 2.5}, "32": {"measured_speedup": 1.5}}})
    lat = collect.collect_latency(res)
    assert len(lat) == 4 and set(lat.seed) == {1}
    t = tables.latency_table(lat, spec_from_dict(SPEC))
    cells = csv_cells(t)
    assert t.columns == ["Layer speed-up", "Measured (batch 1)", "Measured (batch 32)"]
    assert cells[("BERT", "MRPC: Ours")]["Measured (batch 1)"] == "1.60"
    assert cells[("BERT", "MRPC: Ours")]["Measured (batch 32)"] == "1.00"
    assert cells[("BERT", "RTE: Ours")]["Layer speed-up"] == "3.00"
    bad = res / "latency/bert/qqp/pf/seed1.json"
    atomic_write_json(bad, {"backbone": "bert", "task": "qqp", "variant": "pf"})
    with pytest.raises(PfError, match="qqp/pf/seed1.json: no per-batch-size"):
        collect.collect_latency(res)


# ----------------------------------------------------------------- figures + CLI

@pytest.fixture(scope="module")
def fake_results(tmp_path_factory):
    root = tmp_path_factory.mktemp("fake")
    return write_fake_results(root / "results", backbones=("bert",), seeds=(1,),
                              tasks=("mnli", "mrpc"), latency=True)


def test_cli_report_tables_figures_deterministic(fake_results, tmp_path):
    metrics = tmp_path / "metrics.csv"
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"backbones": ["bert"], "tasks": ["mnli", "mrpc"],
                                "analysis_tasks": ["mnli", "mrpc"],
                                "figures": {"curves": {"3": "bert"}}}))
    assert main(["collect", "--results", str(fake_results), "--out", str(metrics),
                 "--latency-out", str(tmp_path / "lat.csv")]) == 0
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        rc = main(["report", "--metrics", str(metrics), "--spec", str(spec),
                   "--results", str(fake_results), "--out-dir", str(out),
                   "--table", "1", "--table", "4", "--figure", "3", "--figure", "4",
                   "--latency", "--latency-csv", str(tmp_path / "lat.csv")])
        assert rc == 0
        outs.append(out)
    a, b = outs
    names = sorted(p.name for p in a.iterdir())
    assert names == ["figure3.png", "figure4.png", "latency.csv", "latency.md", "latency.tex",
                     "table1.csv", "table1.md", "table1.tex", "table4.csv", "table4.md",
                     "table4.tex"]
    for png in ("figure3.png", "figure4.png"):
        data = (a / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
        assert data == (b / png).read_bytes(), f"{png} differs between two renders"
        assert b"tIME" not in data
    assert (a / "table1.tex").read_text() == (b / "table1.tex").read_text()
    assert main(["diff", str(a), str(b)]) == 0


def test_cli_report_errors(fake_results, tmp_path, capsys):
    assert main(["report", "--out-dir", str(tmp_path), "--table", "1"]) == 2
    assert "--metrics" in capsys.readouterr().err
    assert main(["report", "--results", str(fake_results), "--out-dir", str(tmp_path),
                 "--figure", "9"]) == 2
    assert "unknown figure '9'" in capsys.readouterr().err
    assert main(["report", "--results", str(fake_results), "--out-dir", str(tmp_path)]) == 2
    assert list(tmp_path.iterdir()) == []


def test_report_modules_stay_light():
    import subprocess
    import sys

    code = ("import sys, pf.reports.cli, pf.reports.collect, pf.reports.tables, "
            "pf.reports.diff, pf.reports.figures, pf.reports.spec; "
            "print(sorted(m for m in ('torch', 'transformers', 'matplotlib') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_cli_all_skips_what_has_no_data(tmp_path, capsys):
    res = small_results(tmp_path / "results")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    out = tmp_path / "out"
    assert main(["report", "--results", str(res), "--spec", str(spec), "--out-dir", str(out),
                 "--all"]) == 0
    err = capsys.readouterr().err
    assert "skipped table 5" in err and "skipped figure 4" in err
    assert {"table1.tex", "table2.tex", "figure3.png"} <= {p.name for p in out.iterdir()}
    assert main(["report", "--results", str(res), "--spec", str(spec), "--out-dir", str(out),
                 "--table", "5"]) == 2
