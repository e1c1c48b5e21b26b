"""Metrics between two models, from their files to tidy CSV tables: one function per rule.

- :func:`cka_table`: linear and debiased CKA per tensor, from both models' activations on the same images
  (the test split), streamed over chunks of images in float64 (``metrics.cka``).
- :func:`l2_table`: ||W_b - W_a||_F per trunk convolution, its relative change ||W_b - W_a|| / ||W_a||, and
  the means over the 57 convolutions (``metrics.l2``; paper table 2).
- :func:`topk_file`: a model's top-k images per channel on the train split, for the largest k of the config
  (the smaller sets are its prefixes), with the labels needed for entropies (``metrics.topk``).
- :func:`overlap_table`: per channel and k, the overlapping ratio of two models' top-k sets (with the chance
  level k / n), and the normalised class entropy of each set.
- :func:`composition_table`: each top-k set's three most frequent classes with their percentages.

Every table has the columns ``model_a, model_b, layer, channel, metric, value, k`` (plus ``chance`` for
overlaps); ``layer`` is the post-ReLU tensor (``mixed4d_3x3``) or, for l2, the convolution.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from artfinetune.errors import UserError
from artfinetune.io import atomic_path
from artfinetune.metrics.cka import CKAAccumulator
from artfinetune.metrics.l2 import l2_distances, relative_changes
from artfinetune.metrics.topk import composition, layer_entropies, overlap_ratios, topk_images
from artfinetune.model.layers import TRUNK_CONVS, post_relu

log = logging.getLogger(__name__)

COLUMNS = ["model_a", "model_b", "layer", "channel", "metric", "value", "k"]
CHUNK_IMAGES = 4096  # rows of both activation matrices read at a time: memory stays bounded for any n


def _write_csv(frame: pd.DataFrame, out: str | Path) -> pd.DataFrame:
    with atomic_path(out) as tmp:
        frame.to_csv(tmp, index=False)
    return frame


def check_same_images(info_a: dict, info_b: dict, what: str) -> None:
    same_store = info_a.get("store_sha256") == info_b.get("store_sha256") and info_a["split"] == info_b["split"]
    if not same_store or not np.array_equal(info_a["store_index"], info_b["store_index"]):
        raise UserError(
            f"{what} were not computed on the same images ({info_a['n']} vs {info_b['n']}, dataset "
            f"{info_a.get('dataset')!r} vs {info_b.get('dataset')!r}, split {info_a.get('split')!r} vs "
            f"{info_b.get('split')!r}); extract both from the same store and split"
        )


def _tensors(info: dict, path, tensors: list[str] | None) -> list[str]:
    if tensors is None:
        return list(info["tensors"])
    wanted = [post_relu(t) for t in tensors]
    missing = [t for t in wanted if t not in info["tensors"]]
    if missing:
        raise UserError(f"{path} has no activations of {missing}; it has {info['tensors']}")
    return wanted


def cka_table(
    activations_a: str | Path,
    activations_b: str | Path,
    out: str | Path,
    tensors: list[str] | None = None,
    chunk: int = CHUNK_IMAGES,
) -> pd.DataFrame:
    """Linear and debiased CKA of every tensor (default: all in the files) between two models' activations."""
    from artfinetune.activations import activation_info  # keeps TensorFlow out of readers of top-k files

    info_a, info_b = activation_info(activations_a), activation_info(activations_b)
    check_same_images(info_a, info_b, f"the activations {activations_a} and {activations_b}")
    names = _tensors(info_b, activations_b, _tensors(info_a, activations_a, tensors))
    rows = []
    with h5py.File(activations_a, "r") as fa, h5py.File(activations_b, "r") as fb:
        for name in names:
            X, Y = fa[f"layers/{name}"], fb[f"layers/{name}"]
            acc = CKAAccumulator()
            for start in range(0, info_a["n"], chunk):
                acc.update(X[start : start + chunk], Y[start : start + chunk])
            linear, debiased = acc.linear(), acc.debiased()
            log.info("%s: linear CKA %.4f, debiased %.4f (n = %d)", name, linear, debiased, acc.n)
            for metric, value in (("linear_cka", linear), ("debiased_cka", debiased)):
                rows.append([info_a["model"], info_b["model"], name, None, metric, value, None])
    return _write_csv(pd.DataFrame(rows, columns=COLUMNS), out)


