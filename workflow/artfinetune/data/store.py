"""The image store: a dataset's images decoded and resized once into one HDF5 file.

Input is a source table (CSV: id, path, labels, split; labels are class names
separated by ';'); output is the store and the manifest, which is the source
table plus each image's status (``ok`` or the reason it was left out) and its
row in the store. Store layout (format 2, :data:`STORE_FORMAT`)::

    pixels   (total,) uint8       every image whole, shorter side resized to S (bicubic), aspect ratio kept,
                                  its (h, w, 3) RGB pixels row-major, one image after the other
    offsets  (n,) int64           where image i starts in pixels
    shapes   (n, 2) int32         image i's (height, width): min(height, width) == S
    labels   (n,) int64           single-label: class index
             (n, C) uint8         multi-label: multi-hot
    split    (n,) uint8           index into attrs["splits"] (train, val, test)
    ids      (n,) str             the source ids
    attrs    format, dataset, task, classes, splits, store_size, preprocessing, n_failed, n_unlabeled, val_carved,
             content_sha256 (of the images, labels, splits, ids and classes: what a training run depends on)

One flat array rather than a padded 4-D one: images differ in their long side, and a training batch reads each
of its images with one contiguous slice. :class:`StoredImages` reads them; :class:`ImageWriter` writes them;
:func:`~artfinetune.data.store_format.centre_window` is the window evaluation sees.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import multiprocessing
import os
from pathlib import Path

import h5py
import numpy as np
from PIL import Image, ImageOps
from tqdm import tqdm

from artfinetune.data.store_format import SPLITS, STORE_FORMAT
from artfinetune.data.tasks import TASKS
from artfinetune.errors import UserError
from artfinetune.io import atomic_path, open_hdf5

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("id", "path", "labels", "split", "status", "store_index")
PREPROCESSING = (
    "decoded with Pillow, turned upright by its EXIF orientation, converted to RGB, shorter side resized "
    "to store_size (bicubic, JPEG draft decoding when the file is at least twice as large), aspect ratio kept "
    "(the whole image), uint8"
)
PIXEL_CHUNK = 1 << 16  # bytes per HDF5 chunk of the pixels: a 256 x 341 image (262 kB) spans 4 or 5
# Paintings can be very large scans; they are legitimate input, not decompression bombs.
Image.MAX_IMAGE_PIXELS = 400_000_000


class StoreError(UserError):
    """A dataset problem that stops the store from being built (nothing usable was found), or a store that
    cannot be read (missing, foreign, or of an older format)."""


class ImageWriter:
    """Appends images of any size to a new store's ``pixels``, ``offsets`` and ``shapes`` (the store layout)."""

    def __init__(self, f: h5py.File):
        self.f = f
        self.pixels = f.create_dataset("pixels", shape=(0,), maxshape=(None,), dtype=np.uint8, chunks=(PIXEL_CHUNK,))
        self.offsets: list[int] = []
        self.shapes: list[tuple[int, int]] = []
        self.end = 0

    def add(self, image: np.ndarray) -> None:
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"a stored image is (height, width, 3) uint8, not {image.shape} {image.dtype}")
        flat = np.ascontiguousarray(image).reshape(-1)
        self.pixels.resize((self.end + flat.size,))
        self.pixels[self.end :] = flat
        self.offsets.append(self.end)
        self.shapes.append(image.shape[:2])
        self.end += flat.size

    def close(self) -> None:
        """Write the index of the images added (offsets and shapes); the store is readable once this ran."""
        self.f.create_dataset("offsets", data=np.array(self.offsets, np.int64).reshape(-1))
        self.f.create_dataset("shapes", data=np.array(self.shapes, np.int32).reshape(-1, 2))


class StoredImages:
    """The images of an open store: ``len()``, ``shape(i)`` and ``images[i]``, an (h, w, 3) uint8 array read
    with one contiguous slice."""

    def __init__(self, f: h5py.File):
        self.pixels = f["pixels"]
        self.offsets = f["offsets"][:]
        self.shapes = f["shapes"][:]

    def __len__(self) -> int:
        return len(self.offsets)

    def shape(self, index: int) -> tuple[int, int, int]:
        height, width = self.shapes[index]
        return int(height), int(width), 3

    def __getitem__(self, index: int) -> np.ndarray:
        shape = self.shape(index)
        start = int(self.offsets[index])
        return self.pixels[start : start + shape[0] * shape[1] * 3].reshape(shape)


def load_image(path: str | Path, size: int) -> np.ndarray:
    """Decode one image file to an (h, w, 3) uint8 array, the whole image with its shorter side resized to
    ``size`` (aspect ratio kept)."""
    with Image.open(path) as img:
        img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale still >= size
        img = ImageOps.exif_transpose(img).convert("RGB")  # photos with an orientation tag stand upright
        w, h = img.size
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        img = img.resize((nw, nh), Image.Resampling.BICUBIC)
        return np.asarray(img, dtype=np.uint8)


