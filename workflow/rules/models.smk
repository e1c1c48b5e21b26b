# Initial models and graph export: Lucid's ImageNet InceptionV1 and the Keras applications' ImageNet ResNet-50
# and VGG16, imported into Keras.


rule download_lucid_weights:
    output:
        pb=f"{INIT}/InceptionV1.pb",
    log:
        f"{R}/logs/download_lucid_weights/{{init}}.log",
    wildcard_constraints:
        init="|".join(LUCID_INITS) or "(?!)",
    conda:
        ENV
    resources:
        downloads=1,
    params:
        url=lucid_urls,
        sha256=lambda w: config["init"][w.init]["sha256"] or "",
    shell:
        "artfinetune fetch-lucid --url {params.url:q} --sha256={params.sha256}"
        " --out {output.pb} 2> {log}"


rule import_lucid:
    input:
        pb=f"{INIT}/InceptionV1.pb",
    output:
        model=f"{INIT}/model.keras",
    log:
        f"{R}/logs/import_lucid/{{init}}.log",
    wildcard_constraints:
        init="|".join(LUCID_INITS) or "(?!)",
    conda:
        ENV
    params:
        input_size=config["image_size"],
    shell:
        "artfinetune import-lucid {input.pb} --out {output.model}"
        " --input-size {params.input_size} 2> {log}"


rule download_keras_weights:
    output:
        weights=f"{INIT}/{KERAS_WEIGHTS_FILE}",
    log:
        f"{R}/logs/download_keras_weights/{{init}}.log",
    wildcard_constraints:
        init="|".join(KERAS_INITS) or "(?!)",
    conda:
        ENV
    resources:
        downloads=1,
    params:
        architecture=lambda w: config["init"][w.init]["architecture"],
        urls=lambda w: " ".join(
            f"--url {u}" for u in config["init"][w.init].get("mirrors", [])
        ),
        sha256=lambda w: config["init"][w.init]["sha256"] or "",
    shell:
        "artfinetune fetch-keras-weights --architecture {params.architecture} {params.urls}"
        " --sha256={params.sha256} --out {output.weights} 2> {log}"


rule import_keras:
    input:
        weights=f"{INIT}/{KERAS_WEIGHTS_FILE}",
    output:
        model=f"{INIT}/model.keras",
    log:
        f"{R}/logs/import_keras/{{init}}.log",
    wildcard_constraints:
        init="|".join(KERAS_INITS) or "(?!)",
    conda:
        ENV
    params:
        architecture=lambda w: config["init"][w.init]["architecture"],
        input_size=config["image_size"],
    shell:
        "artfinetune import-keras {input.weights} --architecture {params.architecture}"
        " --out {output.model} --input-size {params.input_size} 2> {log}"


rule export_graph:
    input:
        model=f"{MODEL}/model.keras",
    output:
        graph=f"{MODEL}/model.pb",
        meta=f"{MODEL}/model.json",
    log:
        f"{R}/logs/export_graph/{{model}}.log",
    conda:
        ENV
    shell:
        "artfinetune export {input.model} --out {output.graph} 2> {log}"
