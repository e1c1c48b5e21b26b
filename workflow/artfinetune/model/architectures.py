"""The architectures a study can analyse, as data: the seam where a network other than InceptionV1 plugs in.

An architecture names its analysis layers in network order (what CKA, top-k and the figures walk), the
convolutions l2 compares, each tensor's width, and how to build it. Today there is one, Lucid's InceptionV1
(:mod:`.layers`, :mod:`.inception`); adding one is a module with its layer table and builder and an entry in
:data:`ARCHITECTURES` (README, "Where things live").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from artfinetune.errors import UserError
from artfinetune.model import layers


@dataclass(frozen=True)
class Architecture:
    name: str
    study_layers: tuple[str, ...]  # analysis layers, shallow to deep
    trunk_convs: tuple[str, ...]  # convolutions compared by l2 (biases and heads left out)
    widths: dict[str, int] = field(repr=False)  # channels of every analysable tensor (post-ReLU name)
    builder: str = ""  # "module:function" building the Keras model (imported on use: no TensorFlow here)

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
    builder="artfinetune.model.inception:build_inception_v1",
)
ARCHITECTURES = {INCEPTION_V1.name: INCEPTION_V1}
DEFAULT = INCEPTION_V1.name


def architecture(name: str = DEFAULT) -> Architecture:
    """The registered architecture ``name``; an unknown name is an error listing the known ones."""
    if name not in ARCHITECTURES:
        raise UserError(f"architecture {name!r} is not one of {', '.join(ARCHITECTURES)}; choose one of those")
    return ARCHITECTURES[name]
