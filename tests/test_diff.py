"""`pf diff`: numeric comparison of report tables with a tolerance."""

from __future__ import annotations

from pathlib import Path

import pytest

from pf.cli import main
from pf.errors import PfError
from pf.reports.diff import diff_paths, parse_cell

TABLE = """block,row,column,mean,std,n_seeds,speedup,degenerate
BERT,BERT-12,MRPC,90.00,,1,1.000,false
BERT,BERT-12,RTE,70.00,,1,1.000,false
BERT,Ours,MRPC,81.00,1.41,2,2.010,false
BERT,Ours,RTE,65.00,1.41,2,2.010,false
BERT,Ours,Speed-up,2.010,,2,,
"""
# a CSV of another layout: keyed by its first column, cells parsed as "mean ± std"
WIDE = """task,MRPC,RTE,Speed-up
BERT,81.0 ± 1.4,65.0 ± 1.4,2.01
"""


def write(d: Path, name: str, text: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(text, encoding="utf-8")
    return d / name


@pytest.mark.parametrize("text,expected", [
    ("81.0 ± 1.4", (81.0, 1.4)), ("2.01×", (2.01, None)), ("2.01", (2.01, None)),
    ("**84.3**", (84.3, None)), (r"\textbf{84.3 $\pm$ 0.2}", (84.3, 0.2)),
    ("-0.5", (-0.5, None)), ("", None), ("–", None), ("Ours", None),
])
def test_parse_cell(text, expected):
    assert parse_cell(text) == expected


def test_identical_directories_exit_0(tmp_path, capsys):
    write(tmp_path / "old", "table1.csv", TABLE)
    write(tmp_path / "new", "table1.csv", TABLE)
    assert main(["diff", str(tmp_path / "old"), str(tmp_path / "new"), "--tol", "0"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == "pf diff: 1 table(s) agree within tolerance 0"


def test_change_beyond_tolerance_reported(tmp_path, capsys):
    write(tmp_path / "old", "table1.csv", TABLE)
    write(tmp_path / "new", "table1.csv", TABLE.replace("81.00", "82.00"))
    assert main(["diff", str(tmp_path / "old"), str(tmp_path / "new"), "--tol", "0.5"]) == 1
    out = capsys.readouterr().out
    assert "table1.csv: [BERT / Ours / MRPC] mean: 81.00 -> 82.00 (delta +1)" in out
    # within tolerance: ignored
    assert main(["diff", str(tmp_path / "old"), str(tmp_path / "new"), "--tol", "1.5"]) == 0


def test_std_speedup_and_flag_changes(tmp_path):
    old = write(tmp_path, "a.csv", TABLE)
    new = write(tmp_path, "b.csv", TABLE.replace("65.00,1.41", "65.00,3.00")
                .replace("2.010,false", "2.310,false")
                .replace("BERT,BERT-12,RTE,70.00,,1,1.000,false",
                         "BERT,BERT-12,RTE,70.00,,1,1.000,true"))
    changes, n = diff_paths(old, new, tol=0.1)
    assert n == 1
    got = {(c.row, c.column, c.kind) for c in changes}
    assert got == {("BERT / Ours / RTE", "std", "moved"), ("BERT / Ours / MRPC", "speedup", "moved"),
                   ("BERT / Ours / RTE", "speedup", "moved"),
                   ("BERT / BERT-12 / RTE", "degenerate", "changed")}
    new2 = write(tmp_path, "c.csv", TABLE.replace("65.00,1.41", "65.00,"))
    assert [c.kind for c in diff_paths(old, new2, tol=1.0)[0]] == ["changed"]
    new3 = write(tmp_path, "d.csv", TABLE.replace("65.00,1.41", ",1.41"))
    (c,) = diff_paths(old, new3, tol=100)[0]
    assert c.kind == "changed" and c.new == "(empty)"


def test_other_csv_layouts_parse_cells(tmp_path):
    old = write(tmp_path, "a.csv", WIDE)
    new = write(tmp_path, "b.csv", WIDE.replace("65.0 ± 1.4", "65.0 ± 3.0"))
    (c,) = diff_paths(old, new, tol=0.1)[0]
    assert (c.row, c.column, c.kind) == ("BERT", "RTE (std)", "moved")


def test_missing_and_extra_tables_rows_columns(tmp_path, capsys):
    write(tmp_path / "old", "table1.csv", TABLE)
    write(tmp_path / "old", "table2.csv", TABLE)
    write(tmp_path / "new", "table1.csv",
          TABLE.replace("BERT,BERT-12,MRPC,90.00,,1,1.000,false\n", "")
          .replace(",degenerate\n", ",degenerate,bold\n")
          + "BERT,PABEE,MRPC,78.00,,1,1.990,false\n")
    write(tmp_path / "new", "table3.csv", TABLE)
    # a non-table CSV (tidy metrics) beside the tables is skipped
    write(tmp_path / "new", "metrics.csv", "backbone,task\nbert,mrpc\n")
    assert main(["diff", str(tmp_path / "old"), str(tmp_path / "new")]) == 1
    out = capsys.readouterr().out
    assert "table2.csv: missing table: table2.csv" in out
    assert "table3.csv: extra table: table3.csv" in out
    assert "table1.csv: missing row: BERT / BERT-12 / MRPC" in out
    assert "table1.csv: extra row: BERT / PABEE / MRPC" in out
    assert "table1.csv: extra column: bold" in out
    assert "metrics.csv" not in out


def test_bad_inputs(tmp_path, capsys):
    f = write(tmp_path, "a.csv", TABLE)
    assert main(["diff", str(f), str(tmp_path / "nope.csv")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["diff", str(f), str(tmp_path)]) == 2
    assert main(["diff", str(f), str(f), "--tol", "-1"]) == 2
    with pytest.raises(PfError, match="no \\*.csv tables"):
        (tmp_path / "e1").mkdir()
        (tmp_path / "e2").mkdir()
        diff_paths(tmp_path / "e1", tmp_path / "e2", 0.0)
