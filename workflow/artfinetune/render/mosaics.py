"""Maximal activation examples of a channel as a mosaic: the paper's "top 100" panels (figures 1-4, 8, 9, 11-13, 17).

A mosaic shows a model's top-k set of one channel in rank order, each image as the network saw it (the centre
``image_size`` window of the stored image, the crop the activations were computed on), as a near-square grid
(100 images: 10 x 10) of thumbnails up to :data:`TILE` pixels wide. The images that are also in the other model's
top-k set are framed in green, as in the paper. The PNG is the grid alone: its text (the overlapping ratio
|A ∩ B| / k and the set's three most frequent classes, ``metrics.topk``) is in the JSON beside it, which panels
and galleries set beside the grid, with the common images' store indices and each image's id and labels.
For a gallery's pair, every image shown is also written on its own (``images/<store index>.jpg``), so that a click
on a thumbnail opens it.

Beside each mosaic of whole images, when the activations recorded where each map peaks, a mosaic of the patches
that fired the channel (``patches_<side>_<channel>.png``, the same grid and frames): on each image, the receptive
field (:mod:`artfinetune.model.receptive`) of the unit where the channel's map is largest, cut from the image the
network saw and clipped to it. All patches of a mosaic share one scale, at which the largest fills a tile, so a
patch clipped by the border shows smaller, centred in its tile. A set whose every patch is its whole image (a deep
layer, whose fields are wider than the image) gets no mosaic of patches: it would repeat the mosaic.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import h5py
import numpy as np
from PIL import Image

from artfinetune.activations.files import check_same_images
from artfinetune.data.store import StoredImages, open_store
from artfinetune.data.store_format import centre_window
from artfinetune.errors import UserError
from artfinetune.io import atomic_dir, atomic_path
from artfinetune.metrics.topk import composition, overlap_ratio
from artfinetune.metrics.topk_files import read_topk_file
from artfinetune.model.architectures import tensor_architecture
from artfinetune.model.receptive import channel_field
from artfinetune.render.channels import changed_choice, pair_channels, topk_channel
from artfinetune.study.paths import MOSAIC_IMAGES, channel_file

log = logging.getLogger(__name__)

GREEN = (0, 255, 0)  # the paper's frame around images already in the other model's set; saturated to stand out
BACKGROUND = (255, 255, 255)
GUTTER = 2  # background pixels around every tile: neighbours stay apart without a border on each
TOP_CLASSES = 3
# px per thumbnail at most: a 10 x 10 grid of 112 px is 1,142 px wide, so a printed panel column of ~3 inches
# still shows each painting at ~100 dpi; smaller images (the demo's 64 px) are shown at their own size.
TILE = 112
JPEG_QUALITY = 90
PATCHES = "patches_"  # the prefix of a mosaic of patches beside its mosaic of whole images


def grid_columns(k: int) -> int:
    """Columns of a near-square grid of k images (100: 10 x 10; 10: 4 x 3)."""
    return max(1, math.ceil(math.sqrt(k)))


def tile_size(image_size: int) -> int:
    return min(TILE, image_size)


# --- The grid of images ---------------------------------------------------------------------------------------


def store_images(store: h5py.File, store_indices, image_size: int) -> list[np.ndarray]:
    """The centre ``image_size`` windows of the stored images at ``store_indices``, in the order given."""
    images = StoredImages(store)
    n = len(images)
    outside = [int(i) for i in store_indices if not 0 <= int(i) < n]
    if outside:
        raise UserError(
            f"store indices {outside[:5]} are outside the store {store.filename} ({n} images); "
            f"the top-k file was computed on another store"
        )
    size = min((min(images.shape(int(i))[:2]) for i in store_indices), default=image_size)
    if image_size > size:
        raise UserError(
            f"image size {image_size} is larger than the {size} px shorter side of images of the store "
            f"{store.filename}; use the image size the activations were computed at"
        )
    return [image[centre_window(image.shape, image_size)] for image in (images[int(i)] for i in store_indices)]


def _tile(image: np.ndarray, tile: int | None) -> np.ndarray:
    if tile is None or tile == image.shape[0]:
        return image
    return np.asarray(Image.fromarray(image).resize((tile, tile), Image.Resampling.LANCZOS))


def _frame(tile: np.ndarray, width: int) -> None:
    """Paint a ``width``-pixel green border on the tile's own outer pixels (the tile keeps its size)."""
    tile[:width], tile[-width:], tile[:, :width], tile[:, -width:] = GREEN, GREEN, GREEN, GREEN


