# The paper's tables and figures: tables 1 and 3 (evaluations), tables 2 and 4 and figures
# 5, 6, 14, 15 (metric tables), table 5 (the config's modes), render panels such as figures 1
# and 2 (renders and mosaics).


rule table:
    input:
        evals=lambda w: table_inputs(config, w.table),
    output:
        csv=out("table", ext="csv"),
        md=out("table", ext="md"),
        html=report(
            out("table", ext="html"),
            caption=CAPTION,
            category=CLASSIFICATION,
            labels=lambda w: {"table": w.table},
        ),
    log:
        f"{R}/logs/table/{{table}}.log",
    wildcard_constraints:
        table="|".join(config["tables"]) or "(?!)",
    conda:
        ENV
    params:
        spec=lambda w: params_json(table_spec(config, w.table)),
        caption=lambda w: table_caption(config, w.table),
    shell:
        "artfinetune table --spec-json {params.spec:q} --out-csv {output.csv}"
        " --out-md {output.md} --out-html {output.html} > {log} 2>&1"


rule figure:
    input:
        lambda w: figure_inputs(config, w.figure),
    output:
        png=report(
            out("figure", ext="png"),
            caption=CAPTION,
            category=lambda w: figure_category(config, w.figure),
            labels=lambda w: {"figure": w.figure},
        ),
        pdf=out("figure", ext="pdf"),
    log:
        f"{R}/logs/figure/{{figure}}.log",
    wildcard_constraints:
        figure="|".join(config["figures"]) or "(?!)",
    conda:
        ENV
    params:
        spec=lambda w: params_json(figure_spec(config, w.figure)),
        caption=lambda w: figure_caption(config, w.figure),
    shell:
        "artfinetune figure --spec-json {params.spec:q} --out-png {output.png}"
        " --out-pdf {output.pdf} 2> {log}"


rule comparison_table:
    input:
        lambda w: comparison_table_inputs(config, w.table),
    output:
        csv=out("table", ext="csv"),
        md=out("table", ext="md"),
        html=report(
            out("table", ext="html"),
            caption=CAPTION,
            category=SIMILARITY,
            labels=lambda w: {"table": w.table},
        ),
    log:
        f"{R}/logs/comparison_table/{{table}}.log",
    wildcard_constraints:
        table="|".join(config["comparison_tables"]) or "(?!)",
    conda:
        ENV
    params:
        spec=lambda w: params_json(comparison_table_spec(config, w.table)),
        caption=lambda w: comparison_table_caption(config, w.table),
    shell:
        "artfinetune comparison-table --spec-json {params.spec:q} --out-csv {output.csv}"
        " --out-md {output.md} --out-html {output.html} > {log} 2>&1"


# Table 5 reads no file: the modes' hyperparameters are in its spec, so editing a mode reruns it.
rule mode_table:
    output:
        csv=out("table", ext="csv"),
        md=out("table", ext="md"),
        html=report(
            out("table", ext="html"),
            caption=CAPTION,
            category=STUDY,
            labels=lambda w: {"table": w.table},
        ),
    log:
        f"{R}/logs/mode_table/{{table}}.log",
    wildcard_constraints:
        table="|".join(config["mode_tables"]) or "(?!)",
    conda:
        ENV
    params:
        spec=lambda w: params_json(mode_table_spec(config, w.table)),
        caption=lambda w: mode_table_caption(config, w.table),
    shell:
        "artfinetune mode-table --spec-json {params.spec:q} --out-csv {output.csv}"
        " --out-md {output.md} --out-html {output.html} > {log} 2>&1"


rule panel:
    input:
        lambda w: panel_inputs(config, w.panel),
    output:
        png=report(
            out("figure", figure="{panel}", ext="png"),
            caption=CAPTION,
            category=VISUALISATION,
            subcategory="panels",
            labels=lambda w: {"figure": w.panel},
        ),
        pdf=out("figure", figure="{panel}", ext="pdf"),
    log:
        f"{R}/logs/panel/{{panel}}.log",
    wildcard_constraints:
        panel="|".join(config["panels"]) or "(?!)",
    conda:
        ENV
    params:
        spec=lambda w: params_json(panel_spec(config, w.panel)),
        caption=lambda w: panel_caption(config, w.panel),
    shell:
        "artfinetune panel --spec-json {params.spec:q} --out-png {output.png}"
        " --out-pdf {output.pdf} 2> {log}"
