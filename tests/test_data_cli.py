"""`pf data summary`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pf.cli import main
from tests.fixtures_data import write_glue


def test_summary_json_glue_dir(tmp_path, capsys):
    root = write_glue(tmp_path / "glue")
    assert main(["data", "summary", "--task", "mrpc", "--source", "glue_dir",
                 "--data-dir", str(root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["task"] == "mrpc"
    assert out["splits"]["train"] == {"size": 3, "label_counts": {"0": 1, "1": 2}}
    assert out["splits"]["dev"]["size"] == 2


def test_summary_table_synthetic_all(capsys):
    assert main(["data", "summary", "--task", "all", "--source", "synthetic",
                 "--synthetic-json", '{"train_size": 40, "dev_size": 10}']) == 0
    out = capsys.readouterr().out
    for task in ("sst2", "mrpc", "qnli", "rte", "qqp", "mnli"):
        assert f"{task} (synthetic)" in out
    assert "contradiction" in out


def test_summary_errors(capsys, tmp_path):
    assert main(["data", "summary", "--task", "rtee", "--source", "synthetic"]) == 2
    assert "did you mean 'rte'" in capsys.readouterr().err
    assert main(["data", "summary", "--task", "rte", "--source", "hubb"]) == 2
    assert "did you mean 'hub'" in capsys.readouterr().err
    assert main(["data", "summary", "--task", "rte", "--source", "glue_dir",
                 "--data-dir", str(tmp_path)]) == 2
    assert "RTE" in capsys.readouterr().err


def test_summary_subprocess(tmp_path):
    root = write_glue(tmp_path / "glue")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    res = subprocess.run([sys.executable, "-m", "pf", "data", "summary", "--task", "qqp",
                          "--source", "glue_dir", "--data-dir", str(root)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "train" in res.stdout and "0: 1, 1: 1" in res.stdout