def tile_origin(rank: int, size: int, columns: int) -> tuple[int, int]:
    """(top, left) pixel of the tile of the image of rank ``rank`` (0 = highest score)."""
    row, column = divmod(rank, columns)
    return GUTTER + row * (size + GUTTER), GUTTER + column * (size + GUTTER)


def mosaic_image(
    store,
    store_indices,
    image_size: int,
    highlight: set[int] | None = None,
    columns: int = 10,
    tile: int | None = None,
    frame: int = 3,
    boxes=None,
) -> Image.Image:
    """The images at ``store_indices`` (rank order) in rows of ``columns``; those in ``highlight`` framed green.

    ``store`` is an image store path or an open store; each image is its centre ``image_size`` window, shown
    ``tile`` pixels wide (default: unscaled); with ``boxes`` (one (top, left, bottom, right) per image, in the
    window's pixels), the patch in each box instead (:func:`patch_tiles`). The grid is always ``columns`` wide so
    that mosaics of one k align, and has at least one row (an empty set gives a blank row).
    """
    if isinstance(store, h5py.File):
        images = store_images(store, store_indices, image_size)
    else:
        with open_store(store) as f:
            images = store_images(f, store_indices, image_size)
    size = tile or image_size
    if 2 * frame >= size:
        raise UserError(f"a {frame} px frame leaves nothing of a {size} px tile; use a larger tile or a thinner frame")
    tiles = [_tile(image, tile) for image in images] if boxes is None else patch_tiles(images, boxes, size)
    highlight = {int(i) for i in highlight or ()}
    rows = max(1, math.ceil(len(images) / columns))
    grid = np.full((GUTTER + rows * (size + GUTTER), GUTTER + columns * (size + GUTTER), 3), BACKGROUND, np.uint8)
    for rank, (index, tile_pixels) in enumerate(zip(store_indices, tiles, strict=True)):
        tile_pixels = tile_pixels.copy()
        if int(index) in highlight:
            _frame(tile_pixels, frame)
        top, left = tile_origin(rank, size, columns)
        grid[top : top + size, left : left + size] = tile_pixels
    return Image.fromarray(grid)


