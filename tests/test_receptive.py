"""Receptive fields: conv2d0's by hand, deep layers' against the footprint of one unit's gradient on the input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from artfinetune.model.inception import build_inception_v1
from artfinetune.model.layers import BRANCHES, CONCAT_BRANCHES, MIXED
from artfinetune.model.receptive import channel_field, field_table, receptive_fields

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
