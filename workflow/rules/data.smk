# Datasets: demo generation, then one HDF5 image store and manifest per dataset.


rule demo_dataset:
    output:
        table=f"{R}/data/{{dataset}}/source.csv",
        images=directory(f"{R}/data/{{dataset}}/images"),
    params:
        dataset=dataset_json,
        out=lambda w, output: os.path.dirname(output.table),
    wildcard_constraints:
        dataset="|".join(DEMO_DATASETS) or "(?!)",
    threads: workflow.cores
    log:
        f"{R}/logs/demo_dataset/{{dataset}}.log",
    shell:
        "{ARTFT} demo-dataset {wildcards.dataset} --dataset-json {params.dataset:q}"
        " --out {params.out} --workers {threads} 2> {log}"


rule image_store:
    input:
        table=source_table,
    output:
        store=f"{R}/data/{{dataset}}/store.h5",
        manifest=f"{R}/data/{{dataset}}/manifest.csv",
    params:
        dataset=dataset_json,
        root=image_root,
    threads: workflow.cores
    log:
        f"{R}/logs/image_store/{{dataset}}.log",
    shell:
        "{ARTFT} build-store {wildcards.dataset} --dataset-json {params.dataset:q}"
        " --table {input.table} --root {params.root} --store {output.store}"
        " --manifest {output.manifest} --workers {threads} 2> {log}"
