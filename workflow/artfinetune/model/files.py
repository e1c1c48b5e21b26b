"""Saving and loading models: Keras ``.keras`` files, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
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
    if not zipfile.is_zipfile(path):  # Keras reports any unreadable file as "File not found"
        raise UserError(f"{path} is not a Keras model file (.keras zip); delete it and rebuild it (snakemake {path})")
    from artfinetune.model import keras_apps  # noqa: F401 (registers CaffeInput, the first layer of ResNet-50 and VGG16)

    return keras.saving.load_model(path, compile=False)


def weights_sha256(model: keras.Model) -> str:
    """SHA-256 of a model's weights (layer names, shapes, dtypes and values) and, for an InceptionV1, its LRN
    attributes: the same for the same network however the file was written."""
    lrn = inception.lrn_attributes(model) if any(layer.name in inception.LRN_LAYERS for layer in model.layers) else {}
    digest = hashlib.sha256(json.dumps(lrn, sort_keys=True).encode())
    for layer in model.layers:
        for weight in layer.weights:
            value = weight.numpy()
            digest.update(f"{weight.path}:{value.shape}:{value.dtype}".encode())
            digest.update(value.tobytes())
    return digest.hexdigest()


def as_float32(model: keras.Model) -> keras.Model:
    """The same network computing in float32 throughout (a model saved under mixed precision keeps float16
    layers when loaded): rebuilt from its config with every layer's policy float32, weights copied."""

    def float32_policies(node):
        if isinstance(node, dict):
            if node.get("class_name") == "DTypePolicy" or node.get("class_name") == "FloatDTypePolicy":
                return {**node, "config": {**node.get("config", {}), "name": "float32"}}
            return {k: float32_policies(v) for k, v in node.items()}
        if isinstance(node, list):
            return [float32_policies(v) for v in node]
        return node

    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model
    clone = model.__class__.from_config(float32_policies(model.get_config()))
    clone.set_weights(model.get_weights())
    return clone


def save_random_model(
    out: str | Path, classes: int, task: str, input_size: int, aux_heads: bool = False, seed: int = 0
) -> Path:
    """A seeded, randomly initialised InceptionV1 with a ``classes`` head, saved to ``out`` (tests, baselines)."""
    from artfinetune.model.inception import build_inception_v1

    keras.utils.set_random_seed(seed)
    return save_model(build_inception_v1(classes, task, input_size=input_size, aux_heads=aux_heads), out)
