"""Store building with all cores vs one, and reader throughput at 224 px vs training speed.

The reader must deliver at least 5x the rate at which InceptionV1 trains on this
CPU at 224 px (about 26 img/s), so that reading never limits training.
"""

import os
import tempfile
import time
from pathlib import Path

from artfinetune.data.demo import GENERATORS, generate_demo_dataset
from artfinetune.data.reader import Augmentation, StoreReader
from artfinetune.data.store import build_store

TRAIN_RATE_224 = 26.0  # img/s, InceptionV1 train step at 224 px on this 2-core CPU
N_PER_CLASS = 60  # 540 painting-sized JPEGs
SOURCE_SIZE = 900  # shorter side of the files, like a web-sized painting


def _time(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        table = generate_demo_dataset(tmp, "styles", images_per_class=N_PER_CLASS, image_size=SOURCE_SIZE, seed=0)
        classes = list(GENERATORS["styles"])

        def build(workers, name):
            return build_store(
                table, tmp, tmp / f"{name}.h5", tmp / f"{name}.csv", classes, "single_label", 256, workers=workers
            )

        t1, summary = _time(lambda: build(1, "one"))
        tn, _ = _time(lambda: build(cores, "all"))
        n = summary["stored"]
        print(f"store build, {n} JPEGs of {SOURCE_SIZE} px -> 256 px")
        print(f"  1 worker : {t1:6.2f} s  {n / t1:7.1f} img/s")
        print(f"  {cores} workers: {tn:6.2f} s  {n / tn:7.1f} img/s")
        print(f"  speed-up all cores vs one: {t1 / tn:.2f}x")

        print("reader, 224 px batches of 32 from the 256 px store (3 epochs each)")
        for label, aug in [
            ("centre crop (evaluation)", Augmentation()),
            ("random crop + flip", Augmentation(crop="random", flip=True)),
            ("flip + translate 28 px", Augmentation(flip=True, translate=28)),
        ]:
            reader = StoreReader(tmp / "all.h5", "train", 32, 224, augmentation=aug, shuffle=True)

            def read(reader=reader):
                return sum(len(x) for e in range(3) for x, _ in reader.epoch(e))

            t, count = _time(read)
            rate = count / t
            print(
                f"  {label:26s}: {rate:7.1f} img/s = {rate / TRAIN_RATE_224:5.1f}x the training rate "
                f"({TRAIN_RATE_224:.0f} img/s; target >= 5x)"
            )
