# Config validation and the functions that turn the config into target paths.
# The Python that runs Snakemake must have the artfinetune package: it checks the config
# and builds the paths here, before any job runs (see README, "Software environment").
import os
import re
import shutil
import sys
import sysconfig

from snakemake.settings.types import DeploymentMethod

try:
    from artfinetune.cluster import check_workflow as check_cluster_requests
    from artfinetune.data.store_format import STORE_FORMAT
    from artfinetune.errors import ConfigError
    from artfinetune.io import params_json
    from artfinetune.figures import (
        figure_caption,
        figure_category,
        figure_inputs,
        figure_spec,
    )
    from artfinetune.figures.comparison_tables import (
        comparison_table_caption,
        comparison_table_inputs,
        comparison_table_spec,
    )
    from artfinetune.figures.mode_tables import mode_table_caption, mode_table_spec
    from artfinetune.figures.panels import panel_caption, panel_inputs, panel_spec
    from artfinetune.figures.tables import table_caption, table_inputs, table_spec
    from artfinetune.model.architectures import DEFAULT as DEFAULT_ARCHITECTURE
    from artfinetune.model.keras_weights import WEIGHTS_FILE as KERAS_WEIGHTS_FILE
    from artfinetune.model.lucid_weights import init_urls
    from artfinetune.render.captions import gallery_caption
    from artfinetune.render.channels import (
        changed_args,
        gallery_has_changed,
        gallery_mosaics,
        model_channels,
        mosaic_channels,
    )
    from artfinetune.render.gallery import (
        gallery_inputs,
        gallery_spec,
        render_change_inputs,
    )
    from artfinetune.report.architectures import (
        CAPTION as ARCHITECTURES_CAPTION,
        architectures_inputs,
        architectures_spec,
    )
    from artfinetune.report.findings import findings_inputs, findings_spec
    from artfinetune.report.software import software_versions
    from artfinetune.study import paths
    from artfinetune.study.config import READER_WORKERS_ENV, prepare_config
    from artfinetune.study.report import (
        CLASSIFICATION,
        FINDINGS,
        SIMILARITY,
        STUDY,
        VISUALISATION,
    )
    from artfinetune.study.names import (
        analysis_models,
        ARCHITECTURES_OUTPUT,
        analysis_tensors,
        init_architecture,
        model_architecture,
        pair_label,
        pairs_by_id,
        run_seeds,
    )
except ImportError as err:
    raise WorkflowError(
        f"Snakemake's Python ({sys.executable}) cannot import the artfinetune package ({err}): "
        "run the Snakemake of the environment that has it (`make setup`, then "
        "`.venv/bin/snakemake ...` or `. .venv/bin/activate`), with or without --sdm conda"
    ) from None

try:
    origin = ", ".join(str(f) for f in workflow.overwrite_configfiles) or "config.yaml"
    config.update(prepare_config(config, origin=origin))
except ConfigError as err:
    raise WorkflowError(str(err)) from None


def use_own_command():
    """Put the `artfinetune` of the environment that runs Snakemake first on PATH.

    Jobs inherit Snakemake's environment (local jobs, and SLURM jobs through sbatch
    --export=ALL), so `.venv/bin/snakemake ...` works without activating the .venv, and
    the rules run the same package that checked the config.
    """
    scripts = sysconfig.get_path("scripts")
    own = os.path.join(scripts, "artfinetune")
    found = shutil.which("artfinetune")
    if os.path.isfile(own) and not (found and os.path.samefile(found, own)):
        # Set for the jobs, not asked of the user: no `envvars:` directive.
        os.environ.update(PATH=os.pathsep.join([scripts, os.environ.get("PATH", "")]))


use_own_command()
# The jobs that read stores (train, pretrain, activations) take the config's reader_workers from the environment,
# not from their commands: the number changes only the speed, and a new option in a rule's command or params
# would make Snakemake rerun every training of a study built before it.
os.environ[READER_WORKERS_ENV] = str(config["reader_workers"])
if shutil.which("artfinetune") is None and (
    DeploymentMethod.CONDA not in workflow.deployment_settings.deployment_method
):
    raise WorkflowError(
        "the artfinetune command is neither on PATH nor beside Snakemake's Python: "
        "run the Snakemake of the environment `make setup` builds (.venv/bin/snakemake, "
        "or activate it first with . .venv/bin/activate) or run with --sdm conda"
    )

