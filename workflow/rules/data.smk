# Datasets: demo generation, then one HDF5 image store and manifest per dataset.


rule demo_dataset:
    output:
        table=out("source_table"),
        images=directory(out("demo_images")),
    log:
        f"{R}/logs/demo_dataset/{{dataset}}.log",
    wildcard_constraints:
        dataset="|".join(DEMO_DATASETS) or "(?!)",
    conda:
        ENV
    threads: workflow.cores
    params:
        dataset=lambda w: dataset_json(w, ["source", "classes"]),
        out=lambda w, output: os.path.dirname(output.table),
    shell:
        "artfinetune demo-dataset {wildcards.dataset} --dataset-json {params.dataset:q}"
        " --out {params.out} --workers {threads} 2> {log}"


rule image_store:
    input:
        table=source_table,
    output:
        store=out("store"),
        manifest=out("manifest"),
    log:
        f"{R}/logs/image_store/{{dataset}}.log",
    conda:
        ENV
    threads: workflow.cores
    params:
        dataset=dataset_json,
        root=image_root,
        # Not on the command line: a new store format (artfinetune.data.store_format) rebuilds every store.
        store_format=STORE_FORMAT,
    shell:
        "artfinetune build-store {wildcards.dataset} --dataset-json {params.dataset:q}"
        " --table {input.table} --root {params.root} --store {output.store}"
        " --manifest {output.manifest} --workers {threads} 2> {log}"


rule download_dataset:
    output:
        table=out("source_table"),
    log:
        f"{R}/logs/download_dataset/{{dataset}}.log",
    wildcard_constraints:
        dataset="|".join(DOWNLOADED_DATASETS) or "(?!)",
    conda:
        ENV
    threads: 4
    resources:
        downloads=1,
    params:
        dataset=lambda w: dataset_json(w, ["source"]),
        out=lambda w, output: os.path.dirname(output.table),
    shell:
        "artfinetune download {wildcards.dataset} --dataset-json {params.dataset:q}"
        " --out {params.out} --workers {threads} 2> {log}"
