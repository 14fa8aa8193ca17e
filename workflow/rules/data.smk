# Hub downloads, then prepared data per (backbone, task): tokenizer (pretrained, or WordPiece
# trained on the train split for tiny backbones) and fixed-length tensors.

from pf.download import plan_downloads

# What the config needs from the Hugging Face hub (nothing for tiny backbones, local model
# directories and the synthetic / glue_dir sources).
try:
    DOWNLOADS = plan_downloads(config)
except PfError as err:  # e.g. a local model directory that does not exist
    raise WorkflowError(str(err))
DOWNLOAD_RECORD = f"{RESULTS}/download.json"


# The compute nodes of many clusters cannot reach the hub: `pf download` fetches everything
# on the submitting host first, into the Hugging Face cache (HF_HOME) the jobs read; with
# HF_HUB_OFFLINE=1 it only checks that the cache has it all (docs/SLURM.md).
rule download:
    localrule: True
    output:
        DOWNLOAD_RECORD,
    params:
        what=shlex.join(DOWNLOADS.args()),
    conda:
        PF_ENV
    log:
        f"{LOGS}/download.log",
    shell:
        "pf download {params.what} --record {output} > {log} 2>&1"


rule prepare:
    input:
        # ancient: fetching a model a new backbone needs does not redo the others' data
        download=lambda wildcards: (
            ancient(DOWNLOAD_RECORD) if DOWNLOADS.needed_by(wildcards.backbone) else []
        ),
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
        train_limit=TRAIN_LIMIT_FLAG,
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
        " {params.synthetic} {params.vocab} --heldout-fraction {params.heldout} {params.train_limit}"
        " --seed {params.seed} --out {params.out} > {log} 2>&1"
