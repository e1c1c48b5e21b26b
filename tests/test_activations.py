import hashlib
import json

import h5py
import keras
import numpy as np
import pytest

from artfinetune.activations import activation_info, extract, extract_activations, read_activations
from artfinetune.activations.files import read_positions
from artfinetune.data.demo import GENERATORS, generate_demo_dataset
from artfinetune.data.store import SPLITS, build_store
from artfinetune.errors import UserError
from artfinetune.model.files import load_model, save_model
from artfinetune.model.inception import build_inception_v1
from artfinetune.model.layers import post_relu

from .conftest import write_images, write_table

SIZE, STORE_SIZE = 64, 72
BATCH = 5  # does not divide the 18 train images: the last batch is partial
TENSORS = ["conv2d0", "mixed4a", "mixed5b", "mixed4d_3x3_pre_relu", "mixed4a", "mixed4d_3x3"]
STORED = ["conv2d0", "mixed4a", "mixed5b", "mixed4d_3x3"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 9-class styles store (36 images of 72 px; 18 train), a random 64 px model, and its train activations."""
    root = tmp_path_factory.mktemp("activations")
    splits = {"train": 0.5, "val": 0.25, "test": 0.25}
    table = generate_demo_dataset(
        root, "styles", images_per_class=4, image_size=STORE_SIZE, seed=3, workers=1, splits=splits
    )
    store = root / "store.h5"
    classes = list(GENERATORS["styles"])
    build_store(table, root, store, root / "manifest.csv", classes, "single_label", STORE_SIZE, "styles", workers=1)
    keras.utils.set_random_seed(7)
    model_path = save_model(build_inception_v1(9, input_size=SIZE), root / "model.keras")
    out = extract_activations(model_path, store, "train", root / "acts.h5", TENSORS, SIZE, "styles_A/1", BATCH)
    return store, model_path, out


def store_split(store, split):
    """Rows, centre-cropped images, ids and labels of a split, read straight from the store file."""
    with h5py.File(store, "r") as f:
        rows = np.flatnonzero(f["split"][:] == SPLITS.index(split))
        pixels, offsets, shapes = f["pixels"][:], f["offsets"][:], f["shapes"][:]
        images = []
        for row in rows:  # whole images of several aspect ratios: the centre SIZE x SIZE of each, cut by hand
            (h, w), start = shapes[row], offsets[row]
            image = pixels[start : start + h * w * 3].reshape(h, w, 3)
            top, left = (h - SIZE) // 2, (w - SIZE) // 2
            images.append(image[top : top + SIZE, left : left + SIZE])
        assert len({tuple(shapes[row]) for row in rows}) > 2  # the demo's images are not all square
        return rows, np.stack(images), f["ids"].asstr()[:][rows], f["labels"][:][rows]


def direct_means(model, layer, images):
    """Per-channel spatial mean after ReLU of ``layer`` by a plain Keras forward pass (ReLU applied here)."""
    maps = np.asarray(keras.Model(model.input, model.get_layer(layer).output)(images.astype(np.float32)))
    return np.maximum(maps.astype(np.float64), 0).mean(axis=(1, 2))


def test_means_equal_a_direct_forward_pass(tiny):
    store, model_path, out = tiny
    model = load_model(model_path)
    _, images, _, _ = store_split(store, "train")
    for stored, layer in [
        ("conv2d0", "conv2d0"),
        ("mixed4a", "mixed4a"),
        ("mixed5b", "mixed5b"),
        ("mixed4d_3x3", "mixed4d_3x3_pre_relu"),  # a branch read before its ReLU: relu applied by hand
    ]:
        expected = direct_means(model, layer, images)
        got = read_activations(out, stored)
        assert got.dtype == np.float32 and got.shape == expected.shape, stored
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max(), err_msg=stored)
    assert np.array_equal(read_activations(out, "mixed4d_3x3_pre_relu"), read_activations(out, "mixed4d_3x3"))


def test_peak_positions_equal_a_direct_forward_pass(tiny):
    """Each image's and channel's recorded position is where the channel's map (after ReLU) peaks, computed
    here by numpy on a plain forward pass; a tie (a map of zeros) may give any of its units."""
    store, model_path, out = tiny
    model = load_model(model_path)
    _, images, _, _ = store_split(store, "train")
    for stored, layer in [("conv2d0", "conv2d0"), ("mixed4a", "mixed4a"), ("mixed4d_3x3", "mixed4d_3x3_pre_relu")]:
        maps = np.maximum(np.asarray(keras.Model(model.input, model.get_layer(layer).output)(images.astype("f4"))), 0)
        n, h, w, c = maps.shape
        flat = maps.reshape(n, h * w, c)
        got, shape = read_positions(out, stored)
        assert shape == (h, w) and got.shape == (n, c) and got.dtype == np.uint16, stored
        expected = flat.argmax(axis=1)
        peak = flat.max(axis=1)
        unique = (flat == peak[:, None, :]).sum(axis=1) == 1  # a single unit holds the maximum
        assert unique.mean() > 0.5, stored  # most maps have one peak: the comparison below is not empty
        np.testing.assert_array_equal(got[unique], expected[unique], err_msg=stored)
        # every recorded position, ties included, holds the map's maximum
        at = np.take_along_axis(flat, got.astype(np.int64)[:, None, :], axis=1)[:, 0, :]
        np.testing.assert_allclose(at, peak, rtol=1e-5, atol=1e-6, err_msg=stored)
    # (y, x) of one unit by hand: the flat index is y * w + x on conv2d0's 32 x 32 map of a 64 px image
    conv2d0 = keras.Model(model.input, model.get_layer("conv2d0").output)
    maps = np.maximum(np.asarray(conv2d0(images[:1].astype("f4"))), 0)
    y, x = divmod(int(read_positions(out, "conv2d0")[0][0, 5]), 32)
    assert maps[0, y, x, 5] == maps[0, :, :, 5].max()


@pytest.mark.parametrize("side", [7, 56, 60])  # argmax over the map, and row by row (56 x 56 and more)
def test_peak_position_layer_is_numpys_first_argmax(side):
    """Random maps with ties (zeros, and a maximum repeated on two units) against numpy's first-maximum argmax."""
    rng = np.random.default_rng(side)
    maps = np.maximum(rng.standard_normal((3, side, side + 1, 5)).astype("f4"), 0)
    maps[0, :, :, 0] = 0  # a map of zeros: its first unit
    maps[1, 2, 3, 1] = maps[1, side - 1, 0, 1] = 9.0  # two peaks: the first in row-major order
    maps[2, 4, 1, 2] = maps[2, 4, 5, 2] = 9.0  # two peaks on one row
    got = np.asarray(extract._peak_position_layer()()(maps))
    expected = maps.reshape(3, side * (side + 1), 5).argmax(axis=1)
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, expected)
    assert (got[0, 0], got[1, 1], got[2, 2]) == (0, 2 * (side + 1) + 3, 4 * (side + 1) + 1)


