"""The workflow configuration: loading, validation and the job grid.

The Snakemake workflow (`Snakefile`, `workflow/rules/*.smk`) and Python users share this
package, so both see the same checks and the same grid:

    from pf.config import load_config, Plan
    cfg = load_config("config/config.yaml")          # validated, defaults filled in
    plan = Plan(cfg)
    plan.table_inputs("table2")                       # the metrics JSON files Table 2 needs

Modules, one concern each:
    schema.py     YAML, the JSON Schema (workflow/schemas/config.schema.yaml): errors naming
                  the key path with a "did you mean", and its defaults
    load.py       load_config / check_config (schema, plug-ins, then the checks)
    checks.py     what JSON Schema cannot express: targets versus layer counts, names that
                  must exist, each variant's method (pf.methods.registry) and its options
    plan.py       Plan: variants, training arguments, method options and the job grid
    paths.py      where each result goes (pf.layout under results_dir), Job
    resources.py  threads, memory, minutes and GPUs of each rule
The report presentation of a config (its ReportSpec) lives with the reports:
pf/reports/from_config.py. `python -m pf.config --help` has a small CLI (check a config,
print the grid, write the report spec).
"""

from pf.config.checks import backbone_layers
from pf.config.load import check_config, load_config
from pf.config.paths import Job
from pf.config.plan import TRAINING_DEFAULTS, Plan
from pf.config.resources import GPU_RULES, RESOURCE_DEFAULTS
from pf.config.schema import CURVE_FIGURES, FIGURES, SCHEMA_PATH, TABLES, load_schema
from pf.layout import fmt_target

__all__ = ["CURVE_FIGURES", "FIGURES", "GPU_RULES", "Job", "Plan", "RESOURCE_DEFAULTS",
           "SCHEMA_PATH", "TABLES", "TRAINING_DEFAULTS", "backbone_layers", "check_config",
           "fmt_target", "load_config", "load_schema"]
