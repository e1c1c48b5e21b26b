"""The Lucid export (and the renders on it) of the Keras-applications architectures, ResNet-50 and VGG16.

Small random-weight models (3 classes, 64 px); every expected value is the Keras model's own forward pass.
"""

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from artfinetune.model.architectures import architecture
from artfinetune.model.files import save_model
from artfinetune.model.lucid_export import export_graph
from artfinetune.render.renders import render_model_channels

from .conftest import REPO

SIZE = 64
STUDY_LAYER = {"resnet50": "conv3_block1_out", "vgg16": "block3_conv2"}  # compared with Keras
CHANNEL = {"resnet50": "conv3_block1_out:5", "vgg16": "block3_conv2:7"}  # rendered


@pytest.fixture(scope="module", params=sorted(STUDY_LAYER))
def exported(request, tmp_path_factory):
    """(architecture name, the seeded Keras model, its exported graph)."""
    name = request.param
    keras.utils.set_random_seed(0)
    model = architecture(name).build(num_classes=3, task="single_label", input_size=SIZE)
    folder = tmp_path_factory.mktemp(name)
    return name, model, export_graph(model, folder / "model.pb")


def _run_graph(path, names, *inputs):
    """The tensors ``names`` of the exported graph at ``path`` on each input, in TF1 graph mode, fed at ``input``."""
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(path.read_bytes())
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as sess:
            return [sess.run([f"{n}:0" for n in names], {"input:0": x}) for x in inputs]


def _keras_values(model, names, images):
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    return [np.asarray(v) for v in probe(images)]


def _assert_close(want, got, name):
    assert got.shape == want.shape, name
    # 1e-4 of the tensor's largest value: the frozen graph may fuse or reorder a sum, never change it more
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max(), err_msg=name)


def test_the_exported_graph_computes_what_the_keras_model_does(exported):
    name, model, graph = exported
    names = [STUDY_LAYER[name], "predictions_pre_activation", "predictions"]
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, SIZE, SIZE, 3)).astype(np.float32)  # RGB in [0, 255]
    larger = rng.uniform(0, 255, (1, 80, 80, 3)).astype(np.float32)
    # Any input size, as renders need: at 80 px, against a Keras twin built for any size holding the same weights.
    twin = architecture(name).build(num_classes=3, task="single_label", input_size=None)
    twin.set_weights(model.get_weights())
    got, got_larger = _run_graph(graph, names, images, larger)
    for tensor, want, value in zip(names, _keras_values(model, names, images), got, strict=True):
        _assert_close(want, value, tensor)
    for tensor, want, value in zip(names, _keras_values(twin, names, larger), got_larger, strict=True):
        _assert_close(want, value, f"{tensor} at 80 px")
    assert np.abs(got[0]).max() > 1 and np.ptp(got[1]) > 0  # the compared values are not all zero


def test_the_export_records_the_architecture_and_the_rgb_input_range(exported):
    name, _, graph = exported
    meta = json.loads(graph.with_suffix(".json").read_text())
    assert meta["architecture"] == name
    assert meta["input_name"] == "input" and meta["image_value_range"] == [0.0, 255.0]
    assert meta["num_classes"] == 3 and meta["task"] == "single_label"
    tensors = set(meta["tensors"])
    assert set(architecture(name).study_layers) <= tensors
    assert {"predictions_pre_activation", "predictions"} <= tensors


def test_a_channel_renders_through_render_model_channels(exported, tmp_path):
    name, model, graph = exported
    channel = CHANNEL[name]
    ((out, score),) = render_model_channels(
        [channel], graph=graph, out_dir=tmp_path, size=SIZE, steps=12, optimise_graph=False
    )
    assert Image.open(out).size == (SIZE, SIZE)
    assert json.loads(Path(out).with_suffix(".json").read_text()) == score
    start, end = score["activation_start"], score["activation_end"]
    assert end > start and end > 2 * abs(start), score  # measured: 10 to 17 times the start
    layer, index = channel.split(":")
    rendered = np.asarray(Image.open(out), np.float32)[None]  # the PNG's RGB in [0, 255], as the model takes it
    keras_mean = _keras_values(model, [layer], rendered)[0][..., int(index)].mean()
    assert keras_mean == pytest.approx(end, rel=0.05, abs=0.05)  # the channel Keras names


def test_a_saved_model_renders_from_the_command_line(tmp_path):
    """The render rule's path: a fresh process loads the saved VGG16 (its first layer the project's CaffeInput),
    exports it and renders."""
    keras.utils.set_random_seed(0)
    model_file = save_model(architecture("vgg16").build(3, "single_label", input_size=SIZE), tmp_path / "m.keras")
    args = ["render", "--model", str(model_file), "--channel", CHANNEL["vgg16"], "--out", str(tmp_path / "r.png")]
    args += ["--size", str(SIZE), "--steps", "4", "--no-graph-optimiser"]
    proc = subprocess.run([sys.executable, "-m", "artfinetune", *args], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert Image.open(tmp_path / "r.png").size == (SIZE, SIZE)
    assert json.loads((tmp_path / "r.json").read_text())["channel"] == CHANNEL["vgg16"]


def test_the_export_refuses_a_model_whose_weights_it_cannot_copy(tmp_path):
    keras.utils.set_random_seed(0)
    vgg = architecture("vgg16").build(num_classes=3, task="single_label", input_size=SIZE)
    impostor = keras.Model(vgg.input, vgg.output, name="resnet50")  # a VGG16 that says it is a ResNet-50
    with pytest.raises(RuntimeError, match=r"could not copy the weights of \['conv1_conv'"):
        export_graph(impostor, tmp_path / "m.pb")
    assert not (tmp_path / "m.pb").exists()
