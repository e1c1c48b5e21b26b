"""Figure kind ``cka`` (the paper's figure 5): linear and debiased CKA per layer, one line per model pair.

A figure kind is one module: its config spec, the files it reads, its caption, its report category and its
drawing (:mod:`artfinetune.figures` lists the kinds).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from artfinetune.errors import UserError
from artfinetune.model.layers import STUDY_LAYERS, network_order
from artfinetune.study.names import pair_label, pairs_layers, pairs_text, seed_variants
from artfinetune.study.paths import pair_files
from artfinetune.study.report import SIMILARITY, rst_escape, values_text

if TYPE_CHECKING:  # drawing imports these when it draws: the Snakefile reads every figure's spec at start-up
    import pandas as pd
    from matplotlib.figure import Figure

CATEGORY = SIMILARITY
REFERENCE_STYLE = {"color": "0.45", "linestyle": ":", "linewidth": 2.0}
CKA_HOW = (
    "Linear CKA, ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F), between the two models' features of the same layer on "
    "the test images of the second model's dataset (the first's if the second is an init such as imagenet), centre "
    "crop; an image's feature is the spatial mean of each channel after ReLU; accumulated over chunks of images in "
    "float64. Bands: 95 % confidence intervals over images, by a delete-a-block jackknife (the test images in 10 "
    "random blocks; each CKA recomputed without each block from the streamed sums; Student's t with 9 degrees of "
    "freedom)."
)
DEBIASED = " Panel (b) is debiased CKA (unbiased HSIC), which has no floor at small n."
SEEDS = (
    " Thin dashed lines, in a pair's colour: the same comparison with its models' other seeds (each trained model's "
    "seed replaced, e.g. imagenet vs run/2 beside imagenet vs run/1), the spread across trainings."
)
VARIANT_STYLE = {"linestyle": "--", "linewidth": 0.9, "alpha": 0.8}


def spec(config: dict, name: str) -> dict:
    """The figure's config section with its pairs resolved to their labels and CKA files."""
    figure = config["figures"][name]
    # as in the paper: the study's layers (of each pair's architecture)
    out = {"kind": figure["kind"], "title": figure["title"], "layers": pairs_layers(config, figure["pairs"])}
    out["pairs"] = [[pair_label(p), pair_files(config, p)["cka"]] for p in figure["pairs"]]
    variants = {
        pair_label(p): [pair_files(config, v)["cka"] for v in seed_variants(config, p)] for p in figure["pairs"]
    }
    if any(variants.values()):
        out["variants"] = {label: paths for label, paths in variants.items() if paths}
    if "reference" in figure:
        out["reference"] = figure["reference"]
    return out


def inputs(spec: dict) -> list[str]:
    return [path for _, path in spec["pairs"]] + [p for paths in spec.get("variants", {}).values() for p in paths]


def caption(config: dict, name: str) -> str:
    figure = config["figures"][name]
    text = f"{figure['title'] or name}. Pairs: {pairs_text(figure['pairs'])}. {CKA_HOW}{DEBIASED}"
    if any(seed_variants(config, p) for p in figure["pairs"]):
        text += SEEDS
    reference = figure.get("reference")
    if reference:
        text += f" Reference line ({reference['label']}), per layer: {values_text(reference['values'])}."
    return rst_escape(text)


def draw(spec: dict, out_png, out_pdf) -> tuple[Path, Path]:
    """The figure of a spec (:func:`spec`), saved as PNG and PDF."""
    return cka_figure(
        spec["pairs"], out_png, out_pdf, title=spec.get("title", ""), reference=spec.get("reference"),
        layers=spec.get("layers"), variants=spec.get("variants"),
    )  # fmt: skip


def read_cka(pairs: Sequence[tuple[str, str | Path]]) -> pd.DataFrame:
    """One frame of every pair's CKA rows: columns pair, layer, metric, value and the value's 95 % jackknife
    interval low, high (NaN for a file written without leave-one-block-out rows)."""
    import pandas as pd

    from artfinetune.metrics.summaries import cka_intervals
    from artfinetune.metrics.table import read_tidy

    labels = [label for label, _ in pairs]
    if len(set(labels)) != len(labels):
        raise UserError(f"the CKA figure's pair labels must differ, since each names a line; got {labels}")
    frames = []
    for label, path in pairs:
        table = read_tidy(path, ["linear_cka", "debiased_cka"])
        frame = table[table["metric"].isin(["linear_cka", "debiased_cka"])]
        if frame.duplicated(["layer", "metric"]).any():
            raise UserError(f"{path} has several rows for one layer and CKA metric; expected one each")
        bands = pd.concat([cka_intervals(table, m).assign(metric=m) for m in ("linear_cka", "debiased_cka")])
        frame = frame.merge(bands, on=["layer", "metric"], how="left")
        frames.append(frame.assign(pair=label)[["pair", "layer", "metric", "value", "low", "high"]])
    if not frames:
        raise UserError("the CKA figure needs at least one model pair")
    return pd.concat(frames, ignore_index=True)


