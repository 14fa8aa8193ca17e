"""pf.config: schema + semantic validation, the job grid, the exported ReportSpec."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from pf.config import Job, Plan, check_config, fmt_target, load_config
from pf.errors import PfError
from pf.reports.from_config import report_spec

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ["config.yaml", "smoke.yaml", "paper.yaml"]


@pytest.fixture(scope="module")
def base() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def error_of(cfg: dict) -> str:
    with pytest.raises(PfError) as info:
        check_config(cfg)
    return str(info.value)


def mutate(base: dict, fn) -> dict:
    cfg = copy.deepcopy(base)
    fn(cfg)
    return cfg


@pytest.mark.parametrize("name", CONFIGS)
def test_shipped_configs_are_valid(name):
    cfg = load_config(ROOT / "config" / name)
    assert cfg["scale"] == name.split(".")[0].replace("config", "default")
    plan = Plan(cfg)
    assert plan.all_metrics()
    for table in plan.configured_tables():
        assert plan.table_inputs(table)


def test_strings_that_spell_numbers_are_numbers_where_the_schema_wants_them(base):
    # what Snakemake's `--config 'training={defaults: {epochs: 3}}'` gives: every value
    # inside a nested mapping is a string (PyYAML's BaseLoader)
    def fn(c):
        c["training"]["defaults"].update(epochs="3", lr="5e-5", select_on_dev="true")
        c["training"]["tasks"] = {"mrpc": {"warmup_ratio": "0.1"}}
        c["data"]["train_limit"] = "null"
        c["seeds"] = ["42", "43"]
        c["targets"] = ["2", "3.0"]
    given = mutate(base, fn)
    cfg = check_config(given)
    assert cfg["training"]["defaults"]["epochs"] == 3
    assert cfg["training"]["defaults"]["lr"] == 5e-5
    assert cfg["training"]["defaults"]["select_on_dev"] is True
    assert cfg["training"]["tasks"]["mrpc"]["warmup_ratio"] == 0.1
    assert cfg["data"]["train_limit"] is None
    assert cfg["seeds"] == [42, 43] and cfg["targets"] == [2, 3.0]
    assert given["training"]["defaults"]["epochs"] == "3"        # the caller's is untouched
    assert Plan(cfg).trainer_args("bert", "mrpc", "pf")["epochs"] == 3


@pytest.mark.parametrize("key, value, expected", [
    ("epochs", "ten", "training.defaults.epochs: 'ten' is not of type 'integer'"),
    ("epochs", "2.5", "training.defaults.epochs: '2.5' is not of type 'integer'"),
    ("lr", "nan", "training.defaults.lr: 'nan' is not of type 'number'"),
    ("select_on_dev", "1", "training.defaults.select_on_dev: '1' is not of type 'boolean'"),
])
def test_strings_that_do_not_spell_the_wanted_type_are_still_named(base, key, value, expected):
    msg = error_of(mutate(base, lambda c: c["training"]["defaults"].update({key: value})))
    assert expected in msg


def test_one_task_of_a_complete_config_runs_alone():
    # what `--config 'tasks=[mrpc]' 'analysis_tasks=[mrpc]'` gives over config/minilm.yaml,
    # whose table_metric and training.tasks name rte and sst2 too
    cfg = yaml.safe_load((ROOT / "config" / "minilm.yaml").read_text())
    cfg.update(tasks=["mrpc"], analysis_tasks=["mrpc"])
    plan = Plan(check_config(cfg))
    assert all("/minilm/mrpc/" in path for path in plan.all_metrics())
    assert plan.trainer_args("minilm", "mrpc", "pf")["epochs"] == 5
    cfg["training"]["tasks"]["mrcp"] = {"epochs": 1}          # a typo is still refused
    assert "unknown key 'training.tasks.mrcp' (did you mean 'mrpc'?)" in error_of(cfg)


def test_a_string_field_keeps_a_string_that_looks_like_a_number(base):
    cfg = check_config(mutate(base, lambda c: c.update(results_dir="2024")))
    assert cfg["results_dir"] == "2024"


def test_defaults_are_filled(base):
    cfg = mutate(base, lambda c: [c.pop(k) for k in ("results_dir", "reports_dir", "calibration")])
    cfg = check_config(cfg)
    assert cfg["results_dir"] == "results" and cfg["reports_dir"] == "reports"
    assert cfg["calibration"]["split"] == "dev"


@pytest.mark.parametrize("fn, bad, good", [
    (lambda c: c.update(targts=[2, 3]), "targts", "targets"),
    (lambda c: c["training"]["defaults"].update(lrr=1e-3), "training.defaults.lrr", "lr"),
    (lambda c: c["data"].update(sorce="synthetic"), "data.sorce", "source"),
    (lambda c: c["backbones"]["bert"]["tiny"].update(hiden_size=64), "backbones.bert.tiny.hiden_size",
     "hidden_size"),
    (lambda c: c["methods"]["pf"].update(optoins={}), "methods.pf.optoins", "options"),
    (lambda c: c["tables"]["table1"].update(variant=["pf"]), "tables.table1.variant", "variants"),
    (lambda c: c["latency"].update(batch_size=[1]), "latency.batch_size", "batch_sizes"),
    (lambda c: c["resources"].update(thread={"default": 1}), "resources.thread", "threads"),
])
def test_misspelled_key_is_named_with_suggestion(base, fn, bad, good):
    msg = error_of(mutate(base, fn))
    assert f"unknown key '{bad}'" in msg
    assert f"did you mean '{good}'?" in msg


@pytest.mark.parametrize("target", [1, 0.5, 1.0])
def test_target_not_above_one(base, target):
    msg = error_of(mutate(base, lambda c: c.update(targets=[target, 2, 3])))
    assert "targets[0]" in msg and "greater than 1" in msg


def test_target_above_layer_count(base):
    msg = error_of(mutate(base, lambda c: c.update(targets=[2, 3, 7])))
    assert "targets[2]" in msg and "target speed-up 7" in msg
    assert "6 layers of backbone 'bert'" in msg


def test_table_target_above_layer_count(base):
    def fn(c):
        c["backbones"]["bert"]["tiny"]["n_layers"] = 2
    msg = error_of(mutate(base, fn))
    assert "tables.table2.targets[0]" in msg and "2 layers of backbone 'bert'" in msg


def test_pretrained_backbone_needs_depth(base):
    def fn(c):
        c["backbones"]["bert"] = {"family": "bert", "pretrained": "bert-base-uncased"}
    assert "n_layers" in error_of(mutate(base, fn))


def test_unknown_method(base):
    msg = error_of(mutate(base, lambda c: c["methods"]["pf"].update(method="pff")))
    assert "methods.pf.method" in msg and "did you mean 'pf'?" in msg


def test_unknown_strategy(base):
    msg = error_of(mutate(base, lambda c: c["methods"]["pf-max"]["options"].update(strategy="maxx")))
    assert "methods.pf-max.options.strategy" in msg and "did you mean 'max'?" in msg


def test_unknown_backbone_family(base):
    msg = error_of(mutate(base, lambda c: c["backbones"]["roberta"].update(family="robertaa")))
    assert "backbones.roberta.family" in msg and "did you mean 'roberta'?" in msg


def test_unknown_task(base):
    msg = error_of(mutate(base, lambda c: c.update(tasks=["mnli", "sst-2"])))
    assert "tasks[1]" in msg and "did you mean 'sst2'?" in msg


def test_table_names_unknown_variant(base):
    msg = error_of(mutate(base, lambda c: c["tables"]["table6"].update(variants=["pf-nogat", "pf"])))
    assert "tables.table6.variants" in msg and "did you mean 'pf-nogate'?" in msg


def test_figure_backbone_must_exist(base):
    msg = error_of(mutate(base, lambda c: c["figures"]["figure5"].update(backbone="robert")))
    assert "figures.figure5.backbone" in msg and "did you mean 'roberta'?" in msg


def test_student_needs_teacher(base):
    msg = error_of(mutate(base, lambda c: c["methods"]["kd"].pop("teacher")))
    assert "methods.kd" in msg and "teacher" in msg


def test_glue_dir_source_needs_path(base):
    msg = error_of(mutate(base, lambda c: c["data"].update(source="glue_dir")))
    assert "data.glue_dir" in msg


def test_home_relative_paths_are_expanded(base, monkeypatch, tmp_path):
    """Snakemake writes paths as given: '~/x' must not become a folder named '~'."""
    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = copy.deepcopy(base)
    cfg.update(results_dir="~/r", reports_dir="~/rep", logs_dir="~/l")
    cfg["data"].update(source="glue_dir", glue_dir="~/glue")
    checked = check_config(cfg)
    assert (checked["results_dir"], checked["reports_dir"], checked["logs_dir"]) == (
        f"{tmp_path}/r", f"{tmp_path}/rep", f"{tmp_path}/l")
    assert checked["data"]["glue_dir"] == f"{tmp_path}/glue"
    assert Plan(checked).results == f"{tmp_path}/r"


def test_heldout_calibration_needs_fraction(base):
    msg = error_of(mutate(base, lambda c: c["calibration"].update(split="heldout")))
    assert "heldout_fraction" in msg


def test_all_errors_reported_at_once(base):
    def fn(c):
        c["data"]["sorce"] = "x"
        c["training"]["defaults"]["epoch"] = 2
    msg = error_of(mutate(base, fn))
    assert "data.sorce" in msg and "training.defaults.epoch" in msg


# --------------------------------------------------------------------------- the grid

def test_fmt_target():
    assert fmt_target(2) == "2" and fmt_target(3.0) == "3" and fmt_target("1.5") == "1.5"


def test_table2_grid_is_exactly_what_it_needs(base):
    plan = Plan(check_config(base))
    jobs = plan.table_jobs("table2")
    assert len(jobs) == 3 * 6 * 5 * 3
    assert {j.variant for j in jobs} == {"full", "truncated-3x", "deebert", "pabee", "pf"}
    assert {j.target for j in jobs} == {"3"}
    assert {j.backbone for j in jobs} == {"bert", "roberta", "albert"}
    assert {j.seed for j in jobs} == {42, 43, 44}


def test_main_tables_run_three_seeds_the_others_one(base):
    plan = Plan(check_config(base))
    assert plan.seeds == [42, 43, 44]
    for table in ("table1", "table2"):
        assert plan.table_seeds(table) == [42, 43, 44]
    for table in ("table3", "table4", "table5", "table6"):
        assert plan.table_seeds(table) == [42]
        assert {j.seed for j in plan.table_jobs(table)} == {42}
    assert {p.split("/")[5] for p in plan.figure_inputs("figure4")} == {"seed42"}
    assert {p.split("/")[5].removesuffix(".csv") for p in plan.figure_curves("figure3")} == \
        {"seed42", "seed43", "seed44"}
    assert {j[3] for j in plan.latency_jobs()} == {42}
    spec = report_spec(plan)
    assert spec["tables"]["2"]["seeds"] == [42, 43, 44] and spec["tables"]["3"]["seeds"] == [42]
    assert spec["figures"]["curves"]["3"]["seeds"] == [42, 43, 44]
    assert spec["figures"]["exit_distribution"]["seeds"] == [42]


def test_seeds_of_a_table_must_be_seeds_of_the_run(base):
    msg = error_of(mutate(base, lambda c: c["tables"]["table3"].update(seeds=[42, 7])))
    assert "tables.table3.seeds: seed 7 is not in seeds (42, 43, 44)" in msg
    msg = error_of(mutate(base, lambda c: c["figures"]["figure4"].update(seeds=[1])))
    assert "figures.figure4.seeds: seed 1" in msg
    msg = error_of(mutate(base, lambda c: c["latency"].update(seeds=[])))
    assert "latency.seeds" in msg


def test_backbone_labels_default_to_the_key(base):
    """Tables and figures name a backbone by its `label`, else by its config key; a
    6-layer MiniLM of family bert is never called BERT-base."""
    def fn(c):
        c["training"].pop("backbones", None)     # the default's ALBERT learning rate
        c["backbones"] = {"minilm": {"family": "bert", "pretrained": "models/minilm",
                                     "n_layers": 6},
                          "bert": dict(c["backbones"]["bert"], label="BERT (tiny)")}
        c["figures"]["figure5"]["backbone"] = c["figures"]["figure6"]["backbone"] = "minilm"
    plan = Plan(check_config(mutate(base, fn)))
    spec = report_spec(plan)
    assert spec["backbones"] == {"minilm": "minilm", "bert": "BERT (tiny)"}
    assert "BERT-base" not in str(spec)
    assert "label" not in plan.backbone_json("bert")     # the model never sees it
    msg = error_of(mutate(base, lambda c: c["backbones"]["bert"].update(lable="x")))
    assert "did you mean 'label'?" in msg


def test_tables_and_figures_name_the_configured_backbone(base, tmp_path):
    """Table 1 and Figure 4 of a config whose backbone is a 6-layer MiniLM (family bert):
    rows, blocks and caption say 'minilm', never 'BERT'."""
    from pf.cli import main
    from pf.io import atomic_write_json
    from fixtures_results import metrics_obj

    def fn(c):
        c["training"].pop("backbones", None)     # the default's ALBERT learning rate
        c["backbones"] = {"minilm": {"family": "bert", "pretrained": "models/minilm",
                                     "n_layers": 6}}
        c["seeds"] = [42]
        c["tasks"], c["analysis_tasks"] = ["mrpc"], ["mrpc"]
        c["table_metric"] = {"mrpc": "accuracy"}
        c["tables"] = {"table1": c["tables"]["table1"]}
        c["figures"] = {"figure4": dict(c["figures"]["figure4"], backbone="minilm")}
        c["latency"] = {"enabled": False}
    plan = Plan(check_config(mutate(base, fn)))
    files = sorted({tmp_path / p for p in plan.table_inputs("table1")
                    + plan.figure_metrics("figure4")})
    for path in files:
        _, _, backbone, task, variant, seed, target = path.relative_to(tmp_path).with_suffix(
            "").parts
        method = plan.method(variant)
        r = float(target.removeprefix("target"))
        speedup = 1.0 if method == "full" else r
        obj = metrics_obj(backbone, task, variant, int(seed[4:]), r, 0.8, speedup, method,
                          plan.exit_rule(variant), {}, n_layers=6)
        atomic_write_json(path, obj)
    spec = tmp_path / "spec.json"
    spec.write_text(__import__("json").dumps(report_spec(plan)))
    out = tmp_path / "out"
    assert main(["report", "--spec", str(spec), "--metrics", *map(str, files),
                 "--out-dir", str(out), "--table", "1", "--figure", "4"]) == 0
    md = (out / "table1.md").read_text()
    assert "| minilm | minilm | 80.0 |" in md and "| minilm | minilm-3L |" in md
    assert "Backbones: minilm (6 layers)" in md
    assert "BERT" not in md.replace("DeeBERT", "")
    from pf.reports.collect import read_metrics
    from pf.reports.figures import exit_distribution_figure
    from pf.reports.results import MetricsIndex
    from pf.reports.spec import load_spec

    drawn = exit_distribution_figure(MetricsIndex(read_metrics(files)), load_spec(spec))
    assert "exit layers, minilm, target 2.00×" in drawn.fig.get_suptitle()


def test_per_target_variants_derive_layers(base):
    plan = Plan(check_config(base))
    assert plan.concrete("truncated", 2) == "truncated-2x"
    assert plan.parse_concrete("truncated-3x") == ("truncated", "3")
    assert plan.method_options("bert", "mrpc", "truncated-3x")["layers"] == 2
    assert plan.method_options("bert", "mrpc", "kd-2x")["layers"] == 3
    assert plan.teacher("kd-2x") == "full"
    assert plan.exit_rule("pabee") == "patience" and plan.exit_rule("truncated-2x") == "last"
    with pytest.raises(PfError, match="unknown variant 'pf-3x'"):
        plan.parse_concrete("pf-3x")


def test_a_per_target_variant_asked_by_its_own_name_is_told_the_concrete_names(base):
    # a result path naming `truncated` (not `truncated-2x`) used to be told
    # "unknown variant 'truncated' (did you mean 'truncated'?)"
    plan = Plan(check_config(base))
    with pytest.raises(PfError, match=r"variant 'truncated' trains one model per target "
                                      r"speed-up: name one of them \('truncated-2x', "):
        plan.parse_concrete("truncated")


def test_training_args_precedence(base):
    def fn(c):
        c["training"]["tasks"] = {"mrpc": {"lr": 1e-4, "frozen_layers": 2}}
        c["training"]["variants"] = {"pf": {"epochs": 7}}
        c["training"]["backbones"] = {"bert": {"batch_size": 8}}
    plan = Plan(check_config(mutate(base, fn)))
    args = plan.trainer_args("bert", "mrpc", "pf")
    assert args["lr"] == 1e-4 and args["epochs"] == 7 and args["batch_size"] == 8
    assert "frozen_layers" not in args
    assert plan.method_options("bert", "mrpc", "pf")["frozen_layers"] == 2
    assert "frozen_layers" not in plan.method_options("bert", "mrpc", "deebert")
    assert plan.trainer_args("roberta", "sst2", "full")["batch_size"] == base["training"]["defaults"]["batch_size"]


def test_resources(base):
    def fn(c):
        c["resources"] = {"device": "cuda", "gpus": 1, "threads": {"default": 2, "train": 4},
                          "mem_mb": {"train": 9000}}
    plan = Plan(check_config(mutate(base, fn)))
    assert plan.threads("train") == 4 and plan.threads("evaluate") == 2
    assert plan.mem_mb("train") == 9000
    assert plan.gpus("train") == 1 and plan.gpus("evaluate") == 0


def test_train_together_expands_per_target_variants(base):
    plan = Plan(check_config(base))
    assert plan.train_together() == ["full", "truncated-2x", "truncated-3x", "deebert", "pabee",
                                     "pf"]
    assert Plan(check_config(mutate(base, lambda c: c["resources"].pop("train_together")))
                ).train_together() == []


def test_train_together_names_variants_without_teacher(base):
    msg = error_of(mutate(base, lambda c: c["resources"].update(train_together=["ful", "kd"])))
    assert "resources.train_together" in msg and "did you mean 'full'?" in msg
    assert "variant 'kd' has a teacher" in msg


def test_figure_inputs(base):
    plan = Plan(check_config(base))
    fig4 = plan.figure_inputs("figure4")
    assert plan.figure_curves("figure4") == []
    assert all("/metrics/bert/" in p and p.endswith("target2.json") for p in fig4)
    assert {p.split("/")[4] for p in fig4} == {"pf", "pf-past"}
    curves = plan.figure_curves("figure5")
    assert all(p.endswith(".csv") and "/roberta/" in p for p in curves)
    assert len(curves) == 2 * 3 * 3          # analysis tasks x curve variants x seeds
    points = plan.figure_metrics("figure5")
    # markers: full at the first target, truncated at each
    assert {(p.split("/")[4], p.split("/")[6]) for p in points} == {
        ("full", "target2.json"), ("truncated-2x", "target2.json"),
        ("truncated-3x", "target3.json")}


def test_report_spec_is_a_valid_reportspec(base):
    from pf.reports.results import ResultKey
    from pf.reports.spec import spec_from_dict

    plan = Plan(check_config(base))
    spec = spec_from_dict(report_spec(plan))
    assert set(spec.tables) == {"1", "2", "3", "4", "5", "6"}
    assert spec.table("2").targets == (3.0,)
    assert spec.table("3").backbones == ("bert",)
    rows = spec.table("1").rows
    assert rows[0].reference and rows[1].per_target and rows[1].concrete(2.0) == "truncated-2x"
    assert {n: f.backbone for n, f in spec.curve_figures.items()} == \
        {"3": "bert", "5": "roberta", "6": "albert"}
    assert spec.exit_figure.without_future == "pf-past"
    assert spec.backbone_label("bert") == "BERT-tiny"
    # the results each table reads are exactly the metrics files Snakemake gives it
    for name in ("1", "2", "3", "4", "5", "6"):
        t = spec.table(name)
        keys = {ResultKey(b, task, r.concrete(x), s, x).path() for b in t.backbones
                for x in t.targets for r in t.rows for task in t.tasks for s in t.seeds}
        files = {p.removeprefix("results/") for p in plan.table_inputs(f"table{name}")}
        assert keys == files, name


def test_report_files_are_the_targets_of_rule_all(base, capsys):
    from pf.config.__main__ import main

    assert main(["report-files", str(ROOT / "config" / "smoke.yaml")]) == 0
    files = capsys.readouterr().out.split()
    assert "reports/smoke/table2.csv" in files and "reports/smoke/metrics.csv" in files
    assert "reports/smoke/figure4.png" in files and len(files) == 6 * 3 + 4 + 3 + 1


def test_job_paths(base):
    plan = Plan(check_config(base))
    assert plan.metrics(Job("bert", "mrpc", "pf", 42, "2")) == \
        "results/metrics/bert/mrpc/pf/seed42/target2.json"


def test_constants_match_the_methods():
    """A method's exit rule and options have one home, its spec: the model class reads them
    from there; the torch-free strategy names are the strategies the model implements."""
    pytest.importorskip("torch")
    from pf.methods.past_future_spec import VECTOR_STRATEGIES
    from pf.methods.pf_strategies import STRATEGIES
    from pf.methods.registry import METHODS, get_method

    assert set(VECTOR_STRATEGIES) == set(STRATEGIES)
    for method, spec in METHODS.items():
        cls = get_method(method)
        assert cls.method == method
        assert cls.exit_rule == spec.exit_rule and cls.options_class is spec.options, method


def test_group_by_length_reaches_pf_train_only_when_on(base):
    plan = Plan(check_config(base))
    assert "group_by_length" not in plan.trainer_args("bert", "mrpc", "pf")   # grids unchanged

    def fn(c):
        c["training"]["tasks"] = {"mrpc": {"group_by_length": True}}
    plan = Plan(check_config(mutate(base, fn)))
    assert plan.trainer_args("bert", "mrpc", "pf")["group_by_length"] is True
    assert "group_by_length" not in plan.trainer_args("bert", "sst2", "pf")

    def bad(c):
        c["training"]["defaults"]["group_by_length"] = "yes"
    with pytest.raises(PfError, match="group_by_length"):
        check_config(mutate(base, bad))
