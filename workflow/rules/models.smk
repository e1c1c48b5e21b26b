# Initial models and graph export: Lucid's ImageNet weights, imported into Keras.


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
