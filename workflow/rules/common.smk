# Config validation and the functions that turn the config into target paths.
import json

from artfinetune.config import ConfigError, prepare_config

try:
    config.update(prepare_config(config, origin="the study config"))
except ConfigError as err:
    raise WorkflowError(str(err)) from None

R = config["results"]
# Rules call the `artfinetune` command: from the active .venv, or from this conda env
# under --sdm conda (see README, "Software environment").
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


wildcard_constraints:
    dataset="|".join(config["datasets"]),


def dataset_json(wildcards, keys=None):
    """A dataset's config section (or only ``keys`` of it) as JSON for the CLI.

    Passing only the keys a job needs keeps Snakemake's params trigger precise (a new
    store size rebuilds stores, not the demo images or the downloads).
    """
    ds = config["datasets"][wildcards.dataset]
    return json.dumps({k: ds[k] for k in keys or ds}, ensure_ascii=False)


def source_table(wildcards):
    """The table listing a dataset's images: the user's CSV, or one the workflow writes."""
    src = config["datasets"][wildcards.dataset]["source"]
    if src["kind"] == "csv":
        return src["table"]
    return f"{R}/data/{wildcards.dataset}/source.csv"


def image_root(wildcards):
    src = config["datasets"][wildcards.dataset]["source"]
    if src["kind"] == "csv":
        return src["root"]
    return f"{R}/data/{wildcards.dataset}"


def store_path(dataset):
    return f"{R}/data/{dataset}/store.h5"


def init_model_path(init):
    return f"{R}/models/init/{init}/model.keras"


def all_targets():
    return [store_path(d) for d in config["datasets"]] + [
        init_model_path(i) for i in LUCID_INITS
    ]
