# Feature visualisation: Lucid renders of each shown model's channels, top-k mosaics of
# each shown pair and a channel gallery per pair.


rule render:
    input:
        model=lambda w: paths.model_file(config, w.model),
    output:
        directory(out("renders")),
    log:
        f"{R}/logs/render/{{model}}/named.log",
    wildcard_constraints:
        model=MODEL_PATTERN,
    conda:
        ENV
    threads: 2
    resources:
        gpu=1,
    params:
        channels=lambda w: " ".join(
            f"--channel {c}" for c in model_channels(config, w.model)
        ),
        settings=RENDER_SETTINGS,
    shell:
        "artfinetune render --model {input.model} {params.channels} --out-dir {output}"
        " {params.settings} --threads {threads} 2> {log}"


# The gallery's last renders, each as long as a training: started first among the jobs the scheduler can start,
# so that they do not run alone at the end.
rule render_changed:
    input:
        model=lambda w: paths.model_file(config, w.model),
        overlap=lambda w: paths.pair_files(config, PAIRS[w.pair])["overlap"],
    output:
        directory(out("changed_renders")),
    log:
        f"{R}/logs/render/{{model}}/changed/{{pair}}.log",
    wildcard_constraints:
        model=MODEL_PATTERN,
        pair=PAIR_PATTERN,
    priority: 5
    conda:
        ENV
    threads: 2
    resources:
        gpu=1,
    params:
        changed=lambda w: changed_args(config, PAIRS[w.pair]),
        settings=RENDER_SETTINGS,
    shell:
        "artfinetune render --model {input.model} --changed-from {input.overlap} {params.changed}"
        " --out-dir {output} {params.settings} --threads {threads} 2> {log}"


rule mosaics:
    input:
        a=lambda w: paths.topk_path(config, w.dataset, PAIRS[w.pair][0]),
        b=lambda w: paths.topk_path(config, w.dataset, PAIRS[w.pair][1]),
        overlap=out("pair_metric", metric="overlap"),
        store=lambda w: paths.store_path(config, w.dataset),
    output:
        directory(out("mosaics")),
    log:
        f"{R}/logs/mosaics/{{dataset}}/{{pair}}.log",
    wildcard_constraints:
        pair=PAIR_PATTERN,
    conda:
        ENV
    params:
        channels=lambda w: " ".join(
            f"--channel {c}" for c in mosaic_channels(config, PAIRS[w.pair], w.dataset)
        ),
        changed=lambda w: (
            f"--changed-from {paths.pair_files(config, PAIRS[w.pair])['overlap']} "
            + changed_args(config, PAIRS[w.pair])
            if gallery_has_changed(config, PAIRS[w.pair])
            and gallery_mosaics(config, PAIRS[w.pair], w.dataset)
            else ""
        ),
        images=lambda w: (
            "--images" if gallery_mosaics(config, PAIRS[w.pair], w.dataset) else ""
        ),
        k=config["render"]["k"],
        image_size=config["image_size"],
    shell:
        "artfinetune mosaics {input.a} {input.b} --store {input.store}"
        " --image-size {params.image_size} --k {params.k} {params.channels} {params.changed}"
        " {params.images} --out-dir {output} 2> {log}"


rule render_change:
    input:
        unpack(lambda w: render_change_inputs(config, PAIRS[w.pair])),
    output:
        out("render_change"),
    log:
        f"{R}/logs/render_change/{{dataset}}/{{pair}}.log",
    wildcard_constraints:
        pair=PAIR_PATTERN,
    conda:
        ENV
    params:
        spec=lambda w: params_json(gallery_spec(config, PAIRS[w.pair])),
    shell:
        "artfinetune render-change --spec-json {params.spec:q} --out {output} 2> {log}"


rule gallery:
    input:
        unpack(lambda w: gallery_inputs(config, PAIRS[w.pair])),
    output:
        report(
            directory(out("gallery")),
            htmlindex="index.html",
            caption=CAPTION,
            category=VISUALISATION,
            subcategory="galleries",
            labels=lambda w: {"gallery": pair_label(PAIRS[w.pair])},
        ),
    log:
        f"{R}/logs/gallery/{{pair}}.log",
    wildcard_constraints:
        pair=PAIR_PATTERN,
    conda:
        ENV
    params:
        # `input` in the signature, as before the layout change: Snakemake leaves such a param out of its
        # params record, so galleries built before it are not rerun (renders and mosaics still trigger one).
        spec=lambda w, input: params_json(gallery_spec(config, PAIRS[w.pair])),
        caption=lambda w: gallery_caption(config, PAIRS[w.pair]),
    shell:
        "artfinetune gallery --spec-json {params.spec:q} --out {output} 2> {log}"
