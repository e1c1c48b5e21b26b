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
