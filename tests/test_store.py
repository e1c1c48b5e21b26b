import json

import h5py
import numpy as np
import pytest

from artfinetune.data.reader import StoreReader
from artfinetune.data.store import (
    StoredImages,
    StoreError,
    build_store,
    load_image,
    open_store,
    read_store_info,
    store_sha256,
)

from .conftest import read_rows, write_images, write_table


def test_round_trip_images_labels_splits_classes(square_store, tmp_path):
    store, arrays, rows = square_store
    with h5py.File(store) as f:
        assert f["pixels"].dtype == np.uint8 and f["pixels"].shape == (12 * 32 * 32 * 3,)
        assert f["offsets"][:].tolist() == [i * 32 * 32 * 3 for i in range(12)]
        assert f["shapes"][:].tolist() == [[32, 32]] * 12
        images = StoredImages(f)
        for i, a in enumerate(arrays):  # 32x32 PNG: resize is the identity
            np.testing.assert_array_equal(images[i], a)
        assert f["labels"][:].tolist() == [i % 3 for i in range(12)]
        assert [s.decode() for s in f["ids"][:]] == [f"i{i}" for i in range(12)]
        splits = json.loads(f.attrs["splits"])
        assert [splits[k] for k in f["split"][:]] == [r["split"] for r in rows]
        assert json.loads(f.attrs["classes"]) == ["a", "b", "c"]
        assert f.attrs["task"] == "single_label" and f.attrs["store_size"] == 32
    info = read_store_info(store)
    assert info["split_counts"] == {"train": 6, "val": 3, "test": 3}
    manifest = read_rows(tmp_path / "manifest.csv")
    assert [m["status"] for m in manifest] == ["ok"] * 12
    assert [m["store_index"] for m in manifest] == [str(i) for i in range(12)]


def test_resize_shorter_side_and_keep_the_whole_image(tmp_path):
    from PIL import Image

    a = np.zeros((40, 80, 3), np.uint8)  # 80 wide, 40 high: left/right quarters black, centre white
    a[:, 20:60] = 255
    Image.fromarray(a).save(tmp_path / "wide.png")
    out = load_image(tmp_path / "wide.png", 20)
    assert out.shape == (20, 40, 3)  # halved: the shorter side is 20, the aspect ratio 2:1 kept
    # Both black quarters are still there (now 10 columns each); only the bicubic filter's reach
    # blurs the column on each side of the two edges.
    assert out[:, :9].max() == 0 and out[:, -9:].max() == 0
    assert out[:, 11:29].min() == 255


@pytest.mark.parametrize(
    ("width", "height", "stored"),
    [(120, 40, (16, 48)), (45, 90, (32, 16)), (75, 50, (16, 24)), (50, 50, (16, 16))],
)
def test_the_stored_image_keeps_its_aspect_ratio(tmp_path, width, height, stored):
    write_images(tmp_path / "img", 1, size=(width, height))
    table = write_table(tmp_path / "s.csv", [{"id": "0", "path": "img/img0.png", "labels": "a", "split": "train"}])
    build_store(table, tmp_path, tmp_path / "s.h5", tmp_path / "m.csv", ["a", "b"], "single_label", 16)
    with open_store(tmp_path / "s.h5") as f:  # shorter side 16, the longer one scaled by the same factor
        assert f["shapes"][:].tolist() == [list(stored)]
        assert StoredImages(f)[0].shape == (*stored, 3)
        assert f.attrs["format"] == 2


def test_a_store_of_the_old_square_format_is_refused_with_the_fix(tmp_path):
    """A store built before the whole-image format (centre squares in a 4-D ``images``) is not misread."""
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=np.zeros((2, 16, 16, 3), np.uint8))
        f.create_dataset("labels", data=np.zeros(2, np.int64))
        f.create_dataset("split", data=np.zeros(2, np.uint8))
        f.create_dataset("ids", data=np.array(["a", "b"], dtype=object), dtype=h5py.string_dtype())
        f.attrs.update(task="single_label", classes='["x", "y"]', splits='["train", "val", "test"]', store_size=16)
    message = r"old\.h5 is an image store of format 1 \(each image's centre square only\).*build it again"
    for read in (open_store, read_store_info, store_sha256, lambda p: StoreReader(p, "train", 2, 16)):
        with pytest.raises(StoreError, match=message):
            read(path)


