"""One GPU per concurrent GPU job on a local machine.

Snakemake counts GPU jobs (``--resources gpu=2`` runs at most two ``gpu=1``
jobs at once) but never tells a job which device to use. Before TensorFlow
starts, :func:`claim_device` takes a non-blocking lock on one file per device
id and keeps it for the life of the process, then exports
``CUDA_VISIBLE_DEVICES`` to that id; a crashed job's lock is released by the
operating system. Under SLURM (which assigns devices itself), when
``CUDA_VISIBLE_DEVICES`` is already set, or on a machine without GPUs, it does
nothing.

The device ids come from ``ARTFT_GPU_IDS`` (e.g. ``0,1``) or, if unset, from
``nvidia-smi -L``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
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
