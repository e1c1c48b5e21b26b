"""Training throughput through the store reader vs the same model on in-memory tensors, at 96 and 224 px.

Reading (with the reader's prefetch thread, random crops and flips) must keep the
train step busy: the reader-fed rate should be at least 90 % of the in-memory rate.
"""

import tempfile
import time
from pathlib import Path

import tensorflow as tf

from artfinetune.data.demo import GENERATORS, generate_demo_dataset
from artfinetune.data.reader import Augmentation, StoreReader
from artfinetune.data.store import build_store
from artfinetune.train.loop import Trainer
from artfinetune.train.setup import build_run_model

MODE = {
    "lr_head": 0.01,
    "lr_transferred": 0.001,
    "epochs": 1,
    "deep_supervision": False,
    "optimizer": "sgd",
    "momentum": 0.9,
    "batch_size": 32,
    "schedule": None,
    "frozen": [],
    "reinit": [],
}
BATCHES = {96: 24, 224: 10}  # timed batches per measurement, after 2 warm-up batches


def _rate(trainer, batches) -> float:
    n, start = 0, None
    for i, (images, labels) in enumerate(batches):
        if i == 2:
            start = time.perf_counter()
        trainer._step(tf.convert_to_tensor(images), tf.convert_to_tensor(labels))
        if start is not None:
            n += len(images)
    return n / (time.perf_counter() - start)


def main() -> None:
    print("training throughput, batch 32, img/s: store reader (random crop + flip, prefetch) vs in-memory")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        table = generate_demo_dataset(tmp, "styles", images_per_class=48, image_size=300, seed=0)
        classes = list(GENERATORS["styles"])
        for size, n_batches in BATCHES.items():
            store = tmp / f"store{size}.h5"
            build_store(table, tmp, store, tmp / f"m{size}.csv", classes, "single_label", size + size // 7, workers=2)
            reader = StoreReader(store, "train", 32, size, Augmentation(crop="random", flip=True), shuffle=True)
            needed = n_batches + 2
            epochs = -(-needed // len(reader))

            def from_reader(reader=reader, needed=needed, epochs=epochs):
                batches = (b for e in range(epochs) for b in reader.epoch(e))
                return (b for _, b in zip(range(needed), batches, strict=False))

            memory = list(from_reader())  # the very same batches, decoded and augmented up front
            trainer = Trainer(build_run_model(MODE, len(classes), "single_label", size, 0, None), MODE, "single_label")
            _rate(trainer, memory[:3])  # compile
            # in-memory before and after the reader run, so drift in the machine's speed does not favour either
            first = _rate(trainer, memory)
            streamed = _rate(trainer, from_reader())
            in_memory = (first + _rate(trainer, memory)) / 2
            print(
                f"  {size:>3} px: reader {streamed:6.1f}, in-memory {in_memory:6.1f} -> "
                f"{100 * streamed / in_memory:5.1f} % (target >= 90 %)"
            )
