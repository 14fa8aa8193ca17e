"""Reports: collect -> tables (LaTeX/CSV/Markdown) -> figures, on hand-written numbers.

Tables and figures read exactly the results their spec names: a missing one is an error
naming it, a stale one of another variant or seed changes nothing. Degenerate models carry a
dagger; cells far from their target speed-up say so and are never bold."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from pf.cli import main
from pf.errors import PfError
from pf.io import atomic_write_json
from pf.reports import collect, tables
from fixtures_results import latency_obj, metrics_obj, metrics_path, write_fake_results
from pf.reports.results import MetricsIndex
from pf.reports.spec import load_spec, spec_from_dict

# ----------------------------------------------------------------- fixtures

DYN = {"deebert": ("deebert", "entropy"), "pabee": ("pabee", "patience"),
       "pf": ("pf", "entropy"), "pf-past": ("pf", "entropy")}


def write_metrics(results: Path, backbone, task, variant, seed, target, score, speedup,
                  f1=None, n_layers=12, one_class=False) -> Path:
    base = variant.split("-")[0] if variant.endswith("x") else variant
    method, rule = DYN.get(variant, (base, "last"))
    obj = metrics_obj(backbone, task, variant, seed, target, score, speedup, method, rule, {},
                      n_layers=n_layers, one_class=one_class)
    if f1 is not None:
        obj["metrics"]["f1"] = f1
    path = metrics_path(results, obj)
    atomic_write_json(path, obj)
    return path


def small_results(results: Path) -> list[Path]:
    """BERT (12 layers) on MRPC and RTE with known numbers, as the workflow names them.

    2x: full 0.90 (reference), truncated-2x 0.70, deebert 0.75, pabee 0.78,
    pf seeds 1/2 = 0.80/0.82 (MRPC), 0.64/0.66 (RTE). 3x: truncated-3x 0.60, deebert 0.70,
    pabee 0.72 at 2.85x (off target), pf 0.71/0.69."""
    out = []
    for task in ("mrpc", "rte"):
        for seed in (1, 2):
            for target in (2, 3):
                out.append(write_metrics(results, "bert", task, "full", seed, target, 0.90, 1.0,
                                         f1=0.93 if task == "mrpc" else None))
            out.append(write_metrics(results, "bert", task, "truncated-2x", seed, 2, 0.70, 2.0))
            out.append(write_metrics(results, "bert", task, "truncated-3x", seed, 3, 0.60, 3.0))
            out.append(write_metrics(results, "bert", task, "deebert", seed, 2,
                                     0.75 if task == "mrpc" else 0.66, 2.01))
            out.append(write_metrics(results, "bert", task, "pabee", seed, 2,
                                     0.78 if task == "mrpc" else 0.65, 1.99, f1=0.85))
            out.append(write_metrics(results, "bert", task, "deebert", seed, 3, 0.70, 3.0))
            out.append(write_metrics(results, "bert", task, "pabee", seed, 3, 0.72, 2.85))
        for seed, score2, score3 in ((1, 0.80, 0.71), (2, 0.82, 0.69)):
            if task == "rte":
                score2 -= 0.16
            out.append(write_metrics(results, "bert", task, "pf", seed, 2, score2,
                                     2.0 if seed == 1 else 2.04, f1=score2 + 0.06))
            out.append(write_metrics(results, "bert", task, "pf", seed, 3, score3, 3.0))
    return out


MAIN_ROWS = [{"variant": "full", "reference": True},
             {"variant": "truncated", "per_target": True}, "deebert", "pabee", "pf"]
SPEC = {"scale": "smoke", "data_source": "unit-test numbers",
        "backbones": {"bert": "BERT-12"}, "tasks": ["rte", "mrpc"],
        "analysis_tasks": ["mrpc"], "seeds": [1, 2],
        "tables": {"1": {"targets": [2], "rows": MAIN_ROWS},
                   "2": {"targets": [3], "rows": MAIN_ROWS},
                   "4": {"targets": [2, 3], "tasks": "analysis", "rows": ["pf-past", "pf"]}}}


@pytest.fixture()
def files(tmp_path) -> list[Path]:
    return small_results(tmp_path / "results")


@pytest.fixture()
def index(files):
    return MetricsIndex(collect.read_metrics(files))


def csv_cells(table) -> dict[tuple[str, str, str], dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(table.to_csv())))
    return {(r["block"], r["row"], r["column"]): r for r in rows}


def md_cells(table) -> dict[tuple[str, str], list[str]]:
    """(block, row) -> the Markdown cells of the data columns."""
    out = {}
    for line in table.to_markdown().splitlines()[4:]:
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        out[(cells[0], cells[1])] = cells[2:]
    return out


# ----------------------------------------------------------------- collect

def test_collect_writes_tidy_csv(tmp_path, files):
    out = tmp_path / "reports" / "metrics.csv"
    assert main(["collect", *map(str, files), "--out", str(out)]) == 0
    header = out.read_text().splitlines()[0].split(",")
    assert header[:10] == ["backbone", "task", "variant", "seed", "target", "metric", "score",
                           "n_examples", "majority", "degenerate"]
    df = collect.read_metrics_csv(out)
    assert len(df) == len(files) == 40
    row = df[(df.variant == "pf") & (df.seed == 2) & (df.task == "mrpc") & (df.target == 2)]
    row = row.iloc[0]
    assert row.score == pytest.approx(0.82) and row.metric_f1 == pytest.approx(0.88)
    assert row.majority == pytest.approx(0.5) and not row.degenerate
    assert isinstance(row.exit_counts, list) and len(row.exit_counts) == 12
    assert row.prediction_counts == [200, 200] and row.label_counts == [200, 200]
    assert row.source == "metrics/bert/mrpc/pf/seed2/target2.json"
    again = tmp_path / "again.csv"
    main(["collect", *map(str, reversed(files)), "--out", str(again)])
    assert again.read_bytes() == out.read_bytes()    # sorted, deterministic


def test_collect_reads_only_the_files_given(tmp_path, files):
    out = tmp_path / "m.csv"
    assert main(["collect", str(files[0]), str(files[1]), "--out", str(out)]) == 0
    assert len(collect.read_metrics_csv(out)) == 2


def test_collect_missing_field_names_file_and_field(tmp_path, capsys):
    path = write_metrics(tmp_path / "results", "bert", "mrpc", "pf", 1, 2, 0.8, 2.0)
    obj = json.loads(path.read_text())
    del obj["exit_counts"]
    path.write_text(json.dumps(obj))
    with pytest.raises(PfError, match=r"target2\.json.*'exit_counts'"):
        collect.collect_metrics([path])
    out = tmp_path / "m.csv"
    assert main(["collect", str(path), "--out", str(out)]) == 2
    assert not out.exists()
    assert "exit_counts" in capsys.readouterr().err


def test_collect_old_schema_is_named(tmp_path):
    path = write_metrics(tmp_path / "results", "bert", "mrpc", "pf", 1, 2, 0.8, 2.0)
    obj = json.loads(path.read_text())
    obj["schema"] = "pf-metrics/1"
    path.write_text(json.dumps(obj))
    with pytest.raises(PfError, match=r"'pf-metrics/1', expected 'pf-metrics/3'.*rerun"):
        collect.collect_metrics([path])


def test_collect_path_disagreeing_with_content(tmp_path):
    path = write_metrics(tmp_path / "results", "bert", "mrpc", "pf", 1, 2, 0.8, 2.0)
    wrong = path.parents[1].parent / "pabee" / "seed1" / "target2.json"
    wrong.parent.mkdir(parents=True)
    path.rename(wrong)
    with pytest.raises(PfError, match=r"'variant' is 'pf' but the path says 'pabee'"):
        collect.collect_metrics([wrong])


def test_collect_nothing_or_twice(tmp_path, files):
    with pytest.raises(PfError, match="no metrics files"):
        collect.collect_metrics([])
    copy = tmp_path / "copy.json"
    shutil.copy(files[0], copy)
    with pytest.raises(PfError, match="given twice"):
        collect.collect_metrics([files[0], copy])


# ----------------------------------------------------------------- tables

def test_table1_numbers_columns_bold_and_std(index):
    t = tables.build_table("1", index, spec_from_dict(SPEC))
    assert t.columns == ["MRPC", "RTE", "Avg.", "Speed-up"]   # paper order, not spec order
    md = md_cells(t)
    assert [row for _, row in md] == ["BERT-12", "BERT-12-6L", "DeeBERT", "PABEE", "Ours"]
    cells = csv_cells(t)
    ours = {c: cells[("BERT-12", "Ours", c)] for c in t.columns}
    assert (ours["MRPC"]["mean"], ours["MRPC"]["std"], ours["MRPC"]["n_seeds"]) == \
        ("81.00", "1.41", "2")                         # (80 + 82) / 2, sample std sqrt(2)
    assert ours["RTE"]["mean"] == "65.00" and ours["Speed-up"]["mean"] == "2.020"
    assert ours["MRPC"]["speedup"] == "2.020" and ours["MRPC"]["degenerate"] == "false"
    assert md[("BERT-12", "Ours")][0] == "**81.0 ± 1.4**"
    assert md[("BERT-12", "PABEE")][0] == "78.0 ± 0.0"
    assert md[("BERT-12", "BERT-12")][0] == "90.0 ± 0.0"    # the reference is never bold
    assert md[("BERT-12", "BERT-12-6L")][1] == "**70.0 ± 0.0**"   # RTE: best accelerated
    latex = t.to_latex()
    assert r"\textbf{81.0 $\pm$ 1.4}" in latex and r"\textbf{90.0" not in latex


def test_average_column_is_per_seed_then_over_seeds(index):
    # ours: seed 1 avg (80+64)/2 = 72, seed 2 avg (82+66)/2 = 74 -> 73.0 ± 1.4
    md = md_cells(tables.build_table("1", index, spec_from_dict(SPEC)))
    assert md[("BERT-12", "Ours")][2] == "**73.0 ± 1.4**"


def test_table2_reads_the_truncated_model_of_its_target(index):
    md = md_cells(tables.build_table("2", index, spec_from_dict(SPEC)))
    assert md[("BERT-12", "BERT-12-4L")][:2] == ["60.0 ± 0.0", "60.0 ± 0.0"]
    assert ("BERT-12", "BERT-12-6L") not in md


def test_off_target_cells_state_their_speedup_and_are_not_bold(index):
    """PABEE reaches 2.85x for a 3x target (5% off): its cells say so and, although its
    72.0 is the best score, bold goes to the best cell within 3% (ours, 70.0)."""
    t = tables.build_table("2", index, spec_from_dict(SPEC))
    md = md_cells(t)
    assert md[("BERT-12", "PABEE")][:3] == ["72.0 ± 0.0 (2.85×)", "72.0 ± 0.0 (2.85×)",
                                            "72.0 ± 0.0"]
    assert md[("BERT-12", "Ours")][:3] == ["**70.0 ± 1.4**"] * 3
    assert md[("BERT-12", "DeeBERT")][0] == "**70.0 ± 0.0**"     # ties share the bold
    assert "(2.0" not in t.to_markdown().split("**table2.**")[1].split("\n", 1)[1]
    assert "differs from the target by more than 3% states it" in t.caption
    assert "within 3% of the target" in t.caption
    assert r"\textbf{72.0" not in t.to_latex() and r"({\scriptsize" not in t.to_latex()
    assert r"{\scriptsize (2.85$\times$)}" in t.to_latex()
    assert csv_cells(t)[("BERT-12", "PABEE", "MRPC")]["speedup"] == "2.850"


def test_table_metric_override_reads_f1(index):
    spec = spec_from_dict({**SPEC, "table_metric": {"mrpc": "f1"}})
    t = tables.build_table("1", index, spec)
    assert md_cells(t)[("BERT-12", "Ours")][0] == "**87.0 ± 1.4**"
    assert "MRPC f1" in t.caption


def test_caption_names_seeds_size_backbone_and_scale(index):
    t = tables.build_table("1", index, spec_from_dict(SPEC))
    assert "Mean ± sample std over 2 seeds (1, 2)." in t.caption
    assert "Dev sets of n = 400 examples per task." in t.caption
    assert "BERT-12 (12 layers)" in t.caption and "unit-test numbers" in t.caption
    assert "degenerate" not in t.caption            # no footnote without a dagger
    one = tables.build_table("1", index, spec_from_dict({**SPEC, "seeds": [2]}))
    assert "One seed (2)." in one.caption
    assert md_cells(one)[("BERT-12", "Ours")][0] == "**82.0**"


def test_latex_structure(index):
    tex = tables.build_table("1", index, spec_from_dict(SPEC)).to_latex()
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
    assert "\\%" in cap and "2 seeds" in cap
    assert tex.count("{") == tex.count("}")


def test_write_produces_tex_csv_md(index, tmp_path):
    paths = tables.build_table("1", index, spec_from_dict(SPEC)).write(tmp_path / "rep")
    assert sorted(p.name for p in paths) == ["table1.csv", "table1.md", "table1.tex"]
    assert (tmp_path / "rep" / "table1.csv").read_text().startswith(
        "block,row,column,mean,std,n_seeds,speedup,degenerate\n")


def test_degenerate_cells_carry_a_dagger_and_the_caption_a_footnote(tmp_path, files):
    """DeeBERT on RTE answers class 0 for every example in seed 2: a dagger on its cell,
    a footnote, `degenerate` true in the CSV, and the result named for the warning."""
    write_metrics(tmp_path / "results", "bert", "rte", "deebert", 2, 2, 0.5, 2.0,
                  one_class=True)
    t = tables.build_table("1", MetricsIndex(collect.read_metrics(files)), spec_from_dict(SPEC))
    md = md_cells(t)
    assert md[("BERT-12", "DeeBERT")][1] == "58.0 ± 11.3†"
    assert md[("BERT-12", "DeeBERT")][0] == "75.0 ± 0.0"
    assert md[("BERT-12", "DeeBERT")][2] == "66.5 ± 5.7†"       # its average holds it too
    assert "† degenerate model" in t.caption and r"$^\dagger$" in t.to_latex()
    assert csv_cells(t)[("BERT-12", "DeeBERT", "RTE")]["degenerate"] == "true"
    assert t.degenerate == ["bert/rte/deebert seed 2 target 2 "
                            "(metrics/bert/rte/deebert/seed2/target2.json): 100.0% of the "
                            "predictions are class 0; score 0.5000 is not more than 0.02 "
                            "above the majority-class score 0.5000"]


def test_bold_goes_to_neither_degenerate_nor_off_target_cells():
    def row(label, mean, **kw):
        return tables.TableRow(label, {"MRPC": tables.Cell(mean, n=1, **kw)})

    block = tables.Block("b", [row("ref", 99.0), row("ok", 80.0), row("also ok", 80.0),
                               row("constant", 90.0, degenerate=True),
                               row("slow", 95.0, comparable=False, speedup=2.5,
                                   show_speedup=True)])
    block.rows[0].reference = True
    tables.mark_best(block, ["MRPC"])
    assert [r.cells["MRPC"].bold for r in block.rows] == [False, True, True, False, False]
    assert [r.cells["MRPC"].text("md") for r in block.rows] == [
        "99.0", "**80.0**", "**80.0**", "90.0†", "95.0 (2.50×)"]


def test_report_warns_naming_degenerate_models(tmp_path, files, capsys):
    write_metrics(tmp_path / "results", "bert", "mrpc", "pabee", 1, 2, 0.51, 1.99)  # replaced
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    assert main(["report", "--spec", str(spec), "--metrics", *map(str, files),
                 "--out-dir", str(tmp_path / "out"), "--table", "1"]) == 0
    err = capsys.readouterr().err
    assert ("pf report: warning: degenerate model in table1: bert/mrpc/pabee seed 1 target 2 "
            "(metrics/bert/mrpc/pabee/seed1/target2.json): score 0.5100 is not more than "
            "0.02 above the majority-class score 0.5000") in err
    assert "1 degenerate result(s)" in err


def test_a_missing_result_is_an_error_naming_the_job(index):
    spec = spec_from_dict({**SPEC, "seeds": [1, 2, 3]})
    with pytest.raises(PfError) as err:
        tables.build_table("1", index, spec)
    msg = str(err.value)
    assert msg.startswith("table 1: 10 result(s) missing from the inputs:")
    assert "bert/mrpc/pf seed 3 target 2 (metrics/bert/mrpc/pf/seed3/target2.json)" in msg


def test_a_fixed_depth_model_never_falls_back_to_another_target(tmp_path, files):
    """Without truncated-2x the 2x table fails naming it; truncated-3x (or full at 3x) is
    not taken instead."""
    kept = [f for f in files if "truncated-2x" not in str(f)]
    index = MetricsIndex(collect.read_metrics(kept))
    with pytest.raises(PfError, match=r"bert/mrpc/truncated-2x seed 1 target 2"):
        tables.build_table("1", index, spec_from_dict(SPEC))
    kept = [f for f in files if not str(f).endswith("full/seed1/target2.json")]
    with pytest.raises(PfError, match=r"bert/\w+/full seed 1 target 2"):
        tables.build_table("1", MetricsIndex(collect.read_metrics(kept)), spec_from_dict(SPEC))


def test_stale_results_of_other_variants_and_seeds_change_nothing(tmp_path, files):
    """A collected CSV holding stale rows (seed 7 of ours, a 'truncated-2.5x' student close to
    3x, a pf-old variant) renders the same tables as the exact inputs."""
    res = tmp_path / "results"
    before = {n: tables.build_table(n, MetricsIndex(collect.read_metrics(files)),
                                    spec_from_dict(SPEC)).to_latex() for n in ("1", "2")}
    stale = [write_metrics(res, "bert", t, "pf", 7, r, 0.99, float(r))
             for t in ("mrpc", "rte") for r in (2, 3)]
    stale += [write_metrics(res, "bert", t, "truncated-2.5x", s, 3, 0.95, 3.0)
              for t in ("mrpc", "rte") for s in (1, 2)]
    stale += [write_metrics(res, "bert", "mrpc", "pf-old", 1, 3, 0.99, 3.0)]
    everything = tmp_path / "all.csv"
    assert main(["collect", *map(str, files + stale), "--out", str(everything)]) == 0
    index = MetricsIndex(collect.read_metrics([everything]))
    after = {n: tables.build_table(n, index, spec_from_dict(SPEC)).to_latex()
             for n in ("1", "2")}
    assert after == before


def test_analysis_tables_use_analysis_tasks(index):
    spec = spec_from_dict(SPEC)
    with pytest.raises(PfError, match="table 4: .* missing.*bert/mrpc/pf-past seed 1"):
        tables.build_table("4", index, spec)   # no pf-past anywhere
    spec = spec_from_dict({**SPEC, "tables": {"7": {"targets": [2, 3], "tasks": "analysis",
                                                    "rows": ["deebert", "pf"]}}})
    t = tables.build_table("7", index, spec)
    assert t.name == "table7" and t.columns == ["MRPC", "Avg.", "Speed-up"]
    assert [b.title for b in t.blocks] == ["BERT-12, target 2.00×", "BERT-12, target 3.00×"]
    assert csv_cells(t)[("BERT-12, target 3.00×", "DeeBERT", "MRPC")]["mean"] == "70.00"
    assert set(spec.tables) == {"7"}          # a spec's tables replace the default ones


def test_backbone_labels_never_borrow_a_family_name(index, files, tmp_path):
    """A backbone is shown by its label, defaulting to its key: a 'bert' key without a label
    is 'bert', never 'BERT-base'."""
    t = tables.build_table("1", index, spec_from_dict({**SPEC, "backbones": ["bert"]}))
    text = t.to_markdown() + t.to_latex()
    assert "BERT-base" not in text and "BERT" not in text.replace("DeeBERT", "")
    assert [row for _, row in md_cells(t)][:2] == ["bert", "bert-6L"]
    assert "Backbones: bert (12 layers)" in t.caption


def test_spec_files_and_errors(tmp_path):
    y = tmp_path / "spec.yaml"
    y.write_text("scale: paper\nbackbones: {bert: {label: BERT-base}}\n"
                 "tables:\n  '1': {target: 2, rows: [pf, {variant: truncated, "
                 "per_target: true, label: T}]}\n")
    spec = load_spec(y)
    assert spec.scale == "paper" and spec.backbone_label("bert") == "BERT-base"
    assert spec.table("1").rows[1].concrete(2.0) == "truncated-2x"
    assert spec.table("1").rows[0].concrete(2.0) == "pf"
    assert set(spec.tables) == {"1"}
    assert set(load_spec(None).tables) == {"1", "2", "3", "4", "5", "6"}
    y.write_text("scael: paper\n")
    with pytest.raises(PfError, match="did you mean 'scale'"):
        load_spec(y)
    with pytest.raises(PfError, match="unknown task 'mrcp'"):
        spec_from_dict({"analysis_tasks": ["mrcp"]})
    with pytest.raises(PfError, match="unknown table '9'"):
        spec_from_dict({}).table("9")
    with pytest.raises(PfError, match="key in report spec: tables.1.rows"):
        spec_from_dict({"tables": {"1": {"rows": [{"method": "truncated"}]}}})


# ----------------------------------------------------------------- latency

def test_latency_collect_shapes_and_table(tmp_path):
    res = tmp_path / "results"
    a = res / "latency/bert/mrpc/pf/seed1.json"
    b = res / "latency/bert/rte/pf/seed1.json"
    atomic_write_json(a, latency_obj("bert", "mrpc", "pf", 1, 0.2, 2.0,
                                     {1: (2.0, 0.8), 32: (4.0, 0.5)}))
    atomic_write_json(b, latency_obj("bert", "rte", "pf", 1, 0.2, 3.0,
                                     {1: (1.0, 2.5 / 3.0), 32: (1.0, 1.5 / 3.0)}))
    lat = collect.collect_latency([a, b])
    assert len(lat) == 4 and set(lat.seed) == {1}
    spec = spec_from_dict({**SPEC, "seeds": [1], "latency": {"backbones": ["bert"],
                                                              "tasks": ["mrpc", "rte"],
                                                              "variants": ["pf"]}})
    t = tables.latency_table(lat, spec)
    assert t.columns == ["Layer speed-up", "Measured (batch 1)", "Measured (batch 32)"]
    cells = csv_cells(t)
    assert cells[("BERT-12", "MRPC: Ours", "Measured (batch 1)")]["mean"] == "1.600"
    assert cells[("BERT-12", "RTE: Ours", "Layer speed-up")]["mean"] == "3.000"
    with pytest.raises(PfError, match=r"latency table: 2 timing\(s\) missing.*bert/rte/pf"):
        tables.latency_table(collect.collect_latency([a]), spec)
    bad = res / "latency/bert/qqp/pf/seed1.json"
    atomic_write_json(bad, {**latency_obj("bert", "qqp", "pf", 1, 0.2, 2.0, {}), "batches": []})
    with pytest.raises(PfError, match="qqp/pf/seed1.json: no per-batch-size"):
        collect.collect_latency([a, bad])
    atomic_write_json(bad, {"backbone": "bert", "task": "qqp", "variant": "pf"})
    with pytest.raises(PfError, match="qqp/pf/seed1.json: field 'schema'"):
        collect.collect_latency([a, bad])


# ----------------------------------------------------------------- figures + CLI

@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    root = tmp_path_factory.mktemp("fake")
    return write_fake_results(root / "results", backbones=("bert",), seeds=(1, 2),
                              tasks=("mnli", "mrpc"), latency=True)


FAKE_SPEC = {"backbones": {"bert": "BERT-test"}, "tasks": ["mnli", "mrpc"],
             "analysis_tasks": ["mnli", "mrpc"], "seeds": [1, 2],
             "tables": {"1": {"targets": [2], "rows": MAIN_ROWS},
                        "4": {"targets": [2, 3], "tasks": "analysis",
                              "rows": ["pf-past", "pf"]}},
             "figures": {"curves": {"3": "bert"}},
             "latency": {"variants": ["pf", "deebert"], "backbones": ["bert"]}}


def test_cli_report_tables_figures_deterministic(fake, tmp_path):
    metrics = tmp_path / "metrics.csv"
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(FAKE_SPEC))
    assert main(["collect", *map(str, fake.metrics), "--out", str(metrics),
                 "--latency", *map(str, fake.latency),
                 "--latency-out", str(tmp_path / "lat.csv")]) == 0
    outs = []
    for name, inputs in (("a", [str(metrics)]), ("b", list(map(str, fake.metrics)))):
        out = tmp_path / name
        rc = main(["report", "--spec", str(spec), "--metrics", *inputs,
                   "--curves", *map(str, fake.curves), "--out-dir", str(out),
                   "--table", "1", "--table", "4", "--figure", "3", "--figure", "4",
                   "--latency", "--latency-inputs", str(tmp_path / "lat.csv")])
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


def test_figures_read_exactly_their_seeds(fake, tmp_path):
    """Figure 3 of seed 1 alone: the same PNG whether or not seed 2's curves and metrics are
    among the inputs; without seed 1's PABEE curve it fails naming the file."""
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({**FAKE_SPEC, "seeds": [1]}))

    def render(out, metrics, curves):
        return main(["report", "--spec", str(spec), "--metrics", *map(str, metrics),
                     "--curves", *map(str, curves), "--out-dir", str(out), "--figure", "3"])

    seed1 = [p for p in fake.metrics if "/seed1/" in str(p)]
    curves1 = [p for p in fake.curves if p.name == "seed1.csv"]
    assert render(tmp_path / "all", fake.metrics, fake.curves) == 0
    assert render(tmp_path / "one", seed1, curves1) == 0
    assert ((tmp_path / "all/figure3.png").read_bytes()
            == (tmp_path / "one/figure3.png").read_bytes())
    spec.write_text(json.dumps(FAKE_SPEC))
    assert render(tmp_path / "two", fake.metrics, fake.curves) == 0
    assert ((tmp_path / "two/figure3.png").read_bytes()
            != (tmp_path / "one/figure3.png").read_bytes())   # the mean of two seeds
    without = [p for p in fake.curves if not str(p).endswith("mnli/pabee/seed1.csv")]
    with pytest.raises(PfError, match=r"figure 3: 1 curve file\(s\) missing.*"
                                      r"curves/bert/mnli/pabee/seed1.csv"):
        from pf.reports.figures import CurveFiles, render_figure
        render_figure("3", MetricsIndex(collect.read_metrics(fake.metrics)),
                      CurveFiles(without), load_spec(spec), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_cli_report_errors(fake, tmp_path, capsys):
    assert main(["report", "--out-dir", str(tmp_path), "--table", "1"]) == 2
    assert "--metrics" in capsys.readouterr().err
    assert main(["report", "--metrics", str(fake.metrics[0]), "--out-dir", str(tmp_path),
                 "--figure", "9"]) == 2
    assert "unknown figure '9'" in capsys.readouterr().err
    assert main(["report", "--metrics", str(fake.metrics[0]), "--out-dir", str(tmp_path)]) == 2
    assert main(["report", "--metrics", str(fake.metrics[0]), "--out-dir", str(tmp_path),
                 "--table", "1"]) == 2
    assert "missing from the inputs" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_report_modules_stay_light():
    import subprocess
    import sys

    code = ("import sys, pf.reports.cli, pf.reports.collect, pf.reports.tables, "
            "pf.reports.diff, pf.reports.figures, pf.reports.spec, pf.reports.results; "
            "print(sorted(m for m in ('torch', 'transformers', 'matplotlib') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
