"""The paper's render and mosaic panels (figures 1-4 and 7-13): a grid of optimised images and top-k mosaics.

One function serves them all. Each column is a channel (figure 1: several channels of one model pair) or a model
(figure 2: one channel across fine-tuning modes and trainings); the four rows are the optimised image and the
top-k mosaic before fine-tuning, then the same after. A missing piece (``None``) is drawn as a grey box with a
note, which gives the panels of only renders (figures 7, 10) or only mosaics (figure 11). The overlapping ratio is
written under each column, as in the paper.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from artfinetune.errors import UserError
from artfinetune.render.captions import render_how
from artfinetune.study.names import pairs_text
from artfinetune.study.paths import channel_file, mosaic_dir, render_dir
from artfinetune.study.report import VISUALISATION, rst_escape

if TYPE_CHECKING:  # drawing imports these when it draws: the Snakefile reads every panel's spec at start-up
    import numpy as np
    from matplotlib.figure import Figure

CATEGORY = VISUALISATION
PIECES = ("render_before", "mosaic_before", "render_after", "mosaic_after")  # one per row, top to bottom
ROW_LABELS = ("optimised image, before", "top-k, before", "optimised image, after", "top-k, after")
NOTES = {"render": "no optimised image", "mosaic": "no top-k mosaic"}
COLUMN_KEYS = {"label", "overlap", *PIECES}
COLUMN_WIDTH = 2.5  # inches: a mosaic's caption (font 1/20 of its width) prints at ~9 pt
MISSING = "0.85"
MOSAIC_ASPECT = 1.45  # height / width of a 10 x 10 mosaic with its caption, for a row with no mosaic at all


def panel_spec(config: dict, name: str) -> dict:
    """A panel's columns: per pair and channel, the renders and mosaics before (model a) and after (model b)."""
    panel = config["panels"][name]
    columns = []
    for pair in panel["pairs"]:
        mosaics = mosaic_dir(config, pair)
        for channel in panel["channels"]:
            columns.append(
                {
                    "label": f"{channel}\n{pair[1]}" if len(panel["pairs"]) > 1 else channel,
                    "render_before": f"{render_dir(config, pair[0])}/{channel_file(channel)}",
                    "mosaic_before": f"{mosaics}/{channel_file(channel, 'a_')}",
                    "render_after": f"{render_dir(config, pair[1])}/{channel_file(channel)}",
                    "mosaic_after": f"{mosaics}/{channel_file(channel, 'b_')}",
                }
            )
    return {"title": panel["title"], "columns": columns}


def panel_inputs(config: dict, name: str) -> list[str]:
    """The render and mosaic folders a panel reads."""
    pairs = config["panels"][name]["pairs"]
    return sorted({render_dir(config, m) for p in pairs for m in p} | {mosaic_dir(config, p) for p in pairs})


def panel_caption(config: dict, name: str) -> str:
    """Render panels (figures 1, 2, ...): per pair and channel, render and mosaic before and after."""
    panel = config["panels"][name]
    k = config["render"]["k"]
    text = (
        f"{panel['title'] or name}. Channels {', '.join(panel['channels'])} for {pairs_text(panel['pairs'])}: per "
        f"column, the render and the top-{k} mosaic before (first model) and after (second model) "
        f"and the overlap. {render_how(config)}"
    )
    return rst_escape(text)


def panel_columns(columns: list[dict]) -> list[dict]:
    """A panel's columns with each one's overlap read from its mosaic's JSON (None where it is missing)."""
    out = []
    for column in columns:
        info = Path(column["mosaic_before"]).with_suffix(".json")
        overlap = json.loads(info.read_text())["overlap"] if info.exists() else None
        out.append({**column, "overlap": overlap})
    return out


def draw_panel(spec: dict, out_png, out_pdf) -> tuple[Path, Path]:
    """The panel of a spec (:func:`panel_spec`): each column's overlap from its mosaic, saved as PNG and PDF."""
    return channel_panel(panel_columns(spec["columns"]), out_png, out_pdf, title=spec.get("title", ""))


