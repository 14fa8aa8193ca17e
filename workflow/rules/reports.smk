# The paper's tables (LaTeX/CSV/Markdown) and figures (PNG), each requesting exactly the
# metrics files (and curves) it needs and passing exactly those to `pf report`: a stale file
# in the results folder never reaches a report. Degenerate models (no better than a constant
# answer) are marked in the tables and named in a warning on the console and in the log.
# `snakemake --report report.html` shows the outputs.

report: "../report/workflow.rst"


rule report_spec:
    output:
        REPORT_SPEC,
    params:
        # a function: labels hold "{backbone}" placeholders that are not wildcards
        spec=lambda wildcards: json.dumps(spec_of_plan(PLAN)),  # key order = block order
    conda:
        PF_ENV
    log:
        f"{LOGS}/report/report_spec.log",
    shell:
        "printf '%s\\n' {params.spec:q} > {output} 2> {log}"


rule table:
    input:
        metrics=lambda wildcards: PLAN.table_inputs(f"table{wildcards.n}"),
        spec=REPORT_SPEC,
    output:
        tex=report(
            f"{REPORTS}/table{{n}}.tex",
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "Table {n}", "format": "LaTeX"},
        ),
        csv=report(
            f"{REPORTS}/table{{n}}.csv",
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "Table {n}", "format": "CSV"},
        ),
        md=f"{REPORTS}/table{{n}}.md",
    wildcard_constraints:
        n="[1-6]",
    params:
        out_dir=parent_dir,
    conda:
        PF_ENV
    log:
        f"{LOGS}/report/table{{n}}.log",
    threads: PLAN.threads("report")
    resources:
        **resources_of("report"),
    shell:
        "pf report --spec {input.spec} --metrics {input.metrics}"
        " --out-dir {params.out_dir} --table {wildcards.n} 2>&1 | tee {log}"


rule figure:
    input:
        metrics=lambda wildcards: PLAN.figure_metrics(f"figure{wildcards.n}"),
        curves=lambda wildcards: PLAN.figure_curves(f"figure{wildcards.n}"),
        spec=REPORT_SPEC,
    output:
        report(
            f"{REPORTS}/figure{{n}}.png",
            caption="../report/figure.rst",
            category="Figures",
            labels={"figure": "Figure {n}"},
        ),
    wildcard_constraints:
        n="[3-6]",
    params:
        out_dir=parent_dir,
        inputs=figure_input_flags,
    conda:
        PF_ENV
    log:
        f"{LOGS}/report/figure{{n}}.log",
    threads: PLAN.threads("report")
    resources:
        **resources_of("report"),
    shell:
        "pf report --spec {input.spec} {params.inputs}"
        " --out-dir {params.out_dir} --figure {wildcards.n} 2>&1 | tee {log}"


# Beyond the paper: the accuracy of every exit (config figures.exit_accuracy), from exactly
# the per-layer outputs files it declares.
rule exit_accuracy:
    input:
        outputs=PLAN.exit_accuracy_inputs(),
        spec=REPORT_SPEC,
    output:
        png=report(
            f"{REPORTS}/exit_accuracy.png",
            caption="../report/exit_accuracy.rst",
            category="Figures",
            labels={"figure": "Per-exit accuracy"},
        ),
        csv=f"{REPORTS}/exit_accuracy.csv",
    params:
        out_dir=parent_dir,
    conda:
        PF_ENV
    log:
        f"{LOGS}/report/exit_accuracy.log",
    threads: PLAN.threads("report")
    resources:
        **resources_of("report"),
    shell:
        "pf report --spec {input.spec} --outputs {input.outputs}"
        " --out-dir {params.out_dir} --figure exit_accuracy 2>&1 | tee {log}"


rule latency_table:
    input:
        latency=PLAN.latency_inputs(),
        spec=REPORT_SPEC,
    output:
        tex=report(
            f"{REPORTS}/latency.tex",
            caption="../report/latency.rst",
            category="Latency",
            labels={"table": "Latency", "format": "LaTeX"},
        ),
        csv=report(
            f"{REPORTS}/latency.csv",
            caption="../report/latency.rst",
            category="Latency",
            labels={"table": "Latency", "format": "CSV"},
        ),
        md=f"{REPORTS}/latency.md",
    params:
        out_dir=parent_dir,
    conda:
        PF_ENV
    log:
        f"{LOGS}/report/latency.log",
    threads: PLAN.threads("report")
    resources:
        **resources_of("report"),
    shell:
        "pf report --spec {input.spec} --latency-inputs {input.latency}"
        " --out-dir {params.out_dir} --latency > {log} 2>&1"


rule collect:
    input:
        PLAN.all_metrics(),
    output:
        report(
            f"{REPORTS}/metrics.csv",
            caption="../report/metrics.rst",
            category="Data",
            labels={"file": "metrics.csv"},
        ),
    conda:
        PF_ENV
    log:
        f"{LOGS}/report/collect.log",
    threads: PLAN.threads("collect")
    resources:
        **resources_of("collect"),
    shell:
        "pf collect {input} --out {output} 2>&1 | tee {log}"
