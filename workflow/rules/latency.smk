# Wall-clock time of the full model versus the real early-exit engine. The exit parameter is
# calibrated on the same split as the evaluate job's (calibration_outputs, if not dev).


rule latency:
    input:
        model=f"{RESULTS}/models/{{backbone}}/{{task}}/{{variant}}/seed{{seed}}/model.safetensors",
        prepared=f"{RESULTS}/prepared/{{backbone}}/{{task}}/meta.json",
        outputs=eval_outputs,
        calibration=calibration_outputs,
    output:
        f"{RESULTS}/latency/{{backbone}}/{{task}}/{{variant}}/seed{{seed}}.json",
    params:
        model=model_dir,
        prepared=prepared_dir,
        split=config["evaluation"]["split"],
        target=PLAN.latency_target(),
        batch_sizes=" ".join(str(b) for b in config["latency"]["batch_sizes"]),
        repeats=config["latency"]["repeats"],
        warmup=config["latency"]["warmup"],
        max_examples=config["latency"]["max_examples"],
        device=device_flag(),
        calibration=calibration_flag,
    conda:
        PF_ENV
    log:
        f"{LOGS}/latency/{{backbone}}/{{task}}/{{variant}}/seed{{seed}}.log",
    threads: PLAN.threads("latency")
    resources:
        **resources_of("latency"),
    shell:
        "pf latency --model {params.model} --prepared {params.prepared} --split {params.split}"
        " --target {params.target} --outputs {input.outputs} {params.calibration}"
        " --batch-sizes {params.batch_sizes} --repeats {params.repeats}"
        " --warmup {params.warmup} --max-examples {params.max_examples} {params.device}"
        " --threads {threads} --variant {wildcards.variant} --out {output} > {log} 2>&1"
