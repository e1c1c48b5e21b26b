"""VGG16 (Simonyan and Zisserman 2015) as Keras applications define it: its layer table and builder.

The table is literal, like InceptionV1's (:mod:`.layers`), and a test checks it against the built model. The
analysis layers are each block's convolutions and its pool (18 layers); l2 compares the 13 convolutions. A
convolution's output is after its ReLU (the applications fuse the two): VGG16 has no pre-ReLU tensor to read.

Input convention: RGB in [0, 255]; the first layer, :class:`~artfinetune.model.keras_apps.CaffeInput`, applies the
published weights' "caffe" preprocessing (BGR, minus the ImageNet mean of each channel). The head is global average
pooling and one dense layer (the applications' ``include_top`` head, two 4,096-unit dense layers on the flattened
7 x 7 map, fixes the input size at 224 px and holds 90 % of the weights; the study does not transfer it).
"""

from __future__ import annotations

# Blocks: name -> (convolutions, width); each ends with a 2 x 2 max pool.
BLOCKS = {"block1": (2, 64), "block2": (2, 128), "block3": (3, 256), "block4": (3, 512), "block5": (3, 512)}

TRUNK_CONVS = tuple(f"{block}_conv{i}" for block, (convs, _) in BLOCKS.items() for i in range(1, convs + 1))
STUDY_LAYERS = tuple(
    layer
    for block, (convs, _) in BLOCKS.items()
    for layer in (*(f"{block}_conv{i}" for i in range(1, convs + 1)), f"{block}_pool")
)
WIDTHS = {
    layer: width
    for block, (convs, width) in BLOCKS.items()
    for layer in (*(f"{block}_conv{i}" for i in range(1, convs + 1)), f"{block}_pool")
}
MEMBERS = {layer: (layer,) if layer in TRUNK_CONVS else () for layer in STUDY_LAYERS}

HEAD = "predictions"


def build_vgg16(num_classes: int = 1000, task: str = "single_label", input_size: int | None = 224, name: str = "vgg16"):
    """VGG16 with a ``num_classes`` head (softmax or sigmoid), its layers those of Keras applications."""
    import keras

    from artfinetune.model.keras_apps import build_application

    return build_application(keras.applications.VGG16, num_classes, task, input_size, name, HEAD)
