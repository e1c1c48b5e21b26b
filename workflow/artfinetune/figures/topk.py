"""Figure kind ``topk`` (the paper's figures 6, 14 and 15): per layer, boxplots over channels of the top-k overlap
between two models and of the class entropy of each model's top-k sets.

A figure kind is one module: its config spec, the files it reads, its caption, its report category and its
drawing (:mod:`artfinetune.figures` lists the kinds).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from artfinetune.errors import UserError
from artfinetune.model.layers import network_order
from artfinetune.study.paths import pair_files
from artfinetune.study.report import MAXIMAL, rst_escape

if TYPE_CHECKING:  # drawing imports these when it draws: the Snakefile reads every figure's spec at start-up
    import pandas as pd
    from matplotlib.figure import Figure

CATEGORY = MAXIMAL
MEAN_MARKER = {"marker": "D", "markerfacecolor": "white", "markeredgecolor": "black", "markersize": 4}
TOPK_HOW = (
    "Per channel, the top-k set is the k train images with the highest spatial-mean activation after ReLU "
    "(images where it is 0 are ignored). Overlap: |top_k(A) ∩ top_k(B)| / k, with the chance level k / n. "
    "Entropy: the normalised class entropy (1 / log2 C) Σ -p_c log2 p_c of a set, a multi-label image counting "
    "1/|L| towards each of its classes; sets without a labelled image are left out. Boxes over channels per layer, "
    "means as diamonds."
)


def spec(config: dict, name: str) -> dict:
    """The figure's config section with its pair resolved to its overlap table (k values filled at config load)."""
    figure = config["figures"][name]
    out = {"kind": figure["kind"], "title": figure["title"], "layers": config["layers"]}  # as in the paper
    pair = figure["pair"]
    out.update(
        overlap_csv=pair_files(config, pair)["overlap"],
        overlap_k=figure["overlap_k"],
        entropy_k=figure["entropy_k"],
        labels=list(pair),
    )
    return out


def inputs(spec: dict) -> list[str]:
    return [spec["overlap_csv"]]


def caption(config: dict, name: str) -> str:
    figure = config["figures"][name]
    a, b = figure["pair"]
    text = (
        f"{figure['title'] or name}. Model A {a}, model B {b}. (a) overlap of the top-{figure['overlap_k']} sets of "
        f"each channel, per layer; (b) class entropy of the top-{figure['entropy_k']} sets of both models. "
        f"{TOPK_HOW} In the paper (figure 6, ImageNet vs RASTA mode A) the overlap falls with depth and the entropy "
        "falls from the middle of the network on."
    )
    return rst_escape(text)


def draw(spec: dict, out_png, out_pdf) -> tuple[Path, Path]:
    """The figure of a spec (:func:`spec`), saved as PNG and PDF."""
    return topk_figure(
        spec["overlap_csv"], out_png, out_pdf, spec["overlap_k"], spec["entropy_k"], title=spec.get("title", ""),
        labels=tuple(spec.get("labels", ("before", "after"))), layers=spec.get("layers"),
    )  # fmt: skip


def overlap_boxes(frame: pd.DataFrame, k: int, path: str | Path = "the overlap file") -> pd.DataFrame:
    """Per layer and channel, the overlapping ratio at ``k`` in % (as the paper prints it)."""
    import pandas as pd

    from artfinetune.metrics.table import rows_at_k

    rows = rows_at_k(frame, ["overlap"], k, path)
    return pd.DataFrame({"layer": rows["layer"], "channel": rows["channel"], "overlap": 100.0 * rows["value"]})


def entropy_boxes(
    frame: pd.DataFrame, k: int, labels: Sequence[str] = ("before", "after"), path: str | Path = "the overlap file"
) -> pd.DataFrame:
    """Per layer, channel and model (``labels`` for A and B), the entropy at ``k``; empty sets (NaN) left out."""
    import pandas as pd

    from artfinetune.metrics.table import rows_at_k

    rows = rows_at_k(frame, ["entropy_a", "entropy_b"], k, path)
    model = rows["metric"].map({"entropy_a": labels[0], "entropy_b": labels[1]})
    boxes = pd.DataFrame({"layer": rows["layer"], "channel": rows["channel"], "model": model, "entropy": rows["value"]})
    return boxes.dropna(subset=["entropy"])


def chance_level(frame: pd.DataFrame, k: int, path: str | Path = "the overlap file") -> float:
    """Chance overlap k / n in %, from the overlap rows at ``k`` (n, the train set's size, is the same for all)."""
    from artfinetune.metrics.table import rows_at_k

    chance = rows_at_k(frame, ["overlap"], k, path)["chance"].dropna().unique()
    if len(chance) != 1:
        raise UserError(f"{path}: the overlap rows at k = {k} must share one chance level; found {list(chance)}")
    return 100.0 * float(chance[0])


def box_legend(ax, extra: Sequence = ()) -> None:
    """A legend that says what the box marks are: median line, mean diamond, quartile box, 1.5 IQR whiskers."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

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
    import matplotlib
    import seaborn as sns
    from matplotlib.patches import Patch

    from artfinetune.figures.style import PALETTE, STYLE, label_layers, new_figure

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
    from artfinetune.figures.style import only_layers, save_figure
    from artfinetune.metrics.table import read_overlap_table

    frame = only_layers(read_overlap_table(overlap_csv), layers)
    overlaps = overlap_boxes(frame, overlap_k, overlap_csv)
    entropies = entropy_boxes(frame, entropy_k, labels, overlap_csv)
    chance = chance_level(frame, overlap_k, overlap_csv)
    fig = draw_topk(overlaps, entropies, chance, overlap_k, entropy_k, title, labels)
    return save_figure(fig, out_png, out_pdf)
