import hashlib

import numpy as np
import pytest

from artfinetune.data.demo import GENERATORS, generate_demo_dataset
from artfinetune.data.store import StoredImages, build_store

from .conftest import read_rows


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def centre(image, size):
    top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    return image[top : top + size, left : left + size]


def _make(tmp_path, name, generator, seed, workers, per_class=3):
    out = tmp_path / name
    table = generate_demo_dataset(out, generator, images_per_class=per_class, image_size=48, seed=seed, workers=workers)
    classes = list(GENERATORS[generator])
    task = "multi_label" if generator == "objects" else "single_label"
    build_store(table, out, out / "store.h5", out / "manifest.csv", classes, task, 40, workers=workers)
    return out


@pytest.mark.parametrize("generator", ["source", "styles", "objects"])
def test_same_seed_gives_byte_identical_store(tmp_path, generator):
    a = _make(tmp_path, "a", generator, seed=5, workers=1)
    b = _make(tmp_path, "b", generator, seed=5, workers=2)  # worker count must not matter
    c = _make(tmp_path, "c", generator, seed=6, workers=2)
    assert _digest(a / "store.h5") == _digest(b / "store.h5")
    assert (a / "source.csv").read_text() == (b / "source.csv").read_text()
    assert _digest(a / "store.h5") != _digest(c / "store.h5")


def test_class_counts_and_multi_label_objects(tmp_path):
    assert len(GENERATORS["source"]) >= 10 and len(GENERATORS["styles"]) >= 8
    assert 4 <= len(GENERATORS["objects"]) <= 7
    out = _make(tmp_path, "o", "objects", seed=1, workers=2, per_class=10)
    rows = read_rows(out / "source.csv")
    n_labels = [len(r["labels"].split(";")) for r in rows]
    assert min(n_labels) >= 1 and max(n_labels) >= 2  # genuinely multi-label
    seen = {c for r in rows for c in r["labels"].split(";")}
    assert seen == set(GENERATORS["objects"])


def test_styles_vary_within_a_class(tmp_path):
    import h5py

    out = _make(tmp_path, "s", "styles", seed=2, workers=2, per_class=4)
    with h5py.File(out / "store.h5") as f:
        whole, labels = StoredImages(f), f["labels"][:]
        # the centre 40 x 40 of each (whole, 40 px on its shorter side) stored image, cut by hand
        images = np.stack([centre(whole[i], 40) for i in range(len(whole))]).astype(np.float32)
    for c in range(len(GENERATORS["styles"])):
        members = images[labels == c]
        assert len(members) == 4
        # two paintings of one style are different pictures, not copies
        diffs = [np.abs(members[i] - members[j]).mean() for i in range(4) for j in range(i + 1, 4)]
        assert min(diffs) > 5
