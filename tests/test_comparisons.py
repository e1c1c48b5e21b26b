"""The metric stages between two models, from files to tidy tables, against hand computations and references."""

import json

import h5py
import keras
import numpy as np
import pandas as pd
import pytest

from artfinetune.errors import UserError
from artfinetune.metrics.pairs import cka_table, l2_table, overlap_table
from artfinetune.metrics.topk_files import composition_table, read_topk_file, topk_file
from artfinetune.model.files import save_model
from artfinetune.model.inception import build_inception_v1
from artfinetune.model.layers import TRUNK_CONVS


def write_activations(
    path, model, layers, labels, task="single_label", classes=("a", "b"), store_index=None, peaks=None
):
    """An activations file in extract_activations' layout, from given arrays (``peaks``: tensor -> positions)."""
    n = len(labels)
    with h5py.File(path, "w") as f:
        for name, values in layers.items():
            f.create_dataset(f"layers/{name}", data=np.asarray(values, np.float32))
        for name, values in (peaks or {}).items():
            f.create_dataset(f"argmax/{name}", data=np.asarray(values, np.uint16))
            f.attrs["map_shapes"] = json.dumps({name: [4, 4]})
        f.create_dataset("store_index", data=np.arange(n) if store_index is None else store_index)
        f.create_dataset("ids", data=np.array([f"i{i}" for i in range(n)], dtype=object), dtype=h5py.string_dtype())
        f.create_dataset("labels", data=np.asarray(labels))
        f.attrs.update(
            model=model,
            dataset="toy",
            split="test",
            task=task,
            classes=json.dumps(list(classes)),
            tensors=json.dumps(list(layers)),
        )
    return path


def test_cka_table_gives_the_reference_notebook_values_streamed_over_chunks(tmp_path):
    np.random.seed(1337)  # the reference notebook's example (Kornblith et al.)
    X = np.random.randn(100, 10)
    Y = X + np.random.randn(100, 10)
    a = write_activations(tmp_path / "a.h5", "m0", {"mixed4a": X}, np.zeros(100, int))
    b = write_activations(tmp_path / "b.h5", "m1", {"mixed4a": Y}, np.zeros(100, int))
    table = cka_table(a, b, tmp_path / "cka.csv", chunk=7)  # 14 uneven chunks
    values = dict(zip(table["metric"], table["value"], strict=True))
    assert values["linear_cka"] == pytest.approx(0.55761, abs=5e-5)  # float32 storage of X and Y
    assert values["debiased_cka"] == pytest.approx(0.51346, abs=5e-5)
    written = pd.read_csv(tmp_path / "cka.csv")
    assert list(written.columns) == ["model_a", "model_b", "layer", "channel", "metric", "value", "k"]
    assert set(written["model_a"]) == {"m0"} and set(written["layer"]) == {"mixed4a"}


def test_a_small_test_split_gets_fewer_jackknife_blocks_or_none(tmp_path, caplog):
    rng = np.random.default_rng(1)
    for n, expected in ((8, 4), (13, 6), (40, 10), (5, 0)):  # blocks of 2 or more images, 4 left without one
        X = rng.normal(size=(n, 6))
        a = write_activations(tmp_path / f"a{n}.h5", "m0", {"conv2d0": X}, np.zeros(n, int))
        b = write_activations(tmp_path / f"b{n}.h5", "m1", {"conv2d0": X + rng.normal(size=(n, 6))}, np.zeros(n, int))
        with caplog.at_level("WARNING"):
            table = cka_table(a, b, tmp_path / f"cka{n}.csv", blocks=10)
        leave_outs = table[table["metric"] == "linear_cka_leave_out"]
        assert sorted(leave_outs["channel"]) == list(range(expected)), n
    assert "5 test images are too few for a jackknife over blocks: no confidence intervals" in caplog.text
    assert "8 test images: a jackknife over 4 blocks of 2 or more, not 10" in caplog.text


