"""Figure kind ``topk`` (the paper's figures 6, 14 and 15): per layer, boxplots over channels of the top-k overlap
between two models or of the class entropy of one model's top-k sets, one panel per box set.

Figure 6 is (a) the top-100 overlap of ImageNet vs RASTA mode A 1 and (b) the top-100 entropy of mode A 1;
figure 14 two overlap panels (end from scratch, from scratch, each vs its init); figure 15 three entropy panels
(ImageNet, end from scratch, from scratch). As in the paper's captions, a box's mean is a horizontal orange line
and its median a star.

A figure kind is one module: its config spec, the files it reads, its caption, its report category and its
drawing (:mod:`artfinetune.figures` lists the kinds).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from artfinetune.errors import UserError
from artfinetune.model.layers import network_order
from artfinetune.study.names import pairs_layers
from artfinetune.study.paths import pair_files
from artfinetune.study.report import MAXIMAL, rst_escape

if TYPE_CHECKING:  # drawing imports these when it draws: the Snakefile reads every figure's spec at start-up
    import pandas as pd
    from matplotlib.figure import Figure

CATEGORY = MAXIMAL
METRICS = ("overlap", "entropy")
MEAN_COLOUR = "#ff7f0e"  # the paper's orange mean line
MEAN_LINE = {"color": MEAN_COLOUR, "linestyle": "-", "linewidth": 1.6}
MEDIAN_STAR = {"marker": "*", "s": 40, "color": "black", "zorder": 5}
PANEL_HEIGHT = 2.9  # inches per box panel
TOPK_HOW = (
    "Per channel, the top-k set is the k train images with the highest spatial-mean activation after ReLU "
    "(images where it is 0 are ignored). Overlap: |top_k(A) ∩ top_k(B)| / k, with the chance level k / n "
    "(dashed) and the overlap two independent random rankings exceed in 1 % of channels (dotted: the 99th "
    "percentile of the hypergeometric law of |A ∩ B| for random k-subsets of n). Entropy: the normalised class "
    "entropy (1 / log2 C) Σ -p_c log2 p_c of a set, a multi-label image counting 1/|L| towards each of its "
    "classes; sets without a labelled image are left out. Boxes over channels per layer (quartiles, whiskers at "
    "1.5 IQR); as in the paper, the orange line is the mean and the star the median."
)


def box_text(box: dict) -> str:
    """What a panel shows, in words: "overlap of the top-100 sets, imagenet vs rasta_A/1"."""
    a, b = box["pair"]
    if box["metric"] == "overlap":
        return f"overlap of the top-{box['k']} sets, {a} vs {b}"
    return f"class entropy of the top-{box['k']} sets of {box['model']}"


def spec(config: dict, name: str) -> dict:
    """The figure's config section with each box panel's pair resolved to its overlap table (k, model filled at
    config load)."""
    figure = config["figures"][name]
    boxes = []
    for i, box in enumerate(figure["boxes"]):
        a, b = box["pair"]
        out = {
            "metric": box["metric"],
            "k": box["k"],
            "overlap_csv": pair_files(config, box["pair"])["overlap"],
            "title": f"({chr(ord('a') + i)}) {box.get('title') or box_text(box)}",
        }
        if box["metric"] == "entropy":
            out["side"] = "a" if box["model"] == a else "b"
        boxes.append(out)
    layers = pairs_layers(config, [box["pair"] for box in figure["boxes"]])
    return {"kind": figure["kind"], "title": figure["title"], "layers": layers, "boxes": boxes}


def inputs(spec: dict) -> list[str]:
    return list(dict.fromkeys(box["overlap_csv"] for box in spec["boxes"]))


def caption(config: dict, name: str) -> str:
    figure = config["figures"][name]
    panels = "; ".join(f"({chr(ord('a') + i)}) {box_text(box)}" for i, box in enumerate(figure["boxes"]))
    return rst_escape(f"{figure['title'] or name}. Per layer: {panels}. {TOPK_HOW}")


def draw(spec: dict, out_png, out_pdf) -> tuple[Path, Path]:
    """The figure of a spec (:func:`spec`), saved as PNG and PDF."""
    return topk_figure(spec["boxes"], out_png, out_pdf, title=spec.get("title", ""), layers=spec.get("layers"))


def overlap_boxes(frame: pd.DataFrame, k: int, path: str | Path = "the overlap file") -> pd.DataFrame:
    """Per layer and channel, the overlapping ratio at ``k`` in % (as the paper prints it)."""
    import pandas as pd

    from artfinetune.metrics.table import rows_at_k

    rows = rows_at_k(frame, ["overlap"], k, path)
    return pd.DataFrame({"layer": rows["layer"], "channel": rows["channel"], "value": 100.0 * rows["value"]})


def entropy_boxes(frame: pd.DataFrame, k: int, side: str = "b", path: str | Path = "the overlap file") -> pd.DataFrame:
    """Per layer and channel, the entropy of model ``side``'s (a or b) top-k set; empty sets (NaN) left out."""
    import pandas as pd

    from artfinetune.metrics.table import rows_at_k

    if side not in ("a", "b"):
        raise UserError(f"an entropy panel shows model a or b of its pair, not {side!r}")
    rows = rows_at_k(frame, [f"entropy_{side}"], k, path)
    boxes = pd.DataFrame({"layer": rows["layer"], "channel": rows["channel"], "value": rows["value"]})
    return boxes.dropna(subset=["value"])


