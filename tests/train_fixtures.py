"""What the training tests share: a tiny store with a pretrained-looking init, and modes built from one base."""

import keras

from artfinetune.data.demo import GENERATORS, generate_demo_dataset
from artfinetune.data.store import build_store
from artfinetune.model.files import load_model, save_model
from artfinetune.model.inception import build_inception_v1

SIZE = 64
BASE_MODE = {
    "lr_head": 0.01,
    "lr_transferred": 0.001,
    "epochs": 2,
    "deep_supervision": False,
    "optimizer": "sgd",
    "momentum": 0.9,
    "batch_size": 8,
    "augmentation": {"crop": "center", "flip": False, "translate": 0},
    "schedule": None,
    "frozen": [],
    "reinit": [],
    "kind": "fine_tune",
}


def mode(**changes):
    return {**BASE_MODE, **changes}


def tiny_store(root, images_per_class=4, splits=None):
    """A 9-class styles store of 72 px images, by default half of them for training, a quarter each for val and
    test."""
    table = generate_demo_dataset(
        root,
        "styles",
        images_per_class=images_per_class,
        image_size=72,
        seed=3,
        workers=1,
        splits=splits or {"train": 0.5, "val": 0.25, "test": 0.25},
    )
    store = root / "store.h5"
    build_store(table, root, store, root / "manifest.csv", list(GENERATORS["styles"]), "single_label", 72, workers=1)
    return store


def make_tiny(tmp_path_factory):
    """A 9-class styles store (4 images a class, 72 px) and a pretrained-looking 12-class init model."""
    root = tmp_path_factory.mktemp("tiny")
    store = tiny_store(root)
    keras.utils.set_random_seed(99)
    init = build_inception_v1(12, input_size=SIZE, aux_heads=True)
    save_model(init, root / "init_model.keras")
    return store, root / "init_model.keras"


def all_weights(path):
    return load_model(path).get_weights()
