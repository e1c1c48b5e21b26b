import numpy as np
import pytest

from artfinetune.model.files import load_model
from artfinetune.model.inception import build_inception_v1, lrn_attributes, transfer_weights
from artfinetune.model.lucid_import import GraphImportError, import_graphdef, import_lucid

from .lucid_graph import CONCAT, LRN, MIXED, STEM, build_lucid_graphdef, run_graphdef

COMPARED = [
    "conv2d0",
    "mixed3b",
    "mixed4d_3x3_pre_relu",
    "mixed5b",
    "softmax2_pre_activation",
    "softmax0_pre_activation",
    "softmax1_pre_activation",
]


def _keras_tensors(model, names, images):
    import keras

    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    return [np.asarray(t) for t in probe(images)]


@pytest.fixture(scope="module")
def full_graph():
    return build_lucid_graphdef(num_classes=1008, seed=1)


def test_import_matches_the_graph_at_full_width(full_graph, tmp_path):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, 224, 224, 3)).astype(np.float32)
    expected = run_graphdef(full_graph, COMPARED, images - 117.0)
    pb = tmp_path / "InceptionV1.pb"
    pb.write_bytes(full_graph.SerializeToString())
    model = load_model(import_lucid(pb, tmp_path / "imagenet.keras"))  # through the saved file
    got = _keras_tensors(model, COMPARED, images)
    for name, a, b in zip(COMPARED, got, expected, strict=True):
        assert a.shape == b.shape, name
        rel = np.abs(a - b).max() / np.abs(b).max()
        assert rel < 1e-4, f"{name}: relative error {rel:.2e}"
    assert model.get_layer("softmax2_pre_activation").weights[0].shape == (1024, 1008)
    for name, (k, _, out) in STEM.items():  # the reference's widths, as a literal table
        kernel = model.get_layer(f"{name}_pre_relu").kernel.shape
        assert (kernel[0], kernel[1], kernel[-1]) == (k, k, out), name
    for block, widths in MIXED.items():
        branches = ("1x1", "3x3_bottleneck", "3x3", "5x5_bottleneck", "5x5", "pool_reduce")
        got = tuple(model.get_layer(f"{block}_{b}_pre_relu").kernel.shape[-1] for b in branches)
        assert got == widths, block
        assert model.get_layer(block).output.shape[-1] == CONCAT[block] == widths[0] + widths[2] + widths[4] + widths[5]
    for attrs in lrn_attributes(model).values():  # read from the graph's LRN nodes
        assert attrs == pytest.approx(LRN)


def test_a_renamed_node_is_named(full_graph):
    for old, new in [("mixed4d_3x3_w", "mixed4d_3x3_weights"), ("mixed4b_pool_reduce", "mixed4b_poolreduce")]:
        graph = build_lucid_graphdef(rename={old: new}, widths=None)
        with pytest.raises(GraphImportError, match=f"node '{old}'.* is missing from the graph"):
            import_graphdef(graph)


def test_a_wrong_shape_is_named():
    graph = build_lucid_graphdef(widths={"mixed4a": (192, 96, 208, 16, 48, 64)})  # the paper's 208, not Lucid's 204
    with pytest.raises(GraphImportError, match=r"node 'mixed4a_3x3_w' of the graph has shape \(3, 3, 96, 208\), but"):
        import_graphdef(graph)


