import numpy as np
import pytest

from artfinetune.data.reader import Augmentation, StoreReader
from artfinetune.data.store import build_store

from .conftest import write_images, write_table


def test_eval_batches_shapes_dtypes_and_centre_crop(square_store):
    store, arrays, rows = square_store
    reader = StoreReader(store, "train", batch_size=4, image_size=24)
    batches = list(reader.epoch(0))
    assert len(reader) == 2 and [b[0].shape for b in batches] == [(4, 24, 24, 3), (2, 24, 24, 3)]
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    assert images.dtype == np.uint8 and labels.dtype == np.int64
    assert labels.tolist() == [i % 3 for i in range(6)]  # unshuffled: store order
    np.testing.assert_array_equal(images, np.stack(arrays[:6])[:, 4:28, 4:28])


def test_shuffle_is_a_seeded_permutation_per_epoch(square_store):
    store, _, _ = square_store

    def ids(seed, epoch):
        r = StoreReader(store, "train", 6, 32, shuffle=True, seed=seed)
        ((images, labels),) = list(r.epoch(epoch))
        return images[:, 0, 0, 0].tolist()

    assert ids(1, 0) == ids(1, 0)
    assert ids(1, 0) != ids(1, 1)
    assert sorted(ids(1, 0)) == sorted(ids(2, 5))


def test_drop_remainder(square_store):
    store, _, _ = square_store
    r = StoreReader(store, "train", 4, 32, drop_remainder=True)
    assert len(r) == 1 and len(list(r.epoch(0))) == 1


def test_multi_label_labels_are_float_multi_hot(tmp_path):
    write_images(tmp_path / "img", 2, size=(16, 16))
    rows = [
        {"id": "0", "path": "img/img0.png", "labels": "a;c", "split": "test"},
        {"id": "1", "path": "img/img1.png", "labels": "b", "split": "test"},
    ]
    build_store(
        write_table(tmp_path / "s.csv", rows),
        tmp_path,
        tmp_path / "s.h5",
        tmp_path / "m.csv",
        ["a", "b", "c"],
        "multi_label",
        16,
    )
    ((_, labels),) = list(StoreReader(tmp_path / "s.h5", "test", 2, 16).epoch(0))
    assert labels.dtype == np.float32 and labels.tolist() == [[1, 0, 1], [0, 1, 0]]


def test_flip_mirrors_about_half_the_images(square_store):
    store, arrays, _ = square_store
    r = StoreReader(store, "train", 6, 32, augmentation=Augmentation(flip=True), seed=3)
    flipped = 0
    for epoch in range(10):
        ((images, _),) = list(r.epoch(epoch))
        for img, ref in zip(images, arrays[:6], strict=True):
            if np.array_equal(img, ref[:, ::-1]):
                flipped += 1
            else:
                np.testing.assert_array_equal(img, ref)
    assert 15 <= flipped <= 45  # 60 draws at p = 0.5


def test_random_crop_covers_the_store_and_is_reproducible(square_store):
    store, arrays, _ = square_store
    r = StoreReader(store, "train", 6, 24, augmentation=Augmentation(crop="random"), seed=0)
    offsets = set()
    for epoch in range(8):
        ((images, _),) = list(r.epoch(epoch))
        for img, ref in zip(images, arrays[:6], strict=True):
            found = [
                (t, left)
                for t in range(9)
                for left in range(9)
                if np.array_equal(ref[t : t + 24, left : left + 24], img)
            ]
            assert len(found) == 1
            offsets.add(found[0])
    assert len(offsets) > 20  # many of the 81 windows are used
    again = StoreReader(store, "train", 6, 24, augmentation=Augmentation(crop="random"), seed=0)
    np.testing.assert_array_equal(list(r.epoch(3))[0][0], list(again.epoch(3))[0][0])


def test_translation_shifts_the_window_and_reflects_at_the_edges(square_store):
    store, arrays, _ = square_store
    r = StoreReader(store, "train", 6, 32, augmentation=Augmentation(translate=3), seed=0)
    moved = 0
    for epoch in range(4):
        ((images, _),) = list(r.epoch(epoch))
        for img, ref in zip(images, arrays[:6], strict=True):
            padded = np.pad(ref, ((3, 3), (3, 3), (0, 0)), mode="reflect")
            found = [
                (dy, dx)
                for dy in range(-3, 4)
                for dx in range(-3, 4)
                if np.array_equal(padded[3 + dy : 35 + dy, 3 + dx : 35 + dx], img)
            ]
            assert found, "every image is the stored one shifted by at most 3 px"
            moved += found[0] != (0, 0)
    assert moved >= 18


