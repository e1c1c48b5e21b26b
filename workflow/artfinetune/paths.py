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
