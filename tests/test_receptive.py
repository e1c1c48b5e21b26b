"""Receptive fields: the stems by hand, deep layers' against the footprint of one unit's gradient on the input, for each
architecture."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from artfinetune.model.inception import build_inception_v1
from artfinetune.model.layers import BRANCHES, CONCAT_BRANCHES, MIXED
from artfinetune.model.receptive import Field, channel_field, field_table, receptive_fields

SIZE = 224


def test_conv2d0_by_hand():
    # 7x7 stride 2, SAME on 224 px: 112 outputs, (112 - 1) * 2 + 7 - 224 = 5 pixels of padding, 2 of them before
    field = receptive_fields(SIZE)["conv2d0"]
    assert (field.size, field.stride, field.offset, field.side) == (7, 2, -2, 112)
    assert field.box(0, 0) == (-2, -2, 5, 5) and field.box(0, 0, SIZE) == (0, 0, 5, 5)
    assert field.box(111, 111) == (220, 220, 227, 227) and field.box(111, 111, SIZE) == (220, 220, 224, 224)
    # then max-pool 3/2: SAME on 112 pads (56 - 1) * 2 + 3 - 112 = 1 pixel, none before, so the offset stays -2 and
    # the side grows by (3 - 1) * 2 = 4 to 11, units 2 * 2 = 4 px apart; conv2d1 (1x1) adds nothing
    conv2d1 = receptive_fields(SIZE)["conv2d1"]
    assert (conv2d1.size, conv2d1.stride, conv2d1.offset, conv2d1.side) == (11, 4, -2, 56)


def test_a_blocks_channel_has_its_branchs_field():
    fields = receptive_fields(SIZE)
    widths = dict(zip(BRANCHES, MIXED["mixed4d"], strict=True))
    first = {}
    start = 0
    for b in CONCAT_BRANCHES:
        first[b] = start
        start += widths[b]
    for b in CONCAT_BRANCHES:
        assert channel_field("mixed4d", first[b], SIZE) == fields[f"mixed4d_{b}"]
    assert channel_field("mixed4d", 0, SIZE).size < channel_field("mixed4d", first["5x5"], SIZE).size
    with pytest.raises(ValueError, match="channel 528 is out of range for mixed4d"):
        channel_field("mixed4d", 528, SIZE)
    assert [row["tensor"] for row in field_table(SIZE)][:4] == ["conv2d0", "conv2d1", "conv2d2", "mixed3a"]


def gradient_footprint(model, tensor: str, y: int, x: int, inputs: int = 6) -> tuple[int, int, int, int]:
    """The bounding box (top, left, bottom, right; exclusive) of the input pixels on which the gradient of unit
    (y, x) of ``tensor`` (summed over its channels) is non-zero, over several random inputs: a max-pool passes
    the gradient to one pixel of its window and a ReLU to its live units only, so one input shows only part of the
    field; the union of a few shows all of it."""
    probe = keras.Model(model.input, model.get_layer(tensor).output)
    rng = np.random.default_rng(0)
    support = np.zeros((SIZE, SIZE), bool)
    for _ in range(inputs):
        image = tf.constant(rng.uniform(0, 255, (1, SIZE, SIZE, 3)).astype(np.float32))
        with tf.GradientTape() as tape:
            tape.watch(image)
            unit = tf.reduce_sum(probe(image)[0, y, x, :])
        support |= np.abs(tape.gradient(unit, image).numpy()[0]).sum(-1) > 0
    rows, cols = np.nonzero(support)
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return build_inception_v1(10, input_size=SIZE)


@pytest.mark.parametrize(
    ("tensor", "unit"),
    [
        ("conv2d2_pre_relu", (20, 30)),  # inside the image
        ("mixed3a_5x5_pre_relu", (0, 27)),  # a corner: the field is cut by the border
        ("mixed4a_3x3_pre_relu", (6, 7)),  # after three max-pools
        ("mixed4a_pool_reduce_pre_relu", (6, 7)),  # through the branch's own 3x3 max-pool
    ],
)
def test_a_deep_units_field_is_its_gradients_footprint(model, tensor, unit):
    field = receptive_fields(SIZE)[tensor]
    assert model.get_layer(tensor).output.shape[1] == field.side
    assert gradient_footprint(model, tensor, *unit) == field.box(*unit, SIZE)


def test_the_command_prints_the_readmes_table():
    import contextlib
    import io

    from artfinetune.cli import main

    from .conftest import REPO

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["receptive-fields"]) == 0
    assert "| conv2d0 | 112 | 2 | 7 | -2 |  |" in out.getvalue()
    assert out.getvalue() in (REPO / "README.md").read_text()  # the README shows the 224 px table as printed


def test_the_keras_applications_stems_by_hand():
    # ResNet-50: 3 px of zeros, then 7x7 stride 2 VALID: (224 + 6 - 7) // 2 + 1 = 112 units, the first seeing
    # pixels -3..3; then 1 px of zeros and a 3x3 stride 2 max-pool: (112 + 2 - 3) // 2 + 1 = 56 units of 7 + 2 * 2 px
    resnet = receptive_fields(SIZE, "resnet50")
    assert resnet["conv1_relu"] == Field(size=7, stride=2, offset=-3, side=112)
    assert resnet["pool1_pool"] == Field(size=11, stride=4, offset=-5, side=56)
    # VGG16: two 3x3 SAME convolutions (5 px, offset -2), then a 2x2 stride 2 VALID pool (6 px)
    vgg = receptive_fields(SIZE, "vgg16")
    assert vgg["block1_conv2"] == Field(size=5, stride=1, offset=-2, side=224)
    assert vgg["block1_pool"] == Field(size=6, stride=2, offset=-2, side=112)
    # The last layers' fields as published (Araujo, Norris and Sim 2019, "Computing receptive fields of convolutional
    # neural networks", Distill, table of architectures): VGG16 212 px, ResNet-50 483 px
    assert vgg["block5_pool"].size == 212 and resnet["conv5_block3_out"].size == 483
    # a channel's field (the mosaics' patches) is found by the tensor's name alone, whatever its architecture
    assert channel_field("conv1_relu", 5, SIZE) == resnet["conv1_relu"]
    assert channel_field("block1_pool", 63, SIZE) == vgg["block1_pool"]


@pytest.fixture(scope="module")
def applications():
    from artfinetune.model.architectures import architecture

    keras.utils.set_random_seed(0)
    return {name: architecture(name).build(10, input_size=SIZE) for name in ("resnet50", "vgg16")}


@pytest.mark.parametrize(
    ("name", "tensor", "unit"),
    [
        ("vgg16", "block3_conv3", (20, 30)),  # after two pools
        ("vgg16", "block2_pool", (0, 55)),  # a corner: cut by the border
        ("resnet50", "conv2_block3_out", (20, 30)),  # three residual blocks after the stem
        ("resnet50", "conv3_block1_out", (0, 5)),  # through a strided block, at the border
    ],
)
def test_another_architectures_field_is_its_gradients_footprint(applications, name, tensor, unit):
    model = applications[name]
    field = receptive_fields(SIZE, name)[tensor]
    assert model.get_layer(tensor).output.shape[1] == field.side
    assert gradient_footprint(model, tensor, *unit) == field.box(*unit, SIZE)
