"""Where every artifact of a study lives: one pattern per kind of output, used by the rules and the code alike.

A pattern is relative to the config's ``results`` folder and names its wildcards as Snakemake does
(``models/{run}/{seed}``). The rules take their output patterns from :func:`pattern` (wildcards left open); the
code fills every field through the functions below, so a path is spelled once.
"""

from __future__ import annotations

import string

from artfinetune.study.names import PAIR_METRICS, RANDOM_INIT, pair_dataset, pair_id, parse_model

PATTERNS = {
    "dataset": "data/{dataset}",  # a dataset's files; the image root of a demo's or a download's source table
    "source_table": "data/{dataset}/source.csv",  # the images of a dataset: the workflow's (demo, download)
    "demo_images": "data/{dataset}/images",
    "store": "data/{dataset}/store.h5",
    "manifest": "data/{dataset}/manifest.csv",
    "init": "models/init/{init}",  # a named init's model (Lucid import or pretraining run)
    "model": "models/{model}",  # any model's folder: model.keras (an init's, a run's) and its exported graph
    "run": "models/{run}/{seed}",  # a run's (or an ensemble's) outputs for one seed
    "activations": "activations/{dataset}/{model}/{split}.h5",
    "topk": "topk/{dataset}/{model}/topk.h5",
    "composition": "topk/{dataset}/{model}/composition.csv",
    "pair": "comparisons/{dataset}/{pair}",  # a model pair's metric tables and mosaics
    "pair_metric": "comparisons/{dataset}/{pair}/{metric}.csv",
    "mosaics": "comparisons/{dataset}/{pair}/mosaics",
    "render_change": "comparisons/{dataset}/{pair}/render_change.csv",  # a gallery pair's renders compared
    "renders": "renders/{model}/named",
    "changed_renders": "renders/{model}/changed/{pair}",
    "gallery": "galleries/{pair}",
    "table": "tables/{table}.{ext}",
    "figure": "figures/{figure}.{ext}",
    "software": "software.txt",
    "findings": "findings.{ext}",
}


def pattern(config: dict, kind: str, **fields) -> str:
    """The path pattern of ``kind`` under the study's results, ``fields`` filled, every other wildcard left open."""
    names = [name for _, name, _, _ in string.Formatter().parse(PATTERNS[kind]) if name]
    unknown = set(fields) - set(names)
    if unknown:
        raise KeyError(f"the {kind} pattern {PATTERNS[kind]!r} has no field {', '.join(sorted(unknown))}")
    values = {name: fields.get(name, f"{{{name}}}") for name in names}
    return f"{results(config)}/{PATTERNS[kind].format(**values)}"


def results(config: dict) -> str:
    return config["results"]


def store_path(config: dict, dataset: str) -> str:
    return pattern(config, "store", dataset=dataset)


def init_dir(config: dict, init: str) -> str:
    """A named init's model (Lucid import or pretraining run)."""
    return pattern(config, "init", init=init)


def run_dir(config: dict, run: str, seed: int | str) -> str:
    """A run's outputs for one seed (also an ensemble's)."""
    return pattern(config, "run", run=run, seed=seed)


def run_init_model(config: dict, run: str, seed: int | str) -> str | None:
    """The model a run starts from: an init's, another run's (same seed), or None for a random init."""
    init = config["runs"][run]["init"]
    if init == RANDOM_INIT:
        return None
    if init in config["init"]:
        return f"{init_dir(config, init)}/model.keras"
    return f"{run_dir(config, init, seed)}/model.keras"


def table_path(config: dict, table: str, ext: str = "csv") -> str:
    return pattern(config, "table", table=table, ext=ext)


def findings_path(config: dict, ext: str = "md") -> str:
    """The paper's claims judged on the study's outputs (findings.md; findings.csv beside it)."""
    return pattern(config, "findings", ext=ext)


def model_file(config: dict, model: str) -> str:
    """The .keras file of a model name: an init, ``run/seed`` or ``run/seed/init`` (the run's starting weights)."""
    parsed = parse_model(model, config)
    if "init" in parsed:
        return f"{init_dir(config, parsed['init'])}/model.keras"
    folder = run_dir(config, parsed["run"], parsed["seed"])
    return f"{folder}/init.keras" if parsed["initial"] else f"{folder}/model.keras"


def activations_path(config: dict, dataset: str, model: str, split: str) -> str:
    """Per-image, per-channel mean activations of ``model`` on a split of ``dataset``."""
    return pattern(config, "activations", dataset=dataset, model=model, split=split)


def topk_path(config: dict, dataset: str, model: str) -> str:
    """A model's top-k images per channel on the train split of ``dataset``."""
    return pattern(config, "topk", dataset=dataset, model=model)


def composition_path(config: dict, dataset: str, model: str) -> str:
    """The three most frequent classes of each of a model's top-k sets."""
    return pattern(config, "composition", dataset=dataset, model=model)


def pair_dir(config: dict, pair) -> str:
    """The metrics of a model pair (cka.csv, l2.csv, overlap.csv) and its mosaics."""
    return pattern(config, "pair", dataset=pair_dataset(config, pair), pair=pair_id(pair))


def pair_files(config: dict, pair) -> dict[str, str]:
    """The metric tables of a pair, by metric (:data:`artfinetune.study.names.PAIR_METRICS`)."""
    fields = {"dataset": pair_dataset(config, pair), "pair": pair_id(pair)}
    return {metric: pattern(config, "pair_metric", metric=metric, **fields) for metric in PAIR_METRICS}


def figure_path(config: dict, figure: str, ext: str = "png") -> str:
    return pattern(config, "figure", figure=figure, ext=ext)


def render_dir(config: dict, model: str) -> str:
    """A model's renders of the config's named channels (galleries and panels)."""
    return pattern(config, "renders", model=model)


def changed_render_dir(config: dict, model: str, pair) -> str:
    """A model's renders of the channels chosen for a gallery pair (most and least changed per layer)."""
    return pattern(config, "changed_renders", model=model, pair=pair_id(pair))


def render_change_path(config: dict, pair) -> str:
    """A gallery pair's channels with their overlap and render-change score (:mod:`artfinetune.render.change`)."""
    return pattern(config, "render_change", dataset=pair_dataset(config, pair), pair=pair_id(pair))


def mosaic_dir(config: dict, pair, dataset: str | None = None) -> str:
    """The top-k mosaics of a pair's channels, both models (a_*.png, b_*.png, with JSON beside), on the train split
    of ``dataset`` (default: the pair's own)."""
    return pattern(config, "mosaics", dataset=dataset or pair_dataset(config, pair), pair=pair_id(pair))


def software_path(config: dict) -> str:
    """The software record the report shows: the versions the study's numbers were computed with."""
    return pattern(config, "software")


def gallery_path(config: dict, pair) -> str:
    """A pair's gallery: a folder with index.html and a copy of the images it shows."""
    return pattern(config, "gallery", pair=pair_id(pair))


MOSAIC_IMAGES = "images"  # in a gallery pair's mosaics folder: each image shown, on its own (<store index>.jpg)


def channel_file(spec: str, prefix: str = "") -> str:
    """The file name of a channel's render or mosaic: ``mixed4d_3x3_pre_relu:52`` -> ``mixed4d_3x3_pre_relu_52.png``."""
    return f"{prefix}{spec.replace(':', '_')}.png"
