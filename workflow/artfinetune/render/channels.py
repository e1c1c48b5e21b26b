"""Which channels to render and show: the config's named channels (a gallery's, a panel's), a random sample per
layer (a gallery's, drawn without looking at any result: what the render-change finding measures on), and per
layer the channels whose top-k sets changed most and least between the two models of a pair. One home for the
choice: the rules' params, the render and mosaic jobs and the galleries all take it from here.

A channel is written ``tensor:index`` as Lucid names tensors (``mixed4d_3x3_pre_relu:52``, ``mixed4a:10``); its
top-k set is that of the tensor after ReLU (``mixed4d_3x3`` channel 52).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from artfinetune.errors import UserError
from artfinetune.model.architectures import DEFAULT as DEFAULT_ARCHITECTURE
from artfinetune.model.architectures import architecture, tensor_architecture
from artfinetune.model.layers import parse_channel, post_relu, tensor_widths
from artfinetune.study.names import analysis_layers, pair_architecture, pair_dataset


def _is_gallery(config: dict, pair) -> bool:
    return list(pair) in [list(p) for p in config["galleries"]]


def panel_dataset(config: dict, panel: dict, pair) -> str:
    """The dataset whose train split gives a pair's top-k sets in a panel: the panel's, or the pair's own."""
    return panel.get("dataset") or pair_dataset(config, pair)


def named_channels(config: dict, pair) -> list[str]:
    """The channels a pair's gallery shows whatever its overlaps: render.channels of its architecture, its panel
    columns' channels on its dataset, and the random sample (:func:`sample_channels`)."""
    gallery = _is_gallery(config, pair)
    arch = architecture(pair_architecture(config, pair))
    names = [c for c in config["render"]["channels"] if parse_channel(c)[0] in arch.widths] if gallery else []
    names += _panel_channels(config, pair, pair_dataset(config, pair))
    return list(dict.fromkeys(names + (sample_channels(config, arch.name) if gallery else [])))


def sample_channels(config: dict, arch_name: str = DEFAULT_ARCHITECTURE) -> list[str]:
    """``render.sample`` channels drawn at random in each layer of :func:`changed_settings` (``render.layers``,
    default the study's, of the architecture ``arch_name``), as ``layer:index``; each layer's draw is seeded by
    ``render.seed`` and the layer alone, so adding a layer or changing the count elsewhere leaves the other layers'
    draws as they were."""
    per_layer = config["render"].get("sample", 0)
    if not per_layer:
        return []
    return draw_sample(changed_settings(config, arch_name)["layers"], per_layer, config["render"].get("seed", 0))


def draw_sample(layers: list[str], per_layer: int, seed: int) -> list[str]:
    """:func:`sample_channels` from plain values: per layer, ``per_layer`` distinct channels (all of a narrower
    layer), in increasing order, drawn uniformly without replacement; a layer's draw is seeded by ``seed`` and its
    position among its architecture's analysis layers."""
    chosen = []
    for layer in layers:
        rng = np.random.default_rng([seed, tensor_architecture(layer).study_layers.index(layer)])
        width = tensor_widths()[layer]
        picked = np.sort(rng.choice(width, size=min(per_layer, width), replace=False))
        chosen += [f"{layer}:{int(c)}" for c in picked]
    return chosen


def _panel_channels(config: dict, pair, dataset: str | None = None, show: str | None = None) -> list[str]:
    """The channels of the panel columns on ``pair`` (on ``dataset``, showing ``show``, where given), panels in the
    order of their names (a rule param: the same list however the config orders its mappings)."""
    return [
        column["channel"]
        for panel in (config["panels"][name] for name in sorted(config["panels"]))
        if show is None or show in panel["show"]
        for column in panel["columns"]
        if list(column["pair"]) == list(pair) and (dataset is None or panel_dataset(config, panel, pair) == dataset)
    ]


def gallery_mosaics(config: dict, pair, dataset: str) -> bool:
    """Whether a pair's mosaics on ``dataset`` are its gallery's (a gallery pair on its own dataset)."""
    return _is_gallery(config, pair) and dataset == pair_dataset(config, pair)


def mosaic_channels(config: dict, pair, dataset: str) -> list[str]:
    """The channels whose top-k mosaics a pair needs on ``dataset``: its gallery's (on the pair's own dataset) and
    those of the panels that show its top-k sets there."""
    names = named_channels(config, pair) if gallery_mosaics(config, pair, dataset) else []
    return list(dict.fromkeys(names + _panel_channels(config, pair, dataset, "topk")))


