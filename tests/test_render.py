import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from artfinetune.lucid_compat import lucid, rotate
from artfinetune.model.inception import build_inception_v1
from artfinetune.model.lucid_export import export_graph
from artfinetune.model.lucid_import import load_graphdef
from artfinetune.render import render_channels

from .conftest import REPO
from .lucid_graph import run_graphdef


def test_rotate_matches_a_quarter_turn_and_keeps_shape():
    img = np.arange(5 * 5 * 2, dtype=np.float32).reshape(1, 5, 5, 2)
    out = np.asarray(rotate(img, np.pi / 2))
    np.testing.assert_allclose(out[0], np.rot90(img[0]), atol=1e-4)  # counter-clockwise, like contrib's
    single = np.asarray(rotate(img[0], 0.0))
    np.testing.assert_allclose(single, img[0], atol=1e-5)
    corner = np.asarray(rotate(np.ones((1, 8, 8, 1), np.float32), np.pi / 4))
    assert corner[0, 0, 0, 0] == 0 and corner[0, 4, 4, 0] == 1  # filled with zeros outside


def test_lucid_random_rotate_runs_in_graph_mode():
    L = lucid()
    v1 = L.render.tf
    with v1.Graph().as_default(), v1.Session() as sess:
        v1.set_random_seed(0)  # as render_channels does; required once a training job turned op determinism on
        t = L.transform.random_rotate(list(range(-10, 11)))(v1.ones([1, 16, 16, 3]))
        assert sess.run(t).shape == (1, 16, 16, 3)
    assert tf.executing_eagerly()  # the rest of the process stays eager


def test_export_keeps_lucid_names_and_values(tmp_path):
    keras.utils.set_random_seed(3)
    model = build_inception_v1(5, "multi_label", input_size=96, aux_heads=True)
    export_graph(model, tmp_path / "m.pb")
    names = [
        "conv2d0",
        "localresponsenorm0",
        "mixed3a_5x5_bottleneck_pre_relu",
        "mixed4d_3x3_pre_relu",
        "mixed5b",
        "avgpool0",
        "softmax2_pre_activation",
        "softmax2",
    ]
    images = np.random.default_rng(0).uniform(0, 255, (2, 96, 96, 3)).astype(np.float32)
    got = run_graphdef(load_graphdef(tmp_path / "m.pb"), names, images - 117.0)
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    for name, a, b in zip(names, probe(images), got, strict=True):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-5, atol=1e-5, err_msg=name)
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["input_name"] == "input" and meta["image_value_range"] == [-117.0, 138.0]
    assert meta["task"] == "multi_label" and "mixed4a_3x3_pre_relu" in meta["tensors"]


def _channel_mean(model, layer, channel, images):
    probe = keras.Model(model.input, model.get_layer(layer).output)
    return np.asarray(probe(images))[..., channel].mean(axis=(1, 2))


def test_render_raises_the_channel_well_above_the_starting_noise(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_inception_v1(10, input_size=128)
    graph = export_graph(model, tmp_path / "m.pb")
    channels = ["mixed4c_3x3_pre_relu:52", "mixed4a:10"]
    outs = [tmp_path / "a.png", tmp_path / "b.png"]
    scores = render_channels(graph, channels, outs, size=128, steps=128, seed=0)
    rng = np.random.default_rng(0)
    noise = np.clip(127.5 + rng.normal(0, 8, (1, 128, 128, 3)), 0, 255).astype(np.float32)  # like Lucid's start
    for (spec, score), out in zip(zip(channels, scores, strict=True), outs, strict=True):
        layer, channel = spec.split(":")
        rendered = np.asarray(Image.open(out), np.float32)[None]
        act_rendered = _channel_mean(model, layer, int(channel), rendered)[0]
        act_noise = _channel_mean(model, layer, int(channel), noise)[0]
        # Lucid's own measurement agrees with Keras on the saved PNG (up to 8-bit rounding) ...
        assert act_rendered == pytest.approx(score["activation_end"], rel=0.05, abs=0.05)
        # ... and the optimisation raised the channel far above its response to noise.
        assert act_rendered > act_noise + 1.0 and act_rendered > 3 * abs(act_noise), (spec, act_noise, act_rendered)
        assert score["activation_end"] > score["activation_start"] + 1.0


def test_render_from_the_command_line(tmp_path):
    def run(*args):
        proc = subprocess.run([sys.executable, "-m", "artfinetune", *args], capture_output=True, text=True, cwd=REPO)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout

    help_text = run("render", "--help")
    assert "mixed4d_3x3_pre_relu:52" in help_text and "--steps" in help_text
    run("random-model", "--out", str(tmp_path / "random.keras"), "--classes", "25", "--seed", "1")
    out = run(
        "render",
        "--model",
        str(tmp_path / "random.keras"),
        "--channel",
        "mixed4d_3x3_pre_relu:52",
        "--out",
        str(tmp_path / "r.png"),
        "--size",
        "96",
        "--steps",
        "16",
    )
    assert "mixed4d_3x3_pre_relu:52 mean activation" in out
    assert Image.open(tmp_path / "r.png").size == (96, 96)
    assert json.loads((tmp_path / "r.json").read_text())["steps"] == 16
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "artfinetune",
            "render",
            "--model",
            str(tmp_path / "random.keras"),
            "--channel",
            "mixed4d_3x3_pre_relu:300",
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert "channel 300 is out of range for mixed4d_3x3_pre_relu, which has channels 0..287" in bad.stderr