def test_the_probe_is_traced_once_for_every_batch_size(tiny):
    _, model_path, _ = tiny
    probe = extract.probe_model(load_model(model_path), ["conv2d0", "mixed4a"], model_path)
    predict = extract.probe_function(probe, SIZE)
    images = np.random.default_rng(0).integers(0, 256, (5, SIZE, SIZE, 3), dtype=np.uint8)
    for n in (5, 3):  # a full batch, then a split's smaller last one
        got = [m.numpy() for m in predict(images[:n])]
        expected = probe(images[:n].astype(np.float32), training=False)
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(g, np.asarray(e), rtol=1e-6, atol=1e-6)
    assert predict.experimental_get_tracing_count() == 1


def test_every_image_of_the_split_in_store_order(tiny, tmp_path, monkeypatch):
    store, model_path, out = tiny
    rows, _, ids, labels = store_split(store, "train")
    assert len(rows) % BATCH != 0
    info = activation_info(out)
    assert info["n"] == len(rows)
    assert np.array_equal(info["store_index"], rows) and info["store_index"].dtype == np.int64
    assert list(info["ids"]) == list(ids)
    assert np.array_equal(info["labels"], labels) and info["labels"].dtype == np.int64
    for name in STORED:
        assert read_activations(out, name).shape[0] == len(rows)
    # chunk rows of 4 against batches of 5: flushes fall inside batches, and the file is the same
    monkeypatch.setattr(extract, "CHUNK_ROWS", 4)
    small = extract_activations(model_path, store, "train", tmp_path / "a.h5", ["mixed4a"], SIZE, "m", BATCH)
    with h5py.File(small, "r") as f:
        assert f["layers/mixed4a"].chunks == (4, 32)
    assert np.array_equal(read_activations(small, "mixed4a"), read_activations(out, "mixed4a"))


