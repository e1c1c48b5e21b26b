"""Small I/O helpers shared by every stage: atomic writes, file digests, HDF5 opening, canonical JSON for rule params
and logging set-up."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, read in blocks (a model, a download)."""
    import hashlib

    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def params_json(value) -> str:
    """``value`` as JSON for a rule's params (and the command line they go to), the same text for the same content.

    Keys are sorted at every level, so a config whose mappings are written in another order gives the same params
    and Snakemake reruns a job only when its content changes; lists keep their order (it is content). Non-ASCII
    text stays as it is.
    """
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds.

    A crashed job never leaves a file that looks complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | Path):
    """Yield a new temporary folder beside ``path``; it replaces ``path`` (and anything there) only if the block
    succeeds, so a crashed job leaves either the old folder or none, never a half-written one."""
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def open_hdf5(path: str | Path, what: str, datasets=(), attrs=(), error=None):
    """Open an HDF5 artifact (``what``: "image store", "activations file") for reading; a missing, foreign or
    incomplete file is one sentence naming it and the fix, raised as ``error`` (default UserError)."""
    import h5py

    from artfinetune.errors import UserError

    error = error or UserError
    path = Path(path)
    if not path.exists():
        raise error(f"{what} {path} does not exist; build it first (snakemake {path})")
    if not h5py.is_hdf5(path):
        raise error(f"{path} is not an {what} (not an HDF5 file); delete it and build it again")
    f = h5py.File(path, "r")
    missing = [d for d in datasets if d not in f] + [a for a in attrs if a not in f.attrs]
    if missing:
        f.close()
        raise error(f"{path} is not an artfinetune {what} (it lacks {', '.join(missing)}); build it again")
    return f


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr (the rule's log file) with timestamps; libraries' chatter (fontTools lists every glyph it
    keeps when matplotlib writes a PDF) only from warnings up, unless ``verbose``."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    logging.getLogger("fontTools").setLevel(logging.DEBUG if verbose else logging.WARNING)
