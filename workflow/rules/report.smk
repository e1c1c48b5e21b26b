# The report's own items: the software the numbers were computed with, and the paper's findings checked.


rule software:
    output:
        report(
            f"{R}/software.txt",
            caption="../report/software.rst",
            category=STUDY,
        ),
    log:
        f"{R}/logs/software.log",
    conda:
        ENV
    params:
        # The versions seen by Snakemake: a rerun trigger when the environment changes. The job records
        # its own environment's (the same one, or the job's conda env under --sdm conda).
        versions=software_versions(),
    shell:
        "artfinetune software --out {output} 2> {log}"


rule findings:
    input:
        unpack(lambda w: findings_inputs(config)),
    output:
        md=paths.findings_path(config),
        csv=paths.findings_path(config, "csv"),
        html=report(
            paths.findings_path(config, "html"),
            caption="../report/findings.rst",
            category=FINDINGS,
        ),
    log:
        f"{R}/logs/findings.log",
    conda:
        ENV
    params:
        spec=lambda w: params_json(findings_spec(config)),
    shell:
        "artfinetune findings --spec-json {params.spec:q} --out {output.md}"
        " --csv {output.csv} --html {output.html} > {log} 2>&1"


# The architectures comparison, for a study that has one (its outputs' names are free otherwise).
if config.get("architectures"):

    localrules:
        architectures,

    rule architectures:
        input:
            lambda w: architectures_inputs(config),
        output:
            png=report(
                paths.figure_path(config, ARCHITECTURES_OUTPUT),
                caption=CAPTION,
                category=FINDINGS,
                labels={"figure": ARCHITECTURES_OUTPUT},
            ),
            pdf=paths.figure_path(config, ARCHITECTURES_OUTPUT, "pdf"),
            csv=paths.table_path(config, ARCHITECTURES_OUTPUT),
            md=paths.table_path(config, ARCHITECTURES_OUTPUT, "md"),
        log:
            f"{R}/logs/architectures.log",
        conda:
            ENV
        params:
            spec=lambda w: params_json(architectures_spec(config)),
            caption=ARCHITECTURES_CAPTION,
        shell:
            "artfinetune architectures --spec-json {params.spec:q} --out-png {output.png}"
            " --out-pdf {output.pdf} --out-csv {output.csv} --out-md {output.md} > {log} 2>&1"