def test_cka_of_a_rotated_copy_is_one_and_other_images_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    X = np.maximum(rng.normal(size=(50, 8)), 0)
    Q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    a = write_activations(tmp_path / "a.h5", "m0", {"conv2d0": X}, np.zeros(50, int))
    b = write_activations(tmp_path / "b.h5", "m1", {"conv2d0": 3 * X @ Q}, np.zeros(50, int))
    table = cka_table(a, b, tmp_path / "cka.csv")
    main = table[table["metric"].isin(["linear_cka", "debiased_cka"])]
    assert main["value"].tolist() == pytest.approx([1.0, 1.0], abs=1e-5)
    leave_outs = table[table["metric"].str.endswith("_leave_out")]  # 10 blocks of 5 images, each left out in turn
    assert sorted(leave_outs["channel"].tolist()) == sorted(2 * list(range(10)))
    assert leave_outs["value"].tolist() == pytest.approx([1.0] * 20, abs=1e-5)
    other = write_activations(tmp_path / "c.h5", "m2", {"conv2d0": X}, np.zeros(50, int), store_index=np.arange(1, 51))
    with pytest.raises(UserError, match="not computed on the same images"):
        cka_table(a, other, tmp_path / "bad.csv")
    assert not (tmp_path / "bad.csv").exists()