def _decode(args):
    index, path, size = args
    try:
        return index, load_image(path, size), "ok"
    except Exception as err:  # every failure is recorded in the manifest, none stops the build
        reason = f"{type(err).__name__}: {err}".replace("\n", " ")
        return index, None, f"unreadable ({reason})"


def read_source_table(path: str | Path) -> list[dict]:
    """Rows of a source table; a missing column is an error naming it."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"id", "path", "labels", "split"} - set(reader.fieldnames or [])
        if missing:
            raise StoreError(f"source table {path} lacks columns {sorted(missing)}; it needs id, path, labels, split")
        return list(reader)


def _check_row(row: dict, classes: list[str], task: str) -> str:
    if row.get("status") not in (None, "", "ok"):  # the download already left it out (e.g. a dead link)
        return row["status"]
    labels = [c for c in row["labels"].split(";") if c]
    if not labels and task == "single_label":
        return "skipped (no label)"  # a multi-label image without a label is a negative for every class
    if task == "single_label" and len(labels) > 1:
        return "skipped (several labels in a single-label dataset)"
    unknown = [c for c in labels if c not in classes]
    if unknown:
        return f"skipped (label {';'.join(unknown)} is not one of the dataset's classes)"
    if row["split"] not in SPLITS:
        return f"skipped (split {row['split']!r} is not one of {', '.join(SPLITS)})"
    return "ok"


def carve_validation(rows: list[dict], fraction: float, seed: int) -> int:
    """Move ``fraction`` of the train rows to ``val`` (seeded); returns how many moved."""
    train = [i for i, r in enumerate(rows) if r["split"] == "train"]
    n_val = int(round(fraction * len(train)))
    chosen = np.random.default_rng(seed).choice(len(train), size=n_val, replace=False)
    for k in sorted(chosen):
        rows[train[k]]["split"] = "val"
    return n_val


def build_store(
    source_table: str | Path,
    image_root: str | Path,
    store_path: str | Path,
    manifest_path: str | Path,
    classes: list[str],
    task: str,
    store_size: int,
    dataset: str = "",
    val_fraction: float = 0.1,
    split_seed: int = 0,
    workers: int = 0,
) -> dict:
    """Build the HDF5 image store and the manifest of a dataset; returns counts per status/split.

    Images that cannot be decoded are recorded in the manifest with the reason and
    left out. A source with no validation rows gets ``val_fraction`` of its stored
    train images moved to validation with ``split_seed``; the manifest records the
    resulting split.
    """
    if task not in TASKS:
        raise StoreError(f"task {task!r} is not one of {TASKS}")
    image_root = Path(image_root)
    rows = read_source_table(source_table)
    for row in rows:
        row["status"] = _check_row(row, classes, task)

    todo = [(i, str(image_root / r["path"]), store_size) for i, r in enumerate(rows) if r["status"] == "ok"]
    workers = workers or os.cpu_count() or 1
    log.info("%s: decoding %d images to %d px with %d workers", dataset or source_table, len(todo), store_size, workers)
    class_index = {c: k for k, c in enumerate(classes)}
    n_ok = 0
    with atomic_path(store_path) as tmp, h5py.File(tmp, "w") as f:
        images = ImageWriter(f)
        labels = np.zeros((len(todo), len(classes)) if task == "multi_label" else (len(todo),), np.int64)
        stored = []  # row of each stored image
        content = hashlib.sha256()  # of everything stored, in store order (see store_sha256)
        with _pool(workers) as pool:
            results = pool.imap(_decode, todo, chunksize=8) if pool else map(_decode, todo)
            for index, image, status in tqdm(results, total=len(todo), desc="decode", mininterval=5, unit="img"):
                row = rows[index]
                row["status"] = status
                if image is None:
                    log.warning("left out %s: %s", row["path"], status)
                    continue
                images.add(image)
                content.update(np.array(image.shape, np.int64).tobytes() + image.tobytes())
                names = [c for c in row["labels"].split(";") if c]
                if task == "multi_label":
                    labels[n_ok, [class_index[c] for c in names]] = 1
                else:
                    labels[n_ok] = class_index[names[0]]
                stored.append(row)
                row["store_index"] = n_ok
                n_ok += 1
        if n_ok == 0:
            raise StoreError(
                f"no readable image in {source_table} (see the status column of the rows); "
                f"check that image paths are relative to {image_root}"
            )
        carved = 0
        if not any(r["split"] == "val" for r in stored):
            carved = carve_validation(stored, val_fraction, split_seed)
            log.info(
                "no validation split: moved %d of the train images to val (fraction %s, seed %d)",
                carved,
                val_fraction,
                split_seed,
            )
        images.close()
        n_unlabeled = sum(1 for r in stored if not r["labels"].strip(";"))
        if n_unlabeled:
            log.info("%d stored images have no label: each is a negative for every class", n_unlabeled)
        label_array = labels[:n_ok].astype(np.uint8 if task == "multi_label" else np.int64)
        split_array = np.array([SPLITS.index(r["split"]) for r in stored], np.uint8)
        ids = [r["id"] for r in stored]
        f.create_dataset("labels", data=label_array)
        f.create_dataset("split", data=split_array)
        f.create_dataset("ids", data=np.array(ids, dtype=object), dtype=h5py.string_dtype())
        for part in (label_array.tobytes(), split_array.tobytes(), json.dumps([ids, classes, task]).encode()):
            content.update(part)
        f.attrs.update(
            {
                "format": STORE_FORMAT,
                "dataset": dataset,
                "task": task,
                "classes": json.dumps(classes),
                "splits": json.dumps(SPLITS),
                "store_size": store_size,
                "preprocessing": PREPROCESSING,
                "n_failed": sum(1 for r in rows if r["status"] != "ok"),
                "n_unlabeled": n_unlabeled,
                "val_carved": json.dumps({"count": carved, "fraction": val_fraction, "seed": split_seed}),
                "content_sha256": content.hexdigest(),
            }
        )
    write_manifest(rows, manifest_path)
    summary = summarize(rows)
    log.info(
        "%s: stored %d images in %s (%d without a label); left out %d (%s)",
        dataset or source_table,
        n_ok,
        store_path,
        summary["unlabeled"],
        summary["left_out"],
        ", ".join(f"{k} {v}" for k, v in summary["splits"].items()),
    )
    return summary


class _NoPool:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _pool(workers: int):
    # Fork keeps start-up cheap; the workers only touch Pillow and numpy.
    if workers <= 1:
        return _NoPool()
    return multiprocessing.get_context("fork").Pool(workers)


def write_manifest(rows: list[dict], path: str | Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "store_index": row.get("store_index", "")})


def summarize(rows: list[dict]) -> dict:
    stored = [r for r in rows if r["status"] == "ok"]
    splits = {s: sum(1 for r in stored if r["split"] == s) for s in SPLITS}
    return {
        "stored": len(stored),
        "left_out": len(rows) - len(stored),
        "unlabeled": sum(1 for r in stored if not r["labels"].strip(";")),
        "splits": splits,
    }


def open_store(path: str | Path) -> h5py.File:
    """Open an image store for reading; a missing, foreign, incomplete or older-format file is a StoreError
    naming it and the fix."""
    f = open_hdf5(path, "image store", ("labels", "split", "ids"), ("task", "classes", "splits"), StoreError)
    found = int(f.attrs.get("format", 1))
    if found != STORE_FORMAT:
        f.close()
        old = " (each image's centre square only)" if found == 1 else ""
        raise StoreError(
            f"{path} is an image store of format {found}{old}, and this artfinetune reads format {STORE_FORMAT} "
            f"(whole images); build it again: delete it and run snakemake {path} (or artfinetune build-store)"
        )
    missing = [d for d in ("pixels", "offsets", "shapes") if d not in f]
    if missing:
        f.close()
        raise StoreError(f"{path} is not an artfinetune image store (it lacks {', '.join(missing)}); build it again")
    return f


def read_store_info(path: str | Path) -> dict:
    """Attributes and sizes of a store, decoded from JSON where needed."""
    with open_store(path) as f:
        attrs = dict(f.attrs)
        info = {k: (json.loads(v) if k in ("classes", "splits", "val_carved") else v) for k, v in attrs.items()}
        info["n"] = f["offsets"].shape[0]
        split = f["split"][:]
        info["split_counts"] = {s: int((split == k).sum()) for k, s in enumerate(info["splits"])}
    return info


def store_sha256(path: str | Path) -> str:
    """A fingerprint of a store's content: the digest recorded when it was built (images and their shapes,
    labels, splits, ids and classes)."""
    with open_store(path) as f:
        return str(f.attrs["content_sha256"])


def store_job(name: str, dataset: dict, table, root, store, manifest, workers: int = 0) -> str:
    """The image_store rule: dataset ``name`` (its config section) decoded once into ``store`` and ``manifest``;
    returns a line saying what was stored."""
    summary = build_store(
        table,
        root,
        store,
        manifest,
        classes=dataset["classes"],
        task=dataset["task"],
        store_size=dataset["store_size"],
        dataset=name,
        val_fraction=dataset["val_fraction"],
        split_seed=dataset["split_seed"],
        workers=workers,
    )
    return (
        f"{name}: {store} ({summary['stored']} images: "
        f"{', '.join(f'{k} {v}' for k, v in summary['splits'].items())}; {summary['unlabeled']} without a label; "
        f"left out {summary['left_out']}, "
        f"see {manifest})"
    )


def store_info_line(path: str | Path) -> str:
    """One line about a store: dataset, task, classes, images, splits, unlabelled and left-out counts."""
    info = read_store_info(path)
    return (
        f"{path}: {info['dataset']} ({info['task']}, {len(info['classes'])} classes, {info['n']} images "
        f"of {info['store_size']} px on the shorter side; {info['split_counts']}; "
        f"{info.get('n_unlabeled', 0)} without a label; left out {info['n_failed']})"
    )
