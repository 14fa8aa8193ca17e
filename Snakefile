# The pf workflow: every table and figure of Liao et al. (NAACL 2021) from one DAG.
#
#   snakemake --cores 8                                   # the embedded default (config/config.yaml)
#   snakemake --cores 8 --configfile config/smoke.yaml    # CI scale
#   snakemake --cores 8 reports/table2.tex                # only what Table 2 needs
#   snakemake --report report.html                        # HTML report with captions
#
# Rules call the `pf` command line and hold no science; the job grid (which backbone x task
# x variant x seed x target each table needs) is computed by pf/config/ (Plan). A config file
# given with --configfile replaces config/config.yaml instead of being merged into it;
# several --configfile files are merged with each other, in order (mappings key by key; a
# plug-in's small file over config/smoke.yaml: README "Add your own method").

from snakemake.utils import min_version

min_version("9.0")

if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/outputs.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/curves.smk"
include: "workflow/rules/latency.smk"
include: "workflow/rules/reports.smk"


rule all:
    default_target: True
    input:
        PLAN.report_targets(),