def test_corrupt_and_missing_images_are_recorded_and_store_still_builds(tmp_path):
    write_images(tmp_path / "img", 4, size=(24, 24))
    # A truncated JPEG: the first half of a real file.
    from PIL import Image

    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(tmp_path / "img" / "full.jpg", quality=95)
    data = (tmp_path / "img" / "full.jpg").read_bytes()
    (tmp_path / "img" / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "img" / "garbage.jpg").write_bytes(b"not an image at all")
    rows = [{"id": f"i{i}", "path": f"img/img{i}.png", "labels": "x", "split": "train"} for i in range(4)]
    rows += [
        {"id": "t", "path": "img/truncated.jpg", "labels": "y", "split": "test"},
        {"id": "g", "path": "img/garbage.jpg", "labels": "y", "split": "test"},
        {"id": "m", "path": "img/missing.jpg", "labels": "y", "split": "test"},
        {"id": "u", "path": "img/img0.png", "labels": "zebra", "split": "test"},
        {"id": "ok", "path": "img/full.jpg", "labels": "y", "split": "test"},
    ]
    table = write_table(tmp_path / "source.csv", rows)
    summary = build_store(
        table, tmp_path, tmp_path / "s.h5", tmp_path / "m.csv", ["x", "y"], "single_label", 16, workers=2
    )
    assert summary["stored"] == 5 and summary["left_out"] == 4
    status = {m["id"]: m["status"] for m in read_rows(tmp_path / "m.csv")}
    assert status["t"].startswith("unreadable (OSError") and "truncated" in status["t"].lower()
    assert status["g"].startswith("unreadable (UnidentifiedImageError")
    assert status["m"].startswith("unreadable (FileNotFoundError")
    assert status["u"] == "skipped (label zebra is not one of the dataset's classes)"
    assert status["ok"] == "ok"
    with h5py.File(tmp_path / "s.h5") as f:
        assert [s.decode() for s in f["ids"][:]] == ["i0", "i1", "i2", "i3", "ok"]
        assert f.attrs["n_failed"] == 4


def test_validation_is_carved_from_train_with_a_fixed_seed(tmp_path):
    write_images(tmp_path / "img", 20, size=(16, 16))
    rows = [
        {"id": f"i{i}", "path": f"img/img{i}.png", "labels": "ab"[i % 2], "split": "train" if i < 16 else "test"}
        for i in range(20)
    ]
    table = write_table(tmp_path / "source.csv", rows)

    def carve(seed, name):
        build_store(
            table,
            tmp_path,
            tmp_path / f"{name}.h5",
            tmp_path / f"{name}.csv",
            ["a", "b"],
            "multi_label",
            16,
            val_fraction=0.25,
            split_seed=seed,
            workers=1,
        )
        return [m["id"] for m in read_rows(tmp_path / f"{name}.csv") if m["split"] == "val"]

    first, again, other = carve(0, "a"), carve(0, "b"), carve(1, "c")
    assert len(first) == 4 and first == again and first != other
    assert all(int(i[1:]) < 16 for i in first)  # taken from train only
    info = read_store_info(tmp_path / "a.h5")
    assert info["split_counts"] == {"train": 12, "val": 4, "test": 4}
    assert info["val_carved"] == {"count": 4, "fraction": 0.25, "seed": 0}


def test_multi_label_store_is_multi_hot(tmp_path):
    write_images(tmp_path / "img", 3, size=(16, 16))
    rows = [
        {"id": "0", "path": "img/img0.png", "labels": "a;c", "split": "train"},
        {"id": "1", "path": "img/img1.png", "labels": "b", "split": "val"},
        {"id": "2", "path": "img/img2.png", "labels": "c;b;a", "split": "test"},
    ]
    table = write_table(tmp_path / "source.csv", rows)
    build_store(table, tmp_path, tmp_path / "s.h5", tmp_path / "m.csv", ["a", "b", "c"], "multi_label", 16)
    with h5py.File(tmp_path / "s.h5") as f:
        assert f["labels"].dtype == np.uint8
        assert f["labels"][:].tolist() == [[1, 0, 1], [0, 1, 0], [1, 1, 1]]


