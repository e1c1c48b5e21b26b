"""Activation extraction at 224 px: the probe's forward pass vs plain inference, and end-to-end from a store.

The probe reads the 12 study layers and 6 branch tensors in one pass (per-channel spatial means, float32, and
each map's peak position); it must run at >= 90 % of the speed of plain inference of the same InceptionV1
(random weights, batch 32). The means alone are measured too, to show what the positions cost.
Both run on the same in-memory uint8 batches, interleaved in ABBA rounds so that drift on the shared cores
favours neither. Then the whole extract_activations (model load, probe build, store reading, HDF5 writing)
on a small store, and the cost of the first call at the smaller size of a split's last partial batch (the
probe is traced once for any batch size, so it should cost what a later call does).
"""

import statistics
import tempfile
import time
from pathlib import Path

import h5py
import keras
import numpy as np

from artfinetune.activations.extract import extract_activations, probe_function, probe_model, tensor_names
from artfinetune.data.demo import GENERATORS, generate_demo_dataset
from artfinetune.data.store import build_store
from artfinetune.model.files import save_model
from artfinetune.model.inception import build_inception_v1
from artfinetune.model.layers import STUDY_LAYERS

SIZE, BATCH = 224, 32
BRANCHES = (
    "mixed4d_3x3_pre_relu",
    "mixed4c_3x3_bottleneck_pre_relu",
    "mixed4d_pool_reduce_pre_relu",
    "mixed4b_3x3_bottleneck_pre_relu",
    "mixed5b_pool_reduce_pre_relu",
    "mixed5b_5x5_pre_relu",
)
TENSORS = [*STUDY_LAYERS, *BRANCHES]
ROUNDS, BATCHES_PER_TURN = 4, 3  # 4 ABBA rounds of 3 batches per method and turn: 24 timed batches each
TARGET = 0.90


def _seconds(fn, x, batches: int) -> float:
    start = time.perf_counter()
    for _ in range(batches):
        fn(x)
    return time.perf_counter() - start


def compare_in_memory(model, probes: dict, x) -> None:
    """Plain inference against each probe (name -> model), on the same batches, in ABBA rounds per probe."""
    fns = {"plain": probe_function(model, SIZE)}
    fns.update({name: probe_function(p, SIZE) for name, p in probes.items()})  # each traced once, as extraction runs
    for fn in fns.values():  # warm-up: tracing and compilation
        fn(x)
        fn(x)
    times = {name: [] for name in fns}
    plain_times = {name: [] for name in probes}  # the plain turns measured beside each probe's
    for name in probes:
        for r in range(ROUNDS):
            order = ("plain", name) if r % 2 == 0 else (name, "plain")
            for turn in order + order[::-1]:
                seconds = _seconds(fns[turn], x, BATCHES_PER_TURN)
                (plain_times[name] if turn == "plain" else times[name]).append(seconds)
    images = ROUNDS * 2 * BATCHES_PER_TURN * len(x)
    print(f"in memory, {images} images per method and comparison in {ROUNDS} ABBA rounds, img/s:")
    for name in probes:
        plain, probed = images / sum(plain_times[name]), images / sum(times[name])
        ratios = [p / q for p, q in zip(plain_times[name], times[name], strict=True)]  # per turn: speed ratio
        ratio = probed / plain
        verdict = "meets" if ratio >= TARGET else "MISSES"
        print(f"  plain inference {plain:7.2f}   {name} {probed:7.2f}")
        print(
            f"    {name} / plain = {ratio:.1%} (per turn: median {statistics.median(ratios):.1%}, "
            f"range {min(ratios):.1%}-{max(ratios):.1%}); {verdict} the {TARGET:.0%} target"
        )


def retrace_cost(probe, x) -> None:
    """The first call at a new batch size (a split's last partial batch), after calls at the full size."""
    predict = probe_function(probe, SIZE)
    predict(x)
    start = time.perf_counter()
    predict(x[: len(x) - 5])
    first = time.perf_counter() - start
    steady = _seconds(predict, x[: len(x) - 5], 2) / 2
    print(f"  last partial batch ({len(x) - 5} images): first call {first:.2f} s, then {steady:.2f} s")


def end_to_end(model, tmp: Path) -> None:
    table = generate_demo_dataset(tmp, "styles", images_per_class=24, image_size=300, seed=0)
    store = tmp / "store.h5"
    build_store(table, tmp, store, tmp / "manifest.csv", list(GENERATORS["styles"]), "single_label", 256)
    model_path = save_model(model, tmp / "model.keras")
    runs = {}
    for split in ("test", "train"):
        start = time.perf_counter()
        out = extract_activations(model_path, store, split, tmp / f"{split}.h5", TENSORS, SIZE, "random", BATCH)
        elapsed = time.perf_counter() - start
        with h5py.File(out, "r") as f:
            runs[split] = (f["store_index"].shape[0], elapsed)
    print("end to end, extract_activations from a 256 px store (model load, probe build and tracing included):")
    for split, (n, elapsed) in runs.items():
        print(f"  {split:>5}: {n:4d} images in {elapsed:5.1f} s, {n / elapsed:6.2f} img/s")
    (n0, t0), (n1, t1) = runs["test"], runs["train"]
    print(f"  per extra image (train - test, fixed costs cancel): {(n1 - n0) / (t1 - t0):.2f} img/s")


def main() -> None:
    keras.utils.set_random_seed(0)
    model = build_inception_v1(25, input_size=SIZE)
    names = tensor_names(TENSORS)
    probe = probe_model(model, names, "random weights")
    means_only = probe_model(model, names, "random weights", positions=False)
    channels = sum(o.shape[-1] for o in means_only.outputs)
    print(f"activation extraction at {SIZE} px, batch {BATCH}: {len(names)} tensors, {channels} channels")
    x = np.random.default_rng(0).integers(0, 256, (BATCH, SIZE, SIZE, 3), dtype=np.uint8)
    compare_in_memory(model, {"means only": means_only, "means and peak positions": probe}, x)
    retrace_cost(probe, x)
    with tempfile.TemporaryDirectory() as tmp:
        end_to_end(model, Path(tmp))


if __name__ == "__main__":
    main()
