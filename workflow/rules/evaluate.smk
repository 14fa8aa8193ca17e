# Recorded logits + target speed-up -> metrics JSON (exit parameter calibrated to the target).


rule evaluate:
    input:
        outputs=eval_outputs,
        calibration=calibration_outputs,
    output:
        f"{RESULTS}/metrics/{{backbone}}/{{task}}/{{variant}}/seed{{seed}}/target{{target}}.json",
    params:
        rule=lambda wildcards: PLAN.exit_rule(wildcards.variant),
        metric=lambda wildcards: PLAN.table_metric(wildcards.task),
        options=method_options_json,
        calibration=calibration_flag,
        train_limit=TRAIN_LIMIT_FLAG,
    conda:
        PF_ENV
    log:
        f"{LOGS}/evaluate/{{backbone}}/{{task}}/{{variant}}/seed{{seed}}/target{{target}}.log",
    threads: PLAN.threads("evaluate")
    resources:
        **resources_of("evaluate"),
    shell:
        "pf evaluate --outputs {input.outputs} {params.calibration} --rule {params.rule}"
        " --target {wildcards.target} --metric {params.metric} --variant {wildcards.variant}"
        " --method-options {params.options:q} --seed {wildcards.seed} {params.train_limit}"
        " --out {output}"
        " > {log} 2>&1"
