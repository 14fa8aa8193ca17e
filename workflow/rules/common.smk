# Shared set-up: config validation, the job grid (pf.config.Plan) and input functions.

import json
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir)))
from pf.config import Plan, check_config
from pf.errors import PfError
from pf.plugins import ENV_VAR as PLUGINS_VAR, env_value
from pf.reports.from_config import report_spec as spec_of_plan
from pf.tasks import TASKS
# The software of every rule (the same pins as requirements/lock.txt); used with --sdm conda.
PF_ENV = "../../environment.yml"

# 1. pf.config: schema errors with a "did you mean" hint, the config's plug-ins (`plugins:`,
#    imported here so that their methods and rules are known), semantic checks, defaults.
try:
    _checked = check_config(config, "config")
except PfError as err:
    raise WorkflowError(str(err))
config.clear()
config.update(_checked)
# 2. The conventional Snakemake validation against the same schema.
validate(config, "../schemas/config.schema.yaml")

# Jobs run the `pf` of the interpreter running Snakemake, even when its venv is not active,
# and import the config's plug-ins (pf/plugins.py): the variable is part of every job's
# command, so a cluster job carries it too.
PF_BIN = shlex.quote(str(Path(sys.executable).parent))
shell.prefix(
    f'set -euo pipefail; export PATH={PF_BIN}:"$PATH"; export TOKENIZERS_PARALLELISM=false; '
    f"export {PLUGINS_VAR}={shlex.quote(env_value(config['plugins']))}; "
)
PLAN = Plan(config)
RESULTS = PLAN.results
REPORTS = PLAN.reports
LOGS = PLAN.logs
REPORT_SPEC = f"{RESULTS}/report_spec.json"


EVAL_SPLIT = config["evaluation"]["split"]
# data.train_limit, given to `pf prepare` (which samples) and `pf evaluate` (which records it)
TRAIN_LIMIT_FLAG = (
    f"--train-limit {config['data']['train_limit']}"
    if config["data"].get("train_limit") is not None
    else ""
)
OTHER_SPLITS = "|".join(s for s in ("train", "dev", "heldout") if s != EVAL_SPLIT)


wildcard_constraints:
    backbone=r"[A-Za-z0-9][A-Za-z0-9_.]*",
    task="|".join(TASKS),
    variant=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    seed=r"\d+",
    target=r"\d+(\.\d+)?",
    split="train|dev|heldout",


# Cheap, torch-free rules run on the submitting host under a cluster executor.
localrules:
    all,
    evaluate,
    curve,
    report_spec,
    collect,
    table,
    figure,
    exit_accuracy,
    latency_table,


def resources_of(rule):
    """mem_mb, runtime (minutes) and, when the config asks for GPUs, gpu."""
    res = {"mem_mb": PLAN.mem_mb(rule), "runtime": PLAN.runtime(rule)}
    if PLAN.gpus(rule):
        res["gpu"] = PLAN.gpus(rule)
    return res


def device_flag():
    dev = PLAN.device()
    return f"--device {dev}" if dev else ""


def parent_dir(wildcards, output):
    """The directory of the first output (the report directory of report rules)."""
    return str(Path(output[0]).parent)


def figure_input_flags(wildcards, input):
    """`--metrics FILE ... --curves FILE ...` of a figure: exactly its declared inputs."""
    flags = []
    for option, files in (("--metrics", input.metrics), ("--curves", input.curves)):
        if files:
            flags.append(" ".join([option, *(shlex.quote(str(f)) for f in files)]))
    return " ".join(flags)


def prepared_dir(wildcards):
    return str(Path(PLAN.prepared(wildcards.backbone, wildcards.task)).parent)


def model_dir(wildcards):
    return str(
        Path(
            PLAN.model(wildcards.backbone, wildcards.task, wildcards.variant, wildcards.seed)
        ).parent
    )


def teacher_model(wildcards):
    """The teacher checkpoint of a distillation student (nothing for other variants)."""
    teacher = PLAN.teacher(wildcards.variant)
    if teacher is None:
        return []
    return PLAN.model(wildcards.backbone, wildcards.task, teacher, wildcards.seed)


def teacher_flag(wildcards, input):
    return f"--teacher {Path(input.teacher).parent}" if input.teacher else ""


def method_options_json(wildcards):
    return json.dumps(
        PLAN.method_options(wildcards.backbone, wildcards.task, wildcards.variant),
        sort_keys=True,
    )


def training_json(wildcards):
    return json.dumps(
        PLAN.trainer_args(wildcards.backbone, wildcards.task, wildcards.variant),
        sort_keys=True,
    )


def calibration_outputs(wildcards):
    """Outputs of the calibration split when it is not the evaluation split."""
    split = PLAN.calibration_split(wildcards.variant)
    if split is None:
        return []
    return PLAN.outputs(
        wildcards.backbone, wildcards.task, wildcards.variant, wildcards.seed, split
    )


def calibration_flag(wildcards, input):
    return f"--calibration-outputs {input.calibration}" if input.calibration else ""


def eval_outputs(wildcards):
    return PLAN.outputs(
        wildcards.backbone,
        wildcards.task,
        wildcards.variant,
        wildcards.seed,
        config["evaluation"]["split"],
    )


def together_runs_json(wildcards, variants):
    """`pf train-many --runs`: rule train's arguments for each variant, in order."""
    b, t, s = wildcards.backbone, wildcards.task, wildcards.seed
    runs = [
        {
            "variant": v,
            "method": PLAN.method(v),
            "options": PLAN.method_options(b, t, v),
            "training": PLAN.trainer_args(b, t, v),
            "out": str(Path(PLAN.model(b, t, v, s)).parent),
            "record": {EVAL_SPLIT: PLAN.outputs(b, t, v, s, EVAL_SPLIT)},
        }
        for v in variants
    ]
    return json.dumps(runs, sort_keys=True)
