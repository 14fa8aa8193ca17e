"""`pf download`, the offline switches and the offline errors, without the network.

The Hugging Face cache a download fills is built by hand (tests/fixtures_hub.py), holding a
real tiny BERT and a real tokenizer: with HF_HUB_OFFLINE=1, `pf download` must find it there,
and `pf prepare` and the model loader must then run from it alone.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pf.config import load_config
from pf.download import DownloadPlan, HubModel, plan_downloads
from pf.errors import PfError
from pf.hf_hub import hub_switched_off, local_model_dir

from tests.fixtures_hub import HUB_MODEL, REPO, hf_cache, hub_config

OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def pf(*args: str, env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess:
    import os

    full = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "pf", *map(str, args)], capture_output=True,
                          text=True, env=full, cwd=cwd, timeout=300)


# --------------------------------------------------------------------------- switches

@pytest.mark.parametrize("environ, datasets, expected", [
    ({}, False, None),
    ({"HF_HUB_OFFLINE": "1"}, False, "HF_HUB_OFFLINE=1"),
    ({"HF_HUB_OFFLINE": "true"}, False, "HF_HUB_OFFLINE=true"),
    ({"HF_HUB_OFFLINE": "0"}, False, None),
    ({"HF_HUB_OFFLINE": "", "TRANSFORMERS_OFFLINE": "1"}, False, "TRANSFORMERS_OFFLINE=1"),
    ({"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "1"}, False, None),
    ({"HF_DATASETS_OFFLINE": "1"}, False, None),
    ({"HF_DATASETS_OFFLINE": "1"}, True, "HF_DATASETS_OFFLINE=1"),
    ({"HF_DATASETS_OFFLINE": "0", "HF_HUB_OFFLINE": "1"}, True, None),
    ({"HF_HUB_OFFLINE": "YES"}, True, "HF_HUB_OFFLINE=YES"),
])
def test_hub_switched_off_reads_the_variables_as_the_libraries_do(environ, datasets, expected):
    assert hub_switched_off(datasets=datasets, environ=environ) == expected


def test_switch_agrees_with_huggingface_hub_and_datasets():
    """The pinned libraries' own reading of the same environment, in fresh interpreters."""
    probe = ("import huggingface_hub.constants as h, datasets.config as d; "
             "print(h.HF_HUB_OFFLINE, d.HF_HUB_OFFLINE)")
    import os

    for environ in ({"HF_HUB_OFFLINE": "1"}, {"TRANSFORMERS_OFFLINE": "on"},
                    {"HF_DATASETS_OFFLINE": "1"}, {"HF_DATASETS_OFFLINE": "0", "HF_HUB_OFFLINE": "1"},
                    {}):
        env = {k: v for k, v in os.environ.items()
               if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")}
        out = subprocess.run([sys.executable, "-c", probe], env={**env, **environ},
                             capture_output=True, text=True, check=True).stdout.split()
        ours = [hub_switched_off(environ=environ) is not None,
                hub_switched_off(datasets=True, environ=environ) is not None]
        assert out == [str(v) for v in ours], environ


def test_local_model_dir(tmp_path):
    assert local_model_dir("b", str(tmp_path)) == tmp_path
    assert local_model_dir("b", "bert-base-uncased") is None
    assert local_model_dir("b", "google/bert_uncased_L-2_H-128_A-2") is None
    for missing in (str(tmp_path / "nowhere"), "./models/bert", "~/no/such/model", "a/b/c"):
        with pytest.raises(PfError, match="does not exist"):
            local_model_dir("b", missing)


# --------------------------------------------------------------------------- planning

def test_plan_of_the_paper_config():
    plan = plan_downloads(load_config(REPO / "config" / "paper.yaml"))
    assert [m.repo_id for m in plan.models] == ["bert-base-uncased", "roberta-base", "albert-base-v2"]
    assert [m.backbones for m in plan.models] == [("bert",), ("roberta",), ("albert",)]
    assert [(d.repo_id, d.config) for d in plan.datasets] == [
        ("nyu-mll/glue", c) for c in ("mnli", "mrpc", "qnli", "qqp", "rte", "sst2")]
    assert plan.args()[:4] == ["--model", "bert-base-uncased", "--model", "roberta-base"]
    assert plan.args()[-2:] == ["--task", "sst2"]


@pytest.mark.parametrize("name", ["config.yaml", "smoke.yaml"])
def test_offline_configs_need_nothing(name):
    plan = plan_downloads(load_config(REPO / "config" / name))
    assert plan.empty and plan.args() == []
    assert any("synthetic" in line for line in plan.skipped)


def test_plan_skips_local_directories_and_shares_a_repo(tmp_path):
    cfg = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    cfg["backbones"]["bert"]["pretrained"] = str(tmp_path)          # a local copy
    cfg["backbones"]["albert"] = {"family": "roberta", "pretrained": "roberta-base",
                                  "n_layers": 12}                  # same repo, two backbones
    cfg["data"] = {"source": "glue_dir", "glue_dir": str(tmp_path)}
    plan = plan_downloads(load_config(cfg))
    assert plan.models == (HubModel("roberta-base", ("roberta", "albert")),)
    assert plan.datasets == ()
    assert any(str(tmp_path) in line and "'bert'" in line for line in plan.skipped)
    assert any("glue_dir" in line for line in plan.skipped)


def test_plan_refuses_a_missing_local_directory(tmp_path):
    cfg = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    cfg["backbones"]["bert"]["pretrained"] = str(tmp_path / "gone")
    with pytest.raises(PfError, match="backbone 'bert'.*does not exist"):
        plan_downloads(load_config(cfg))


# --------------------------------------------------------------------------- the command

def test_nothing_to_download(tmp_path):
    record = tmp_path / "download.json"
    res = pf("download", "--config", "config/smoke.yaml", "--record", record,
             env={**OFFLINE, "HF_HOME": str(tmp_path / "hf")})
    assert res.returncode == 0, res.stderr
    assert "needs nothing from the Hugging Face hub; nothing to download" in res.stdout
    assert json.loads(record.read_text())["models"] == []
    assert not (tmp_path / "hf").exists()


def test_dry_run_lists_what_the_paper_config_needs(tmp_path):
    res = pf("download", "--config", "config/paper.yaml", "--dry-run",
             env={**OFFLINE, "HF_HOME": str(tmp_path / "hf")})
    assert res.returncode == 0, res.stderr
    assert "3 model(s) and 6 dataset(s)" in res.stdout and "albert-base-v2" in res.stdout


def test_offline_hub_name_not_cached_fails_clearly(tmp_path):
    record = tmp_path / "download.json"
    res = pf("download", "--config", "config/paper.yaml", "--record", record,
             env={**OFFLINE, "HF_HOME": str(tmp_path / "hf")})
    assert res.returncode == 2
    err = res.stderr
    assert "Traceback" not in err
    assert err.startswith("pf download: error: HF_HUB_OFFLINE=1 and HF_DATASETS_OFFLINE=1 are set")
    assert "no complete copy of 9 of 9" in err and str(tmp_path / "hf" / "hub") in err
    for item in ("model bert-base-uncased (backbone 'bert')", "dataset nyu-mll/glue mnli",
                 "dataset nyu-mll/glue sst2"):
        assert f"  - {item}\n" in err
    assert "where the hub is reachable" in err
    assert not record.exists()


def test_offline_finds_a_cached_model_and_the_jobs_run_from_it(tmp_path):
    home = tmp_path / "hf"
    snapshot = hf_cache(home)
    record = tmp_path / "download.json"
    env = {**OFFLINE, "HF_HOME": str(home)}
    res = pf("download", "--model", HUB_MODEL, "--record", record, env=env)
    assert res.returncode == 0, res.stderr
    assert "HF_HUB_OFFLINE=1 is set: checking the cache only" in res.stdout
    got = json.loads(record.read_text())
    assert got["offline"] == "HF_HUB_OFFLINE=1" and got["hub_cache"] == str(home / "hub")
    (model,) = got["models"]
    assert model["path"] == str(snapshot) and model["commit"] == snapshot.name
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(model["files"])
    # a job on a node without the hub: the tokenizer and the weights come from the cache
    backbone = json.dumps({"name": "b", "family": "bert", "pretrained": HUB_MODEL})
    res = pf("prepare", "--task", "rte", "--source", "synthetic", "--synthetic-json",
             '{"train_size": 40, "dev_size": 20}', "--backbone-json", backbone,
             "--max-length", "16", "--out", tmp_path / "prepared", env=env)
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "prepared" / "meta.json").read_text())["tokenizer"] == "pretrained"
    probe = ("from pf.backbones import BackboneSpec, load_pretrained_model as load; "
             f"print(load(BackboneSpec('b', 'bert', pretrained='{HUB_MODEL}')).config.num_hidden_layers)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env={**__import__("os").environ, **env}, cwd=REPO, check=True)
    assert out.stdout.split()[-1] == "3"


def test_a_snapshot_without_safetensors_is_refused(tmp_path):
    home = tmp_path / "hf"
    hf_cache(home, weights=False)
    res = pf("download", "--model", HUB_MODEL, "--record", tmp_path / "r.json",
             env={**OFFLINE, "HF_HOME": str(home)})
    assert res.returncode == 2
    assert "no safetensors weights" in res.stderr and "pickled" in res.stderr
    assert not (tmp_path / "r.json").exists()


def test_download_arguments_are_checked():
    for args, message in ((["download"], "nothing to download"),
                          (["download", "--config", "config/smoke.yaml", "--model", "x"],
                           "either --config or --model")):
        res = pf(*args, env=OFFLINE)
        assert res.returncode == 2 and message in res.stderr, res.stderr
    assert DownloadPlan().empty


# --------------------------------------------------------------------------- the errors jobs show

def test_offline_model_error_names_the_pinned_hf_command(tmp_path, monkeypatch):
    """The tokenizer/model error tells how to fetch the model: `hf download ID` (the CLI of
    the pinned huggingface_hub; `huggingface-cli` is gone) and `pf download`."""
    from pf.prepare import prepare

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(PfError) as err:
        prepare("rte", "synthetic", {"name": "bert", "family": "bert",
                                     "pretrained": "bert-base-uncased"},
                tmp_path / "p", max_length=16, synthetic={"train_size": 20, "dev_size": 10})
    msg = str(err.value)
    assert "HF_HUB_OFFLINE=1 is set" in msg
    assert "`hf download bert-base-uncased`" in msg and "`pf download --config CONFIG`" in msg
    assert "huggingface-cli" not in msg


def test_the_pinned_hub_ships_hf_download():
    lock = (REPO / "requirements" / "lock.txt").read_text().splitlines()
    assert any(line.startswith("huggingface_hub==") for line in lock)
    hf = Path(sys.executable).parent / "hf"
    res = subprocess.run([str(hf), "download", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0 and "REPO_ID" in res.stdout and "--local-dir" in res.stdout
    assert not (Path(sys.executable).parent / "huggingface-cli").exists()


def test_offline_dataset_error_points_to_pf_download(monkeypatch):
    from pf.data import load_task

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(PfError) as err:
        load_task("rte", "hub")
    msg = str(err.value)
    assert "HF_DATASETS_OFFLINE=1 is set" in msg and "pf download --config CONFIG" in msg
    assert "glue_dir" in msg and "synthetic" in msg


# --------------------------------------------------------------------------- the workflow rule

SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def snakemake(args: list[str], workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    import os

    full = {**os.environ, **env,
            "PATH": f"{SNAKEMAKE.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory",
                           str(workdir), *args], capture_output=True, text=True, env=full,
                          timeout=600)


def test_download_rule_runs_locally_before_prepare(tmp_path):
    target = "results/smoke/prepared/bert/rte/meta.json"
    config = hub_config(tmp_path / "hub.yaml")
    proc = snakemake([target, "-n", "-p", "--cores", "1", "--configfile", str(config)],
                     tmp_path, OFFLINE)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    # (which rules are local shows under a cluster executor: tests/test_slurm.py)
    assert re.search(r"^rule download:$", out, re.M), out
    assert f"pf download --model {HUB_MODEL} --record results/smoke/download.json" in out
    assert "input: results/smoke/download.json" in out
    # tiny backbones: no download job, and prepare does not wait for one
    proc = snakemake(["results/smoke/prepared/roberta/rte/meta.json", "-n", "--cores", "1",
                      "--configfile", str(config)], tmp_path, OFFLINE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rule download:" not in proc.stdout and "download.json" not in proc.stdout


@pytest.mark.slow
def test_workflow_fetches_then_prepares_offline(tmp_path):
    """Snakemake runs the download rule, then a prepare job that reads the model's tokenizer
    from the cache with the hub switched off; a second run has nothing to do."""
    home = tmp_path / "hf"
    hf_cache(home)
    work = tmp_path / "work"
    work.mkdir()
    target = "results/smoke/prepared/bert/rte/meta.json"
    env = {**OFFLINE, "HF_HOME": str(home)}
    config = hub_config(tmp_path / "hub.yaml")
    proc = snakemake([target, "--cores", "1", "--configfile", str(config)], work, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads((work / "results/smoke/download.json").read_text())
    assert [m["repo_id"] for m in record["models"]] == [HUB_MODEL]
    assert "checking the cache only" in (work / "logs/smoke/download.log").read_text()
    assert json.loads((work / target).read_text())["tokenizer"] == "pretrained"
    again = snakemake([target, "--cores", "1", "--configfile", str(config)], work, env)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
