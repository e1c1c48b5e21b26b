"""The trunk's convolution kernels of a saved model, read straight from its ``.keras`` file (for l2 between models).

No TensorFlow start-up (most of an l2 job's time); a file whose layout is not the one this reader knows is loaded
with Keras instead, so the numbers never depend on the path taken.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import h5py
import numpy as np

log = logging.getLogger(__name__)


def trunk_kernels(model_path: str | Path) -> dict[str, np.ndarray]:
    """The kernels of the trunk's convolutions (its architecture's ``trunk_convs``; biases and heads left out), by
    convolution name.

    Read straight from the ``.keras`` file (no TensorFlow start-up, which is most of an l2 job's time); a file whose
    layout is not the one this reader knows is loaded with Keras instead, so the numbers never depend on the path.
    """
    kernels = kernels_from_file(model_path)
    if kernels is None:
        from artfinetune.model.architectures import saved_model_architecture
        from artfinetune.model.files import load_model

        arch = saved_model_architecture(model_path)
        log.info("%s: weights not laid out as expected, loading the model with Keras", model_path)
        model = load_model(model_path)
        return {conv: np.asarray(model.get_layer(arch.conv_layer.format(conv)).kernel) for conv in arch.trunk_convs}
    return kernels


def _snake_case(name: str) -> str:
    """Keras's name for an object of class ``name`` in a weights file (Conv2D -> conv2d, ReLU -> re_lu)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", re.sub(r"\W+", "", name))
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def kernels_from_file(model_path: str | Path) -> dict[str, np.ndarray] | None:
    """The trunk kernels from a Keras 3 ``.keras`` zip without Keras, or None if its layout is not the expected one.

    The weights file names a model's layers by class in the model's layer order (``conv2d``, ``conv2d_1``, ...);
    config.json gives that order and each layer's own name. Every kernel is checked against its layer's configured
    kernel size and filters, so a file that does not follow this layout falls back to Keras rather than mislabel.
    """
    import io
    import zipfile

    try:
        with zipfile.ZipFile(model_path) as archive:
            config = json.loads(archive.read("config.json"))
            weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    with weights:
        try:
            kernels = _conv_kernels(config, weights)
        except (KeyError, TypeError, AttributeError):  # a config or weights file of another shape
            return None
    if kernels is None:
        return None
    from artfinetune.model.architectures import architecture_of_model

    arch = architecture_of_model(config["config"]["name"])
    try:
        return {conv: kernels[arch.conv_layer.format(conv)] for conv in arch.trunk_convs}
    except KeyError:
        return None


def _conv_kernels(config: dict, weights) -> dict[str, np.ndarray] | None:
    """Every Conv2D kernel by layer name, or None at the first one that does not fit its layer's settings."""
    counts: dict[str, int] = {}
    kernels = {}
    for layer in config["config"]["layers"]:
        key = _snake_case(layer["class_name"])
        n = counts[key] = counts.get(key, -1) + 1
        if layer["class_name"] != "Conv2D":
            continue
        settings = layer["config"]
        kernel = np.asarray(weights["layers"][key if n == 0 else f"{key}_{n}"]["vars"]["0"])
        if kernel.shape[:2] != tuple(settings["kernel_size"]) or kernel.shape[-1] != settings["filters"]:
            return None
        kernels[settings["name"]] = kernel
    return kernels
