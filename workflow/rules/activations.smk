# Activations: one job per model and dataset writes both splits (test for CKA, train for
# top-k), so TensorFlow starts once.


rule activations:
    input:
        model=lambda w: paths.model_file(config, w.model),
        store=lambda w: paths.store_path(config, w.dataset),
    output:
        test=out("activations", split="test"),
        train=out("activations", split="train"),
    log:
        f"{R}/logs/activations/{{dataset}}/{{model}}.log",
    wildcard_constraints:
        model=MODEL_PATTERN,
    conda:
        ENV
    threads: 2
    resources:
        gpu=1,
    params:
        tensors=lambda w: params_json(
            analysis_tensors(config, model_architecture(config, w.model))
        ),
        image_size=config["image_size"],
    shell:
        "artfinetune activations --model {input.model} --name {wildcards.model}"
        " --store {input.store} --split test train --tensors {params.tensors:q}"
        " --image-size {params.image_size} --out {output.test} {output.train}"
        " --threads {threads} 2> {log}"