def trunk_kernels(model_path: str | Path) -> dict[str, np.ndarray]:
    """The kernels of the trunk's convolutions (TRUNK_CONVS; biases and heads left out), by convolution name.

    Read straight from the ``.keras`` file (no TensorFlow start-up, which is most of an l2 job's time); a file whose
    layout is not the one this reader knows is loaded with Keras instead, so the numbers never depend on the path.
    """
    kernels = kernels_from_file(model_path)
    if kernels is None:
        from artfinetune.model.files import load_model

        log.info("%s: weights not laid out as expected, loading the model with Keras", model_path)
        model = load_model(model_path)
        return {conv: np.asarray(model.get_layer(f"{conv}_pre_relu").kernel) for conv in TRUNK_CONVS}
    return kernels


def _snake_case(name: str) -> str:
    """Keras's name for an object of class ``name`` in a weights file (Conv2D -> conv2d, ReLU -> re_lu)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", re.sub(r"\W+", "", name))
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def kernels_from_file(model_path: str | Path) -> dict[str, np.ndarray] | None:
    """The trunk kernels from a Keras 3 ``.keras`` zip without Keras, or None if its layout is not the expected one.

    The weights file names a model's layers by class in the model's layer order (``conv2d``, ``conv2d_1``, ...);
    config.json gives that order and each layer's own name. Every kernel is checked against its layer's configured
    kernel size and filters, so a file that does not follow this layout falls back to Keras rather than mislabel.
    """
    import io
    import zipfile

    try:
        with zipfile.ZipFile(model_path) as archive:
            config = json.loads(archive.read("config.json"))
            weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    with weights:
        try:
            kernels = _conv_kernels(config, weights)
        except (KeyError, TypeError, AttributeError):  # a config or weights file of another shape
            return None
    if kernels is None:
        return None
    try:
        return {conv: kernels[f"{conv}_pre_relu"] for conv in TRUNK_CONVS}
    except KeyError:
        return None


def _conv_kernels(config: dict, weights) -> dict[str, np.ndarray] | None:
    """Every Conv2D kernel by layer name, or None at the first one that does not fit its layer's settings."""
    counts: dict[str, int] = {}
    kernels = {}
    for layer in config["config"]["layers"]:
        key = _snake_case(layer["class_name"])
        n = counts[key] = counts.get(key, -1) + 1
        if layer["class_name"] != "Conv2D":
            continue
        settings = layer["config"]
        kernel = np.asarray(weights["layers"][key if n == 0 else f"{key}_{n}"]["vars"]["0"])
        if kernel.shape[:2] != tuple(settings["kernel_size"]) or kernel.shape[-1] != settings["filters"]:
            return None
        kernels[settings["name"]] = kernel
    return kernels


def l2_table(
    model_a: str | Path, model_b: str | Path, out: str | Path, name_a: str = "", name_b: str = ""
) -> pd.DataFrame:
    """l2 distance and relative change per trunk convolution, and their means (``layer`` = ``all``)."""
    kernels_a, kernels_b = trunk_kernels(model_a), trunk_kernels(model_b)
    distances = l2_distances(kernels_a, kernels_b, TRUNK_CONVS)
    relative = relative_changes(kernels_a, kernels_b, TRUNK_CONVS)
    name_a, name_b = name_a or str(model_a), name_b or str(model_b)
    rows = [[name_a, name_b, conv, None, "l2", distances[conv], None] for conv in TRUNK_CONVS]
    rows += [[name_a, name_b, conv, None, "relative_l2", relative[conv], None] for conv in TRUNK_CONVS]
    mean, mean_relative = float(np.mean(list(distances.values()))), float(np.mean(list(relative.values())))
    rows.append([name_a, name_b, "all", None, "mean_l2", mean, None])
    rows.append([name_a, name_b, "all", None, "mean_relative_l2", mean_relative, None])
    log.info("mean l2 over %d convolutions: %.4f (mean relative change %.4f)", len(TRUNK_CONVS), mean, mean_relative)
    return _write_csv(pd.DataFrame(rows, columns=COLUMNS), out)


