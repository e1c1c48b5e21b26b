"""InceptionV1 in Keras 3, layer for layer as in Lucid's graph (``reference/inception_v1_lucid.md``).

Every convolution is a ``<name>_pre_relu`` Conv2D (the BiasAdd output Lucid names
``<name>_pre_relu``) followed by a ReLU layer ``<name>``; a mixed block is the
concatenation of its 1x1, 3x3, 5x5 and pool_reduce branches. All padding is
TensorFlow's SAME except the pools of the auxiliary heads.

Input convention: the model takes RGB in [0, 255] and its first layer,
:class:`LucidInput`, subtracts 117 from every channel, giving Lucid's
[-117, 138] range. That layer is the only place the convention is applied.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers as kl

from artfinetune.model.layers import BRANCHES, CONCAT_BRANCHES, MIXED, STEM

INPUT_OFFSET = 117.0
# LRN attributes used for models that are not imported (the importer reads the graph's own).
# These are the values a public port read from Lucid's graph; they only matter for random inits.
LRN_DEFAULTS = {"depth_radius": 4, "bias": 1.0, "alpha": 1e-4, "beta": 0.5}
MIN_INPUT = 64
HEAD_FROM = {"head0": "mixed4a", "head1": "mixed4d"}  # auxiliary head -> the block it reads
POOL_AFTER = {"mixed3b": "maxpool4", "mixed4e": "maxpool10"}
LRN_LAYERS = ("localresponsenorm0", "localresponsenorm1")
POOL_LAYERS = ("maxpool0", "maxpool1", *POOL_AFTER.values(), "avgpool0")


@keras.saving.register_keras_serializable(package="artfinetune")
class LucidInput(kl.Layer):
    """RGB in [0, 255] -> Lucid's input range [-117, 138] (the same offset on every channel)."""

    def call(self, x):
        return keras.ops.cast(x, "float32") - INPUT_OFFSET