def patch_tiles(images: list[np.ndarray], boxes, size: int) -> list[np.ndarray]:
    """Each image's patch in its box (clipped to the image) on a ``size`` px tile, every patch at the scale at which
    the largest box (clipped to the image) fills a tile: enlarged pixel by pixel, reduced by Lanczos filtering."""
    clipped = [clip_box(box, image.shape) for image, box in zip(images, boxes, strict=True)]
    largest = max([max(bottom - top, right - left) for top, left, bottom, right in clipped], default=1)
    scale = size / max(largest, 1)
    tiles = []
    for image, (top, left, bottom, right) in zip(images, clipped, strict=True):
        tile = np.full((size, size, 3), BACKGROUND, np.uint8)
        patch = image[top:bottom, left:right]
        h, w = max(1, round(patch.shape[0] * scale)), max(1, round(patch.shape[1] * scale))
        if patch.size:
            resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.LANCZOS
            patch = np.asarray(Image.fromarray(patch).resize((min(w, size), min(h, size)), resample))
            y, x = (size - patch.shape[0]) // 2, (size - patch.shape[1]) // 2
            tile[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
        tiles.append(tile)
    return tiles


def clip_box(box, shape) -> tuple[int, int, int, int]:
    """A (top, left, bottom, right) box clipped to an image of ``shape`` (height, width, ...)."""
    top, left, bottom, right = box
    return max(top, 0), max(left, 0), min(bottom, shape[0]), min(right, shape[1])


def patch_boxes(info: dict, path, tensor: str, channel: int, k: int, image_size: int) -> list[list[int]] | None:
    """The receptive field, as (top, left, bottom, right) in the network's input window, of the unit where
    ``tensor:channel`` peaks on each of its first k top images; None when the file has no positions."""
    name = tensor if tensor in info["sets"] else tensor.removesuffix("_pre_relu")
    peaks = info.get("peaks", {}).get(name)
    if peaks is None:
        return None
    h, w = info["map_shapes"][name]
    field = channel_field(name, channel, image_size)
    if field.side != h:
        raise UserError(
            f"{path} says {name}'s map is {h} x {w} units, but {tensor_architecture(name).name} at {image_size} px "
            f"has {field.side}; "
            f"give the image size the activations were computed at"
        )
    return [list(field.box(*divmod(int(p), w))) for p in peaks[channel][:k]]


# --- One channel's mosaic from two top-k files ----------------------------------------------------------------


def channel_set(info: dict, path, tensor: str, channel: int, k: int) -> np.ndarray:
    """The first k rows (into the split's activation rows) of a channel's top-k list, checked against the file."""
    name = tensor if tensor in info["sets"] else tensor.removesuffix("_pre_relu")  # the file keeps post-ReLU names
    if name not in info["sets"]:
        raise UserError(f"tensor {tensor!r} is not in the top-k file {path}; it has {', '.join(info['sets'])}")
    sets = info["sets"][name]
    if not 0 <= channel < len(sets):
        raise UserError(
            f"channel {channel} is out of range for {tensor} in {path}, which has channels 0..{len(sets) - 1}"
        )
    if not 1 <= k <= int(info["k_max"]):
        raise UserError(f"k = {k} is not in 1..{info['k_max']}, the largest k of the top-k file {path}; rebuild it")
    return sets[channel][:k]


def _check_store(a: dict, store: h5py.File, topk_a) -> None:
    dataset, stored = str(a.get("dataset", "")), str(store.attrs.get("dataset", ""))
    if dataset and stored and dataset != stored:
        raise UserError(
            f"the top-k file {topk_a} is of dataset {dataset!r} but the store {store.filename} is {stored!r}"
        )


def class_names(label, classes, multi_label: bool) -> list[str]:
    """An image's labels by name: the classes of a multi-hot row, or of a single class index (-1: unlabelled)."""
    if multi_label:
        return [str(classes[c]) for c in np.flatnonzero(np.asarray(label) > 0)]
    return [str(classes[int(label)])] if int(label) >= 0 else []


def mosaic_summary(a: dict, b: dict, rows_a, rows_b, tensor: str, channel: int, k: int) -> dict:
    """What the JSON beside a mosaic says: the set (of ``a``), the common images, overlap and composition, and
    each image's labels (class names)."""
    store_a, store_b = a["store_index"][rows_a], b["store_index"][rows_b]
    in_b = set(store_b.tolist())
    common = [int(i) for i in store_a if i in in_b]  # in a's rank order
    classes = a["classes"]
    top = composition(a["labels"][rows_a], len(classes), a["task"] == "multi_label", classes, TOP_CLASSES)
    multi = a["task"] == "multi_label"
    labels = [class_names(a["labels"][row], classes, multi) for row in rows_a]
    return {
        "tensor": tensor,
        "channel": int(channel),
        "k": int(k),
        "model": str(a["model"]),
        "other_model": str(b["model"]),
        "dataset": str(a.get("dataset", "")),
        "size": len(rows_a),
        "overlap": overlap_ratio(rows_a, rows_b, k),
        "store_indices": [int(i) for i in store_a],
        "common_store_indices": common,
        "labels": labels,
        "composition": [{"class": str(c), "percent": float(p)} for c, p in top],
    }


def write_mosaic(
    topk_a,
    topk_b,
    tensor: str,
    channel: int,
    k: int,
    store,
    image_size: int,
    out_png,
    out_json=None,
    side: str = "a",
    *,
    columns: int | None = None,
    tile: int | None = None,
    frame: int = 3,
) -> dict:
    """The mosaic of model A's (``side="a"``) or B's top-k set of ``tensor:channel``, images common to both framed,
    in a near-square grid (``columns`` default: :func:`grid_columns`); the summary (returned) also goes to
    ``out_json`` if given. When the top-k file has peak positions, the mosaic of patches too
    (``patches_<out_png's name>``; named in the summary with each patch's box). Files are written atomically."""
    if side not in ("a", "b"):
        raise UserError(f"side must be 'a' or 'b' (whose top-k set the mosaic shows), not {side!r}")
    a, b = read_topk_file(topk_a), read_topk_file(topk_b)
    check_same_images(a, b, f"the top-k files {topk_a} and {topk_b}")
    rows_a = channel_set(a, topk_a, tensor, channel, k)
    rows_b = channel_set(b, topk_b, tensor, channel, k)
    if side == "b":
        a, b, rows_a, rows_b = b, a, rows_b, rows_a
    summary = mosaic_summary(a, b, rows_a, rows_b, tensor, channel, k)
    boxes = patch_boxes(a, topk_a if side == "a" else topk_b, tensor, channel, k, image_size)
    whole = (0, 0, image_size, image_size)
    if boxes is not None and all(clip_box(b, whole[2:]) == whole for b in boxes):
        boxes = None  # every field covers the whole image: its patches would repeat the mosaic
    out_png = Path(out_png)
    patches_png = out_png.with_name(f"{PATCHES}{out_png.name}")
    with open_store(store) as f:
        _check_store(a, f, topk_a if side == "a" else topk_b)
        ids = f["ids"].asstr()
        summary["ids"] = [ids[i] for i in summary["store_indices"]]
        grids = {out_png: None, patches_png: boxes} if boxes is not None else {out_png: None}
        for png, grid_boxes in grids.items():
            grid = mosaic_image(
                f, summary["store_indices"], image_size, set(summary["common_store_indices"]),
                columns or grid_columns(k), tile, frame, grid_boxes,
            )  # fmt: skip
            with atomic_path(png) as tmp:
                grid.save(tmp, format="PNG")
    if boxes is not None:
        summary["patches"] = {"png": patches_png.name, "boxes": boxes, "image_size": int(image_size)}
    if out_json is not None:
        with atomic_path(out_json) as tmp:
            Path(tmp).write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def write_single_images(store, store_indices, image_size: int, out_dir) -> int:
    """Each image of ``store_indices`` on its own, as the network saw it: ``out_dir/<store index>.jpg``."""
    indices = sorted({int(i) for i in store_indices})
    with open_store(store) as f, atomic_dir(out_dir) as tmp:
        for index, image in zip(indices, store_images(f, indices, image_size), strict=True):
            Image.fromarray(image).save(tmp / f"{index}.jpg", format="JPEG", quality=JPEG_QUALITY)
    return len(indices)


# --- A model pair's mosaics (the mosaics rule) -----------------------------------------------------------------


def write_pair_mosaics(
    topk_a,
    topk_b,
    store,
    image_size: int,
    k: int,
    channels: list[str],
    out_dir,
    changed_from=None,
    layers: list[str] = (),
    per_layer: int = 0,
    images: bool = False,
) -> tuple[list[str], list[Path]]:
    """Both models' top-k mosaics (``a_<channel>.png``, ``b_<channel>.png``, JSON beside) of the named ``channels``
    and, given a pair's overlap table (``changed_from``), per layer the ``per_layer`` channels changed most and
    least at ``k`` (:func:`artfinetune.render.channels.select_changed_channels`); with ``images``, every image
    shown also on its own under ``images/`` (a gallery's). Returns (channels, mosaics)."""
    channels = pair_channels(list(channels), changed_choice(changed_from, layers, per_layer, k))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, shown = [], set()
    for i, channel in enumerate(channels, start=1):
        tensor, index = topk_channel(channel)
        for side in ("a", "b"):
            png = out_dir / channel_file(channel, f"{side}_")
            summary = write_mosaic(
                topk_a, topk_b, tensor, index, k, store, image_size, png, png.with_suffix(".json"), side,
                tile=tile_size(image_size),
            )  # fmt: skip
            shown.update(summary["store_indices"])
            written.append(png)
        log.info("mosaics %d/%d: %s", i, len(channels), channel)
    if images:
        n = write_single_images(store, shown, image_size, out_dir / MOSAIC_IMAGES)
        log.info("%d images on their own in %s", n, out_dir / MOSAIC_IMAGES)
    return channels, written
