# Per-layer logits of every exit for one split: the only model forward pass evaluation needs.


rule outputs:
    input:
        model=f"{RESULTS}/models/{{backbone}}/{{task}}/{{variant}}/seed{{seed}}/model.safetensors",
        prepared=f"{RESULTS}/prepared/{{backbone}}/{{task}}/meta.json",
    output:
        f"{RESULTS}/outputs/{{backbone}}/{{task}}/{{variant}}/seed{{seed}}/{{split}}.safetensors",
    params:
        model=model_dir,
        prepared=prepared_dir,
        batch_size=config["evaluation"]["batch_size"],
    conda:
        PF_ENV
    log:
        f"{LOGS}/outputs/{{backbone}}/{{task}}/{{variant}}/seed{{seed}}/{{split}}.log",
    threads: PLAN.threads("outputs")
    resources:
        **resources_of("outputs"),
    shell:
        "pf outputs --model {params.model} --prepared {params.prepared}"
        " --split {wildcards.split} --batch-size {params.batch_size}"
        " --threads {threads} --out {output} > {log} 2>&1"