def reference_series(reference: dict, layers: Sequence[str]) -> pd.Series:
    """The original code's per-layer values (conv2d0 ... mixed5b) at the layers the figure shows."""
    import pandas as pd

    values = list(reference["values"])
    if len(values) != len(STUDY_LAYERS):
        raise UserError(
            f"the CKA reference {reference.get('label', '')!r} has {len(values)} values; "
            f"expected one per study layer ({', '.join(STUDY_LAYERS)})"
        )
    return pd.Series(values, index=list(STUDY_LAYERS)).reindex(layers)


def read_variants(variants: dict[str, list] | None) -> pd.DataFrame | None:
    """The seed variants' CKA rows (:func:`read_cka`), with the label of the pair each varies in column ``of``."""
    if not variants:
        return None
    import pandas as pd

    frames = [
        read_cka([(f"{label} (seed variant {i})", path)]).assign(of=label)
        for label, paths in variants.items()
        for i, path in enumerate(paths, 1)
    ]
    return pd.concat(frames, ignore_index=True)


def draw_cka(
    cka: pd.DataFrame, title: str = "", reference: dict | None = None, variants: pd.DataFrame | None = None
) -> Figure:
    """Figure 5: linear CKA (left, the paper's figure) and debiased CKA (right) per layer, one line per pair.

    Two panels rather than dashed twins: with the paper's six pairs one panel would hold twelve crossing lines;
    side by side with a shared y axis each panel stays legible and the small-n floor of the biased estimator
    shows as the drop from left to right.
    """
    import matplotlib
    import numpy as np

    from artfinetune.figures.style import MARKERS, PALETTE, STYLE, label_layers, new_figure

    layers = network_order(cka["layer"])
    position = {layer: i for i, layer in enumerate(layers)}
    with matplotlib.rc_context(STYLE):
        fig, (linear_ax, debiased_ax) = new_figure(7.2, 3.6, 2, sharey=True)
        for n, (pair, rows) in enumerate(cka.groupby("pair", sort=False)):
            style = {"color": PALETTE[n % len(PALETTE)], "marker": MARKERS[n % len(MARKERS)], "label": pair}
            for ax, metric in ((linear_ax, "linear_cka"), (debiased_ax, "debiased_cka")):
                values = rows[rows["metric"] == metric].set_index("layer").reindex(layers)
                x = [position[layer] for layer in layers]
                ax.plot(x, values["value"].to_numpy(), **style)
                if values["low"].notna().any():  # the 95 % jackknife interval over images, as a band
                    ax.fill_between(x, values["low"], values["high"], color=style["color"], alpha=0.18, linewidth=0)
                if variants is not None:  # the same comparison with other seeds: thin dashed lines, no markers
                    for _, other in variants[(variants["of"] == pair) & (variants["metric"] == metric)].groupby("pair"):
                        ys = other.set_index("layer").reindex(layers)["value"].to_numpy()
                        ax.plot(x, ys, color=style["color"], **VARIANT_STYLE)
        if reference is not None:
            series = reference_series(reference, layers)
            label = f"{reference['label']} ({reference['pair']})" if reference.get("pair") else reference["label"]
            linear_ax.plot(range(len(layers)), series.to_numpy(), label=label, **REFERENCE_STYLE)
        low = min(0.0, float(np.nanmin(cka[["value", "low"]].to_numpy(dtype=float))) - 0.05)
        for ax, name in ((linear_ax, "(a) linear CKA"), (debiased_ax, "(b) debiased CKA")):
            label_layers(ax, layers)
            ax.set_title(name)
            ax.set_ylim(low, 1.02)
        linear_ax.set_ylabel("CKA")
        if variants is not None and len(variants):
            linear_ax.plot([], [], color="0.3", label="same pair, other seeds", **VARIANT_STYLE)
        handles, labels = linear_ax.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 2), frameon=False)
        if title:
            fig.suptitle(title)
    return fig


def cka_figure(
    pairs,
    out_png,
    out_pdf,
    title: str = "",
    reference: dict | None = None,
    layers: Sequence[str] | None = None,
    variants: dict[str, list] | None = None,
) -> tuple[Path, Path]:
    """Figure 5 from ``pairs`` = [(label, cka_csv), ...]; ``reference`` = {label, values (12), pair} or None;
    ``layers`` picks the tensors drawn (default: all in the files); ``variants`` = {label: [cka_csv of the same
    comparison with other seeds, ...]} drawn thin and dashed in the pair's colour."""
    from artfinetune.figures.style import only_layers, save_figure

    frame = read_variants(variants)
    frame = None if frame is None else only_layers(frame, layers)
    return save_figure(draw_cka(only_layers(read_cka(pairs), layers), title, reference, frame), out_png, out_pdf)
