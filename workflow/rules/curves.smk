# Score versus speed-up trade-off curve of an early-exit variant (Figures 3, 5, 6).


rule curve:
    input:
        eval_outputs,
    output:
        f"{RESULTS}/curves/{{backbone}}/{{task}}/{{variant}}/seed{{seed}}.csv",
    params:
        rule=lambda wildcards: PLAN.exit_rule(wildcards.variant),
    conda:
        PF_ENV
    log:
        f"{LOGS}/curve/{{backbone}}/{{task}}/{{variant}}/seed{{seed}}.log",
    threads: PLAN.threads("curve")
    resources:
        **resources_of("curve"),
    shell:
        "pf curve --outputs {input} --rule {params.rule} --out {output} > {log} 2>&1"
