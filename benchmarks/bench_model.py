"""InceptionV1 forward and train-step throughput on this CPU at 64, 96 and 224 px.

Batches of 32 random images; a warm-up call per size compiles the graph first.
The train step is SGD with momentum on the main head's cross-entropy, the same
work a fine-tuning step does (no auxiliary heads).
"""

import time

import keras
import numpy as np

from artfinetune.model.inception import build_inception_v1

SIZES = (64, 96, 224)
BATCH = 32


def _rate(fn, images: int, min_seconds: float) -> float:
    fn()  # warm-up: tracing and compilation
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += images
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return n / elapsed


def main(min_seconds: float = 8.0) -> None:
    rng = np.random.default_rng(0)
    print(f"InceptionV1 throughput, batch {BATCH}, img/s (each measured for >= {min_seconds:.0f} s)")
    print(f"  {'size':>5} {'forward':>9} {'train step':>11} {'train/forward':>14}")
    rates = {}
    for size in SIZES:
        keras.utils.set_random_seed(0)
        model = build_inception_v1(25, input_size=size)
        model.compile(optimizer=keras.optimizers.SGD(0.001, momentum=0.9), loss="sparse_categorical_crossentropy")
        x = rng.uniform(0, 255, (BATCH, size, size, 3)).astype(np.float32)
        y = rng.integers(0, 25, BATCH)
        forward = _rate(lambda m=model, x=x: m.predict_on_batch(x), BATCH, min_seconds)
        train = _rate(lambda m=model, x=x, y=y: m.train_on_batch(x, y), BATCH, min_seconds)
        rates[size] = (forward, train)
        print(f"  {size:>5} {forward:>9.1f} {train:>11.1f} {train / forward:>14.2f}")
    f64, t64 = rates[64]
    f224, t224 = rates[224]
    print(f"  64 px vs 224 px: forward {f64 / f224:.1f}x, train step {t64 / t224:.1f}x")