def read_piece(path) -> np.ndarray | None:
    """A render or mosaic PNG as an RGB array; ``None`` stays ``None`` (a missing piece, drawn as a placeholder)."""
    if path is None:
        return None
    path = Path(path)
    if not path.exists():
        raise UserError(f"panel image {path} does not exist; render it first or pass None for a placeholder")
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def check_column(column: dict) -> None:
    unknown = set(column) - COLUMN_KEYS
    if unknown:
        raise UserError(
            f"panel column {column.get('label')!r} has unknown keys {sorted(unknown)}; use {sorted(COLUMN_KEYS)}"
        )
    if "label" not in column:
        raise UserError(f"panel column {column} has no label; name its channel or model")
    overlap = column.get("overlap")
    if overlap is not None and not 0 <= overlap <= 1:
        raise UserError(f"overlap {overlap} of panel column {column['label']!r} must be a fraction in 0..1")


def overlap_text(overlap: float | None) -> str:
    return "" if overlap is None else f"overlap {100 * overlap:.0f}%"


def row_aspects(pieces: list[list[np.ndarray | None]]) -> list[float]:
    """Height / width of each row: its tallest image, or the usual shape of a render or mosaic if it has none."""
    aspects = []
    for row, name in enumerate(PIECES):
        shapes = [p.shape[0] / p.shape[1] for p in pieces[row] if p is not None]
        aspects.append(max(shapes) if shapes else (MOSAIC_ASPECT if name.startswith("mosaic") else 1.0))
    return aspects


def show_piece(ax, image: np.ndarray | None, aspect: float, note: str) -> None:
    """An image without ticks or frame, or a grey box of the row's shape with ``note`` in it."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if image is not None:
        ax.imshow(image, interpolation="antialiased")
        # Limits of the row's shape: a shorter mosaic (a set with fewer images) sits at the top, labels stay aligned.
        width = image.shape[1]
        ax.set_xlim(-0.5, width - 0.5)
        ax.set_ylim(width * aspect - 0.5, -0.5)
        return
    ax.set_facecolor(MISSING)
    ax.set_box_aspect(aspect)
    ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", color="0.3")


def draw_channel_panel(
    columns: Sequence[dict],
    title: str = "",
    row_labels: Sequence[str] = ROW_LABELS,
    column_width: float = COLUMN_WIDTH,
) -> Figure:
    """Four rows (render before, mosaic before, render after, mosaic after) by one column per entry of ``columns``.

    A column is a dict: ``label`` (over the column), the four paths of ``PIECES`` (each may be None or left out),
    ``overlap`` (a fraction, written under the column; None or left out writes nothing).
    """
    if not columns:
        raise UserError("a channel panel needs at least one column")
    if len(row_labels) != len(PIECES):
        raise UserError(f"a channel panel has {len(PIECES)} rows; got {len(row_labels)} row labels")
    for column in columns:
        check_column(column)
    pieces = [[read_piece(column.get(name)) for column in columns] for name in PIECES]
    aspects = row_aspects(pieces)
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from artfinetune.figures.style import STYLE

    with matplotlib.rc_context(STYLE):
        fig = Figure(
            figsize=(column_width * len(columns) + 0.6, column_width * sum(aspects) + 1.0), layout="constrained"
        )
        FigureCanvasAgg(fig)
        axes = fig.subplots(len(PIECES), len(columns), squeeze=False, gridspec_kw={"height_ratios": aspects})
        for row, name in enumerate(PIECES):
            for col in range(len(columns)):
                show_piece(axes[row, col], pieces[row][col], aspects[row], NOTES[name.split("_")[0]])
            axes[row, 0].set_ylabel(row_labels[row])
        for col, column in enumerate(columns):
            axes[0, col].set_title(column["label"])
            axes[-1, col].set_xlabel(overlap_text(column.get("overlap")))
        if title:
            fig.suptitle(title)
    return fig


def channel_panel(
    columns: Sequence[dict], out_png, out_pdf, title: str = "", row_labels: Sequence[str] = ROW_LABELS
) -> tuple[Path, Path]:
    """Draw :func:`draw_channel_panel` and save it as PNG (200 dpi) and PDF, each written atomically."""
    from artfinetune.figures.style import save_figure

    return save_figure(draw_channel_panel(columns, title, row_labels), out_png, out_pdf)