def topk_file(activations: str | Path, ks: list[int], out: str | Path, tensors: list[str] | None = None) -> Path:
    """Top-k images of every channel, for the largest of ``ks``, saved as indices into the activation rows.

    Layout: ``topk/<tensor>`` (channels x k_max) int32, padded with -1 where a channel has fewer positive images;
    ``labels``, ``store_index`` copied from the activations; attributes model, dataset, split, task, classes, n,
    k_max, ks, tensors.
    """
    from artfinetune.activations import activation_info

    info = activation_info(activations)
    names = _tensors(info, activations, tensors)
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
            }
        )
    return Path(out)


def read_topk(path: str | Path) -> dict:
    """A top-k file: attributes, labels, store_index and, per tensor, each channel's list of image rows."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"top-k file {path} does not exist; build it first (snakemake {path})")
    with h5py.File(path, "r") as f:
        info = {k: (json.loads(v) if k in ("classes", "ks", "tensors") else v) for k, v in f.attrs.items()}
        info["labels"], info["store_index"] = f["labels"][:], f["store_index"][:]
        info["sets"] = {name: [row[row >= 0] for row in f[f"topk/{name}"][:]] for name in info["tensors"]}
    return info


def overlap_table(topk_a: str | Path, topk_b: str | Path, out: str | Path, ks: list[int]) -> pd.DataFrame:
    """Per tensor, channel and k: the overlapping ratio of the two models' sets (``chance`` = k / n) and the
    normalised class entropy of each set (``entropy_a``, ``entropy_b``; NaN for an empty set)."""
    a, b = read_topk(topk_a), read_topk(topk_b)
    check_same_images(a, b, f"the top-k sets {topk_a} and {topk_b}")
    too_big = [k for k in ks if k > min(a["k_max"], b["k_max"])]
    if too_big:
        raise UserError(f"k {too_big} is above the largest k of {topk_a} or {topk_b}; rebuild them with it")
    names = [t for t in a["tensors"] if t in b["tensors"]]
    n, classes, multi = int(a["n"]), a["classes"], a["task"] == "multi_label"
    frames = []
    for name in names:
        channels = np.arange(len(a["sets"][name]))
        for k in sorted(ks):
            overlap = overlap_ratios(a["sets"][name], b["sets"][name], k)
            entropy_a = layer_entropies(a["sets"][name], a["labels"], len(classes), multi, k)
            entropy_b = layer_entropies(b["sets"][name], b["labels"], len(classes), multi, k)
            for metric, values, chance in (
                ("overlap", overlap, k / n),
                ("entropy_a", entropy_a, None),
                ("entropy_b", entropy_b, None),
            ):
                frames.append(
                    pd.DataFrame(
                        {
                            "model_a": a["model"],
                            "model_b": b["model"],
                            "layer": name,
                            "channel": channels,
                            "metric": metric,
                            "value": values,
                            "k": k,
                            "chance": chance,
                        }
                    )
                )
            log.info(
                "%s, k = %d: mean overlap %.3f (chance %.4f), mean entropy %.3f -> %.3f",
                name,
                k,
                overlap.mean(),
                k / n,
                np.nanmean(entropy_a) if np.isfinite(entropy_a).any() else float("nan"),
                np.nanmean(entropy_b) if np.isfinite(entropy_b).any() else float("nan"),
            )
    return _write_csv(pd.concat(frames, ignore_index=True), out)


def composition_table(topk: str | Path, out: str | Path, ks: list[int], top: int = 3) -> pd.DataFrame:
    """Each set's ``top`` most frequent classes with the percentage of the set's images having them."""
    info = read_topk(topk)
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
    return _write_csv(pd.DataFrame(rows, columns=columns), out)
