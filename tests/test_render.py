import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from artfinetune.model.inception import build_inception_v1
from artfinetune.model.lucid_export import export_graph
from artfinetune.model.lucid_import import load_graphdef
from artfinetune.render.lucid_compat import lucid, rotate
from artfinetune.render.renders import (
    SharedWeights,
    build_render_graph,
    exported_model,
    render_channels,
    seeded_standard_transforms,
    session_config,
)

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
        "80",
        "--steps",
        "8",
        "--no-graph-optimiser",
    )
    assert "mixed4d_3x3_pre_relu:52 mean activation" in out
    assert Image.open(tmp_path / "r.png").size == (80, 80)
    assert json.loads((tmp_path / "r.json").read_text())["steps"] == 8
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


# Rendering many channels at once: a small random model at 64 px, a few dozen steps.
SIZE, STEPS = 64, 48
BATCH = [
    "mixed3a:20",
    "mixed3b_3x3_pre_relu:7",
    "mixed4b:100",
    "mixed4c_3x3_pre_relu:52",
    "mixed4d_pool_reduce_pre_relu:63",
    "mixed4b_3x3_bottleneck_pre_relu:35",
    "mixed4e_5x5_pre_relu:9",
    "conv2d2:7",
]
ALONE = BATCH[5]  # not first: the first image of a batch is built before any other
DEAD = "mixed4a:10"  # channel 10 of mixed4a_1x1, whose pre-ReLU the fixture pushes far below zero


