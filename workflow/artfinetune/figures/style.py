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
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
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
STYLE = {**sns.axes_style("whitegrid"), **sns.plotting_context("paper"), **FONTS, "pdf.fonttype": 42}
PALETTE = sns.color_palette("colorblind")
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