def test_attributes(tiny):
    store, model_path, out = tiny
    info = activation_info(out)
    assert info["model"] == "styles_A/1"
    assert info["model_file"] == str(model_path)
    assert info["model_sha256"] == hashlib.sha256(model_path.read_bytes()).hexdigest()
    assert (info["dataset"], info["split"], info["task"]) == ("styles", "train", "single_label")
    assert info["classes"] == list(GENERATORS["styles"])
    assert (info["image_size"], info["crop"]) == (SIZE, "center")
    assert info["tensors"] == STORED
    assert info["map_shapes"] == {"conv2d0": [32, 32], "mixed4a": [4, 4], "mixed5b": [2, 2], "mixed4d_3x3": [4, 4]}
    with h5py.File(out, "r") as f:
        assert list(f["layers"]) == sorted(STORED) and json.loads(f.attrs["tensors"]) == STORED
        assert list(f["argmax"]) == sorted(STORED)


def test_float32_means_from_a_mixed_precision_model(tiny, tmp_path):
    store, _, _ = tiny
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(8)
        model_path = save_model(build_inception_v1(9, input_size=SIZE), tmp_path / "half.keras")
        # extraction under the policy a mixed-precision job sets: the average must still be float32
        out = extract_activations(model_path, store, "test", tmp_path / "a.h5", ["conv2d0", "mixed5b"], SIZE, "h")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model = load_model(model_path)
    assert model.get_layer("conv2d0").compute_dtype == "float16"
    # the extraction computes the whole network in float32, as a float32 model with the same weights does
    float32_model = build_inception_v1(9, input_size=SIZE)
    float32_model.set_weights(model.get_weights())
    _, images, _, _ = store_split(store, "test")
    for layer in ("conv2d0", "mixed5b"):
        got = read_activations(out, layer)
        assert got.dtype == np.float32
        expected = direct_means(float32_model, layer, images)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max(), err_msg=layer)
    # a float16 average rounds every mean to a float16 value; the float32 mean of conv2d0's 32 x 32 float16 map
    # rarely is one
    conv2d0 = read_activations(out, "conv2d0")
    assert np.mean(conv2d0.astype(np.float16).astype(np.float32) != conv2d0) > 0.9


def test_multi_label_store_keeps_its_uint8_labels(tmp_path, tiny):
    _, model_path, _ = tiny
    write_images(tmp_path / "img", 6, size=(SIZE, SIZE))
    labels = ["a", "a;b", "", "b", "a;b", "a"]
    rows = [{"id": f"i{i}", "path": f"img/img{i}.png", "labels": lab, "split": "test"} for i, lab in enumerate(labels)]
    table = write_table(tmp_path / "source.csv", rows)
    store = tmp_path / "store.h5"
    build_store(table, tmp_path, store, tmp_path / "manifest.csv", ["a", "b"], "multi_label", SIZE, workers=1)
    out = extract_activations(model_path, store, "test", tmp_path / "a.h5", ["conv2d0"], SIZE, "m", batch_size=4)
    info = activation_info(out)
    assert info["labels"].dtype == np.uint8
    assert info["labels"].tolist() == [[1, 0], [1, 1], [0, 0], [0, 1], [1, 1], [1, 0]]
    assert read_activations(out, "conv2d0").shape == (6, 64)


@pytest.mark.parametrize(
    "change, error, words",
    [
        ({"tensors": ["mixed4a", "mixed9z"]}, UserError, ["mixed9z", "conv2d0", "mixed4d_3x3_pre_relu", "mixed5b"]),
        ({"image_size": STORE_SIZE}, UserError, [f"image_size {STORE_SIZE}", f"{SIZE} px"]),
        ({"model_path": "missing.keras"}, FileNotFoundError, ["missing.keras"]),
        ({"store": "missing.h5"}, UserError, ["missing.h5"]),
    ],
)
def test_bad_input_stops_before_writing(tiny, tmp_path, change, error, words):
    store, model_path, _ = tiny
    args = {"model_path": model_path, "store": store, "tensors": ["mixed4a"], "image_size": SIZE, **change}
    for key in ("model_path", "store"):
        if args[key] in ("missing.keras", "missing.h5"):
            args[key] = tmp_path / args[key]
    out = tmp_path / "a.h5"
    with pytest.raises(error) as err:
        extract_activations(split="train", out=out, model_name="m", batch_size=BATCH, **args)
    for word in words:
        assert word in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_several_splits_in_one_call_equal_one_call_each(tiny, tmp_path, monkeypatch):
    """The rule writes test and train in one job: the model is loaded once, and each file is the one a call of its
    own writes (here with three reader workers, there with one); a bad split stops the job before any forward
    pass."""
    import artfinetune.model.files as files
    from artfinetune.activations import extract_splits

    store, model_path, train = tiny
    loads = []
    real_load = files.load_model
    monkeypatch.setattr(files, "load_model", lambda path: loads.append(path) or real_load(path))
    outs = {"test": tmp_path / "test.h5", "train": tmp_path / "train.h5"}
    written = extract_splits(model_path, store, outs, TENSORS, SIZE, "styles_A/1", BATCH, reader_workers=3)
    assert written == list(outs.values())
    assert len(loads) == 1
    alone = extract_activations(model_path, store, "test", tmp_path / "alone.h5", TENSORS, SIZE, "styles_A/1", BATCH)
    for name in STORED:
        assert np.array_equal(read_activations(outs["train"], name), read_activations(train, name)), name
        assert np.array_equal(read_activations(outs["test"], name), read_activations(alone, name)), name
    with pytest.raises(UserError, match="split 'nope'"):
        extract_splits(model_path, store, {"test": tmp_path / "t2.h5", "nope": tmp_path / "n.h5"}, TENSORS, SIZE, "m")
    assert len(loads) == 2 and not (tmp_path / "t2.h5").exists()  # stopped before the model was loaded


