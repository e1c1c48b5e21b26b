"""The train job: one run with one seed, named in a study config or given in full, on a device of its own."""

from __future__ import annotations

from pathlib import Path

from artfinetune.errors import UserError


def resolve_run(config: dict, run: str, seed: int, origin: str = "the config") -> dict:
    """A config's run as :func:`artfinetune.train.loop.train_run` takes it: mode, store, output folder, init model,
    image size, precision, determinism, reader workers and architecture, every path from
    :mod:`artfinetune.study.paths`."""
    from artfinetune.study import paths
    from artfinetune.study.names import run_architecture

    if run not in config["runs"]:
        raise UserError(f"run {run!r} is not in {origin}; choose from {list(config['runs'])}")
    spec = config["runs"][run]
    return {
        "mode": config["modes"][spec["mode"]],
        "store": paths.store_path(config, spec["dataset"]),
        "out_dir": paths.run_dir(config, run, seed),
        "init_model": paths.run_init_model(config, run, seed),
        "image_size": config["image_size"],
        "mixed_precision": config["mixed_precision"],
        "deterministic": config["deterministic"],
        "reader_workers": config["reader_workers"],
        "architecture": run_architecture(config, run),
    }


def train_job(seed: int, job: dict, max_epochs: int | None = None, threads: int = 0) -> tuple[Path, dict]:
    """Train one run after claiming a device and setting the threads. ``job`` holds
    :func:`artfinetune.train.loop.train_run`'s arguments but the seed (``store``, ``out_dir``, ``mode``,
    ``image_size``, ``init_model``, ``mixed_precision``, ``deterministic``, optionally ``reader_workers``):
    :func:`resolve_run`'s for a config's run, or given in full.

    Returns the output folder and the test evaluation ({} when ``max_epochs`` stopped it early).
    """
    from artfinetune.gpu import start_tensorflow_job

    start_tensorflow_job(threads)  # before TensorFlow starts
    from artfinetune.train.loop import train_run

    return Path(job["out_dir"]), train_run(seed=seed, max_epochs=max_epochs, **job)