@pytest.fixture(scope="module")
def random_graph(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = build_inception_v1(10, input_size=SIZE)
    bias = model.get_layer("mixed4a_1x1_pre_relu").bias
    bias.assign(tf.tensor_scatter_nd_update(bias, [[10]], [-1000.0]))  # dead on any image
    return model, export_graph(model, tmp_path_factory.mktemp("graph") / "m.pb")


@pytest.fixture(scope="module")
def batch_render(random_graph, tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    outs = [folder / f"{spec.replace(':', '_')}.png" for spec in BATCH]
    scores = render_channels(random_graph[1], BATCH, outs, size=SIZE, steps=STEPS, seed=0)
    return dict(zip(BATCH, zip(outs, scores, strict=True), strict=True))


def _render_alone(graph, folder, name):
    out = folder / name
    render_channels(graph, [ALONE], [out], size=SIZE, steps=STEPS, seed=0)
    return out


def test_a_batched_render_raises_each_channels_own_objective(random_graph, batch_render):
    model = random_graph[0]
    for spec, (out, score) in batch_render.items():
        layer, channel = spec.split(":")
        rendered = _channel_mean(model, layer, int(channel), np.asarray(Image.open(out), np.float32)[None])[0]
        assert rendered == pytest.approx(score["activation_end"], rel=0.05, abs=0.05), spec  # Keras agrees
        start, end = score["activation_start"], score["activation_end"]
        assert end > start + 0.5 and end > 3 * abs(start), (spec, start, end)


def test_a_channel_renders_the_same_alone_as_in_a_batch_of_8(random_graph, batch_render, tmp_path):
    alone = np.asarray(Image.open(_render_alone(random_graph[1], tmp_path, "alone.png")), np.int16)
    batched = np.asarray(Image.open(batch_render[ALONE][0]), np.int16)
    assert np.abs(alone - batched).max() <= 1  # within one 8-bit level; measured: identical


def test_an_import_sharing_the_weights_computes_what_lucids_whole_import_does(random_graph):
    L = lucid()
    v1 = L.render.tf
    image = np.random.default_rng(0).uniform(0, 1, (1, SIZE, SIZE, 3)).astype(np.float32)
    model = exported_model(L, random_graph[1], SIZE)
    weight_bytes = sum(w.nbytes for w in random_graph[0].get_weights())
    with v1.Graph().as_default() as graph, v1.Session() as sess:
        t_image = v1.constant(image)
        whole = model.import_graph(t_image, scope="whole")  # Lucid's own import: every node, its own constants
        shared = SharedWeights(v1, model)
        values = {}
        for spec in (BATCH[0], BATCH[3], "conv2d0:5"):
            layer, index = spec.split(":")
            part, weights = shared.layer_model(layer)
            T = part.import_graph(t_image, scope=f"part_{layer}", input_map=weights)
            for name, t in (("whole", whole), ("part", T)):
                objective = v1.reduce_mean(t(layer)[..., int(index)])
                values[spec, name] = sess.run([objective, v1.gradients(objective, t_image)[0]])
            assert len(weights) < len(shared.tensors) or layer == "mixed4c_3x3_pre_relu"
        constants = [op for op in graph.get_operations() if op.type == "Const" and op.name.startswith("part_")]
        constant_bytes = sum(op.get_attr("value").ByteSize() for op in constants)
    for spec in (BATCH[0], BATCH[3], "conv2d0:5"):
        (a, grad_a), (b, grad_b) = values[spec, "whole"], values[spec, "part"]
        assert a == b and np.array_equal(grad_a, grad_b), spec  # the same operations on the same values
        assert np.abs(grad_a).max() > 0, spec
    assert constant_bytes < weight_bytes / 100  # the imports hold no weights of their own


def test_rerunning_a_render_gives_byte_identical_pngs(random_graph, tmp_path):
    first = _render_alone(random_graph[1], tmp_path, "first.png")
    second = _render_alone(random_graph[1], tmp_path, "second.png")
    assert first.read_bytes() == second.read_bytes()


def test_the_graph_optimiser_can_be_switched_off(random_graph, batch_render, tmp_path):
    L = lucid()
    v1 = L.render.tf
    for optimise_graph in (True, False):
        with v1.Graph().as_default(), v1.Session(config=session_config(v1, optimise_graph)) as sess:
            render = build_render_graph(L, exported_model(L, random_graph[1], SIZE), [ALONE], SIZE, 0.05, 0)
            v1.global_variables_initializer().run()
            metadata = v1.RunMetadata()
            sess.run(render.vis_op, options=v1.RunOptions(output_partition_graphs=True), run_metadata=metadata)
            ops = {node.op for graph in metadata.partition_graphs for node in graph.node}
        # the optimiser fuses each convolution with its bias (and ReLU); without it the graph runs as built
        assert any("FusedConv2D" in op for op in ops) == optimise_graph, sorted(ops)
    out = tmp_path / "plain.png"
    (score,) = render_channels(random_graph[1], [ALONE], [out], size=SIZE, steps=STEPS, seed=0, optimise_graph=False)
    start, end = score["activation_start"], score["activation_end"]
    assert end > start + 0.5 and end > 3 * abs(start), (start, end)  # it renders as well without it
    optimised = np.asarray(Image.open(batch_render[ALONE][0]), np.int16)
    assert np.abs(np.asarray(Image.open(out), np.int16) - optimised).mean() < 8  # the same image, up to drift


def test_the_redirected_relu_gradient_is_on_for_16_steps_then_off(random_graph):
    L = lucid()
    v1 = L.render.tf
    with v1.Graph().as_default(), v1.Session() as sess:
        render = build_render_graph(L, exported_model(L, random_graph[1], SIZE), [DEAD], SIZE, 0.05, 0)
        grads = v1.gradients(-render.objectives[0], v1.trainable_variables())  # what Adam minimises
        v1.global_variables_initializer().run()

        def largest_gradient(step):
            sess.run(render.global_step.assign(step))
            return max(np.abs(g).max() for g in sess.run(grads))

        # Redirected, a dead channel still pulls its image up; with the plain ReLU gradient nothing passes it.
        assert largest_gradient(0) > 0 and largest_gradient(16) > 0
        assert largest_gradient(17) == 0
        sess.run(render.global_step.assign(0))
        for _ in range(3):
            sess.run(render.vis_op)
        assert render.global_step.eval() == 3  # each optimisation step counts towards the switch


def test_each_images_transforms_are_lucids_standard_transforms_with_their_own_seeds():
    L = lucid()

    def settings(f):
        return dict(zip(f.__code__.co_freevars, (cell.cell_contents for cell in f.__closure__), strict=True))

    ours = seeded_standard_transforms(L, 0, "mixed4a:1")
    other = seeded_standard_transforms(L, 0, "mixed4a:2")
    for mine, theirs, others in zip(ours, L.transform.standard_transforms, other, strict=True):
        assert mine.__code__ is theirs.__code__  # the same Lucid transform ...
        assert {**settings(mine), "seed": None} == {**settings(theirs), "seed": None}  # ... with the same settings
        if "seed" in settings(theirs):  # a random transform: seeded, and differently for another channel
            assert settings(mine)["seed"] is not None and settings(mine)["seed"] != settings(others)["seed"]
