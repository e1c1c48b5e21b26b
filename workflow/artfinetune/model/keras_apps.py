"""What the Keras-applications architectures (ResNet-50, VGG16) share: their input layer, and their published
ImageNet weights (checked, then loaded).

The weights are the applications' own files (``*_weights_tf_dim_ordering_tf_kernels_notop.h5``: Keras 2's HDF5
layout, one group per layer under the root's ``layer_names``), fetched by the project's downloader from the mirrors
in ``resources/models/<architecture>.yaml`` (:func:`artfinetune.model.keras_weights.weights_mirrors`). A file is
accepted only if it holds every trunk layer of the architecture with the shapes of the built model
(:func:`check_weights_file`), whichever mirror it came from or if it was placed by hand.
"""

from __future__ import annotations

from pathlib import Path

import keras

from artfinetune.errors import UserError
from artfinetune.model.architectures import architecture as get_architecture
from artfinetune.model.inception import classifier, weight_layers
from artfinetune.model.keras_weights import CONFIG_ORIGIN, weights_mirrors

IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)  # what the applications' "caffe" preprocessing subtracts


@keras.saving.register_keras_serializable(package="artfinetune")
class CaffeInput(keras.layers.Layer):
    """RGB in [0, 255] -> the "caffe" convention of the applications' ImageNet weights: BGR, minus the mean of each
    channel (``mean_bgr``)."""

    def __init__(self, mean_bgr=IMAGENET_MEAN_BGR, **kwargs):
        super().__init__(**kwargs)
        self.mean_bgr = tuple(float(m) for m in mean_bgr)

    def call(self, x):
        x = keras.ops.cast(x, "float32")
        return keras.ops.flip(x, axis=-1) - keras.ops.convert_to_tensor(self.mean_bgr, dtype="float32")

    def get_config(self):
        return {**super().get_config(), "mean_bgr": list(self.mean_bgr)}


def build_application(
    application, num_classes: int, task: str, input_size: int | None, name: str, head: str
) -> keras.Model:
    """A Keras application's trunk (``keras.applications.ResNet50``, ``VGG16``) between :class:`CaffeInput` and the
    study's head (global average pooling, then a ``num_classes`` dense layer ``<head>_pre_activation`` and softmax or
    sigmoid ``<head>``), as one flat model named ``name``: its layers keep the applications' names."""
    inputs = keras.Input((input_size, input_size, 3), name="input")
    x = CaffeInput(name="caffe_input")(inputs)
    base = application(include_top=False, weights=None, input_tensor=x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(base.output)
    return keras.Model(inputs, classifier(x, head, num_classes, task), name=name)


def _file_layers(path: Path) -> dict[str, list[tuple[int, ...]]]:
    """Each layer of a Keras 2 weights file -> the shapes of its weights, in order."""
    import h5py

    def names(group, key) -> list[str]:
        return [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get(key, [])]

    try:
        with h5py.File(path, "r") as f:
            group = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
            return {layer: [tuple(group[layer][w].shape) for w in names(group[layer], "weight_names")]
                    for layer in names(group, "layer_names")}  # fmt: skip
    except (OSError, KeyError) as err:
        raise UserError(f"{path} is not a Keras weights file (HDF5 with layer_names): {err}") from None


def trunk_layers(model: keras.Model, head: str) -> list[keras.layers.Layer]:
    """The layers of ``model`` that hold weights, except its classifier ``head`` (``<head>_pre_activation``)."""
    return [layer for layer in weight_layers(model) if not layer.name.startswith(head)]


def check_weights_file(path: str | Path, model: keras.Model, head: str) -> None:
    """Raise a UserError naming what is missing or misshapen unless the file at ``path`` holds every trunk layer of
    ``model`` with the model's shapes (the structural check of a downloaded or hand-placed weights file)."""
    path = Path(path)
    stored = _file_layers(path)
    missing, wrong = [], []
    for layer in trunk_layers(model, head):
        shapes = [tuple(w.shape) for w in layer.weights]
        if layer.name not in stored:
            missing.append(layer.name)
        elif stored[layer.name] != shapes:
            wrong.append(f"{layer.name} {stored[layer.name]} instead of {shapes}")
    if missing or wrong:
        parts = []
        if missing:
            parts.append(
                f"{len(missing)} layers missing ({', '.join(missing[:4])}{', ...' if len(missing) > 4 else ''})"
            )
        if wrong:
            parts.append(f"shapes differ: {'; '.join(wrong[:3])}{'; ...' if len(wrong) > 3 else ''}")
        raise UserError(f"{path} does not hold the weights of {model.name}: {'; '.join(parts)}")


def load_weights_file(model: keras.Model, path: str | Path, head: str) -> keras.Model:
    """Load a checked weights file into every trunk layer of ``model`` (its head keeps its initialisation)."""
    check_weights_file(path, model, head)
    model.load_weights(str(path), by_name=True)
    return model


def fetch_keras_weights(architecture: str, urls: list[str], sha256: str | None, out: str | Path) -> str:
    """The download_keras_weights rule: the first mirror's file that holds the architecture's trunk, saved as
    ``out``, its sha256 recorded beside it at the first download and checked on every later use."""
    from artfinetune.data.download import fetch

    arch = get_architecture(architecture)
    model = arch.build(1000, "single_label", input_size=None)
    out = Path(out)
    return fetch(
        weights_mirrors(architecture, urls),
        sha256,
        out.parent,
        fname=out.name,
        spec_name=CONFIG_ORIGIN,
        accept=lambda path: check_weights_file(path, model, arch.head),
        mirror_key="init.<name>.mirrors in the config",
    )


def import_keras_weights(
    architecture: str, weights: str | Path, out: str | Path, input_size: int = 224, seed: int = 0
) -> Path:
    """The import_keras rule: the architecture built with its ImageNet trunk from ``weights`` and saved as ``out``
    (``model.keras``). The published files hold no classifier: the 1,000-class head keeps a seeded random
    initialisation, never used (a run always trains a new head)."""
    from artfinetune.model.files import save_model

    arch = get_architecture(architecture)
    keras.utils.set_random_seed(seed)
    model = load_weights_file(arch.build(1000, "single_label", input_size=input_size), weights, arch.head)
    return save_model(model, out)
