# How the networks changed: per model its top-k sets, per model pair CKA, l2, top-k overlap
# and entropy (the tidy tables of artfinetune.metrics).


rule topk:
    input:
        out("activations", split="train"),
    output:
        topk=out("topk"),
        composition=out("composition"),
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
        out("pair_metric", metric="cka"),
    log:
        f"{R}/logs/cka/{{dataset}}/{{pair}}.log",
    wildcard_constraints:
        pair=PAIR_PATTERN,
    conda:
        ENV
    params:
        blocks=config["cka_blocks"],
    shell:
        "artfinetune cka {input.a} {input.b} --blocks {params.blocks} --out {output} 2> {log}"


rule l2:
    input:
        a=lambda w: paths.model_file(config, PAIRS[w.pair][0]),
        b=lambda w: paths.model_file(config, PAIRS[w.pair][1]),
    output:
        out("pair_metric", metric="l2"),
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
        out("pair_metric", metric="overlap"),
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
