"""What every figure shares: the print style, pyplot-free figures, layer axes and saving as PNG and PDF.

Each figure is built by a ``draw_*`` function that returns the matplotlib Figure (tests inspect it) and saved by
:func:`save_figure` as PNG (200 dpi) and PDF. Figures are plain ``matplotlib.figure.Figure`` objects drawn by the
Agg canvas: no pyplot, so no global backend switch and no figure registry that could leak across calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from artfinetune.io import atomic_path

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
# Seaborn's "whitegrid" axes style and "paper" context, and its "colorblind" palette, written out: importing seaborn
# (and scipy.stats with it) cost each figure and panel job 1.3 s, most of which draw no seaborn plot. test_figures
# checks that they are still seaborn's.
SEABORN_WHITEGRID = {
    "figure.facecolor": "white",
    "axes.labelcolor": ".15",
    "xtick.direction": "out",
    "ytick.direction": "out",
    "xtick.color": ".15",
    "ytick.color": ".15",
    "axes.axisbelow": True,
    "grid.linestyle": "-",
    "text.color": ".15",
    "font.family": ["sans-serif"],
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"],
    "lines.solid_capstyle": "round",
    "patch.edgecolor": "w",
    "patch.force_edgecolor": True,
    "image.cmap": "rocket",
    "xtick.top": False,
    "ytick.right": False,
    "axes.grid": True,
    "axes.facecolor": "white",
    "axes.edgecolor": ".8",
    "grid.color": ".8",
    "axes.spines.left": True,
    "axes.spines.bottom": True,
    "axes.spines.right": True,
    "axes.spines.top": True,
    "xtick.bottom": False,
    "ytick.left": False,
}
SEABORN_PAPER = {  # seaborn's "notebook" sizes scaled by 0.8
    "axes.linewidth": 1.25 * 0.8,
    "grid.linewidth": 1 * 0.8,
    "lines.linewidth": 1.5 * 0.8,
    "lines.markersize": 6 * 0.8,
    "patch.linewidth": 1 * 0.8,
    "xtick.major.width": 1.25 * 0.8,
    "ytick.major.width": 1.25 * 0.8,
    "xtick.minor.width": 1 * 0.8,
    "ytick.minor.width": 1 * 0.8,
    "xtick.major.size": 6 * 0.8,
    "ytick.major.size": 6 * 0.8,
    "xtick.minor.size": 4 * 0.8,
    "ytick.minor.size": 4 * 0.8,
    "font.size": 12 * 0.8,
    "axes.labelsize": 12 * 0.8,
    "axes.titlesize": 12 * 0.8,
    "xtick.labelsize": 11 * 0.8,
    "ytick.labelsize": 11 * 0.8,
    "legend.fontsize": 11 * 0.8,
    "legend.title_fontsize": 12 * 0.8,
}
SEABORN_COLORBLIND = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc",
                      "#ca9161", "#fbafe4", "#949494", "#ece133", "#56b4e9")  # fmt: skip
# Less the whitegrid's colour map, "rocket", which exists only once seaborn is imported (the figures map no values
# to colours: the panels show RGB images).
STYLE = {**SEABORN_WHITEGRID, **SEABORN_PAPER, **FONTS, "pdf.fonttype": 42}
del STYLE["image.cmap"]
PALETTE = [to_rgb(colour) for colour in SEABORN_COLORBLIND]
# A marker per pair as well as a colour, so lines stay apart in greyscale print.
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "<", ">", "h")
LAYER_ROTATION = 45


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


def only_layers(frame: pd.DataFrame, layers: Sequence[str] | None) -> pd.DataFrame:
    """The rows of ``layers`` (None: every tensor in the file, branch tensors included)."""
    return frame if layers is None else frame[frame["layer"].isin(list(layers))]
