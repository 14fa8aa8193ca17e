# Prepared data per (backbone, task): tokenizer (pretrained, or WordPiece trained on the
# train split for tiny backbones) and fixed-length tensors.


rule prepare:
    output:
        f"{RESULTS}/prepared/{{backbone}}/{{task}}/meta.json",
    params:
        out=prepared_dir,
        source=config["data"]["source"],
        data_dir=(
            f"--data-dir {config['data']['glue_dir']}"
            if config["data"]["source"] == "glue_dir"
            else ""
        ),
        backbone=lambda wildcards: json.dumps(
            PLAN.backbone_json(wildcards.backbone), sort_keys=True
        ),
        synthetic=(
            f"--synthetic-json '{json.dumps(config['data']['synthetic'], sort_keys=True)}'"
            if config["data"]["source"] == "synthetic" and config["data"]["synthetic"]
            else ""
        ),
        vocab=(
            f"--vocab-size {config['data']['vocab_size']}"
            if "vocab_size" in config["data"]
            else ""
        ),
        max_length=config["data"]["max_length"],
        heldout=config["data"]["heldout_fraction"],
        seed=config["data"]["seed"],
    conda:
        PF_ENV
    log:
        f"{LOGS}/prepare/{{backbone}}/{{task}}.log",
    threads: PLAN.threads("prepare")
    resources:
        **resources_of("prepare"),
    shell:
        "pf prepare --task {wildcards.task} --source {params.source} {params.data_dir}"
        " --backbone-json {params.backbone:q} --max-length {params.max_length}"
        " {params.synthetic} {params.vocab} --heldout-fraction {params.heldout}"
        " --seed {params.seed} --out {params.out} > {log} 2>&1"
