"""The starting point of a run: its model built from the init, and which layers train at which rate.

- Every layer is first initialised at random from the run's seed.
- The init (ImageNet, a pretrained demo model, or another run's model) then
  provides every trunk and auxiliary-head layer it has, except the classifiers
  (InceptionV1's ``softmax0/1/2``, the other architectures' ``predictions``), which
  are always new, and the mode's ``reinit`` layers, which keep their random weights.
- ``frozen`` layers (and, off the shelf, the whole trunk) are not trained.
- ``lr_head`` applies to the layers the init did not provide (the new classifier,
  the auxiliary classifiers, and for a random init every layer); ``lr_transferred``
  to the transferred and re-initialised layers.

The architecture is the init's (a saved model's name says which it is), or the run's own from a random init;
``frozen`` and ``reinit`` name that architecture's analysis layers (:mod:`artfinetune.model.architectures`).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from artfinetune.errors import UserError
from artfinetune.model.architectures import Architecture, architecture, architecture_of_model
from artfinetune.model.inception import build_inception_v1, lrn_attributes, transfer_weights, weight_layers
from artfinetune.model.layers import expand_layers, mode_frozen_layers

CLASSIFIERS = ("softmax0_pre_activation", "softmax1_pre_activation", "softmax2_pre_activation")


def classifiers(arch: Architecture) -> tuple[str, ...]:
    """The dense layers a run never takes from its init: every head's classifier."""
    return CLASSIFIERS if arch.name == "inception_v1" else (f"{arch.head}_pre_activation",)


def block_layers(model: keras.Model, study_layers: list[str], arch: Architecture | None = None) -> list[str]:
    """Keras weight layers making up the given study layers (``mixed4a`` -> its six convolutions), in the model's
    order (``arch``: the model's architecture, by default the one its name says)."""
    arch = arch or architecture_of_model(model.name)
    wanted = {member for layer in study_layers for member in arch.members[layer]}
    return [layer.name for layer in weight_layers(model) if layer.name in wanted]


@dataclass
class RunModel:
    model: keras.Model
    transferred: list[str]  # weight layers copied from the init
    reinit: list[str]  # weight layers re-initialised at random
    frozen: list[str]  # weight layers not trained
    head: list[str]  # trained at lr_head
    body: list[str]  # trained at lr_transferred

    def variables(self, names: list[str]):
        return [v for n in names for v in self.model.get_layer(n).trainable_weights]


def build_run_model(
    mode: dict,
    num_classes: int,
    task: str,
    image_size: int,
    seed: int,
    init: keras.Model | None,
    arch_name: str = "inception_v1",
) -> RunModel:
    """Build a run's initial model (seeded) and its layer groups; see the module docstring. ``arch_name`` is the
    architecture of a run from a random init (``init`` None); from an init, the init's."""
    arch = architecture(arch_name) if init is None else architecture_of_model(init.name)
    keras.utils.set_random_seed(seed)
    off_the_shelf = mode.get("kind", "fine_tune") == "off_the_shelf"
    deep = bool(mode.get("deep_supervision")) and not off_the_shelf
    if arch.name == "inception_v1":
        lrn = lrn_attributes(init) if init is not None else None
        model = build_inception_v1(num_classes, task, input_size=image_size, aux_heads=deep, lrn=lrn)
    else:
        if deep:
            raise UserError(
                f"deep supervision trains InceptionV1's two auxiliary heads; {arch.name} has none: use a mode with "
                "deep_supervision: false for its runs"
            )
        model = arch.build(num_classes, task, input_size=image_size)
    reinit = block_layers(model, expand_layers(mode.get("reinit", []), arch.study_layers), arch)
    transferred = []
    if init is not None:
        new = set(classifiers(arch)) | set(reinit)
        keep = [layer.name for layer in weight_layers(model) if layer.name not in new]
        transferred = transfer_weights(init, model, names=keep)
    frozen = block_layers(model, mode_frozen_layers(mode, arch.study_layers), arch)
    for name in frozen:
        model.get_layer(name).trainable = False
    trained = [layer.name for layer in weight_layers(model) if layer.name not in frozen]
    head = [n for n in trained if n not in transferred and n not in reinit]
    body = [n for n in trained if n in transferred or n in reinit]
    return RunModel(model, transferred, reinit, frozen, head, body)
