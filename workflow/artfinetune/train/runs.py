"""The train job: one run with one seed, named in a study config or given in full, on a device of its own."""

from __future__ import annotations

from pathlib import Path

from artfinetune.errors import UserError


def resolve_run(config: dict, run: str, seed: int, origin: str = "the config") -> dict:
    """A config's run as :func:`artfinetune.train.loop.train_run` takes it: mode, store, output folder, init model,
    image size, precision and determinism, every path from :mod:`artfinetune.study.paths`."""
    from artfinetune.study import paths

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
    }


def train_job(
    seed: int,
    *,
    config: dict | None = None,
    run: str = "",
    origin: str = "the config",
    mode: dict | None = None,
    store=None,
    out_dir=None,
    init_model=None,
    image_size: int | None = None,
    mixed_precision: bool = False,
    deterministic: bool = True,
    max_epochs: int | None = None,
    threads: int = 0,
) -> tuple[Path, dict]:
    """Train ``run`` of a study ``config``, or the run given in full (``mode``, ``store``, ``out_dir``,
    ``image_size``, optional ``init_model``), after claiming a device and setting the threads.

    Returns the output folder and the test evaluation ({} when ``max_epochs`` stopped it early).
    """
    if config is not None:
        job = resolve_run(config, run, seed, origin)
    else:
        if not (mode and store and out_dir and image_size):
            raise UserError("give a study config and a run, or all of the mode, store, output folder and image size")
        job = {
            "mode": mode,
            "store": store,
            "out_dir": out_dir,
            "init_model": init_model or None,
            "image_size": image_size,
            "mixed_precision": mixed_precision,
            "deterministic": deterministic,
        }
    from artfinetune.gpu import start_tensorflow_job

    start_tensorflow_job(threads)  # before TensorFlow starts
    from artfinetune.train.loop import train_run

    result = train_run(
        job["store"],
        job["out_dir"],
        job["mode"],
        seed,
        job["image_size"],
        init_model=job["init_model"],
        mixed_precision=job["mixed_precision"],
        max_epochs=max_epochs,
        deterministic=job["deterministic"],
    )
    return Path(job["out_dir"]), result