def test_reading_a_tensor_the_file_lacks_names_the_file_and_its_tensors(tiny):
    _, _, out = tiny
    with pytest.raises(UserError, match=r"acts\.h5 has no activations of mixed3a; it has: conv2d0, mixed4a"):
        read_activations(out, "mixed3a")
    with pytest.raises(UserError, match="unknown layer 'mixed4z'"):
        read_activations(out, "mixed4z")


def test_post_relu_names():
    assert post_relu("mixed4d_3x3_pre_relu") == "mixed4d_3x3"
    assert post_relu("mixed4a") == "mixed4a"
    assert post_relu("conv2d0_pre_relu") == "conv2d0"
    assert post_relu("mixed4c_3x3_bottleneck_pre_relu") == "mixed4c_3x3_bottleneck"
    with pytest.raises(UserError, match="valid layers are: conv2d0, conv2d0_pre_relu"):
        post_relu("mixed4a_pool")


def test_a_mixed_precision_model_is_rebuilt_in_float32(tmp_path):
    import keras

    from artfinetune.model.files import as_float32
    from artfinetune.model.inception import build_inception_v1

    keras.utils.set_random_seed(0)
    try:
        keras.mixed_precision.set_global_policy("mixed_float16")
        mixed = build_inception_v1(3, input_size=64)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    reference = build_inception_v1(3, input_size=64)
    reference.set_weights(mixed.get_weights())
    rebuilt = as_float32(mixed)
    assert {layer.dtype_policy.name for layer in rebuilt.layers} == {"float32"}
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(rebuilt(x)), np.asarray(reference(x)))


@pytest.mark.parametrize("name", ["resnet50", "vgg16"])
def test_another_architectures_layers_equal_a_direct_forward_pass(name, tiny, tmp_path):
    """Any registered architecture's analysis layers, means and peaks, against numpy on a plain forward pass; a
    name of another architecture is refused before any work, naming the model's layers."""
    from artfinetune.model.architectures import architecture

    store, _, _ = tiny
    arch = architecture(name)
    keras.utils.set_random_seed(7)
    model_path = save_model(arch.build(9, input_size=SIZE), tmp_path / "model.keras")
    layers = [arch.study_layers[0], arch.study_layers[len(arch.study_layers) // 2], arch.study_layers[-1]]
    out = extract.extract_job(model_path, store, ["train"], [tmp_path / "acts.h5"], layers, SIZE, "m", BATCH)[0]
    model = load_model(model_path)
    _, images, _, _ = store_split(store, "train")
    for layer in layers:
        expected = direct_means(model, layer, images)
        got = read_activations(out, layer)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max(), err_msg=layer)
        maps = np.maximum(np.asarray(keras.Model(model.input, model.get_layer(layer).output)(images.astype("f4"))), 0)
        flat = maps.reshape(maps.shape[0], -1, maps.shape[-1])
        at = np.take_along_axis(flat, read_positions(out, layer)[0].astype(np.int64)[:, None, :], axis=1)[:, 0, :]
        np.testing.assert_allclose(at, flat.max(axis=1), rtol=1e-5, atol=1e-6, err_msg=layer)
    with pytest.raises(UserError, match=rf"unknown layer 'mixed4a'; valid layers are: {next(iter(arch.widths))}"):
        extract.extract_job(model_path, store, ["train"], [tmp_path / "x.h5"], ["mixed4a"], SIZE, "m", BATCH)
    assert not (tmp_path / "x.h5").exists()
