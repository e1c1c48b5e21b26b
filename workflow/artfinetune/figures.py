"""The paper's computed figures: CKA per layer (figure 5) and top-k boxplots per layer (figures 6, 14 and 15).

Each figure is built by a ``draw_*`` function that returns the matplotlib Figure (tests inspect it) and saved by
:func:`save_figure` as PNG (200 dpi) and PDF. Figures are plain ``matplotlib.figure.Figure`` objects drawn by the
Agg canvas: no pyplot, so no global backend switch and no figure registry that could leak across calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from artfinetune.comparison_tables import TIDY_COLUMNS, read_tidy
from artfinetune.errors import UserError
from artfinetune.io import atomic_path
from artfinetune.model.layers import STUDY_LAYERS

DPI = 200
# Print-readable: no text below 9 pt at the saved size (figures are saved at their drawn size).
FONTS = {
    "font.size": 9,
    "axes.labelsize": 10,
    "axes.titlesize": 10,
    "figure.titlesize": 11,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
}
STYLE = {**sns.axes_style("whitegrid"), **sns.plotting_context("paper"), **FONTS, "pdf.fonttype": 42}
PALETTE = sns.color_palette("colorblind")
# A marker per pair as well as a colour, so lines stay apart in greyscale print.
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "<", ">", "h")
MEAN_MARKER = {"marker": "D", "markerfacecolor": "white", "markeredgecolor": "black", "markersize": 4}
REFERENCE_STYLE = {"color": "0.45", "linestyle": ":", "linewidth": 2.0}
LAYER_ROTATION = 45


def network_order(layers: Iterable[str]) -> list[str]:
    """Study layers in network order, then any other tensor (e.g. a branch such as mixed4d_3x3) as first met."""
    seen = list(dict.fromkeys(layers))
    return [layer for layer in STUDY_LAYERS if layer in seen] + [layer for layer in seen if layer not in STUDY_LAYERS]


def save_figure(fig: Figure, out_png: str | Path, out_pdf: str | Path) -> tuple[Path, Path]:
    """Save ``fig`` as PNG and PDF under temporary names, renamed into place once written."""
    with matplotlib.rc_context(STYLE):
        for path, form in ((out_png, "png"), (out_pdf, "pdf")):
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=form, dpi=DPI, bbox_inches="tight")
    return Path(out_png), Path(out_pdf)


def new_figure(width: float, height: float, panels: int, **subplots) -> tuple[Figure, np.ndarray]:
    """A pyplot-free figure with ``panels`` axes side by side or stacked (``subplots`` go to Figure.subplots)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(**{"nrows": 1, "ncols": panels, "squeeze": False, **subplots}).ravel()
    return fig, axes


def label_layers(ax, layers: Sequence[str]) -> None:
    """Layer names as x tick labels, rotated so that neighbours never overlap."""
    ax.set_xticks(range(len(layers)), layers, rotation=LAYER_ROTATION, ha="right", rotation_mode="anchor")
    ax.set_xlim(-0.5, len(layers) - 0.5)
    ax.set_xlabel("layer")


# --- Figure 5: CKA per layer --------------------------------------------------------------------------------------


def read_cka(pairs: Sequence[tuple[str, str | Path]]) -> pd.DataFrame:
    """One frame of every pair's CKA rows: columns pair, layer, metric, value."""
    labels = [label for label, _ in pairs]
    if len(set(labels)) != len(labels):
        raise UserError(f"the CKA figure's pair labels must differ, since each names a line; got {labels}")
    frames = []
    for label, path in pairs:
        frame = read_tidy(path, ["linear_cka", "debiased_cka"])
        frame = frame[frame["metric"].isin(["linear_cka", "debiased_cka"])]
        if frame.duplicated(["layer", "metric"]).any():
            raise UserError(f"{path} has several rows for one layer and CKA metric; expected one each")
        frames.append(frame.assign(pair=label)[["pair", "layer", "metric", "value"]])
    if not frames:
        raise UserError("the CKA figure needs at least one model pair")
    return pd.concat(frames, ignore_index=True)


def reference_series(reference: dict, layers: Sequence[str]) -> pd.Series:
    """The original code's per-layer values (conv2d0 ... mixed5b) at the layers the figure shows."""
    values = list(reference["values"])
    if len(values) != len(STUDY_LAYERS):
        raise UserError(
            f"the CKA reference {reference.get('label', '')!r} has {len(values)} values; "
            f"expected one per study layer ({', '.join(STUDY_LAYERS)})"
        )
    return pd.Series(values, index=list(STUDY_LAYERS)).reindex(layers)


