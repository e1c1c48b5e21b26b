"""A model pair's channel gallery, the stage: which channels it shows, what each card holds, and the page.

The gallery rule passes :func:`gallery_spec` as JSON and the command calls :func:`write_pair_gallery`. A pair
shows its named channels (the config's ``render.channels``, its panels' channels, ``render.sample`` random ones per
layer) and, with ``render.per_layer`` > 0, per layer the channels whose top-k sets changed most and least (the same
choice as its render and mosaic jobs); each card gives the channel's render-change score
(:mod:`artfinetune.render.change`), and the page sorts by it. The page itself is
:mod:`artfinetune.render.gallery_html`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from artfinetune.model.layers import layer_position
from artfinetune.render.channels import (
    changed_settings,
    gallery_has_changed,
    named_channels,
    pair_channels,
    sample_channels,
    topk_channel,
)
from artfinetune.render.gallery_html import write_gallery
from artfinetune.render.mosaics import clip_box
from artfinetune.study.names import pair_architecture
from artfinetune.study.paths import (
    MOSAIC_IMAGES,
    changed_render_dir,
    channel_file,
    mosaic_dir,
    pair_files,
    render_change_path,
    render_dir,
)


def render_change_inputs(config: dict, pair) -> dict[str, str]:
    """A gallery's renders (named and chosen, both models) and its pair's overlap table: what the render-change
    table reads."""
    inputs = {"overlap": pair_files(config, pair)["overlap"]}
    for side, model in zip("ab", pair, strict=True):
        inputs[f"named_{side}"] = render_dir(config, model)
        if gallery_has_changed(config, pair):
            inputs[f"changed_{side}"] = changed_render_dir(config, model, pair)
    return inputs


def gallery_inputs(config: dict, pair) -> dict[str, str]:
    """A gallery's renders, overlap table and render-change table, and its pair's mosaics."""
    inputs = render_change_inputs(config, pair)
    return {"mosaics": mosaic_dir(config, pair), "render_change": render_change_path(config, pair), **inputs}


def gallery_spec(config: dict, pair) -> dict:
    """What the gallery command needs: the pair, its named channels, its folders, the chosen channels' setup."""
    inputs = gallery_inputs(config, pair)
    changed = gallery_has_changed(config, pair)
    return {
        "pair": list(pair),
        "channels": named_channels(config, pair),
        "sample": sample_channels(config, pair_architecture(config, pair)),
        "render_change_csv": inputs["render_change"],
        "changed": {**changed_settings(config, pair_architecture(config, pair)), "overlap_csv": inputs["overlap"]}
        if changed
        else None,
        "renders_a": [inputs["named_a"], inputs["changed_a"] if changed else None],
        "renders_b": [inputs["named_b"], inputs["changed_b"] if changed else None],
        "mosaics": inputs["mosaics"],
        "overlap_csv": inputs["overlap"],
        "k": config["render"]["k"],
    }


def _composition_text(composition: list[dict]) -> str:
    return ", ".join(f"{c['class']} {c['percent']:.0f} %" for c in composition)


def set_images(info: dict, mosaics) -> list[dict]:
    """A top-k set as the gallery shows it: per image in rank order its single image (``images/<index>.jpg`` of
    the pair's mosaics), store index, id, labels, whether the other model's set has it too and, when recorded, its
    patch (:func:`patch_view`)."""
    common = set(info["common_store_indices"])
    images = [
        {
            "src": str(Path(mosaics) / MOSAIC_IMAGES / f"{index}.jpg"),
            "index": int(index),
            "id": str(image_id),
            "labels": list(image_labels),
            "common": int(index) in common,
        }
        for index, image_id, image_labels in zip(info["store_indices"], info["ids"], info["labels"], strict=True)
    ]
    if "patches" in info:
        for image, patch in zip(images, patch_view(info["patches"]), strict=True):
            image["patch"] = patch
    return images


def patch_view(patches: dict) -> list[dict]:
    """Each patch of a mosaic summary as the gallery draws it from the whole image, in units of a thumbnail: the
    patch's width and height, the image's side, and the patch's left and top in the image. As in the mosaic, the
    largest patch of the set (clipped to the image) fills a thumbnail."""
    size = patches["image_size"]
    clipped = [clip_box(box, (size, size)) for box in patches["boxes"]]
    largest = max([max(b - t, r - l, 1) for t, l, b, r in clipped], default=1)  # noqa: E741
    return [
        {"w": (r - l) / largest, "h": (b - t) / largest, "s": size / largest, "x": l / largest, "y": t / largest}
        for t, l, b, r in clipped  # noqa: E741
    ]


def gallery_entries(
    channels: list[str], renders_a, renders_b, mosaics, overlap_csv, k: int, render_change_csv=None
) -> list[dict]:
    """One entry per channel: both renders and top-k sets, overlap, both entropies and compositions at ``k``, and
    the render-change score (from ``render_change_csv``) where given."""
    change = {}
    if render_change_csv:
        scores = pd.read_csv(render_change_csv)
        change = dict(zip(scores["label"], scores["render_change"], strict=True))
    table = pd.read_csv(overlap_csv)
    at_k = table[table["k"] == k].set_index(["layer", "channel", "metric"])["value"]
    entries = []
    for channel in channels:
        tensor, index = topk_channel(channel)
        infos = {
            side: json.loads((Path(mosaics) / channel_file(channel, f"{side}_")).with_suffix(".json").read_text())
            for side in ("a", "b")
        }
        entropy = {m: at_k.get((tensor, index, f"entropy_{m}"), np.nan) for m in ("a", "b")}
        entries.append(
            {
                "tensor": tensor,
                "channel": index,
                "label": channel,
                "layer_index": layer_position(tensor),
                "k": int(k),
                "render_a": str(Path(renders_a[channel]) / channel_file(channel)),
                "render_b": str(Path(renders_b[channel]) / channel_file(channel)),
                "set_a": set_images(infos["a"], mosaics),
                "set_b": set_images(infos["b"], mosaics),
                "overlap": float(infos["a"]["overlap"]),
                "entropy_a": None if np.isnan(entropy["a"]) else float(entropy["a"]),
                "entropy_b": None if np.isnan(entropy["b"]) else float(entropy["b"]),
                "render_change": change.get(channel),
                "composition_a": _composition_text(infos["a"]["composition"]),
                "composition_b": _composition_text(infos["b"]["composition"]),
            }
        )
    return entries


def write_pair_gallery(spec: dict, out_dir) -> Path:
    """The gallery folder of a spec (:func:`gallery_spec`): its channels chosen, their cards filled, the page
    written; returns the page's path."""
    channels = pair_channels(spec["channels"], spec.get("changed"))
    named = set(spec["channels"])
    renders = {side: {c: spec[f"renders_{side}"][0 if c in named else 1] for c in channels} for side in ("a", "b")}
    entries = gallery_entries(
        channels, renders["a"], renders["b"], spec["mosaics"], spec["overlap_csv"], spec["k"],
        spec.get("render_change_csv"),
    )  # fmt: skip
    a, b = spec["pair"]
    return write_gallery(entries, out_dir, title=f"{a} -> {b}: {len(entries)} channels", models=(a, b))
