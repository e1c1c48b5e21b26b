"""Devices of a training job: one GPU per concurrent GPU job on a local machine, and TensorFlow's set-up.

Snakemake counts GPU jobs (``--resources gpu=2`` runs at most two ``gpu=1``
jobs at once) but never tells a job which device to use. Before TensorFlow
starts, :func:`claim_device` takes a non-blocking lock on one file per device
id and keeps it for the life of the process, then exports
``CUDA_VISIBLE_DEVICES`` to that id; a crashed job's lock is released by the
operating system. Under SLURM (which assigns devices itself), when
``CUDA_VISIBLE_DEVICES`` is already set, or on a machine without GPUs, it does
nothing.

The device ids come from ``ARTFT_GPU_IDS`` (e.g. ``0,1``) or, if unset, from
``nvidia-smi -L``. :func:`configure_devices` then sets TensorFlow up (memory growth once per process, op
determinism, precision policy).

A job imports TensorFlow through :func:`import_tensorflow`, without the optional integrations Keras loads when it
finds scikit-learn, pandas or matplotlib installed (see there).
"""

from __future__ import annotations

import fcntl
import importlib.abc
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

_HELD = []  # open lock files: the claim lasts as long as the process


def device_ids() -> list[str]:
    if os.environ.get("ARTFT_GPU_IDS"):
        return [i.strip() for i in os.environ["ARTFT_GPU_IDS"].split(",") if i.strip()]
    if shutil.which("nvidia-smi") is None:
        return []
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False).stdout
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def claim_device(lock_dir: str | Path | None = None, wait_seconds: float = 600.0) -> str | None:
    """Claim a free GPU for this process and restrict CUDA to it; returns its id (None: nothing done)."""
    if "SLURM_JOB_ID" in os.environ or "CUDA_VISIBLE_DEVICES" in os.environ:
        return None
    ids = device_ids()
    if not ids:
        return None
    lock_dir = Path(lock_dir or os.environ.get("ARTFT_GPU_LOCKS") or Path(tempfile.gettempdir()) / "artfinetune-gpus")
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    while True:
        for gpu in ids:
            handle = open(lock_dir / f"gpu{gpu}.lock", "w")  # noqa: SIM115 (held open on purpose)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            _HELD.append(handle)
            os.environ["CUDA_VISIBLE_DEVICES"] = gpu
            log.info("using GPU %s (lock %s)", gpu, lock_dir / f"gpu{gpu}.lock")
            return gpu
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"no free GPU among {ids} after {wait_seconds:.0f} s; run with --resources gpu=N where N is at most "
                f"the number of GPUs, or set ARTFT_GPU_IDS"
            )
        time.sleep(1.0)


# What Keras imports, when installed, only for integrations no job uses: its scikit-learn estimator wrappers
# (keras.wrappers), pandas frames as inputs to fit and predict, and its image-gallery plots (matplotlib.pyplot).
KERAS_EXTRAS = ("sklearn", "pandas", "matplotlib")


class _WithoutKerasExtras(importlib.abc.MetaPathFinder):
    """Refuses the packages of :data:`KERAS_EXTRAS` that are not imported yet (Keras then leaves their integrations
    out, as on an installation without them)."""

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in KERAS_EXTRAS and top not in sys.modules:
            raise ModuleNotFoundError(f"{name} is left out while Keras imports", name=name)
        return None


def import_tensorflow() -> None:
    """Import TensorFlow and Keras for a job, without Keras's integrations with scikit-learn, pandas and
    matplotlib (:data:`KERAS_EXTRAS`): importing those packages is 1.5 to 3 s of TensorFlow's 4 to 7 s of start-up
    on a CPU (docs/benchmarks.md), in every training, activations and render job. The packages are refused only
    while TensorFlow imports: afterwards each imports as usual, for the code of this project that uses it
    (scikit-learn's average precision, pandas tables, figures). Keras's integrations stay off for the rest of the
    process (it records at import that the package is missing): no pandas frames as inputs to ``fit`` or
    ``predict``, no ``keras.wrappers`` estimators, no ``keras.visualization`` plots, none of which a job uses. A
    package imported before (a render job's pandas) is not refused. Nothing happens if TensorFlow is imported
    already."""
    if "tensorflow" in sys.modules:
        return
    finder = _WithoutKerasExtras()
    sys.meta_path.insert(0, finder)
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        sys.meta_path.remove(finder)


def set_threads(n: int) -> None:
    """The job's thread budget (Snakemake's ``threads``; 0: TensorFlow's default), set before TensorFlow starts."""
    if n > 0:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(min(n, 2))


def start_tensorflow_job(threads: int = 0) -> None:
    """Before TensorFlow starts: a device of its own for a local GPU job (:func:`claim_device`), TensorFlow
    imported (:func:`import_tensorflow`) and its threads."""
    claim_device()
    import_tensorflow()
    set_threads(threads)


_MEMORY_GROWTH_DONE = False  # TensorFlow refuses to change it once a GPU is in use: set it once per process


def configure_devices(mixed_precision: bool = False, deterministic: bool = True) -> str:
    """Set up TensorFlow for a training job; safe to call again in the same process. Returns :func:`device_name`.

    - memory growth on every visible GPU (jobs share a GPU without grabbing it whole), once per process;
    - op determinism on or off (``deterministic``: same seed, same weights; GPU users may trade it for speed);
    - the mixed float16 or float32 Keras policy.
    """
    global _MEMORY_GROWTH_DONE
    import keras
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config  # disable_op_determinism is not exported

    if not _MEMORY_GROWTH_DONE:
        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError as err:  # TensorFlow already started on it elsewhere in this process
                log.warning("could not turn on memory growth for %s: %s", gpu.name, err)
        _MEMORY_GROWTH_DONE = True
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    else:
        tf_config.disable_op_determinism()
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")
    return device_name()


def device_name() -> str:
    """What TensorFlow computes on, for logs and benchmark output: ``GPU 0 (NVIDIA A100...)`` or ``CPU (8 cores)``."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"CPU ({os.cpu_count()} cores)"
    names = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append(f"{gpu.name.split(':', 1)[-1]} ({details.get('device_name', 'unknown model')})")
    return ", ".join(names)


def tensorflow_gpus(timeout: float = 300.0) -> list[str]:
    """The GPUs TensorFlow sees (their device names), asked in a child process: TensorFlow's start-up chatter
    stays out of the caller's output, and a CUDA set-up that hangs is stopped after ``timeout`` seconds."""
    import sys

    code = "import tensorflow as tf; print(*(d.name for d in tf.config.list_physical_devices('GPU')), sep='\\n')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise RuntimeError(f"TensorFlow did not start: {last}")
    return [line for line in proc.stdout.splitlines() if line.strip()]
