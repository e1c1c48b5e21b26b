"""How the report describes renders and mosaics: shared by the galleries' captions and the panels' (figures 1-4)."""

from __future__ import annotations

from artfinetune.render.channels import changed_settings
from artfinetune.study.names import analysis_layers, pair_architecture, pair_label
from artfinetune.study.report import rst_escape

RENDER_HOW = (
    "Renders: Lucid activation maximisation of the channel ({size} px, {steps} Adam steps at lr {lr}, FFT "
    "parameterisation with colour decorrelation, Lucid's standard transforms, seed {seed}). Mosaics: the channel's "
    "top-{k} train images in rank order, those also in the other model's top-{k} framed in green, with the "
    "overlap and the three most frequent classes."
)


def render_how(config: dict) -> str:
    """The render settings and mosaic size of a study, in words."""
    return RENDER_HOW.format(**config["render"])


def gallery_caption(config: dict, pair) -> str:
    """A pair's channel gallery (an HTML page with its images)."""
    render = config["render"]
    arch = pair_architecture(config, pair)
    layers = changed_settings(config, arch)["layers"]
    which = "per layer" if layers == analysis_layers(config, arch) else f"per layer of {', '.join(layers)}"
    chosen = (
        f" and, {which}, the {render['per_layer']} channels whose top-{render['k']} sets changed most "
        "and as many that changed least"
        if render["per_layer"]
        else ""
    )
    text = (
        f"Channel gallery of {pair_label(pair)}: the named channels{chosen}, each with both renders, both "
        f"mosaics, the overlap and both entropies; sortable by layer, overlap and entropy. {render_how(config)}"
    )
    return rst_escape(text)
