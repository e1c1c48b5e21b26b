import argparse
import importlib

BENCHES = ["store", "model", "train"]

parser = argparse.ArgumentParser(prog="python -m benchmarks", description="Run artfinetune's benchmarks.")
parser.add_argument("names", nargs="*", default=BENCHES, help=f"benchmarks to run (default: all of {BENCHES})")
for name in parser.parse_args().names:
    importlib.import_module(f"benchmarks.bench_{name}").main()