def chance_level(frame: pd.DataFrame, k: int, path: str | Path = "the overlap file") -> float:
    """Chance overlap k / n in %, from the overlap rows at ``k`` (n, the train set's size, is the same for all)."""
    from artfinetune.metrics.table import rows_at_k

    chance = rows_at_k(frame, ["overlap"], k, path)["chance"].dropna().unique()
    if len(chance) != 1:
        raise UserError(f"{path}: the overlap rows at k = {k} must share one chance level; found {list(chance)}")
    return 100.0 * float(chance[0])


def random_level(chance: float, k: int) -> float:
    """The overlap (%) two independent random rankings exceed in 1 % of channels, from the chance level k / n (%):
    n = k / (k / n) is recovered exactly (the file keeps k / n to full precision)."""
    from artfinetune.metrics.topk import random_overlap_quantile

    return 100.0 * random_overlap_quantile(k, round(100.0 * k / chance))


def box_legend(ax, extra: Sequence = ()) -> None:
    """A legend that says what the box marks are: the mean line, the median star, the quartile box."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    marks = [
        Line2D([], [], **MEAN_LINE, label="mean"),
        Line2D([], [], linestyle="none", marker="*", color="black", markersize=7, label="median"),
        Patch(facecolor="white", edgecolor="black", label="quartiles; whiskers 1.5 IQR"),
    ]
    ax.legend(handles=[*extra, *marks], loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


BOX_STYLE = {
    "showmeans": True,
    "meanline": True,
    "meanprops": MEAN_LINE,
    "medianprops": {"visible": False},  # the median is the star, drawn over the box
    "flierprops": {"marker": ".", "markersize": 2, "alpha": 0.5},
    "linecolor": "black",
    "linewidth": 0.8,
    "width": 0.6,
}


def panel_values(box: dict, frames: dict) -> tuple[pd.DataFrame, float | None]:
    """A panel's values (layer, channel, value) and, for an overlap panel, its chance level in %."""
    path = box["overlap_csv"]
    frame = frames[path]
    if box["metric"] == "overlap":
        return overlap_boxes(frame, box["k"], path), chance_level(frame, box["k"], path)
    if box["metric"] == "entropy":
        return entropy_boxes(frame, box["k"], box.get("side", "b"), path), None
    raise UserError(f"a box panel's metric is {box['metric']!r}; use one of {', '.join(METRICS)}")


def draw_topk(panels: Sequence[dict], title: str = "") -> Figure:
    """Stacked box panels sharing the layer axis. Each panel: ``values`` (layer, channel, value), ``metric``
    (overlap in %, entropy in 0..1), ``title`` and, for overlap, ``chance`` (%, a dashed line) and ``k`` (the dotted
    line of random rankings' 99th percentile)."""
    import matplotlib
    import seaborn as sns

    from artfinetune.figures.style import PALETTE, STYLE, label_layers, new_figure

    if not panels:
        raise UserError("a top-k figure needs at least one box panel")
    layers = network_order(layer for panel in panels for layer in panel["values"]["layer"])
    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(7.2, PANEL_HEIGHT * len(panels), 1, nrows=len(panels), ncols=1, sharex=True)
        for n, (ax, panel) in enumerate(zip(axes, panels, strict=True)):
            values = panel["values"]
            colour = PALETTE[2] if panel["metric"] == "overlap" else PALETTE[0]
            sns.boxplot(values, x="layer", y="value", order=layers, color=colour, ax=ax, **BOX_STYLE)
            medians = values.groupby("layer")["value"].median().reindex(layers)
            ax.scatter(range(len(layers)), medians.to_numpy(), **MEDIAN_STAR)
            extra = []
            if panel["metric"] == "overlap":
                chance = panel["chance"]
                line = ax.axhline(chance, color="black", linestyle="--", linewidth=1.0)
                line.set_label(f"chance k/n = {chance:.2g} %")
                extra.append(line)
                q99 = random_level(chance, panel["k"])
                dotted = ax.axhline(q99, color="black", linestyle=":", linewidth=1.0)
                dotted.set_label(f"random rankings, 99th percentile = {q99:.2g} %")
                extra.append(dotted)
                ax.set_ylim(-3, 100)  # a little below 0, so a chance line near 0 % is not hidden by the axis
                ax.set_ylabel("overlapping ratio (%)")
            else:
                ax.set_ylim(0, 1.02)
                ax.set_ylabel("class entropy")
            ax.set_title(panel["title"], loc="left")
            ax.set_xlabel("")
            if n == 0 or extra:  # what the marks mean, once; each overlap panel names its own chance level
                box_legend(ax, extra)
        label_layers(axes[-1], layers)
        if title:
            fig.suptitle(title)
    return fig


def topk_figure(
    boxes: Sequence[dict], out_png, out_pdf, title: str = "", layers: Sequence[str] | None = None
) -> tuple[Path, Path]:
    """Figures 6, 14 and 15 from box panels, each {metric, k, overlap_csv, title, side (entropy: a or b)};
    ``layers`` picks the tensors drawn (default: all in the files)."""
    from artfinetune.figures.style import only_layers, save_figure
    from artfinetune.metrics.table import read_overlap_table

    frames = {
        path: only_layers(read_overlap_table(path), layers) for path in dict.fromkeys(b["overlap_csv"] for b in boxes)
    }
    panels = []
    for box in boxes:
        values, chance = panel_values(box, frames)
        panels.append(
            {"values": values, "metric": box["metric"], "title": box.get("title", ""), "chance": chance, "k": box["k"]}
        )
    return save_figure(draw_topk(panels, title), out_png, out_pdf)
