"""A model pair's channels shown side by side: which channels, their mosaics, gallery entries and panel columns.

A pair shows its named channels (the config's ``render.channels`` for a gallery, a panel's channels) and, for a
gallery with ``render.per_layer`` > 0, per layer the channels whose top-k sets changed most and least
(:func:`artfinetune.channels.select_changed_channels`, the same choice in the render and mosaic jobs).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from artfinetune.channels import select_changed_channels, topk_channel
from artfinetune.model.layers import STUDY_LAYERS
from artfinetune.paths import channel_file

log = logging.getLogger(__name__)
TILE = 64  # px per image in a mosaic: 100 images of 224 px would make a 2,262 px wide picture


def pair_channels(named: list[str], changed: dict | None = None) -> list[str]:
    """Named channels, then the chosen ones (``changed`` = {overlap_csv, layers, per_layer, k}), without repeats."""
    chosen = []
    if changed and changed["per_layer"] > 0:
        chosen = select_changed_channels(changed["overlap_csv"], changed["layers"], changed["per_layer"], changed["k"])
    return list(dict.fromkeys([*named, *chosen]))


def write_pair_mosaics(topk_a, topk_b, store, image_size: int, k: int, channels: list[str], out_dir) -> list[Path]:
    """Both models' top-k mosaics of every channel (``a_<channel>.png``, ``b_<channel>.png``, JSON beside)."""
    from artfinetune.mosaics import write_mosaic

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i, spec in enumerate(channels, start=1):
        tensor, index = topk_channel(spec)
        for side in ("a", "b"):
            png = out_dir / channel_file(spec, f"{side}_")
            summary = png.with_suffix(".json")
            write_mosaic(topk_a, topk_b, tensor, index, k, store, image_size, png, summary, side, tile=TILE)
            written.append(png)
        log.info("mosaics %d/%d: %s", i, len(channels), spec)
    return written


def _composition_text(composition: list[dict]) -> str:
    return ", ".join(f"{c['class']} {c['percent']:.0f} %" for c in composition)


def gallery_entries(channels: list[str], renders_a, renders_b, mosaics, overlap_csv, k: int) -> list[dict]:
    """One entry per channel: both renders and mosaics, overlap, both entropies and compositions at ``k``."""
    table = pd.read_csv(overlap_csv)
    at_k = table[table["k"] == k].set_index(["layer", "channel", "metric"])["value"]
    entries = []
    for spec in channels:
        tensor, index = topk_channel(spec)
        infos = {
            side: json.loads((Path(mosaics) / channel_file(spec, f"{side}_")).with_suffix(".json").read_text())
            for side in ("a", "b")
        }
        entropy = {m: at_k.get((tensor, index, f"entropy_{m}"), np.nan) for m in ("a", "b")}
        entries.append(
            {
                "tensor": tensor,
                "channel": index,
                "label": spec,
                "layer_index": STUDY_LAYERS.index(tensor.split("_")[0]),
                "render_a": str(Path(renders_a[spec]) / channel_file(spec)),
                "render_b": str(Path(renders_b[spec]) / channel_file(spec)),
                "mosaic_a": str(Path(mosaics) / channel_file(spec, "a_")),
                "mosaic_b": str(Path(mosaics) / channel_file(spec, "b_")),
                "overlap": float(infos["a"]["overlap"]),
                "entropy_a": None if np.isnan(entropy["a"]) else float(entropy["a"]),
                "entropy_b": None if np.isnan(entropy["b"]) else float(entropy["b"]),
                "composition_a": _composition_text(infos["a"]["composition"]),
                "composition_b": _composition_text(infos["b"]["composition"]),
            }
        )
    return entries


def panel_columns(columns: list[dict]) -> list[dict]:
    """A panel's columns with each one's overlap read from its mosaic's JSON (None where it is missing)."""
    out = []
    for column in columns:
        info = Path(column["mosaic_before"]).with_suffix(".json")
        overlap = json.loads(info.read_text())["overlap"] if info.exists() else None
        out.append({**column, "overlap": overlap})
    return out
