"""The architectures a study can analyse, as data: InceptionV1 (Lucid's), ResNet-50 and VGG16 (Keras applications').

An architecture names its analysis layers in network order (what CKA, top-k and the figures walk), the
convolutions l2 compares (and the Keras layer holding each kernel), each tensor's width, the weight layers each
analysis layer is made of (what ``frozen`` and ``reinit`` ranges name), its classifier head, its input convention
and where its ImageNet weights come from. Each table is literal, in the architecture's module (:mod:`.layers`,
:mod:`.resnet50`, :mod:`.vgg16`), and a test checks it against the built model. Adding one is a module with its
table and builder and an entry in :data:`ARCHITECTURES` (README, "Where things live").
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from artfinetune.errors import UserError
from artfinetune.model import layers, resnet50, vgg16


@dataclass(frozen=True)
class Architecture:
    name: str
    study_layers: tuple[str, ...]  # analysis layers, shallow to deep
    trunk_convs: tuple[str, ...]  # convolutions compared by l2 (biases and heads left out)
    widths: dict[str, int] = field(repr=False)  # channels of every analysable tensor
    members: dict[str, tuple[str, ...]] = field(repr=False)  # analysis layer -> the Keras weight layers it is made of
    builder: str = ""  # "module:function" building the Keras model (imported on use: no TensorFlow here)
    conv_layer: str = "{}"  # the Keras layer holding a trunk convolution's kernel
    head: str = "softmax2"  # the classifier: a dense layer <head>_pre_activation, then softmax or sigmoid <head>
    input_convention: str = ""  # what the model's first layer does to RGB in [0, 255]
    init_kind: str = "lucid"  # the init kind that provides its ImageNet weights (lucid, or keras: resources/models)

    def convs_of(self, study_layers) -> list[str]:
        """The trunk convolutions (:attr:`trunk_convs`, network order) that make up the given analysis layers."""
        members = {m for layer in study_layers for m in self.members[layer]}
        return [conv for conv in self.trunk_convs if self.conv_layer.format(conv) in members]

    def build(self, *args, **kwargs):
        """The Keras model (``builder(*args, **kwargs)``)."""
        import importlib

        module, function = self.builder.split(":")
        build: Callable = getattr(importlib.import_module(module), function)
        return build(*args, **kwargs)


INCEPTION_V1 = Architecture(
    name="inception_v1",
    study_layers=layers.STUDY_LAYERS,
    trunk_convs=layers.TRUNK_CONVS,
    widths=layers.WIDTHS,
    members=layers.MEMBERS,
    builder="artfinetune.model.inception:build_inception_v1",
    conv_layer="{}_pre_relu",
    head="softmax2",
    input_convention="minus 117 on every channel (Lucid's [-117, 138] range)",
    init_kind="lucid",
)


def _keras_application(module) -> Architecture:
    """A Keras application's entry, from its module's table (``resnet50``, ``vgg16``); its ImageNet weights are the
    applications' notop file (``resources/models/<name>.yaml``)."""
    name = module.__name__.rpartition(".")[2]
    return Architecture(
        name=name,
        study_layers=module.STUDY_LAYERS,
        trunk_convs=module.TRUNK_CONVS,
        widths=module.WIDTHS,
        members=module.MEMBERS,
        builder=f"{module.__name__}:build_{name}",
        head=module.HEAD,
        input_convention="caffe: BGR, minus the ImageNet mean of each channel",
        init_kind="keras",
    )


RESNET50 = _keras_application(resnet50)
VGG16 = _keras_application(vgg16)
ARCHITECTURES = {arch.name: arch for arch in (INCEPTION_V1, RESNET50, VGG16)}
DEFAULT = INCEPTION_V1.name


def architecture(name: str = DEFAULT) -> Architecture:
    """The registered architecture ``name``; an unknown name is an error listing the known ones."""
    if name not in ARCHITECTURES:
        raise UserError(f"architecture {name!r} is not one of {', '.join(ARCHITECTURES)}; choose one of those")
    return ARCHITECTURES[name]


def architecture_of_model(model_name: str) -> Architecture:
    """The architecture a saved model was built as, from the name its builder gave it (``inception_v1``,
    ``resnet50``, ``vgg16``). Models saved before the registry named several architectures are InceptionV1s; any
    other name is an error (a model from elsewhere cannot be analysed by name)."""
    if model_name in ARCHITECTURES:
        return ARCHITECTURES[model_name]
    raise UserError(
        f"a model named {model_name!r} is none of the architectures {', '.join(ARCHITECTURES)}; models are built by "
        "the study (their names are those of their architecture)"
    )


def saved_model_name(path: str | Path) -> str:
    """The name a saved model was built with, read from its ``.keras`` file's config (no TensorFlow start-up)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))["config"]["name"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
        raise UserError(f"{path} is not a readable Keras model file ({err}); delete it and rebuild it") from None


def saved_model_architecture(path: str | Path) -> Architecture:
    """The registered architecture of a saved model (``.keras``), from the name its builder gave it."""
    return architecture_of_model(saved_model_name(path))


def tensor_architecture(name: str) -> Architecture:
    """The architecture a layer or tensor name belongs to (the registries' names are disjoint: a test checks it);
    an unknown name is an error listing the known ones."""
    from artfinetune.model.layers import check_layer

    check_layer(name)
    return next(arch for arch in ARCHITECTURES.values() if name in arch.widths)
