"""Procedural demo datasets, written as ordinary JPEG files plus a source table.

Three generators stand in for the study's data so the whole DAG runs offline:

- ``source``: natural-looking scenes (sky, clouds, grass or water), one object per class, seven of them the same
  silhouettes as ``objects`` draws, in any colour (ImageNet's part: what it teaches transfers);
- ``styles``: painterly textures, one family of palettes and strokes per class (RASTA's);
- ``objects``: one to three large shapes drawn over a random style background, multi-label, each class within its
  own band of hues, as iconography keeps its colours (IconArt's). The hue band is a cue a small network trained on
  a few hundred images can find: without it, no model of the demo learnt this task beyond the share of positive
  labels.

Every image is drawn from its own generator seeded by (dataset seed, generator,
index), so the files do not depend on the number of worker processes.
"""

from __future__ import annotations

import csv
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from artfinetune.data.drawing import OBJECT_CLASSES, SOURCE_CLASSES, STYLE_CLASSES, draw_objects, draw_scene, draw_style
from artfinetune.data.store_format import SPLITS
from artfinetune.errors import UserError
from artfinetune.io import atomic_path

log = logging.getLogger(__name__)

GENERATORS = {"source": SOURCE_CLASSES, "styles": STYLE_CLASSES, "objects": OBJECT_CLASSES}
JPEG_QUALITY = 92
ASPECT_RANGE = (1.0, 1.4)  # long side / short side of a drawn image, uniform in this range


# ---------------------------------------------------------------- dataset files


def _image_size(rng, short: int) -> tuple[int, int]:
    # Real collections vary in aspect ratio; the store keeps it (shorter side resized to store_size).
    long = int(round(short * rng.uniform(*ASPECT_RANGE)))
    return (long, short) if rng.random() < 0.6 else (short, long)


def _draw_one(args) -> tuple[str, list[str]]:
    generator, classes, seed, index, label, short, path = args
    rng = np.random.default_rng([seed, list(GENERATORS).index(generator), index])
    size = _image_size(rng, short)
    if generator == "source":
        img, labels = draw_scene(rng, label, size), [label]
    elif generator == "styles":
        img, labels = draw_style(rng, label, size), [label]
    else:
        img, labels = draw_objects(rng, size, classes)
    with atomic_path(path) as tmp:
        img.save(tmp, format="JPEG", quality=JPEG_QUALITY)
    return path, labels


def split_counts(n: int, fractions: dict[str, float]) -> dict[str, int]:
    """How many of n items each split gets, in the given proportions, splits in the order train, val, test whatever
    the order of ``fractions`` (rounding goes to the first split with a share)."""
    total = sum(fractions.values())
    if total <= 0:
        raise ValueError(f"split fractions {fractions} must add up to more than 0")
    order = [s for s in SPLITS if s in fractions] + sorted(k for k in fractions if k not in SPLITS)
    names = [k for k in order if fractions[k] > 0]
    counts = {k: int(round(n * fractions[k] / total)) for k in names}
    counts[names[0]] += n - sum(counts.values())
    return counts


def check_splits(generator: str, n_classes: int, images_per_class: int, fractions: dict[str, float]) -> None:
    """Every split asked for must get images (per class for the single-label generators); train and test too."""
    missing = [s for s in ("train", "test") if fractions.get(s, 0) <= 0]
    if missing:
        raise ValueError(f"splits give no share to {missing}; a demo dataset needs train and test images")
    n = images_per_class * n_classes if generator == "objects" else images_per_class
    empty = [s for s, c in split_counts(n, fractions).items() if c == 0]
    if empty:
        raise ValueError(f"{images_per_class} images per class leave split(s) {empty} empty; raise images_per_class")


def assign_splits(n: int, fractions: dict[str, float], rng) -> list[str]:
    """Split names for n items in the given proportions, shuffled with ``rng``."""
    out = [name for name, c in split_counts(n, fractions).items() for _ in range(c)]
    return [out[i] for i in rng.permutation(n)]


def generate_demo_dataset(
    out_dir: str | Path,
    generator: str,
    classes: list[str] | None = None,
    images_per_class: int = 40,
    image_size: int = 96,
    splits: dict[str, float] | None = None,
    seed: int = 0,
    workers: int = 0,
) -> Path:
    """Write a demo dataset: ``images/<class>/<id>.jpg`` and ``source.csv`` (id, path, labels, split).

    Returns the path of ``source.csv``. The same arguments give byte-identical files.
    """
    if generator not in GENERATORS:
        raise ValueError(f"unknown demo generator {generator!r}; choose from {list(GENERATORS)}")
    classes = list(classes or GENERATORS[generator])
    unknown = set(classes) - set(GENERATORS[generator])
    if unknown:
        raise ValueError(f"demo generator {generator!r} has no classes {sorted(unknown)}")
    splits = splits or {"train": 0.6, "val": 0.2, "test": 0.2}
    out_dir = Path(out_dir)
    n = images_per_class * len(classes)
    jobs = []
    for i in range(n):
        label = classes[i % len(classes)]
        folder = label if generator != "objects" else "mixed"
        rel = f"images/{folder}/{generator}_{i:06d}.jpg"
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        jobs.append((generator, classes, seed, i, label, image_size, str(out_dir / rel)))
    workers = workers or os.cpu_count() or 1
    log.info("drawing %d %s images (%d classes) with %d workers", n, generator, len(classes), workers)
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_draw_one, jobs, chunksize=16))
    else:
        results = [_draw_one(j) for j in jobs]
    split_rng = np.random.default_rng([seed, 99])
    if generator == "objects":
        split_of = assign_splits(n, splits, split_rng)
    else:  # stratified: the same proportions in every class
        split_of = [""] * n
        for c in range(len(classes)):
            idx = list(range(c, n, len(classes)))
            for i, s in zip(idx, assign_splits(len(idx), splits, split_rng), strict=True):
                split_of[i] = s
    table = out_dir / "source.csv"
    with atomic_path(table) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "path", "labels", "split"])
        for i, (path, labels) in enumerate(results):
            writer.writerow([f"{generator}_{i:06d}", os.path.relpath(path, out_dir), ";".join(labels), split_of[i]])
    log.info("wrote %s", table)
    return table


def demo_dataset_job(name: str, dataset: dict, out_dir: str | Path, workers: int = 0) -> Path:
    """The demo_dataset rule: draw dataset ``name`` (its config section, source of kind demo) into ``out_dir``."""
    src = dataset["source"]
    if src["kind"] != "demo":
        raise UserError(f"dataset {name!r} is not a demo dataset (source kind {src['kind']!r})")
    return generate_demo_dataset(
        out_dir,
        src["generator"],
        classes=dataset.get("classes"),
        images_per_class=src["images_per_class"],
        image_size=src["image_size"],
        splits=src["splits"],
        seed=src["seed"],
        workers=workers,
    )
