import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from artfinetune.data.store import build_store

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = REPO / "resources" / "demo" / "config.yaml"
PAPER_CONFIG = REPO / "config.yaml"


@pytest.fixture
def demo_config_dict():
    return copy.deepcopy(yaml.safe_load(DEMO_CONFIG.read_text()))


def write_images(folder: Path, n: int, size=(40, 30), seed=0) -> list[np.ndarray]:
    """Write n random RGB PNG files img0.png ... (lossless, so round trips are exact)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = []
    for i in range(n):
        a = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(a).save(folder / f"img{i}.png")
        arrays.append(a)
    return arrays


def write_table(path: Path, rows: list[dict]) -> Path:
    import csv

    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["id", "path", "labels", "split"])
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture
def square_store(tmp_path):
    """A single-label store of 12 random 32x32 images, 3 classes, splits 6/3/3; returns (store, arrays, rows)."""
    arrays = write_images(tmp_path / "img", 12, size=(32, 32))
    splits = ["train"] * 6 + ["val"] * 3 + ["test"] * 3
    rows = [{"id": f"i{i}", "path": f"img/img{i}.png", "labels": "abc"[i % 3], "split": splits[i]} for i in range(12)]
    table = write_table(tmp_path / "source.csv", rows)
    store = tmp_path / "store.h5"
    build_store(table, tmp_path, store, tmp_path / "manifest.csv", ["a", "b", "c"], "single_label", 32, workers=1)
    return store, arrays, rows


def read_rows(path: Path) -> list[dict]:
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# Files that run for minutes go first: pytest-xdist (--dist loadfile --no-loadscope-reorder; by default it orders
# files by their number of tests, which put the one-test, two-minute test_own_dataset.py last) hands out whole files
# in collection order, two to each worker to start with, then one to each worker that runs out; a long file started
# last runs alone at the end.
SLOW_FIRST = (
    "test_slurm.py",
    "test_train_resume.py",
    "test_own_dataset.py",
    "test_workflow.py",
    "test_train.py",
    "test_render.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))  # stable: the rest keep their order