def model_channels(config: dict, model: str) -> list[str]:
    """Every named channel a model is rendered for, sorted (adding a channel reruns its renders): those of the
    galleries it is in and of the panel columns that show renders of a pair it is in."""
    names = {c for pair in config["galleries"] if model in pair for c in named_channels(config, pair)}
    for panel in config["panels"].values():
        if "renders" in panel["show"]:
            names |= {c["channel"] for c in panel["columns"] if model in c["pair"]}
    return sorted(names)


def changed_settings(config: dict, arch_name: str = DEFAULT_ARCHITECTURE) -> dict:
    """How a gallery of an architecture's models chooses its channels automatically: per layer (those of
    ``render.layers`` that are the architecture's, default all its analysis layers, in the study's order), most and
    least changed at ``render.k``."""
    own = analysis_layers(config, arch_name)
    chosen = [layer for layer in config["render"].get("layers") or [] if layer in own]
    layers = [layer for layer in own if not chosen or layer in chosen]
    return {"layers": layers, "per_layer": config["render"]["per_layer"], "k": config["render"]["k"]}


def changed_args(config: dict, pair) -> str:
    """The render and mosaics commands' options of :func:`changed_settings` for a pair's architecture."""
    changed = changed_settings(config, pair_architecture(config, pair))
    return "--layers {} --per-layer {} --k {}".format(" ".join(changed["layers"]), changed["per_layer"], changed["k"])


def gallery_has_changed(config: dict, pair) -> bool:
    """Whether a pair shows automatically chosen channels: it has a gallery and ``render.per_layer`` > 0."""
    return config["render"]["per_layer"] > 0 and _is_gallery(config, pair)


def topk_channel(channel: str) -> tuple[str, int]:
    """The post-ReLU tensor and index whose top-k set belongs to a channel (``layer:index``)."""
    tensor, index = parse_channel(channel)
    return post_relu(tensor), index


def select_changed_channels(overlap_csv, layers: list[str], per_layer: int, k: int) -> list[str]:
    """Per layer, the ``per_layer`` channels of lowest top-k overlap (changed most) then of highest (changed least).

    Channels whose set is empty in either model (no entropy: the channel never fired, or fired only on unlabelled
    images) are left out, since their overlap says nothing. Ties go to the lower channel index. A layer with fewer
    than 2 * per_layer eligible channels gives what it has, without repeats.
    """
    table = pd.read_csv(overlap_csv)
    rows = table[table["k"] == k]
    if rows.empty:
        raise UserError(
            f"{overlap_csv} has no rows at k = {k}; its k values are {sorted(int(v) for v in table['k'].unique())}"
        )
    chosen = []
    for layer in layers:
        at = rows[rows["layer"] == layer].pivot(index="channel", columns="metric", values="value")
        if at.empty:
            raise UserError(f"{overlap_csv} has no channels of {layer}; it has {sorted(rows['layer'].unique())}")
        eligible = at[np.isfinite(at["entropy_a"]) & np.isfinite(at["entropy_b"])]
        ranked = eligible.reset_index()
        most = ranked.sort_values(["overlap", "channel"])["channel"].tolist()[:per_layer]
        by_least = ranked.assign(rank=-ranked["overlap"]).sort_values(["rank", "channel"])["channel"].tolist()
        least = [c for c in by_least if c not in most][:per_layer]
        chosen += [f"{layer}:{c}" for c in most + least]
    return chosen


def changed_choice(overlap_csv, layers: list[str], per_layer: int, k: int | None) -> dict | None:
    """The automatic choice's settings (the command line's ``--changed-from``, ``--layers``, ``--per-layer``,
    ``--k``), or None without an overlap table."""
    if not overlap_csv:
        return None
    return {"overlap_csv": overlap_csv, "layers": list(layers), "per_layer": per_layer, "k": k}


def pair_channels(named: list[str], changed: dict | None = None) -> list[str]:
    """Named channels, then the chosen ones (``changed`` = {overlap_csv, layers, per_layer, k}), without repeats."""
    chosen = []
    if changed and changed["per_layer"] > 0:
        chosen = select_changed_channels(changed["overlap_csv"], changed["layers"], changed["per_layer"], changed["k"])
    return list(dict.fromkeys([*named, *chosen]))
