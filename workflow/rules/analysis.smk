# How the networks changed: activations, then per model pair CKA, l2, top-k overlap and
# entropy; the paper's figures 5, 6, 14, 15 and tables 2 and 4. One activations job per model
# and dataset writes both splits (test for CKA, train for top-k): TensorFlow starts once.


rule activations:
    input:
        model=lambda w: paths.model_file(config, w.model),
        store=lambda w: paths.store_path(config, w.dataset),
    output:
        test=f"{R}/activations/{{dataset}}/{{model}}/test.h5",
        train=f"{R}/activations/{{dataset}}/{{model}}/train.h5",
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
        tensors=json.dumps(analysis_tensors(config)),
        image_size=config["image_size"],
    shell:
        "artfinetune activations --model {input.model} --name {wildcards.model}"
        " --store {input.store} --split test train --tensors {params.tensors:q}"
        " --image-size {params.image_size} --out {output.test} {output.train}"
        " --threads {threads} 2> {log}"


rule topk:
    input:
        f"{R}/activations/{{dataset}}/{{model}}/train.h5",
    output:
        topk=f"{R}/topk/{{dataset}}/{{model}}/topk.h5",
        composition=f"{R}/topk/{{dataset}}/{{model}}/composition.csv",
    log:
        f"{R}/logs/topk/{{dataset}}/{{model}}.log",
    wildcard_constraints:
        model=MODEL_PATTERN,
    conda:
        ENV
    params:
        ks=" ".join(str(k) for k in config["topk"]),
    shell:
        "artfinetune topk {input} --k {params.ks} --out {output.topk}"
        " --composition {output.composition} 2> {log}"


rule cka:
    input:
        a=lambda w: pair_activations(w, 0, "test"),
        b=lambda w: pair_activations(w, 1, "test"),
    output:
        f"{R}/comparisons/{{dataset}}/{{pair}}/cka.csv",
    log:
        f"{R}/logs/cka/{{dataset}}/{{pair}}.log",
    wildcard_constraints:
        pair=PAIR_PATTERN,
    conda:
        ENV
    shell:
        "artfinetune cka {input.a} {input.b} --out {output} 2> {log}"


rule l2:
    input:
        a=lambda w: paths.model_file(config, PAIRS[w.pair][0]),
        b=lambda w: paths.model_file(config, PAIRS[w.pair][1]),
    output:
        f"{R}/comparisons/{{dataset}}/{{pair}}/l2.csv",
    log:
        f"{R}/logs/l2/{{dataset}}/{{pair}}.log",
    wildcard_constraints:
        pair=PAIR_PATTERN,
    conda:
        ENV
    params:
        names=lambda w: " ".join(PAIRS[w.pair]),
    shell:
        "artfinetune l2 {input.a} {input.b} --names {params.names} --out {output} 2> {log}"


rule overlap:
    input:
        a=lambda w: paths.topk_path(config, w.dataset, PAIRS[w.pair][0]),
        b=lambda w: paths.topk_path(config, w.dataset, PAIRS[w.pair][1]),
    output:
        f"{R}/comparisons/{{dataset}}/{{pair}}/overlap.csv",
    log:
        f"{R}/logs/overlap/{{dataset}}/{{pair}}.log",
    wildcard_constraints:
        pair=PAIR_PATTERN,
    conda:
        ENV
    params:
        ks=" ".join(str(k) for k in config["topk"]),
    shell:
        "artfinetune overlap {input.a} {input.b} --k {params.ks} --out {output} 2> {log}"


rule figure:
    input:
        lambda w: figure_inputs(config, w.figure),
    output:
        png=report(
            f"{R}/figures/{{figure}}.png",
            caption=CAPTION,
            category=lambda w: figure_category(config, w.figure),
            labels=lambda w: {"figure": w.figure},
        ),
        pdf=f"{R}/figures/{{figure}}.pdf",
    log:
        f"{R}/logs/figure/{{figure}}.log",
    wildcard_constraints:
        figure="|".join(config["figures"]) or "(?!)",
    conda:
        ENV
    params:
        spec=lambda w: json.dumps(figure_spec(config, w.figure)),
        caption=lambda w: report_text.figure_caption(config, w.figure),
    shell:
        "artfinetune figure --spec-json {params.spec:q} --out-png {output.png}"
        " --out-pdf {output.pdf} 2> {log}"


rule comparison_table:
    input:
        lambda w: comparison_table_inputs(config, w.table),
    output:
        csv=f"{R}/tables/{{table}}.csv",
        md=f"{R}/tables/{{table}}.md",
        html=report(
            f"{R}/tables/{{table}}.html",
            caption=CAPTION,
            category=report_text.SIMILARITY,
            labels=lambda w: {"table": w.table},
        ),
    log:
        f"{R}/logs/comparison_table/{{table}}.log",
    wildcard_constraints:
        table="|".join(config["comparison_tables"]) or "(?!)",
    conda:
        ENV
    params:
        spec=lambda w: json.dumps(comparison_table_spec(config, w.table)),
        caption=lambda w: report_text.comparison_table_caption(config, w.table),
    shell:
        "artfinetune comparison-table --spec-json {params.spec:q} --out-csv {output.csv}"
        " --out-md {output.md} --out-html {output.html} > {log} 2>&1"
