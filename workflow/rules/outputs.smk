# Per-layer logits of every exit for a split other than the evaluation split (which the
# train job records itself), e.g. the held-out slice used for calibration.


rule outputs:
    input:
        model=f"{RESULTS}/models/{{backbone}}/{{task}}/{{variant}}/seed{{seed}}/model.safetensors",
        prepared=f"{RESULTS}/prepared/{{backbone}}/{{task}}/meta.json",
    wildcard_constraints:
        split=OTHER_SPLITS,
    output:
        f"{RESULTS}/outputs/{{backbone}}/{{task}}/{{variant}}/seed{{seed}}/{{split}}.safetensors",
    params:
        model=model_dir,
        prepared=prepared_dir,
        batch_size=config["evaluation"]["batch_size"],
        device=device_flag(),
    conda:
        PF_ENV
    log:
        f"{LOGS}/outputs/{{backbone}}/{{task}}/{{variant}}/seed{{seed}}/{{split}}.log",
    threads: PLAN.threads("outputs")
    resources:
        **resources_of("outputs"),
    shell:
        "pf outputs --model {params.model} --prepared {params.prepared}"
        " --split {wildcards.split} --batch-size {params.batch_size} {params.device}"
        " --threads {threads} --out {output} > {log} 2>&1"