@pytest.mark.parametrize("concat_op", ["Concat", "ConcatV2"])
def test_a_block_channel_is_its_branch_channel_after_relu(concat_op, full_graph):
    """The reference's example: mixed4d_3x3_pre_relu:52 after ReLU is mixed4d channel 112 + 52 = 164 (the 112
    channels of the 1x1 branch come first), in the graph and in the imported model."""
    graph = full_graph if concat_op == "Concat" else build_lucid_graphdef(seed=1, concat_op=concat_op, add_shapes=True)
    images = np.random.default_rng(2).uniform(0, 255, (1, 224, 224, 3)).astype(np.float32)
    branch, graph_block = run_graphdef(graph, ["mixed4d_3x3_pre_relu", "mixed4d"], images - 117.0)
    expected = np.maximum(branch[..., 52], 0)
    assert (expected > 0).mean() > 0.1  # the channel fires, so the comparison says something
    np.testing.assert_array_equal(graph_block[..., 164], expected)
    keras_branch, keras_block = _keras_tensors(import_graphdef(graph), ["mixed4d_3x3_pre_relu", "mixed4d"], images)
    np.testing.assert_array_equal(keras_block[..., 164], np.maximum(keras_branch[..., 52], 0))
    np.testing.assert_allclose(keras_block[..., 164], expected, rtol=0, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize("concat_op", ["Concat", "ConcatV2"])
def test_a_concat_in_another_branch_order_is_refused(concat_op):
    graph = build_lucid_graphdef(concat_order={"mixed4d": ("1x1", "5x5", "3x3", "pool_reduce")}, concat_op=concat_op)
    with pytest.raises(
        GraphImportError,
        match=r"^mixed4d of the graph concatenates its branches in the order 1x1, 5x5, 3x3, pool_reduce, but the "
        r"Keras model concatenates them in the order 1x1, 3x3, 5x5, pool_reduce, so channel numbers of mixed4d "
        r"would point to the wrong branch channels$",
    ):
        import_graphdef(graph)


def test_a_concat_wider_than_its_branches_is_refused():
    graph = build_lucid_graphdef(add_shapes=True)
    (node,) = [node for node in graph.node if node.name == "mixed4d"]
    node.attr["_output_shapes"].list.shape[0].dim[-1].size = 532
    with pytest.raises(
        GraphImportError,
        match=r"^mixed4d of the graph is 532 channels wide, but its branches 1x1, 3x3, 5x5, pool_reduce have "
        r"112, 288, 64, 64 channels, which sum to 528",
    ):
        import_graphdef(graph)


def test_a_concat_along_another_axis_is_refused():
    import tensorflow as tf

    graph = build_lucid_graphdef()
    (node,) = [node for node in graph.node if node.name == "mixed4d/concat_dim"]
    node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(0, dtype=tf.int32))
    with pytest.raises(GraphImportError, match=r"^mixed4d of the graph concatenates along axis 0, not the channel"):
        import_graphdef(graph)


def test_not_a_graphdef(tmp_path):
    bad = tmp_path / "x.pb"
    bad.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(GraphImportError, match="is not a TensorFlow GraphDef"):
        import_lucid(bad, tmp_path / "m.keras")


def test_transfer_weights_keeps_a_new_head(full_graph):
    imagenet = import_graphdef(full_graph)
    small = build_inception_v1(7, "multi_label", input_size=64)
    copied = transfer_weights(imagenet, small)
    assert "mixed5b_5x5_pre_relu" in copied and "softmax2_pre_activation" not in copied
    np.testing.assert_array_equal(
        small.get_layer("conv2d0_pre_relu").get_weights()[0], imagenet.get_layer("conv2d0_pre_relu").get_weights()[0]
    )
    assert small.get_layer("localresponsenorm0").lrn != LRN  # architecture attributes are not weights


def test_imagenet_init_through_the_workflow(full_graph, tmp_path):
    """download_lucid_weights (from a local server) -> import_lucid, as the paper config's init: imagenet."""
    import os
    import subprocess
    import sys

    import yaml

    from .conftest import PAPER_CONFIG, REPO
    from .fixtures_http import Server

    www = tmp_path / "www"
    www.mkdir()
    (www / "InceptionV1.pb").write_bytes(full_graph.SerializeToString())
    config = yaml.safe_load(PAPER_CONFIG.read_text())
    config["results"] = str(tmp_path / "results")
    target = str(tmp_path / "results/models/init/imagenet/model.keras")
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    with Server(www) as server:
        config["init"]["imagenet"]["url"] = f"{server.url}/InceptionV1.pb"
        (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
        cmd = [sys.executable, "-m", "snakemake", target, "-c1", "--configfile", str(tmp_path / "c.yaml")]
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "rule download_lucid_weights:" in proc.stderr and "rule import_lucid:" in proc.stderr
    model = load_model(target)
    np.testing.assert_array_equal(
        model.get_layer("mixed5b_5x5_pre_relu").get_weights()[0],
        import_graphdef(full_graph).get_layer("mixed5b_5x5_pre_relu").get_weights()[0],
    )


@pytest.mark.parametrize("size", [64, 80, 100, 224])
def test_aux_heads_adapt_to_any_input_size(size):
    model = build_inception_v1(6, "multi_label", input_size=size, aux_heads=True)
    out = model(np.zeros((2, size, size, 3), np.float32))
    assert {k: tuple(v.shape) for k, v in out.items()} == {"softmax2": (2, 6), "softmax0": (2, 6), "softmax1": (2, 6)}
    for head in ("head0_pool", "head1_pool"):
        assert tuple(model.get_layer(head).output.shape[1:3]) == (4, 4)
    with pytest.raises(ValueError, match="below the 64 px"):
        build_inception_v1(6, input_size=48)
