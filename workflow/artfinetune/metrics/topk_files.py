"""A model's top-k sets on file: the top-k stage (``topk.h5``), its reader, and each set's class composition.

Layout of a top-k file: ``topk/<tensor>`` (channels x k_max) int32 rows into the activations, padded with -1 where
a channel has fewer positive images; ``peaks/<tensor>`` (same shape) where the channel's map peaks on each of those
images (flat ``y * w + x``, -1 as padding), when the activations recorded it; ``labels`` and ``store_index`` copied
from the activations; attributes model, dataset, split, store_sha256, task, classes, n, k_max, ks, tensors,
image_size and map_shapes (JSON: tensor -> [h, w]).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from artfinetune.activations.files import activation_info, stored_tensors
from artfinetune.io import atomic_path
from artfinetune.metrics.table import write_csv
from artfinetune.metrics.topk import composition, topk_images

log = logging.getLogger(__name__)
JSON_ATTRS = ("classes", "ks", "tensors", "map_shapes")


def topk_file(activations: str | Path, ks: list[int], out: str | Path, tensors: list[str] | None = None) -> Path:
    """Top-k images of every channel, for the largest of ``ks``, saved as indices into the activation rows, with
    where the channel peaks on each (layout in the module's docstring)."""
    info = activation_info(activations)
    names = stored_tensors(info, activations, tensors)
    k_max = max(ks)
    if k_max > info["n"]:
        log.warning("k = %d is above the %d images of %s: every set holds at most n images", k_max, info["n"], out)
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f, h5py.File(activations, "r") as acts:
        for name in names:
            tops = topk_images(acts[f"layers/{name}"][:], k_max)
            table = np.full((len(tops), k_max), -1, np.int32)
            for channel, top in enumerate(tops):
                table[channel, : len(top)] = top
            f.create_dataset(f"topk/{name}", data=table)
            if "argmax" in acts and name in acts["argmax"]:
                f.create_dataset(f"peaks/{name}", data=_peaks_of(acts[f"argmax/{name}"][:], table))
            short = sum(len(t) < min(k_max, info["n"]) for t in tops)
            log.info("%s: top-%d of %d channels (%d with fewer positive images)", name, k_max, len(tops), short)
        f.create_dataset("labels", data=info["labels"])
        f.create_dataset("store_index", data=info["store_index"])
        f.attrs.update(
            {
                "model": info["model"],
                "dataset": info.get("dataset", ""),
                "split": info["split"],
                "store_sha256": info.get("store_sha256", ""),
                "task": info["task"],
                "classes": json.dumps(info["classes"]),
                "n": info["n"],
                "k_max": k_max,
                "ks": json.dumps(sorted(ks)),
                "tensors": json.dumps(names),
                "image_size": info.get("image_size", 0),
                "map_shapes": json.dumps(info.get("map_shapes", {})),
            }
        )
        if "argmax" not in acts:
            log.warning(
                "%s records no peak positions (written before they were); its top-k images have no patches: "
                "extract it again to have them (snakemake --forcerun activations)",
                activations,
            )
    return Path(out)


def _peaks_of(positions: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Each top-k image's peak position for its channel (table: channels x k rows, -1 padding), -1 as padding."""
    channels = np.arange(table.shape[0])[:, None]
    peaks = positions[np.maximum(table, 0), channels].astype(np.int32)
    return np.where(table >= 0, peaks, -1)


def read_topk_file(path: str | Path) -> dict:
    """A top-k file: attributes, labels, store_index and, per tensor, each channel's list of image rows."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"top-k file {path} does not exist; build it first (snakemake {path})")
    with h5py.File(path, "r") as f:
        info = {k: (json.loads(v) if k in JSON_ATTRS else v) for k, v in f.attrs.items()}
        info["labels"], info["store_index"] = f["labels"][:], f["store_index"][:]
        info["sets"] = {name: [row[row >= 0] for row in f[f"topk/{name}"][:]] for name in info["tensors"]}
        peaks = f.get("peaks", {})
        info["peaks"] = {name: [row[row >= 0] for row in peaks[name][:]] for name in info["tensors"] if name in peaks}
    return info


def composition_table(topk: str | Path, out: str | Path, ks: list[int], top: int = 3) -> pd.DataFrame:
    """Each set's ``top`` most frequent classes with the percentage of the set's images having them."""
    info = read_topk_file(topk)
    classes, multi = info["classes"], info["task"] == "multi_label"
    rows = []
    for name in info["tensors"]:
        for channel, whole in enumerate(info["sets"][name]):
            for k in sorted(ks):
                images = whole[:k]
                for rank, (cls, percent) in enumerate(
                    composition(info["labels"][images], len(classes), multi, classes, top), start=1
                ):
                    rows.append([info["model"], name, channel, k, len(images), rank, cls, percent])
    columns = ["model", "layer", "channel", "k", "size", "rank", "class", "percent"]
    return write_csv(pd.DataFrame(rows, columns=columns), out)


def topk_job(activations: str | Path, ks: list[int], out: str | Path, composition_csv=None) -> Path:
    """The topk rule: a model's top-k sets (:func:`topk_file`) and, if asked, their compositions."""
    out = topk_file(activations, ks, out)
    if composition_csv:
        composition_table(out, composition_csv, ks)
    return out