@pytest.mark.parametrize("task", ["multi_label", "single_label"])
def test_an_image_without_a_label_is_a_negative_in_multi_label_data_and_left_out_in_single_label(tmp_path, task):
    write_images(tmp_path / "img", 4, size=(16, 16))
    rows = [
        {"id": "0", "path": "img/img0.png", "labels": "a", "split": "train"},
        {"id": "1", "path": "img/img1.png", "labels": "b", "split": "val"},
        {"id": "2", "path": "img/img2.png", "labels": "", "split": "test"},  # shows none of the classes
        {"id": "3", "path": "img/img3.png", "labels": "c", "split": "test"},
    ]
    table = write_table(tmp_path / "source.csv", rows)
    summary = build_store(table, tmp_path, tmp_path / "s.h5", tmp_path / "m.csv", ["a", "b", "c"], task, 16)
    manifest = {r["id"]: r for r in read_rows(tmp_path / "m.csv")}
    with h5py.File(tmp_path / "s.h5") as f:
        ids, labels = [i.decode() for i in f["ids"][:]], f["labels"][:].tolist()
        unlabeled = int(f.attrs["n_unlabeled"])
    if task == "multi_label":
        assert ids == ["0", "1", "2", "3"]
        assert labels == [[1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]]
        assert manifest["2"]["status"] == "ok" and manifest["2"]["store_index"] == "2"
        assert summary["splits"]["test"] == 2 and summary["unlabeled"] == unlabeled == 1
    else:
        assert ids == ["0", "1", "3"]
        assert manifest["2"]["status"] == "skipped (no label)" and manifest["2"]["store_index"] == ""
        assert summary["splits"]["test"] == 1 and summary["unlabeled"] == unlabeled == 0


def test_the_content_fingerprint_follows_the_content_not_the_file(tmp_path):
    write_images(tmp_path / "img", 3, size=(16, 16))
    rows = [{"id": str(i), "path": f"img/img{i}.png", "labels": "abc"[i], "split": "train"} for i in range(3)]
    table = write_table(tmp_path / "source.csv", rows)
    args = (["a", "b", "c"], "single_label", 16)
    build_store(table, tmp_path, tmp_path / "one.h5", tmp_path / "m.csv", *args)
    build_store(table, tmp_path, tmp_path / "two.h5", tmp_path / "m.csv", *args)
    write_images(tmp_path / "img", 3, size=(16, 16), seed=1)  # other pixels, same files
    build_store(table, tmp_path, tmp_path / "three.h5", tmp_path / "m.csv", *args)
    one, two, three = (store_sha256(tmp_path / f"{n}.h5") for n in ("one", "two", "three"))
    assert one == two and one != three and len(one) == 64


def test_no_readable_image_is_an_error_and_leaves_no_store(tmp_path):
    table = write_table(tmp_path / "source.csv", [{"id": "0", "path": "nope.jpg", "labels": "a", "split": "train"}])
    with pytest.raises(StoreError, match="no readable image"):
        build_store(table, tmp_path, tmp_path / "s.h5", tmp_path / "m.csv", ["a", "b"], "single_label", 16)
    assert not (tmp_path / "s.h5").exists()
    assert not list(tmp_path.glob(".s.h5*"))


def test_exif_orientation_is_applied(tmp_path):
    from PIL import Image

    a = np.zeros((20, 40, 3), np.uint8)  # landscape: left half red, right half blue
    a[:, :20, 0] = 255
    a[:, 20:, 2] = 255
    img = Image.fromarray(a)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    img.save(tmp_path / "o.jpg", exif=exif, quality=95)
    out = load_image(tmp_path / "o.jpg", 20)  # upright: portrait 20 wide, 40 high
    assert out.shape == (40, 20, 3)
    assert out[2, 10, 0] > 200 and out[-3, 10, 2] > 200  # red on top, blue below after the quarter turn