def draw_cka(cka: pd.DataFrame, title: str = "", reference: dict | None = None) -> Figure:
    """Figure 5: linear CKA (left, the paper's figure) and debiased CKA (right) per layer, one line per pair.

    Two panels rather than dashed twins: with the paper's six pairs one panel would hold twelve crossing lines;
    side by side with a shared y axis each panel stays legible and the small-n floor of the biased estimator
    shows as the drop from left to right.
    """
    layers = network_order(cka["layer"])
    position = {layer: i for i, layer in enumerate(layers)}
    with matplotlib.rc_context(STYLE):
        fig, (linear_ax, debiased_ax) = new_figure(7.2, 3.6, 2, sharey=True)
        for n, (pair, rows) in enumerate(cka.groupby("pair", sort=False)):
            style = {"color": PALETTE[n % len(PALETTE)], "marker": MARKERS[n % len(MARKERS)], "label": pair}
            for ax, metric in ((linear_ax, "linear_cka"), (debiased_ax, "debiased_cka")):
                series = rows[rows["metric"] == metric].set_index("layer")["value"].reindex(layers)
                ax.plot([position[layer] for layer in layers], series.to_numpy(), **style)
        if reference is not None:
            series = reference_series(reference, layers)
            label = f"{reference['label']} ({reference['pair']})" if reference.get("pair") else reference["label"]
            linear_ax.plot(range(len(layers)), series.to_numpy(), label=label, **REFERENCE_STYLE)
        low = min(0.0, float(np.nanmin(cka["value"].to_numpy(dtype=float))) - 0.05)
        for ax, name in ((linear_ax, "(a) linear CKA"), (debiased_ax, "(b) debiased CKA")):
            label_layers(ax, layers)
            ax.set_title(name)
            ax.set_ylim(low, 1.02)
        linear_ax.set_ylabel("CKA")
        handles, labels = linear_ax.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 2), frameon=False)
        if title:
            fig.suptitle(title)
    return fig


def only_layers(frame: pd.DataFrame, layers: Sequence[str] | None) -> pd.DataFrame:
    """The rows of ``layers`` (None: every tensor in the file, branch tensors included)."""
    return frame if layers is None else frame[frame["layer"].isin(list(layers))]


def cka_figure(
    pairs, out_png, out_pdf, title: str = "", reference: dict | None = None, layers: Sequence[str] | None = None
) -> tuple[Path, Path]:
    """Figure 5 from ``pairs`` = [(label, cka_csv), ...]; ``reference`` = {label, values (12), pair} or None;
    ``layers`` picks the tensors drawn (default: all in the files)."""
    return save_figure(draw_cka(only_layers(read_cka(pairs), layers), title, reference), out_png, out_pdf)


# --- Figures 6, 14, 15: top-k overlap and entropy per layer ------------------------------------------------------


def read_topk(path: str | Path) -> pd.DataFrame:
    return read_tidy(path, ["overlap", "entropy_a", "entropy_b"], columns=(*TIDY_COLUMNS, "chance"))


def rows_at_k(frame: pd.DataFrame, metrics: Sequence[str], k: int, path: str | Path) -> pd.DataFrame:
    """The rows of ``metrics`` at ``k``; a UserError names the file and the k values it has."""
    rows = frame[frame["metric"].isin(metrics)]
    if not (rows["k"] == k).any():
        available = ", ".join(str(v) for v in sorted(rows["k"].dropna().unique()))
        raise UserError(f"{path} has no {'/'.join(metrics)} rows at k = {k}; its k values are {available or 'none'}")
    return rows[rows["k"] == k]


def overlap_boxes(frame: pd.DataFrame, k: int, path: str | Path = "the overlap file") -> pd.DataFrame:
    """Per layer and channel, the overlapping ratio at ``k`` in % (as the paper prints it)."""
    rows = rows_at_k(frame, ["overlap"], k, path)
    return pd.DataFrame({"layer": rows["layer"], "channel": rows["channel"], "overlap": 100.0 * rows["value"]})


def entropy_boxes(
    frame: pd.DataFrame, k: int, labels: Sequence[str] = ("before", "after"), path: str | Path = "the overlap file"
) -> pd.DataFrame:
    """Per layer, channel and model (``labels`` for A and B), the entropy at ``k``; empty sets (NaN) left out."""
    rows = rows_at_k(frame, ["entropy_a", "entropy_b"], k, path)
    model = rows["metric"].map({"entropy_a": labels[0], "entropy_b": labels[1]})
    boxes = pd.DataFrame({"layer": rows["layer"], "channel": rows["channel"], "model": model, "entropy": rows["value"]})
    return boxes.dropna(subset=["entropy"])


