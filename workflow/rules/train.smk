# One checkpoint per (backbone, task, variant, seed). A variant is an entry of the config's
# `methods:`; per-target variants (truncated, students) are named "<name>-<r>x".


rule train:
    input:
        prepared=f"{RESULTS}/prepared/{{backbone}}/{{task}}/meta.json",
        teacher=teacher_model,
    output:
        f"{RESULTS}/models/{{backbone}}/{{task}}/{{variant}}/seed{{seed}}/model.safetensors",
    params:
        prepared=prepared_dir,
        out=model_dir,
        method=lambda wildcards: PLAN.method(wildcards.variant),
        options=method_options_json,
        training=training_json,
        teacher=teacher_flag,
    conda:
        PF_ENV
    log:
        f"{LOGS}/train/{{backbone}}/{{task}}/{{variant}}/seed{{seed}}.log",
    threads: PLAN.threads("train")
    resources:
        **resources_of("train"),
    shell:
        "pf train --prepared {params.prepared} --method {params.method}"
        " --options {params.options:q} --training {params.training:q}"
        " --seed {wildcards.seed} --out {params.out} {params.teacher}"
        " --threads {threads} > {log} 2>&1"
