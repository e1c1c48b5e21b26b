"""Metrics between two models, from their files to tidy CSV tables: one function per rule.

- :func:`cka_table`: linear and debiased CKA per tensor, from both models' activations on the same images
  (the test split), streamed over chunks of images in float64 (``metrics.cka``).
- :func:`l2_table`: ||W_b - W_a||_F per trunk convolution, its relative change ||W_b - W_a|| / ||W_a||, and
  the means over the 57 convolutions (``metrics.l2``; paper table 2).
- :func:`overlap_table`: per channel and k, the overlapping ratio of two models' top-k sets (with the chance
  level k / n), and the normalised class entropy of each set (``metrics.topk``).

The top-k sets themselves are a per-model stage (:mod:`artfinetune.metrics.topk_files`).

Every table has the columns ``model_a, model_b, layer, channel, metric, value, k`` (plus ``chance`` for
overlaps); ``layer`` is the post-ReLU tensor (``mixed4d_3x3``) or, for l2, the convolution.
"""

from __future__ import annotations

import logging
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from artfinetune.activations.files import activation_info, check_same_images, stored_tensors
from artfinetune.errors import UserError
from artfinetune.metrics.cka import JACKKNIFE_BLOCKS, CKAAccumulator, jackknife_blocks, jackknife_interval
from artfinetune.metrics.l2 import l2_distances, relative_changes
from artfinetune.metrics.table import COLUMNS, write_csv
from artfinetune.metrics.topk import layer_entropies, overlap_ratios
from artfinetune.metrics.topk_files import read_topk_file
from artfinetune.model.architectures import saved_model_architecture
from artfinetune.model.kernels import trunk_kernels

log = logging.getLogger(__name__)

CHUNK_IMAGES = 4096  # rows of both activation matrices read at a time: memory stays bounded for any n


def usable_blocks(n: int, blocks: int) -> int:
    """The jackknife blocks n images allow: at most ``blocks``, at least 2 images each, and at least 4 images left
    without any one block (the debiased CKA needs 4); 0 (no intervals, with a warning) when n is too small."""
    if not blocks:
        return 0
    usable = min(blocks, n // 2)
    if usable < 2 or n - -(-n // usable) < 4:
        log.warning("%d test images are too few for a jackknife over blocks: no confidence intervals", n)
        return 0
    if usable < blocks:
        log.warning("%d test images: a jackknife over %d blocks of 2 or more, not %d", n, usable, blocks)
    return usable


def cka_table(
    activations_a: str | Path,
    activations_b: str | Path,
    out: str | Path,
    tensors: list[str] | None = None,
    chunk: int = CHUNK_IMAGES,
    blocks: int = JACKKNIFE_BLOCKS,
    seed: int = 0,
) -> pd.DataFrame:
    """Linear and debiased CKA of every tensor (default: all in the files) between two models' activations, and
    with ``blocks`` > 0 each without each of that many random blocks of images (metrics ``linear_cka_leave_out``
    and ``debiased_cka_leave_out``, the block in the channel column): the jackknife's raw material, from which
    ``cka_intervals`` (per layer) and ``mean_cka_interval`` (the mean over layers) of
    :mod:`artfinetune.metrics.summaries` give intervals."""
    info_a, info_b = activation_info(activations_a), activation_info(activations_b)
    check_same_images(info_a, info_b, f"the activations {activations_a} and {activations_b}")
    names = stored_tensors(info_b, activations_b, stored_tensors(info_a, activations_a, tensors))
    n = info_a["n"]
    blocks = usable_blocks(n, blocks)
    ids = jackknife_blocks(n, blocks, seed) if blocks else None
    rows = []
    with h5py.File(activations_a, "r") as fa, h5py.File(activations_b, "r") as fb:
        for name in names:
            X, Y = fa[f"layers/{name}"], fb[f"layers/{name}"]
            acc = CKAAccumulator(blocks=ids)
            for start in range(0, n, chunk):
                acc.update(X[start : start + chunk], Y[start : start + chunk])
            linear, debiased = acc.linear(), acc.debiased()
            for metric, value in (("linear_cka", linear), ("debiased_cka", debiased)):
                rows.append([info_a["model"], info_b["model"], name, None, metric, value, None])
            if ids is None:
                log.info("%s: linear CKA %.4f, debiased %.4f (n = %d)", name, linear, debiased, acc.n)
                continue
            leave_outs = acc.leave_outs()
            for kind, values in leave_outs.items():
                rows += [
                    [info_a["model"], info_b["model"], name, b, f"{kind}_cka_leave_out", v, None]
                    for b, v in enumerate(values)
                ]
            (lin_low, lin_high), (deb_low, deb_high) = (
                jackknife_interval(linear, leave_outs["linear"]),
                jackknife_interval(debiased, leave_outs["debiased"]),
            )
            log.info(
                "%s: linear CKA %.4f [%.4f, %.4f], debiased %.4f [%.4f, %.4f] (n = %d, 95 %% jackknife over %d blocks)",
                name, linear, lin_low, lin_high, debiased, deb_low, deb_high, acc.n, blocks,
            )  # fmt: skip
    return write_csv(pd.DataFrame(rows, columns=list(COLUMNS)), out)


def l2_table(
    model_a: str | Path, model_b: str | Path, out: str | Path, name_a: str = "", name_b: str = ""
) -> pd.DataFrame:
    """l2 distance and relative change per trunk convolution (those of the models' architecture), and their means
    (``layer`` = ``all``); two models of different architectures are an error."""
    name_a, name_b = name_a or str(model_a), name_b or str(model_b)
    arch_a, arch_b = saved_model_architecture(model_a), saved_model_architecture(model_b)
    if arch_a != arch_b:
        raise UserError(
            f"{name_a} is a {arch_a.name} and {name_b} a {arch_b.name}: l2 compares models of one architecture"
        )
    convs = arch_a.trunk_convs
    kernels_a, kernels_b = trunk_kernels(model_a), trunk_kernels(model_b)
    distances = l2_distances(kernels_a, kernels_b, convs)
    relative = relative_changes(kernels_a, kernels_b, convs)
    rows = [[name_a, name_b, conv, None, "l2", distances[conv], None] for conv in convs]
    rows += [[name_a, name_b, conv, None, "relative_l2", relative[conv], None] for conv in convs]
    mean, mean_relative = float(np.mean(list(distances.values()))), float(np.mean(list(relative.values())))
    rows.append([name_a, name_b, "all", None, "mean_l2", mean, None])
    rows.append([name_a, name_b, "all", None, "mean_relative_l2", mean_relative, None])
    log.info("mean l2 over %d convolutions: %.4f (mean relative change %.4f)", len(convs), mean, mean_relative)
    return write_csv(pd.DataFrame(rows, columns=list(COLUMNS)), out)


def overlap_table(topk_a: str | Path, topk_b: str | Path, out: str | Path, ks: list[int]) -> pd.DataFrame:
    """Per tensor, channel and k: the overlapping ratio of the two models' sets (``chance`` = k / n) and the
    normalised class entropy of each set (``entropy_a``, ``entropy_b``; NaN for an empty set)."""
    a, b = read_topk_file(topk_a), read_topk_file(topk_b)
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
    return write_csv(pd.concat(frames, ignore_index=True), out)
