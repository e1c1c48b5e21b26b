# Training: pretraining of demo inits, one job per run and seed, ensembles.


# Most of a study waits for its pretrained init: the scheduler starts it first among the jobs it can start.
rule pretrain:
    input:
        store=lambda w: paths.store_path(config, config["init"][w.init]["dataset"]),
    output:
        model=f"{INIT}/model.keras",
        eval=f"{INIT}/eval.json",
    log:
        f"{R}/logs/pretrain/{{init}}.log",
    wildcard_constraints:
        init="|".join(PRETRAIN_INITS) or "(?!)",
    priority: 10
    conda:
        ENV
    threads: 2
    resources:
        gpu=1,
    params:
        mode=lambda w: params_json(config["modes"][config["init"][w.init]["mode"]]),
        seed=lambda w: config["init"][w.init]["seed"],
        out=lambda w, output: os.path.dirname(output.model),
        image_size=config["image_size"],
        # the network's options: mixed precision, and the architecture of an init other than an InceptionV1 (kept
        # in this param so that the command of an InceptionV1 pretraining stays as before other architectures)
        mixed=lambda w: (
            mixed_precision_flag(w)
            + architecture_flag(init_architecture(config["init"][w.init]))
        ),
        deterministic="" if config["deterministic"] else "--no-deterministic",
    shell:
        "artfinetune train --seed {params.seed} --mode-json {params.mode:q}"
        " --store {input.store} --out {params.out} --image-size {params.image_size}"
        " {params.mixed} {params.deterministic} --threads {threads} 2> {log}"


rule train:
    input:
        unpack(train_inputs),
    output:
        model=f"{RUN}/model.keras",
        init=f"{RUN}/init.keras",
        history=f"{RUN}/history.csv",
        eval=f"{RUN}/eval.json",
        predictions=f"{RUN}/predictions.npz",
    log:
        f"{R}/logs/train/{{run}}/{{seed}}.log",
    wildcard_constraints:
        run="|".join(config["runs"]) or "(?!)",
        seed=r"\d+",
    conda:
        ENV
    threads: 2
    resources:
        gpu=1,
    params:
        mode=lambda w: params_json(config["modes"][config["runs"][w.run]["mode"]]),
        init=lambda w, input: (
            f"--init {input.init}"
            if "init" in input.keys()
            else architecture_flag(config["runs"][w.run].get("architecture"))
        ),
        out=lambda w, output: os.path.dirname(output.model),
        image_size=config["image_size"],
        mixed=mixed_precision_flag,
        deterministic="" if config["deterministic"] else "--no-deterministic",
    shell:
        "artfinetune train --seed {wildcards.seed} --mode-json {params.mode:q}"
        " --store {input.store} {params.init} --out {params.out} --image-size {params.image_size}"
        " {params.mixed} {params.deterministic} --threads {threads} 2> {log}"


rule ensemble:
    input:
        predictions=lambda w: [
            f"{paths.run_dir(config, r, w.seed)}/predictions.npz"
            for r in config["ensembles"][w.ensemble]["runs"]
        ],
    output:
        eval=f"{ENSEMBLE}/eval.json",
        predictions=f"{ENSEMBLE}/predictions.npz",
    log:
        f"{R}/logs/ensemble/{{ensemble}}/{{seed}}.log",
    wildcard_constraints:
        ensemble="|".join(config["ensembles"]) or "(?!)",
        seed=r"\d+",
    conda:
        ENV
    params:
        out=lambda w, output: os.path.dirname(output.eval),
    shell:
        "artfinetune ensemble {input.predictions} --out {params.out} 2> {log}"