@keras.saving.register_keras_serializable(package="artfinetune")
class LocalResponseNorm(kl.Layer):
    """TensorFlow's LRN op, with the attributes of the graph it was imported from."""

    def __init__(self, depth_radius=4, bias=1.0, alpha=1e-4, beta=0.5, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius, self.bias, self.alpha, self.beta = int(depth_radius), float(bias), float(alpha), float(beta)

    def call(self, x):
        return tf.nn.local_response_normalization(
            x, depth_radius=self.depth_radius, bias=self.bias, alpha=self.alpha, beta=self.beta
        )

    def get_config(self):
        return {**super().get_config(), **self.lrn}

    @property
    def lrn(self) -> dict:
        return {"depth_radius": self.depth_radius, "bias": self.bias, "alpha": self.alpha, "beta": self.beta}


@keras.saving.register_keras_serializable(package="artfinetune")
class HeadPool(kl.Layer):
    """Average pool of an auxiliary head down to 4x4.

    On a map of side H it pools with stride s = H // 4 and window H - 3s, VALID:
    at a 224 px input (H = 14) that is Lucid's 5x5 / 3 pool, and any input from
    64 px up still gives the 4x4 map the head's dense layer expects.
    """

    def call(self, x):
        side = x.shape[1]
        if side is None or side != x.shape[2]:
            raise ValueError(f"{self.name} needs a known square input, got {x.shape}")
        if side < 4:
            raise ValueError(
                f"{self.name}: feature map {side}x{side} is below 4x4; use inputs of {MIN_INPUT} px or more"
            )
        stride = side // 4
        return tf.nn.avg_pool2d(x, ksize=side - 3 * stride, strides=stride, padding="VALID")


def conv(x, name: str, filters: int, kernel: int, stride: int = 1):
    """Conv2D with bias (``<name>_pre_relu``) then ReLU (``<name>``), as Lucid's three nodes."""
    x = kl.Conv2D(filters, kernel, strides=stride, padding="same", name=f"{name}_pre_relu")(x)
    return kl.ReLU(name=name)(x)


def mixed(x, block: str):
    widths = dict(zip(BRANCHES, MIXED[block], strict=True))
    b1 = conv(x, f"{block}_1x1", widths["1x1"], 1)
    b3 = conv(x, f"{block}_3x3_bottleneck", widths["3x3_bottleneck"], 1)
    b3 = conv(b3, f"{block}_3x3", widths["3x3"], 3)
    b5 = conv(x, f"{block}_5x5_bottleneck", widths["5x5_bottleneck"], 1)
    b5 = conv(b5, f"{block}_5x5", widths["5x5"], 5)
    bp = kl.MaxPooling2D(3, strides=1, padding="same", name=f"{block}_pool")(x)
    bp = conv(bp, f"{block}_pool_reduce", widths["pool_reduce"], 1)
    branches = {"1x1": b1, "3x3": b3, "5x5": b5, "pool_reduce": bp}
    return kl.Concatenate(axis=-1, name=block)([branches[b] for b in CONCAT_BRANCHES])


def classifier(x, name: str, num_classes: int, task: str):
    """Dense logits (``<name>_pre_activation``) then softmax or sigmoid (``<name>``)."""
    # float32 even under mixed precision (Keras' guide): logits and probabilities keep their range and precision
    logits = kl.Dense(num_classes, name=f"{name}_pre_activation", dtype="float32")(x)
    return kl.Activation("softmax" if task == "single_label" else "sigmoid", name=name, dtype="float32")(logits)


def aux_head(x, head: str, num_classes: int, task: str):
    index = head[-1]
    x = HeadPool(name=f"{head}_pool")(x)
    x = conv(x, f"{head}_bottleneck", 128, 1)
    x = kl.Flatten(name=f"{head}_flatten")(x)
    x = kl.ReLU(name=f"nn{index}")(kl.Dense(1024, name=f"nn{index}_pre_relu")(x))
    return classifier(x, f"softmax{index}", num_classes, task)


def build_inception_v1(
    num_classes: int = 1008,
    task: str = "single_label",
    input_size: int | None = 224,
    aux_heads: bool = False,
    lrn: dict | None = None,
    name: str = "inception_v1",
) -> keras.Model:
    """InceptionV1 with a ``num_classes`` head (softmax or sigmoid).

    With ``aux_heads`` the model returns ``{"softmax2": main, "softmax0": head0,
    "softmax1": head1}``; otherwise the main head's output. ``input_size`` may be
    None (any size) only without auxiliary heads, whose dense layers need it.
    ``lrn`` maps ``localresponsenorm0`` / ``localresponsenorm1`` to LRN attributes
    (default :data:`LRN_DEFAULTS`).
    """
    if task not in ("single_label", "multi_label"):
        raise ValueError(f"task must be single_label or multi_label, not {task!r}")
    if input_size is not None and input_size < MIN_INPUT:
        raise ValueError(f"input_size {input_size} is below the {MIN_INPUT} px InceptionV1 accepts")
    if aux_heads and input_size is None:
        raise ValueError("auxiliary heads need a fixed input_size")
    lrn = {name: {**LRN_DEFAULTS, **(lrn or {}).get(name, {})} for name in LRN_LAYERS}
    inputs = keras.Input((input_size, input_size, 3), name="input")
    x = LucidInput(name="lucid_input")(inputs)
    for layer, (kernel, stride, filters) in STEM.items():
        x = conv(x, layer, filters, kernel, stride)
        if layer == "conv2d0":
            x = kl.MaxPooling2D(3, strides=2, padding="same", name="maxpool0")(x)
            # float32 even under mixed precision: the sum of squares overflows float16 at Lucid's input range
            x = LocalResponseNorm(**lrn["localresponsenorm0"], name="localresponsenorm0", dtype="float32")(x)
    x = LocalResponseNorm(**lrn["localresponsenorm1"], name="localresponsenorm1", dtype="float32")(x)
    x = kl.MaxPooling2D(3, strides=2, padding="same", name="maxpool1")(x)
    aux = {}
    for block in MIXED:
        x = mixed(x, block)
        for head, source in HEAD_FROM.items():
            if aux_heads and block == source:
                aux[f"softmax{head[-1]}"] = aux_head(x, head, num_classes, task)
        if block in POOL_AFTER:
            x = kl.MaxPooling2D(3, strides=2, padding="same", name=POOL_AFTER[block])(x)
    x = kl.GlobalAveragePooling2D(name="avgpool0")(x)
    main = classifier(x, "softmax2", num_classes, task)
    outputs = {"softmax2": main, **aux} if aux_heads else main
    return keras.Model(inputs, outputs, name=name)


def weight_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers of ``model`` that hold weights (convolutions and dense layers)."""
    return [layer for layer in model.layers if layer.weights]


def transfer_weights(source: keras.Model, target: keras.Model, names=None) -> list[str]:
    """Copy weights layer by layer (same name and shapes); returns the names copied.

    Layers whose shapes differ (a head with another number of classes) or that the
    source lacks (auxiliary heads) keep the target's initialisation.
    """
    copied = []
    for layer in weight_layers(target):
        if names is not None and layer.name not in names:
            continue
        try:
            src = source.get_layer(layer.name)
        except ValueError:
            continue
        values = src.get_weights()
        if [v.shape for v in values] == [w.shape for w in layer.get_weights()]:
            layer.set_weights(values)
            copied.append(layer.name)
    return copied


def lrn_attributes(model: keras.Model) -> dict:
    return {name: model.get_layer(name).lrn for name in LRN_LAYERS}
