# Training: pretraining of demo inits, one job per run and seed, ensembles, result tables.


rule pretrain:
    input:
        store=lambda w: paths.store_path(config, config["init"][w.init]["dataset"]),
    output:
        model=f"{R}/models/init/{{init}}/model.keras",
        eval=f"{R}/models/init/{{init}}/eval.json",
    log:
        f"{R}/logs/pretrain/{{init}}.log",
    wildcard_constraints:
        init="|".join(PRETRAIN_INITS) or "(?!)",
    conda:
        ENV
    threads: 2
    resources:
        gpu=1,
    params:
        mode=lambda w: json.dumps(config["modes"][config["init"][w.init]["mode"]]),
        seed=lambda w: config["init"][w.init]["seed"],
        out=lambda w, output: os.path.dirname(output.model),
        image_size=config["image_size"],
        mixed=mixed_precision_flag,
        deterministic="" if config["deterministic"] else "--no-deterministic",
    shell:
        "artfinetune train --seed {params.seed} --mode-json {params.mode:q}"
        " --store {input.store} --out {params.out} --image-size {params.image_size}"
        " {params.mixed} {params.deterministic} --threads {threads} 2> {log}"


rule train:
    input:
        unpack(train_inputs),
    output:
        model=f"{R}/models/{{run}}/{{seed}}/model.keras",
        init=f"{R}/models/{{run}}/{{seed}}/init.keras",
        history=f"{R}/models/{{run}}/{{seed}}/history.csv",
        eval=f"{R}/models/{{run}}/{{seed}}/eval.json",
        predictions=f"{R}/models/{{run}}/{{seed}}/predictions.npz",
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
        mode=lambda w: json.dumps(config["modes"][config["runs"][w.run]["mode"]]),
        init=lambda w, input: f"--init {input.init}" if "init" in input.keys() else "",
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
        eval=f"{R}/models/{{ensemble}}/{{seed}}/eval.json",
        predictions=f"{R}/models/{{ensemble}}/{{seed}}/predictions.npz",
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


rule table:
    input:
        evals=table_evals,
    output:
        csv=f"{R}/tables/{{table}}.csv",
        md=f"{R}/tables/{{table}}.md",
        html=report(
            f"{R}/tables/{{table}}.html",
            caption=CAPTION,
            category=report_text.CLASSIFICATION,
            labels=lambda w: {"table": w.table},
        ),
    log:
        f"{R}/logs/table/{{table}}.log",
    wildcard_constraints:
        table="|".join(config["tables"]) or "(?!)",
    conda:
        ENV
    params:
        spec=table_spec_json,
        caption=lambda w: report_text.table_caption(config, w.table),
    shell:
        "artfinetune table --spec-json {params.spec:q} --out-csv {output.csv}"
        " --out-md {output.md} --out-html {output.html} > {log} 2>&1"
