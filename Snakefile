# artfinetune: fine-tuning InceptionV1 from natural images to artworks, as one DAG.
# The paper study by default; the embedded demo with --configfile resources/demo/config.yaml.
from snakemake.utils import min_version

min_version("9.0")


# --configfile replaces the paper config instead of being merged into it (--config still edits it).
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


# One rules file per stage, in pipeline order; each calls its stage's package (workflow/artfinetune/<stage>/).
include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/activations.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/render.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


# Run on the submit host, not as cluster jobs: downloads need the internet, which compute
# nodes often lack; ensembles, tables, figures, panels, galleries, render-change tables, the
# software record and the findings read a few small files for seconds (no TensorFlow), less
# than a queue wait (table 5 reads none: it is the config's modes).
localrules:
    download_dataset,
    download_lucid_weights,
    download_keras_weights,
    ensemble,
    table,
    comparison_table,
    mode_table,
    figure,
    panel,
    gallery,
    render_change,
    software,
    findings,


rule all:
    default_target: True
    input:
        all_targets(),


# On a SLURM cluster, a job that no node of its partition can run would pend for ever: stop before the
# first submission, naming the rule, its request and the partition's largest nodes.
onstart:
    check_cluster_requests(workflow)