def chance_level(frame: pd.DataFrame, k: int, path: str | Path = "the overlap file") -> float:
    """Chance overlap k / n in %, from the overlap rows at ``k`` (n, the train set's size, is the same for all)."""
    chance = rows_at_k(frame, ["overlap"], k, path)["chance"].dropna().unique()
    if len(chance) != 1:
        raise UserError(f"{path}: the overlap rows at k = {k} must share one chance level; found {list(chance)}")
    return 100.0 * float(chance[0])


def box_legend(ax, extra: Sequence = ()) -> None:
    """A legend that says what the box marks are: median line, mean diamond, quartile box, 1.5 IQR whiskers."""
    marks = [
        Line2D([], [], color="black", linewidth=1.2, label="median"),
        Line2D([], [], linestyle="none", **MEAN_MARKER, label="mean"),
        Patch(facecolor="white", edgecolor="black", label="quartiles; whiskers 1.5 IQR"),
    ]
    ax.legend(handles=[*extra, *marks], loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


BOX_STYLE = {
    "showmeans": True,
    "meanprops": MEAN_MARKER,
    "medianprops": {"color": "black", "linewidth": 1.2},
    "flierprops": {"marker": ".", "markersize": 2, "alpha": 0.5},
    "linecolor": "black",
    "linewidth": 0.8,
}


def draw_topk(
    overlaps: pd.DataFrame,
    entropies: pd.DataFrame,
    chance: float,
    overlap_k: int,
    entropy_k: int,
    title: str = "",
    labels: Sequence[str] = ("before", "after"),
) -> Figure:
    """Figure 6: (a) boxplots over channels of the overlapping ratio per layer with the chance level;
    (b) boxplots of the entropy of each model's top-k set per layer."""
    layers = network_order([*overlaps["layer"], *entropies["layer"]])
    with matplotlib.rc_context(STYLE):
        fig, (overlap_ax, entropy_ax) = new_figure(7.2, 6.4, 2, nrows=2, ncols=1, sharex=True)
        sns.boxplot(overlaps, x="layer", y="overlap", order=layers, color=PALETTE[2], ax=overlap_ax, **BOX_STYLE)
        chance_line = overlap_ax.axhline(chance, color="black", linestyle="--", linewidth=1.0)
        chance_line.set_label(f"chance k/n = {chance:.2g} %")
        overlap_ax.set_ylim(-3, 100)  # a little below 0, so a chance line near 0 % is not hidden by the axis
        overlap_ax.set_ylabel("overlapping ratio (%)")
        overlap_ax.set_title(f"(a) overlap of the top-{overlap_k} sets, {labels[0]} vs {labels[1]}", loc="left")
        box_legend(overlap_ax, [chance_line])
        sns.boxplot(
            entropies, x="layer", y="entropy", hue="model", hue_order=list(labels), order=layers,
            palette=PALETTE[:2], gap=0.1, ax=entropy_ax, legend=False, **BOX_STYLE,
        )  # fmt: skip
        entropy_ax.set_ylim(0, 1.02)
        entropy_ax.set_ylabel("class entropy")
        entropy_ax.set_title(f"(b) normalised class entropy of the top-{entropy_k} sets", loc="left")
        models = [Patch(facecolor=PALETTE[i], edgecolor="black", label=label) for i, label in enumerate(labels)]
        box_legend(entropy_ax, models)
        overlap_ax.set_xlabel("")
        label_layers(entropy_ax, layers)
        if title:
            fig.suptitle(title)
    return fig


def topk_figure(
    overlap_csv,
    out_png,
    out_pdf,
    overlap_k: int,
    entropy_k: int,
    title: str = "",
    labels=("before", "after"),
    layers: Sequence[str] | None = None,
) -> tuple[Path, Path]:
    """Figure 6 (and 14, 15) from one pair's overlap file: overlap at ``overlap_k``, entropy at ``entropy_k``;
    ``layers`` picks the tensors drawn (default: all in the file)."""
    frame = only_layers(read_topk(overlap_csv), layers)
    overlaps = overlap_boxes(frame, overlap_k, overlap_csv)
    entropies = entropy_boxes(frame, entropy_k, labels, overlap_csv)
    chance = chance_level(frame, overlap_k, overlap_csv)
    fig = draw_topk(overlaps, entropies, chance, overlap_k, entropy_k, title, labels)
    return save_figure(fig, out_png, out_pdf)
