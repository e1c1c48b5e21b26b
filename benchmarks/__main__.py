import argparse
import importlib

BENCHES = ["store", "model", "train", "activations", "metrics"]

parser = argparse.ArgumentParser(prog="python -m benchmarks", description="Run artfinetune's benchmarks.")
parser.add_argument("names", nargs="*", default=BENCHES, help=f"benchmarks to run (default: all of {BENCHES})")
names = parser.parse_args().names
if {"model", "train", "activations"} & set(names):
    from artfinetune.gpu import configure_devices

    # memory growth on GPUs (once, before any model), float32, op determinism as in training jobs
    print(f"device: {configure_devices()}")
for name in names:
    importlib.import_module(f"benchmarks.bench_{name}").main()
