"""Saving and loading models: Keras ``.keras`` files, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import keras

from artfinetune.errors import UserError
from artfinetune.model import inception  # noqa: F401  (registers the custom layers for loading)


def save_model(model: keras.Model, path: str | Path) -> Path:
    """Save ``model`` to ``path`` (must end in .keras) via a temporary file renamed into place."""
    path = Path(path)
    if path.suffix != ".keras":
        raise UserError(f"model files end in .keras, not {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_model(path: str | Path) -> keras.Model:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist; build it first (snakemake {path})")
    return keras.saving.load_model(path, compile=False)