R = config["results"]
# Every report item's caption: the text its stage writes for it, passed as the rule's `caption` param.
CAPTION = "../report/caption.rst"
# Rules call the `artfinetune` command: from the environment that runs Snakemake, or from
# this conda env under --sdm conda (see README, "Software environment").
ENV = "../../envs/artfinetune.yaml"
DEMO_DATASETS = [
    n for n, d in config["datasets"].items() if d["source"]["kind"] == "demo"
]
CSV_DATASETS = [
    n for n, d in config["datasets"].items() if d["source"]["kind"] == "csv"
]
DOWNLOADED_DATASETS = [
    n for n in config["datasets"] if n not in DEMO_DATASETS and n not in CSV_DATASETS
]
LUCID_INITS = [n for n, i in config["init"].items() if i["kind"] == "lucid"]
KERAS_INITS = [n for n, i in config["init"].items() if i["kind"] == "keras"]
PRETRAIN_INITS = [n for n, i in config["init"].items() if i["kind"] == "pretrain"]
PAIRS = pairs_by_id(config)  # pair folder name -> (model_a, model_b)
PAIR_PATTERN = "|".join(re.escape(p) for p in PAIRS) or "(?!)"
# a model is an init, run/seed or run/seed/init (the run's starting weights)
MODEL_PATTERN = "|".join(
    [re.escape(i) for i in config["init"]]
    + [rf"{re.escape(r)}/\d+(/init)?" for r in config["runs"]]
)


def out(kind, **fields):
    """An output path pattern of artfinetune.study.paths (the code's too), its other wildcards left open."""
    return paths.pattern(config, kind, **fields)


INIT = out("init")
MODEL = out("model")
RUN = out("run")
ENSEMBLE = out("run", run="{ensemble}")  # an ensemble's outputs sit where a run's do


wildcard_constraints:
    dataset="|".join(config["datasets"]),


def dataset_json(wildcards, keys=None):
    """A dataset's config section (or only ``keys`` of it) as JSON for the CLI.

    Passing only the keys a job needs keeps Snakemake's params trigger precise (a new
    store size rebuilds stores, not the demo images or the downloads).
    """
    ds = config["datasets"][wildcards.dataset]
    return params_json({k: ds[k] for k in keys or ds})


def architecture_flag(name):
    """train's --architecture for a model from a random init: none for InceptionV1 (the default), so the commands
    and params of studies built before other architectures existed stay as they were (Snakemake reruns a job
    whose command or params changed)."""
    if name in (None, DEFAULT_ARCHITECTURE):
        return ""
    return f" --architecture {name}"


def lucid_urls(wildcards):
    """fetch-lucid's --url: a lucid init's url, or its mirrors then its url.

    A config without mirrors passes its url alone, as before mirrors existed, so Snakemake's
    params trigger does not rerun a download that is done (and everything after it).
    """
    init = config["init"][wildcards.init]
    return init_urls(init) if init.get("mirrors") else init["url"]


def source_table(wildcards):
    """The table listing a dataset's images: the user's CSV, or one the workflow writes."""
    src = config["datasets"][wildcards.dataset]["source"]
    if src["kind"] == "csv":
        return src["table"]
    return paths.pattern(config, "source_table", dataset=wildcards.dataset)


def image_root(wildcards):
    src = config["datasets"][wildcards.dataset]["source"]
    if src["kind"] == "csv":
        return src["root"]
    return paths.pattern(config, "dataset", dataset=wildcards.dataset)


def mixed_precision_flag(wildcards):
    return "--mixed-precision" if config["mixed_precision"] else ""


def train_inputs(wildcards):
    """A run's store and, unless it starts from a random init, the model it starts from."""
    run = config["runs"][wildcards.run]
    inputs = {"store": paths.store_path(config, run["dataset"])}
    init = paths.run_init_model(config, wildcards.run, wildcards.seed)
    if init is not None:
        inputs["init"] = init
    return inputs


def all_targets():
    stores = [paths.store_path(config, d) for d in config["datasets"]]
    inits = [f"{paths.init_dir(config, i)}/model.keras" for i in config["init"]]
    runs = [
        f"{paths.run_dir(config, r, s)}/eval.json"
        for r in [*config["runs"], *config["ensembles"]]
        for s in run_seeds(config, r)
    ]
    tables = [
        paths.table_path(config, t, e)
        for t in [
            *config["tables"],
            *config["comparison_tables"],
            *config["mode_tables"],
        ]
        for e in ("csv", "html")
    ]
    metrics = [
        f for pair in PAIRS.values() for f in paths.pair_files(config, pair).values()
    ]
    compositions = [
        paths.composition_path(config, d, m) for d, m in analysis_models(config)
    ]
    figures = [
        paths.figure_path(config, f, e)
        for f in [*config["figures"], *config["panels"]]
        for e in ("png", "pdf")
    ]
    galleries = [paths.gallery_path(config, p) for p in config["galleries"]]
    study_record = [paths.software_path(config), paths.findings_path(config, "html")]
    if config.get("architectures"):
        study_record.append(paths.table_path(config, ARCHITECTURES_OUTPUT, "md"))
    return (
        stores
        + inits
        + runs
        + tables
        + metrics
        + compositions
        + figures
        + galleries
        + study_record
    )


RENDER_SETTINGS = " ".join(
    f"--{k} {config['render'][k]}" for k in ("size", "steps", "lr", "seed", "batch")
) + ("" if config["render"]["optimise_graph"] else " --no-graph-optimiser")


def pair_activations(wildcards, which, split):
    """Activations of one model of a pair on the pair's dataset."""
    model = PAIRS[wildcards.pair][which]
    return paths.activations_path(config, wildcards.dataset, model, split)
