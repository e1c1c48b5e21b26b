# Feature visualisation: Lucid renders of each shown model's channels, top-k mosaics of
# each shown pair, the paper's render panels and a channel gallery per pair.


rule render:
    input:
        model=lambda w: paths.model_file(config, w.model),
    output:
        directory(f"{R}/renders/{{model}}/named"),
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


rule render_changed:
    input:
        model=lambda w: paths.model_file(config, w.model),
        overlap=lambda w: pair_files(config, PAIRS[w.pair])["overlap"],
    output:
        directory(f"{R}/renders/{{model}}/changed/{{pair}}"),
    log:
        f"{R}/logs/render/{{model}}/changed/{{pair}}.log",
    wildcard_constraints:
        model=MODEL_PATTERN,
        pair=PAIR_PATTERN,
    conda:
        ENV
    threads: 2
    resources:
        gpu=1,
    params:
        changed=CHANGED_ARGS,
        settings=RENDER_SETTINGS,
    shell:
        "artfinetune render --model {input.model} --changed-from {input.overlap} {params.changed}"
        " --out-dir {output} {params.settings} --threads {threads} 2> {log}"


rule mosaics:
    input:
        a=lambda w: paths.topk_path(config, w.dataset, PAIRS[w.pair][0]),
        b=lambda w: paths.topk_path(config, w.dataset, PAIRS[w.pair][1]),
        overlap=f"{R}/comparisons/{{dataset}}/{{pair}}/overlap.csv",
        store=lambda w: paths.store_path(config, w.dataset),
    output:
        directory(f"{R}/comparisons/{{dataset}}/{{pair}}/mosaics"),
    log:
        f"{R}/logs/mosaics/{{dataset}}/{{pair}}.log",
    wildcard_constraints:
        pair=PAIR_PATTERN,
    conda:
        ENV
    params:
        channels=lambda w: " ".join(
            f"--channel {c}" for c in named_channels(config, PAIRS[w.pair])
        ),
        changed=lambda w: (
            f"--changed-from {paths.pair_dir(config, PAIRS[w.pair])}/overlap.csv {CHANGED_ARGS}"
            if gallery_has_changed(config, PAIRS[w.pair])
            else ""
        ),
        k=min(config["topk"]),
        image_size=config["image_size"],
    shell:
        "artfinetune mosaics {input.a} {input.b} --store {input.store}"
        " --image-size {params.image_size} --k {params.k} {params.channels} {params.changed}"
        " --out-dir {output} 2> {log}"


rule gallery:
    input:
        unpack(gallery_inputs),
    output:
        report(
            directory(f"{R}/galleries/{{pair}}"),
            htmlindex="index.html",
            caption=CAPTION,
            category=report_text.VISUALISATION,
            subcategory="galleries",
            labels=lambda w: {"gallery": " vs ".join(PAIRS[w.pair])},
        ),
    log:
        f"{R}/logs/gallery/{{pair}}.log",
    wildcard_constraints:
        pair=PAIR_PATTERN,
    conda:
        ENV
    params:
        spec=lambda w, input: json.dumps(gallery_spec(w, input)),
        caption=lambda w: report_text.gallery_caption(config, PAIRS[w.pair]),
    shell:
        "artfinetune gallery --spec-json {params.spec:q} --out {output} 2> {log}"


rule panel:
    input:
        lambda w: panel_inputs(config, w.panel),
    output:
        png=report(
            f"{R}/figures/{{panel}}.png",
            caption=CAPTION,
            category=report_text.VISUALISATION,
            subcategory="panels",
            labels=lambda w: {"figure": w.panel},
        ),
        pdf=f"{R}/figures/{{panel}}.pdf",
    log:
        f"{R}/logs/panel/{{panel}}.log",
    wildcard_constraints:
        panel="|".join(config["panels"]) or "(?!)",
    conda:
        ENV
    params:
        spec=lambda w: json.dumps(panel_spec(config, w.panel)),
        caption=lambda w: report_text.panel_caption(config, w.panel),
    shell:
        "artfinetune panel --spec-json {params.spec:q} --out-png {output.png}"
        " --out-pdf {output.pdf} 2> {log}"
