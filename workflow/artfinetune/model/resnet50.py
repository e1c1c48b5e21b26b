"""ResNet-50 (He et al. 2016) as Keras applications define it: its layer table and builder.

The table is literal, like InceptionV1's (:mod:`.layers`), and a test checks it against the built model. The
analysis layers are the stem's output (``conv1_relu``) and each of the 16 residual blocks' outputs
(``conv2_block1_out`` ... ``conv5_block3_out``, after the addition and its ReLU); l2 compares the 53 convolutions
(the stem's, three per block and the four projection shortcuts). A block's weights (its convolutions and batch
normalisations) are what ``frozen`` and ``reinit`` name by the block's output layer.

Input convention: the model takes RGB in [0, 255]; its first layer, :class:`CaffeInput`, turns it into what the
published ImageNet weights expect ("caffe" preprocessing: BGR, minus the ImageNet mean of each channel). The head is
global average pooling and one dense layer, as the applications' own ``include_top`` ResNet-50.
"""

from __future__ import annotations

# Stages: name -> (blocks, bottleneck width, output width, stride of the first block).
STAGES = {
    "conv2": (3, 64, 256, 1),
    "conv3": (4, 128, 512, 2),
    "conv4": (6, 256, 1024, 2),
    "conv5": (3, 512, 2048, 2),
}
STEM_WIDTH = 64

BLOCKS = tuple(f"{stage}_block{b}" for stage, (blocks, *_) in STAGES.items() for b in range(1, blocks + 1))
STUDY_LAYERS = ("conv1_relu", *(f"{block}_out" for block in BLOCKS))


def _block_convs(block: str) -> tuple[str, ...]:
    projection = ("_0_conv",) if block.endswith("_block1") else ()  # the first block of a stage projects its input
    return tuple(f"{block}{suffix}" for suffix in (*projection, "_1_conv", "_2_conv", "_3_conv"))


TRUNK_CONVS = ("conv1_conv", *(conv for block in BLOCKS for conv in _block_convs(block)))


def _build_widths() -> dict[str, int]:
    widths = {f"conv1_{s}": STEM_WIDTH for s in ("conv", "bn", "relu")} | {"pool1_pool": STEM_WIDTH}
    for stage, (blocks, inner, out, _) in STAGES.items():
        for b in range(1, blocks + 1):
            block = f"{stage}_block{b}"
            if b == 1:
                widths |= {f"{block}_0_conv": out, f"{block}_0_bn": out}
            for part in ("1", "2"):
                widths |= {f"{block}_{part}_{s}": inner for s in ("conv", "bn", "relu")}
            widths |= {f"{block}_3_conv": out, f"{block}_3_bn": out, f"{block}_add": out, f"{block}_out": out}
    return widths


# Every addressable tensor -> channels.
WIDTHS = _build_widths()

# Each analysis layer's weight layers: the stem's convolution and normalisation, a block's convolutions and theirs.
MEMBERS = {"conv1_relu": ("conv1_conv", "conv1_bn")} | {
    f"{block}_out": tuple(n for conv in _block_convs(block) for n in (conv, conv.removesuffix("_conv") + "_bn"))
    for block in BLOCKS
}

HEAD = "predictions"


def build_resnet50(
    num_classes: int = 1000, task: str = "single_label", input_size: int | None = 224, name: str = "resnet50"
):
    """ResNet-50 with a ``num_classes`` head (softmax or sigmoid), its layers those of Keras applications."""
    import keras

    from artfinetune.model.keras_apps import build_application

    return build_application(keras.applications.ResNet50, num_classes, task, input_size, name, HEAD)
