"""Benchmarks: `make bench` (python -m benchmarks [NAME ...]). Each prints ratios measured side by side.

Every part runs in a Python process of its own (:func:`run_part`) and ends by printing that process's peak
resident memory (:func:`peak_memory_gib`), so the figure a part prints is its own.
"""

import importlib
import sys

# Benchmark name -> its parts (functions of benchmarks/bench_<name>.py), each run in a process of its own.
PARTS = {
    "store": ("main",),
    "reader": ("main",),
    "model": ("main",),
    "train": ("main",),
    "activations": ("main",),
    "metrics": ("cka_part", "topk_part"),
    "startup": ("main",),
}
TENSORFLOW = {"model", "train", "activations"}  # these set TensorFlow up as a training job does


def peak_memory_gib() -> float:
    """This process's peak resident memory in GiB: Linux's VmHWM, the high-water mark of its own address space.

    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux counts in it the peak of the address space a process had
    before it exec'd, which for a child Python starts (vfork, then exec) is its parent's, so a part started after
    a big one printed the big one's peak (issue 17: the top-k part's 2.63 GiB).
    """
    try:
        with open("/proc/self/status") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        return kib / 2**20
    except (OSError, StopIteration):  # not Linux: getrusage, whose caveat does not apply there
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**30 if sys.platform == "darwin" else peak / 2**20


def run_part(name: str, part: str) -> None:
    """Run one part of benchmark ``name`` in this process, then print this process's peak memory."""
    if name in TENSORFLOW:
        from artfinetune.gpu import configure_devices

        # memory growth on GPUs (once, before any model), float32, op determinism as in training jobs
        print(f"device: {configure_devices()}")
    getattr(importlib.import_module(f"benchmarks.bench_{name}"), part)()
    label = name if len(PARTS[name]) == 1 else f"{name} {part.removesuffix('_part')}"
    print(f"  peak memory of the {label} part (its own process): {peak_memory_gib():.2f} GiB", flush=True)
