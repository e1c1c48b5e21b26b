"""A job's TensorFlow start-up: ``import tensorflow, keras`` as a plain import and through
:func:`artfinetune.gpu.import_tensorflow` (which leaves out Keras's scikit-learn, pandas and matplotlib
integrations), each in fresh Python processes, alternated so that both see the same machine.
"""

import statistics
import subprocess
import sys
import time

RUNS = 7
IMPORTS = {
    "plain import": "import keras, tensorflow",
    "import_tensorflow()": "from artfinetune.gpu import import_tensorflow; import_tensorflow()",
}


def _seconds(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


def main(runs: int = RUNS) -> None:
    times = {name: [] for name in IMPORTS}
    for _ in range(runs):
        for name, code in IMPORTS.items():
            times[name].append(_seconds(code))
    print(f"TensorFlow start-up of a job, a fresh Python process each ({runs} runs of each, alternated), s")
    print(f"  {'':>20} {'median':>7} {'min':>6} {'max':>6}")
    for name, seconds in times.items():
        print(f"  {name:>20} {statistics.median(seconds):>7.2f} {min(seconds):>6.2f} {max(seconds):>6.2f}")
    plain, ours = (statistics.median(times[name]) for name in IMPORTS)
    print(f"  import_tensorflow() vs plain import: {ours / plain:.2f}x the time, {plain - ours:.2f} s less a job")