def test_no_augmentation_is_identical_across_epochs(square_store):
    store, _, _ = square_store
    r = StoreReader(store, "val", 3, 24)
    np.testing.assert_array_equal(list(r.epoch(0))[0][0], list(r.epoch(7))[0][0])


def test_reader_errors_name_the_problem(square_store):
    store, _, _ = square_store
    with pytest.raises(ValueError, match="image_size 40 exceeds the store's 32 px"):
        StoreReader(store, "train", 4, 40)
    with pytest.raises(ValueError, match="split 'validation' is not one of"):
        StoreReader(store, "validation", 4, 24)
    with pytest.raises(ValueError, match="crop must be 'center' or 'random'"):
        Augmentation(crop="middle")


def test_stopping_early_releases_the_prefetch_thread(square_store):
    import threading

    store, _, _ = square_store
    before = threading.active_count()
    r = StoreReader(store, "train", 1, 24, prefetch=1)
    it = r.epoch(0)
    next(it)
    it.close()
    assert threading.active_count() == before


# --- Whole stored images: a crop can fall anywhere along the long side ------------------------------------------

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def thirds(long: int, short: int, wide: bool) -> np.ndarray:
    """A long x short image whose first third is red, middle third green and last third blue, along the long side."""
    a = np.empty((short, long, 3), np.uint8)
    third = long // 3
    a[:, :third], a[:, third : 2 * third], a[:, 2 * third :] = RED, GREEN, BLUE
    return a if wide else a.transpose(1, 0, 2).copy()


@pytest.fixture
def ends_store(tmp_path):
    """A store (16 px) of a 48 x 16 wide and a 16 x 48 tall image of thirds, in train and in test, stored unscaled."""
    from PIL import Image

    (tmp_path / "img").mkdir()
    wide, tall = thirds(48, 16, wide=True), thirds(48, 16, wide=False)
    Image.fromarray(wide).save(tmp_path / "img" / "wide.png")
    Image.fromarray(tall).save(tmp_path / "img" / "tall.png")
    rows = [
        {"id": f"{name}_{split}", "path": f"img/{name}.png", "labels": label, "split": split}
        for split in ("train", "test")
        for name, label in (("wide", "a"), ("tall", "b"))
    ]
    table = write_table(tmp_path / "s.csv", rows)
    build_store(table, tmp_path, tmp_path / "s.h5", tmp_path / "m.csv", ["a", "b"], "single_label", 16, workers=1)
    return tmp_path / "s.h5", wide, tall


def test_random_crops_reach_both_ends_of_a_wide_and_of_a_tall_image(ends_store):
    store, wide, tall = ends_store
    r = StoreReader(store, "train", 2, 12, augmentation=Augmentation(crop="random"), seed=0)
    crops = {"wide": [], "tall": []}
    for epoch in range(40):
        ((images, _),) = list(r.epoch(epoch))
        crops["wide"].append(images[0])
        crops["tall"].append(images[1])
    for name, image, along in (("wide", wide, 1), ("tall", tall, 0)):
        for crop in crops[name]:  # each is a genuine 12 x 12 window of the whole image: 5 x 37 places
            assert any(
                np.array_equal(image[t : t + 12, left : left + 12], crop)
                for t in range(image.shape[0] - 11)
                for left in range(image.shape[1] - 11)
            )
        # Only a window within the first (last) 16 px of the long side is all red (all blue): 5 of the 37
        # positions each, so 40 draws see both ends (a centre square of the image would hold only green).
        first = sum(bool((c == RED).all()) for c in crops[name])
        last = sum(bool((c == BLUE).all()) for c in crops[name])
        assert first > 0 and last > 0, f"{name}: {first} all-red and {last} all-blue crops of 40"
        edges = [np.take(c, 0, axis=along) for c in crops[name]] + [np.take(c, -1, axis=along) for c in crops[name]]
        assert any((e == RED).all() for e in edges) and any((e == BLUE).all() for e in edges)


def test_the_centre_crop_of_a_wide_and_a_tall_image_is_their_exact_centre(ends_store):
    store, wide, tall = ends_store
    ((images, labels),) = list(StoreReader(store, "train", 2, 12).epoch(0))
    # 48 x 16 -> rows 2..13 (margin (16 - 12) / 2), columns 18..29 (margin (48 - 12) / 2)
    np.testing.assert_array_equal(images[0], wide[2:14, 18:30])
    np.testing.assert_array_equal(images[1], tall[18:30, 2:14])
    assert (images == GREEN).all()  # the middle thirds, 16 px wide, hold both windows


