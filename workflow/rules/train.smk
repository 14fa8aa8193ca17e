# One checkpoint per (backbone, task, variant, seed). A variant is an entry of the config's
# `methods:`; per-target variants (truncated, students) are named "<name>-<r>x".
# The job also records the evaluation split's per-layer logits from the saved checkpoint
# (what `pf outputs` would write): a second process would pay the torch + transformers
# import again, which dominates the small jobs of the default configuration.
# Mid-training checkpoints (`pf train --checkpoint-every`, default every 10 minutes) go to
# the model directory's sibling `seed<S>.resume/`, which is not a declared output: when a
# job fails or is killed, Snakemake deletes its outputs but not that directory, and the
# rerun (rerun-incomplete, a SLURM requeue) resumes from it; a finished job removes it.
# The log shows progress lines while the job runs (`tail -f` it).


rule train:
    input:
        prepared=f"{RESULTS}/prepared/{{backbone}}/{{task}}/meta.json",
        teacher=teacher_model,
    output:
        model=f"{RESULTS}/models/{{backbone}}/{{task}}/{{variant}}/seed{{seed}}/model.safetensors",
        outputs=f"{RESULTS}/outputs/{{backbone}}/{{task}}/{{variant}}/seed{{seed}}/{EVAL_SPLIT}.safetensors",
    params:
        prepared=prepared_dir,
        out=model_dir,
        method=lambda wildcards: PLAN.method(wildcards.variant),
        options=method_options_json,
        training=training_json,
        teacher=teacher_flag,
        split=EVAL_SPLIT,
        batch_size=config["evaluation"]["batch_size"],
        device=device_flag(),
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
        " --seed {wildcards.seed} --out {params.out} {params.teacher} {params.device}"
        " --threads {threads} --record {params.split}={output.outputs}"
        " --record-batch-size {params.batch_size} > {log} 2>&1"


# The variants of `resources.train_together` (the embedded default: the five of Tables 1
# and 2) train one after another in one job per backbone x task x seed: `pf train-many`
# pays the torch + transformers import once instead of once per model, a third of a tiny
# job. Each model is byte-identical to what rule `train` writes. Its outputs are the same
# files, so every consumer is unchanged; the ruleorder picks this rule for them.
TOGETHER = PLAN.train_together()

if TOGETHER:

    rule train_together:
        input:
            prepared=f"{RESULTS}/prepared/{{backbone}}/{{task}}/meta.json",
        output:
            models=[PLAN.model("{backbone}", "{task}", v, "{seed}") for v in TOGETHER],
            outputs=[
                PLAN.outputs("{backbone}", "{task}", v, "{seed}", EVAL_SPLIT) for v in TOGETHER
            ],
        params:
            prepared=prepared_dir,
            runs=lambda wildcards: together_runs_json(wildcards, TOGETHER),
            batch_size=config["evaluation"]["batch_size"],
            device=device_flag(),
        conda:
            PF_ENV
        log:
            f"{LOGS}/train/{{backbone}}/{{task}}/together/seed{{seed}}.log",
        threads: PLAN.threads("train")
        resources:
            # rule train's, with the time of all its models
            **{**resources_of("train"), "runtime": PLAN.runtime("train") * len(TOGETHER)},
        shell:
            "pf train-many --prepared {params.prepared} --seed {wildcards.seed}"
            " --runs {params.runs:q} {params.device} --threads {threads}"
            " --record-batch-size {params.batch_size} > {log} 2>&1"

    ruleorder: train_together > train
