"""Reading an activations file (layout in :mod:`artfinetune.activations.extract`): no TensorFlow needed."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from artfinetune.errors import UserError
from artfinetune.io import open_hdf5
from artfinetune.model.layers import post_relu

JSON_ATTRS = ("classes", "tensors", "map_shapes")


def open_activations(path: str | Path) -> h5py.File:
    """Open an activations file for reading; a missing or foreign file is an error naming it."""
    return open_hdf5(path, "activations file", ("layers", "store_index", "labels"), ("tensors",))


def read_activations(path: str | Path, tensor: str) -> np.ndarray:
    """The (n, c) float32 channel means of ``tensor`` (pre- or post-ReLU name), rows in store order."""
    name = post_relu(tensor)
    with open_activations(path) as f:
        if name not in f["layers"]:
            stored = ", ".join(json.loads(f.attrs["tensors"]))
            raise UserError(f"{path} has no activations of {name}; it has: {stored}")
        return f["layers"][name][:]


def read_positions(path: str | Path, tensor: str) -> tuple[np.ndarray, tuple[int, int]] | None:
    """Where each channel of ``tensor`` peaks on each image: an (n, c) array of flat positions ``y * w + x`` and
    the map's (h, w); None for a file written before positions were recorded."""
    name = post_relu(tensor)
    with open_activations(path) as f:
        if "argmax" not in f or name not in f["argmax"]:
            return None
        shape = json.loads(f.attrs["map_shapes"])[name]
        return f["argmax"][name][:], (int(shape[0]), int(shape[1]))


def activation_info(path: str | Path) -> dict:
    """Attributes of an activations file (JSON decoded), with n, tensors, store_index, ids and labels."""
    with open_activations(path) as f:
        info = {k: (json.loads(v) if k in JSON_ATTRS else _python(v)) for k, v in f.attrs.items()}
        info["store_index"] = f["store_index"][:]
        info["ids"] = f["ids"].asstr()[:]
        info["labels"] = f["labels"][:]
    info["n"] = len(info["store_index"])
    return info


def _python(value):
    return value.item() if isinstance(value, np.generic) else value


def check_same_images(info_a: dict, info_b: dict, what: str) -> None:
    same_store = info_a.get("store_sha256") == info_b.get("store_sha256") and info_a["split"] == info_b["split"]
    if not same_store or not np.array_equal(info_a["store_index"], info_b["store_index"]):
        raise UserError(
            f"{what} were not computed on the same images ({info_a['n']} vs {info_b['n']}, dataset "
            f"{info_a.get('dataset')!r} vs {info_b.get('dataset')!r}, split {info_a.get('split')!r} vs "
            f"{info_b.get('split')!r}); extract both from the same store and split"
        )


def stored_tensors(info: dict, path, tensors: list[str] | None) -> list[str]:
    """The stored names of ``tensors`` (pre- or post-ReLU; None: all of the file); an error names the missing."""
    if tensors is None:
        return list(info["tensors"])
    wanted = [post_relu(t) for t in tensors]
    missing = [t for t in wanted if t not in info["tensors"]]
    if missing:
        raise UserError(f"{path} has no activations of {missing}; it has {info['tensors']}")
    return wanted