def test_evaluation_sees_the_centre_of_whole_stored_images(ends_store, tmp_path):
    from artfinetune.train.evaluate import evaluate_model

    store, wide, tall = ends_store
    seen = []

    def model(images, training):  # a stand-in that records its inputs and is sure of class a
        seen.append(np.array(images))
        return np.tile(np.array([[0.9, 0.1]], np.float32), (len(images), 1))

    result = evaluate_model(model, store, 12, tmp_path)
    assert result["n"] == 2
    (images,) = seen
    np.testing.assert_array_equal(images, np.stack([wide[2:14, 18:30], tall[18:30, 2:14]]))


# --- Workers: the same batches from one thread or several processes ----------------------------------------------


@pytest.fixture
def wide_store(tmp_path):
    """A single-label store (30 px) of 7 train, 1 val and 1 test random 40 x 30 images, stored unscaled."""
    write_images(tmp_path / "img", 9, size=(40, 30))
    splits = ["train"] * 7 + ["val", "test"]
    rows = [{"id": f"i{i}", "path": f"img/img{i}.png", "labels": "ab"[i % 2], "split": splits[i]} for i in range(9)]
    table = write_table(tmp_path / "s.csv", rows)
    build_store(table, tmp_path, tmp_path / "s.h5", tmp_path / "m.csv", ["a", "b"], "single_label", 30, workers=1)
    return tmp_path / "s.h5"


def test_one_or_three_workers_read_byte_identical_epochs(wide_store):
    augmentation = Augmentation(crop="random", flip=True, translate=3)

    def epochs(workers):
        r = StoreReader(wide_store, "train", 2, 24, augmentation, shuffle=True, seed=5, workers=workers)
        return [list(r.epoch(e)) for e in (0, 1)]

    one, three = epochs(1), epochs(3)
    assert [[len(x) for x, _ in epoch] for epoch in three] == [[2, 2, 2, 1]] * 2  # a partial last batch
    for a, b in zip(one, three, strict=True):
        for (images_a, labels_a), (images_b, labels_b) in zip(a, b, strict=True):
            assert images_a.dtype == images_b.dtype == np.uint8 and labels_a.dtype == labels_b.dtype
            assert images_a.tobytes() == images_b.tobytes() and labels_a.tobytes() == labels_b.tobytes()
    assert not np.array_equal(one[0][0][0], one[1][0][0])  # augmented and shuffled: epochs differ
    # Kept batches stay intact: two workers with two slots each make 4 and 3 batches of one image, so keeping
    # them all (a list) makes the reader copy some rather than reuse a slot a kept batch still lies in.
    single, double = (StoreReader(wide_store, "train", 1, 24, augmentation, shuffle=True, workers=k) for k in (1, 2))
    assert [x.tobytes() for x, _ in double.epoch(3)] == [x.tobytes() for x, _ in single.epoch(3)]
    kept = list(double.epoch(3))
    assert [x.tobytes() for x, _ in kept] == [x.tobytes() for x, _ in single.epoch(3)]


def test_an_error_in_a_worker_reaches_the_consumer_at_its_batch(wide_store):
    import h5py

    with h5py.File(wide_store, "r+") as f:  # the 6th image now runs past the end of the pixels
        f["offsets"][5] = f["pixels"].shape[0] - 10
    for workers in (1, 3):
        got = []
        with pytest.raises(ValueError, match="cannot reshape"):
            for images, _ in StoreReader(wide_store, "train", 2, 24, workers=workers).epoch(0):
                got.append(images)
        assert len(got) == 2, workers  # batches 0 and 1, then batch 2's error


def test_stopping_early_leaves_no_worker_running(wide_store):
    import multiprocessing
    import os
    import threading

    threads = threading.active_count()
    reader = StoreReader(wide_store, "train", 1, 24, workers=2)  # batches 0, 2, 4, 6 and 1, 3, 5
    for _ in reader.epoch(0):
        pids = [p.pid for p in multiprocessing.active_children()]
        break
    assert len(pids) == 2
    assert multiprocessing.active_children() == [] and threading.active_count() == threads
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_worker_that_dies_is_an_error_not_a_wait(wide_store):
    import multiprocessing
    import os
    import signal

    batches = StoreReader(wide_store, "train", 1, 24, workers=2).epoch(0)
    next(batches)
    (first,) = [p for p in multiprocessing.active_children() if p.name.endswith("-0")]
    # It prepares batches 0, 2, 4 and 6 in two slots: 4 waits for batch 0's slot, which the consumer hands back
    # when asked for its next batch, after the kill, so 4 never comes.
    os.kill(first.pid, signal.SIGKILL)
    with pytest.raises(RuntimeError, match=r"reader process reader-train-0 died \(exit code -9\)"):
        for _ in batches:
            pass