def test_l2_table_on_a_hand_made_change(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_inception_v1(3, input_size=64)
    save_model(model, tmp_path / "a.keras")
    layer = model.get_layer("mixed4b_5x5_pre_relu")
    kernel = layer.kernel.numpy()
    layer.kernel.assign(kernel + 0.5)  # every weight of one convolution moves by 0.5
    model.get_layer("mixed4b_5x5_pre_relu").bias.assign(layer.bias.numpy() + 9.0)  # biases are not counted
    save_model(model, tmp_path / "b.keras")
    table = l2_table(tmp_path / "a.keras", tmp_path / "b.keras", tmp_path / "l2.csv", "m0", "m1")
    l2 = table[table["metric"] == "l2"].set_index("layer")["value"]
    expected = 0.5 * np.sqrt(kernel.size)  # 5 x 5 x 24 x 64 weights
    assert len(l2) == 57 and len(TRUNK_CONVS) == 57
    assert l2["mixed4b_5x5"] == pytest.approx(expected, rel=1e-5)
    assert l2.drop("mixed4b_5x5").abs().max() == 0
    mean = table[(table["layer"] == "all") & (table["metric"] == "mean_l2")]["value"].item()
    assert mean == pytest.approx(expected / 57, rel=1e-5)
    relative = table[table["metric"] == "relative_l2"].set_index("layer")["value"]
    assert relative["mixed4b_5x5"] == pytest.approx(expected / np.linalg.norm(kernel), rel=1e-5)


@pytest.mark.parametrize("aux_heads", [False, True], ids=["plain", "deep-supervision"])
def test_kernels_read_from_the_file_are_keras_own(tmp_path, aux_heads):
    """The l2 job reads kernels from the .keras zip without TensorFlow; they must be the very arrays Keras loads,
    each under its own convolution's name, with or without the auxiliary heads' convolutions in between."""
    from artfinetune.model.files import load_model
    from artfinetune.model.kernels import kernels_from_file, trunk_kernels

    keras.utils.set_random_seed(1)
    save_model(build_inception_v1(3, input_size=64, aux_heads=aux_heads), tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    kernels = kernels_from_file(tmp_path / "m.keras")
    assert list(kernels) == list(TRUNK_CONVS)
    for conv in TRUNK_CONVS:
        assert np.array_equal(kernels[conv], np.asarray(loaded.get_layer(f"{conv}_pre_relu").kernel)), conv
    assert all(np.array_equal(trunk_kernels(tmp_path / "m.keras")[c], kernels[c]) for c in TRUNK_CONVS)


def test_a_weights_file_of_another_layout_is_read_through_keras(tmp_path, caplog, monkeypatch):
    """A kernel whose shape does not fit its layer's configuration means the layout is not the expected one: the
    reader declines and Keras loads the model, so a mislabelled kernel can never reach the l2 table."""
    import zipfile

    from artfinetune.model import kernels
    from artfinetune.model.kernels import kernels_from_file, trunk_kernels

    keras.utils.set_random_seed(2)
    save_model(build_inception_v1(3, input_size=64), tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        files = {name: z.read(name) for name in z.namelist()}
    config = json.loads(files["config.json"])
    convs = [layer for layer in config["config"]["layers"] if layer["class_name"] == "Conv2D"]
    convs[0]["config"], convs[1]["config"] = convs[1]["config"], convs[0]["config"]  # two layers' names swapped
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "swapped.keras", "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    assert kernels_from_file(tmp_path / "swapped.keras") is None
    assert kernels_from_file(tmp_path / "not-a-zip.keras") is None
    del config["config"]["layers"][5]["class_name"]  # a config of another shape: declined, not a KeyError
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "odd.keras", "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    assert kernels_from_file(tmp_path / "odd.keras") is None
    fast = trunk_kernels(tmp_path / "m.keras")
    monkeypatch.setattr(kernels, "kernels_from_file", lambda path: None)  # as for a foreign layout
    with caplog.at_level("INFO"):
        slow = trunk_kernels(tmp_path / "m.keras")
    assert "loading the model with Keras" in caplog.text
    assert all(np.array_equal(fast[c], slow[c]) for c in TRUNK_CONVS) and len(slow) == 57


@pytest.fixture
def two_topk(tmp_path):
    """6 images (classes 0,0,0,1,1,1); channel 0 fires on 0,1,2 in A and on 2,3,4 in B; channel 1 never in A."""
    labels = np.array([0, 0, 0, 1, 1, 1])
    a = {"mixed3a": [[9, 0], [8, 0], [7, 0], [0, 0], [0, 0], [0, 0]]}
    b = {"mixed3a": [[0, 1], [0, 1], [7, 1], [8, 1], [9, 0], [0, 0]]}
    peaks = {"mixed3a": [[10 + i, 15 - i] for i in range(6)]}  # image i peaks at unit 10 + i of channel 0, 15 - i of 1
    files = []
    for name, layers in (("m0", a), ("m1", b)):
        acts = write_activations(tmp_path / f"{name}.h5", name, layers, labels, peaks=peaks if name == "m1" else None)
        files.append(topk_file(acts, [2, 3], tmp_path / f"{name}.topk.h5"))
    return files


def test_topk_files_keep_where_each_top_image_peaks(two_topk, caplog):
    a, b = two_topk
    info = read_topk_file(b)
    assert [p.tolist() for p in info["peaks"]["mixed3a"]] == [[14, 13, 12], [15, 14, 13]]  # images 4, 3, 2; 0, 1, 2
    assert info["map_shapes"] == {"mixed3a": [4, 4]}
    assert read_topk_file(a)["peaks"] == {}  # activations written before positions were recorded: none


def test_topk_sets_overlap_entropy_and_chance_by_hand(two_topk, tmp_path):
    a, b = two_topk
    sets = read_topk_file(a)["sets"]["mixed3a"]
    assert sets[0].tolist() == [0, 1, 2] and sets[1].tolist() == []  # never positive: an empty set
    assert read_topk_file(b)["sets"]["mixed3a"][1].tolist() == [0, 1, 2]  # four tied images: the lower ones first
    table = overlap_table(a, b, tmp_path / "overlap.csv", [2, 3]).set_index(["metric", "k", "channel"])["value"]
    # k = 3: A's set {0,1,2}, B's {4,3,2}: one image in common -> 1/3; k = 2: {0,1} vs {4,3} -> 0
    assert table[("overlap", 3, 0)] == pytest.approx(1 / 3) and table[("overlap", 2, 0)] == 0
    assert table[("overlap", 3, 1)] == 0  # an empty set overlaps nothing
    # entropies: A's {0,1,2} is all class 0 -> 0; B's {4,3,2} is 2 of class 1, 1 of class 0
    p = np.array([2 / 3, 1 / 3])
    assert table[("entropy_a", 3, 0)] == 0
    assert table[("entropy_b", 3, 0)] == pytest.approx(-(p * np.log2(p)).sum())  # log2 C = 1 for 2 classes
    assert np.isnan(table[("entropy_a", 3, 1)])  # left out, not 0
    chance = pd.read_csv(tmp_path / "overlap.csv").query("metric == 'overlap'").groupby("k")["chance"].first()
    assert chance.to_dict() == pytest.approx({2: 2 / 6, 3: 3 / 6})


def test_composition_by_hand(two_topk, tmp_path):
    _, b = two_topk
    table = composition_table(b, tmp_path / "composition.csv", [3])
    first = table[(table["channel"] == 0)]
    assert first[["rank", "class", "percent"]].values.tolist() == [
        [1, "b", pytest.approx(200 / 3)],
        [2, "a", pytest.approx(100 / 3)],
    ]


def test_a_k_above_the_sets_is_refused(two_topk, tmp_path):
    a, b = two_topk
    with pytest.raises(UserError, match=r"k \[5\] is above the largest k"):
        overlap_table(a, b, tmp_path / "o.csv", [5])
