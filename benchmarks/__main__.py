import argparse
import subprocess
import sys
from pathlib import Path

from benchmarks import PARTS

parser = argparse.ArgumentParser(prog="python -m benchmarks", description="Run artfinetune's benchmarks.")
parser.add_argument("names", nargs="*", default=list(PARTS), help=f"benchmarks to run (default: all of {list(PARTS)})")
names = parser.parse_args().names
unknown = [n for n in names if n not in PARTS]
if unknown:
    parser.error(f"unknown benchmarks {unknown}; choose from {list(PARTS)}")
root = Path(__file__).resolve().parents[1]
for name in names:
    for part in PARTS[name]:  # each in a fresh process: its memory is its own, its imports too
        code = f"from benchmarks import run_part; run_part({name!r}, {part!r})"
        subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
