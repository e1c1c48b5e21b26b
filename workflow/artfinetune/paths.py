"""Where every artifact of a study lives, from its config: one place for the rules and the CLI."""

from __future__ import annotations

from artfinetune.config import RANDOM_INIT


def results(config: dict) -> str:
    return config["results"]


def store_path(config: dict, dataset: str) -> str:
    return f"{results(config)}/data/{dataset}/store.h5"


def init_dir(config: dict, init: str) -> str:
    """A named init's model (Lucid import or pretraining run)."""
    return f"{results(config)}/models/init/{init}"


def run_dir(config: dict, run: str, seed: int | str) -> str:
    """A run's outputs for one seed (also an ensemble's)."""
    return f"{results(config)}/models/{run}/{seed}"


def run_init_model(config: dict, run: str, seed: int | str) -> str | None:
    """The model a run starts from: an init's, another run's (same seed), or None for a random init."""
    init = config["runs"][run]["init"]
    if init == RANDOM_INIT:
        return None
    if init in config["init"]:
        return f"{init_dir(config, init)}/model.keras"
    return f"{run_dir(config, init, seed)}/model.keras"


def table_path(config: dict, table: str, ext: str = "csv") -> str:
    return f"{results(config)}/tables/{table}.{ext}"


def findings_path(config: dict, ext: str = "md") -> str:
    """The paper's claims judged on the study's outputs (findings.md; findings.csv beside it)."""
    return f"{results(config)}/findings.{ext}"


def model_file(config: dict, model: str) -> str:
    """The .keras file of a model name: an init, ``run/seed`` or ``run/seed/init`` (the run's starting weights)."""
    from artfinetune.config import parse_model

    parsed = parse_model(model, config)
    if "init" in parsed:
        return f"{init_dir(config, parsed['init'])}/model.keras"
    folder = run_dir(config, parsed["run"], parsed["seed"])
    return f"{folder}/init.keras" if parsed["initial"] else f"{folder}/model.keras"


def activations_path(config: dict, dataset: str, model: str, split: str) -> str:
    """Per-image, per-channel mean activations of ``model`` on a split of ``dataset``."""
    return f"{results(config)}/activations/{dataset}/{model}/{split}.h5"


def topk_path(config: dict, dataset: str, model: str) -> str:
    """A model's top-k images per channel on the train split of ``dataset``."""
    return f"{results(config)}/topk/{dataset}/{model}/topk.h5"


def composition_path(config: dict, dataset: str, model: str) -> str:
    """The three most frequent classes of each of a model's top-k sets."""
    return f"{results(config)}/topk/{dataset}/{model}/composition.csv"


def pair_dir(config: dict, pair) -> str:
    """The metrics of a model pair (cka.csv, l2.csv, overlap.csv)."""
    from artfinetune.config import pair_dataset, pair_id

    return f"{results(config)}/comparisons/{pair_dataset(config, pair)}/{pair_id(pair)}"


def figure_path(config: dict, figure: str, ext: str = "png") -> str:
    return f"{results(config)}/figures/{figure}.{ext}"


def render_dir(config: dict, model: str) -> str:
    """A model's renders of the config's named channels (galleries and panels)."""
    return f"{results(config)}/renders/{model}/named"


def changed_render_dir(config: dict, model: str, pair) -> str:
    """A model's renders of the channels chosen for a gallery pair (most and least changed per layer)."""
    from artfinetune.config import pair_id

    return f"{results(config)}/renders/{model}/changed/{pair_id(pair)}"


def mosaic_dir(config: dict, pair) -> str:
    """The top-k mosaics of a pair's channels, both models (a_*.png, b_*.png, with JSON beside)."""
    return f"{pair_dir(config, pair)}/mosaics"


def software_path(config: dict) -> str:
    """The software record the report shows: the versions the study's numbers were computed with."""
    return f"{results(config)}/software.txt"


def gallery_path(config: dict, pair) -> str:
    """A pair's gallery: a folder with index.html and a copy of the images it shows."""
    from artfinetune.config import pair_id

    return f"{results(config)}/galleries/{pair_id(pair)}"


def channel_file(spec: str, prefix: str = "") -> str:
    """The file name of a channel's render or mosaic: ``mixed4d_3x3_pre_relu:52`` -> ``mixed4d_3x3_pre_relu_52.png``."""
    return f"{prefix}{spec.replace(':', '_')}.png"
