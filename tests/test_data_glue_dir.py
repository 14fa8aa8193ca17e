"""The GLUE-directory loader: every quirk of the real files and every error case."""

from __future__ import annotations

from pathlib import Path

import pytest

from pf.data import load_task
from pf.errors import PfError
from tests.fixtures_data import FILES, write_glue

REAL = Path("/work/shared/data/glue")


@pytest.fixture
def glue(tmp_path: Path) -> Path:
    return write_glue(tmp_path / "glue")


def test_sst2_trailing_spaces_stripped(glue):
    d = load_task("sst2", "glue_dir", str(glue))
    assert [len(d.splits[s]) for s in ("train", "dev")] == [3, 2]
    ex = d.splits["train"][0]
    assert ex.text_a == "hide new secretions from the parental units"
    assert ex.text_b is None and ex.label == 0
    assert d.splits["dev"][0].label == 1


def test_mrpc_bom_header_and_unbalanced_quotes(glue):
    d = load_task("mrpc", "glue_dir", str(glue))
    train = d.splits["train"]
    assert len(train) == 3                     # a CSV reader with quoting would merge rows
    assert train[0].text_a.startswith("Amrozi accused") and train[0].text_b == '"The witness" was accused.'
    assert train[1].text_a == 'He said "no.' and train[1].label == 0
    assert [e.label for e in d.splits["dev"]] == [1, 0]
    assert d.splits["dev"][0].text_b == '"It does not fit.'


def test_qqp_label_glued_by_space_is_recovered(glue):
    d = load_task("qqp", "glue_dir", str(glue))
    ex = d.splits["train"][0]
    assert ex.text_b == "Which level of prepration is enough for the exam jlpt5?"
    assert ex.label == 0
    assert d.splits["train"][1].label == 1


def test_mnli_12_vs_16_columns_gold_label(glue):
    d = load_task("mnli", "glue_dir", str(glue))
    labels = d.task.labels
    assert [labels[e.label] for e in d.splits["train"]] == ["neutral", "entailment"]
    assert [labels[e.label] for e in d.splits["dev"]] == ["neutral", "contradiction"]
    assert d.splits["dev"][0].text_a == "The new rights are nice enough"


def test_rte_qnli_labels(glue):
    rte = load_task("rte", "glue_dir", str(glue))
    assert [e.label for e in rte.splits["train"]] == [1, 0]
    qnli = load_task("qnli", "glue_dir", str(glue))
    assert qnli.splits["train"][1].text_a == 'What "is it?'


def test_guids_unique_and_crlf(tmp_path):
    files = {"RTE/train.tsv": "index\tsentence1\tsentence2\tlabel\r\n0\ta\tb\tentailment\r\n1\tc\td\tentailment\r\n",
             "RTE/dev.tsv": FILES["RTE/dev.tsv"]}
    d = load_task("rte", "glue_dir", str(write_glue(tmp_path, files)))
    assert [e.guid for e in d.splits["train"]] == ["train-0", "train-1"]
    assert d.splits["train"][1].text_b == "d"


def _expect(tmp_path, files, task, *needles):
    root = write_glue(tmp_path / "g", files)
    with pytest.raises(PfError) as err:
        load_task(task, "glue_dir", str(root))
    for n in needles:
        assert n in str(err.value), (n, str(err.value))


def test_missing_directory(tmp_path):
    with pytest.raises(PfError, match="does not exist"):
        load_task("rte", "glue_dir", str(tmp_path / "nope"))
    _expect(tmp_path, {"SST-2/train.tsv": FILES["SST-2/train.tsv"]}, "rte", "RTE", "task directory not found")


def test_missing_file(tmp_path):
    _expect(tmp_path, {"RTE/train.tsv": FILES["RTE/train.tsv"]}, "rte", "dev.tsv", "file not found")
    _expect(tmp_path, {"MNLI/train.tsv": FILES["MNLI/train.tsv"],
                       "MNLI/dev.tsv": FILES["MNLI/dev_matched.tsv"]}, "mnli", "dev_matched.tsv")


def test_wrong_field_count_names_line(tmp_path):
    files = {"RTE/train.tsv": "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tonly two\n",
             "RTE/dev.tsv": FILES["RTE/dev.tsv"]}
    _expect(tmp_path, files, "rte", "train.tsv:3", "expected 4", "found 2")


def test_glued_label_not_recovered_when_not_a_label(tmp_path):
    files = {"QQP/train.tsv": "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t2\t3\tq one\tq two x\n",
             "QQP/dev.tsv": FILES["QQP/dev.tsv"]}
    _expect(tmp_path, files, "qqp", "train.tsv:2", "expected 6", "found 5")


def test_label_outside_label_set(tmp_path):
    files = {"SST-2/train.tsv": FILES["SST-2/train.tsv"], "SST-2/dev.tsv": "sentence\tlabel\nfine\t2\n"}
    _expect(tmp_path, files, "sst2", "dev.tsv:2", "label '2'")
    files = {"MNLI/train.tsv": FILES["MNLI/train.tsv"].replace("neutral\tneutral\n", "neutral\t-\n"),
             "MNLI/dev_matched.tsv": FILES["MNLI/dev_matched.tsv"]}
    _expect(tmp_path / "m", files, "mnli", "train.tsv:2", "label '-'")


def test_empty_split(tmp_path):
    files = {"SST-2/train.tsv": FILES["SST-2/train.tsv"], "SST-2/dev.tsv": "sentence\tlabel\n"}
    _expect(tmp_path, files, "sst2", "dev.tsv", "no examples")
    files = {"SST-2/train.tsv": "", "SST-2/dev.tsv": FILES["SST-2/dev.tsv"]}
    _expect(tmp_path / "e", files, "sst2", "train.tsv", "empty file")


def test_header_missing_column(tmp_path):
    files = {"SST-2/train.tsv": "text\tlabel\nfine\t1\n", "SST-2/dev.tsv": FILES["SST-2/dev.tsv"]}
    _expect(tmp_path, files, "sst2", "train.tsv:1", "sentence")


def test_glue_dir_needs_data_dir():
    with pytest.raises(PfError, match="data directory"):
        load_task("rte", "glue_dir")


def test_hub_offline_error_suggests_alternatives(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(PfError) as err:
        load_task("rte", "hub")
    msg = str(err.value)
    assert "hub" in msg and "glue_dir" in msg and "synthetic" in msg


def test_hub_label_mapping():
    from pf.data.hub import hub_label_map
    from pf.tasks import get_task

    mnli = get_task("mnli")
    m = hub_label_map(mnli)
    assert [mnli.labels[m[i]] for i in range(3)] == ["entailment", "neutral", "contradiction"]
    for t in ("sst2", "mrpc", "qqp", "rte", "qnli"):
        assert hub_label_map(get_task(t)) == {0: 0, 1: 1}


@pytest.mark.skipif(not REAL.is_dir(), reason="real GLUE files not available")
def test_real_glue_counts():
    sizes = {t: {s: len(v) for s, v in load_task(t, "glue_dir", str(REAL)).splits.items()}
             for t in ("sst2", "mrpc", "rte", "qnli")}
    assert sizes["sst2"]["dev"] == 872
    assert sizes["mrpc"] == {"train": 3668, "dev": 408}
    assert sizes["rte"] == {"train": 2490, "dev": 277}
    assert sizes["qnli"]["dev"] == 5463
