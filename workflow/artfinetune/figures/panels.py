"""The paper's panels of named channels (figures 1-4, 7-13, 16, 17): optimised images and top-k mosaics in a grid.

A panel's config lists its columns, each a model pair and a channel (and the paper's numbers for it), and what to
show: the renders, the top-k mosaics or both. Two layouts cover the paper:

- ``channels`` (figures 1, 3, 4, 7, 8, 10-13): a column per (pair, channel); rows before then after, each with
  the optimised image and/or the top-k mosaic of the pair's first model ("before") then of its second ("after");
- ``models`` (figures 2, 9, 16, 17): every pair starts from one model (ImageNet); a column per model, that one
  first, and a row per channel (optimised image and/or top-k).

Beside each mosaic, not in it, its text: whose set, the overlapping ratio as "ours % (paper %)" and the three most
frequent classes, ours and the paper's, where the config gives the paper's. A set no image fires is a grey box
that says so. The images common to both models of a pair are framed in the mosaics. Below a mosaic, when the
activations recorded where each map peaks, the mosaic of the patches that fired the channel.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from artfinetune.errors import UserError
from artfinetune.render.captions import render_how
from artfinetune.render.channels import panel_dataset
from artfinetune.study.paths import channel_file, mosaic_dir, render_dir
from artfinetune.study.report import VISUALISATION, rst_escape

if TYPE_CHECKING:  # drawing imports these when it draws: the Snakefile reads every panel's spec at start-up
    import numpy as np
    from matplotlib.figure import Figure

CATEGORY = VISUALISATION
MISSING = "0.85"
RENDER_WIDTH = 1.7  # inches of a render-only column
MOSAIC_WIDTH = 3.2  # inches of a column with mosaics: a 10 x 10 grid's thumbnails print ~0.3 inch wide
TEXT_WIDTH = 2.1  # inches of the text beside a mosaic: a model name such as rasta_end_from_scratch/1/init fits
CELL_KINDS = ("render", "topk")


# --- The config's panel, resolved to files ----------------------------------------------------------------------


def panel_pairs(panel: dict) -> list[list[str]]:
    """The distinct pairs of a panel's columns, in order."""
    return [list(p) for p in dict.fromkeys(tuple(c["pair"]) for c in panel["columns"])]


def panel_channels(panel: dict) -> list[str]:
    """The distinct channels of a panel's columns, in order."""
    return list(dict.fromkeys(c["channel"] for c in panel["columns"]))


def _render(config: dict, model: str, channel: str) -> dict:
    return {"kind": "render", "image": f"{render_dir(config, model)}/{channel_file(channel)}"}


def _mosaic(config: dict, panel: dict, pair, channel: str, side: str, paper: dict | None, overlap: bool) -> dict:
    folder = mosaic_dir(config, pair, panel_dataset(config, panel, pair))
    image = f"{folder}/{channel_file(channel, f'{side}_')}"
    paper = paper or {}
    cell = {"kind": "topk", "image": image, "summary": str(Path(image).with_suffix(".json")), "overlap": overlap}
    composition = paper.get("before" if side == "a" else "after")
    cell["paper"] = {
        "overlap": paper.get("overlap") if overlap else None,
        "composition": [list(c) for c in composition] if composition else None,
    }
    return cell


def _channels_grid(config: dict, panel: dict) -> dict:
    show, columns = panel["show"], panel["columns"]
    several = len(panel_pairs(panel)) > 1
    labels = [f"{c['channel']}\n{c['pair'][0]} → {c['pair'][1]}" if several else c["channel"] for c in columns]
    rows, row_labels = [], []
    for side, when in (("a", "before"), ("b", "after")):
        if "renders" in show:
            rows.append([_render(config, c["pair"][0 if side == "a" else 1], c["channel"]) for c in columns])
            row_labels.append(f"optimised image, {when}")
        if "topk" in show:
            rows.append([_mosaic(config, panel, c["pair"], c["channel"], side, c.get("paper"), True) for c in columns])
            row_labels.append(f"top-{config['render']['k']}, {when}")
    return {"column_labels": labels, "row_labels": row_labels, "rows": rows}


def _models_grid(config: dict, panel: dict) -> dict:
    show, columns = panel["show"], panel["columns"]
    first = columns[0]["pair"][0]
    models = [first, *dict.fromkeys(c["pair"][1] for c in columns)]
    by_cell = {(c["pair"][1], c["channel"]): c for c in columns}
    rows, row_labels = [], []
    for channel in panel_channels(panel):
        mine = [c for c in columns if c["channel"] == channel]
        if "renders" in show:
            drawn = [m for m in models if m == first or (m, channel) in by_cell]
            rows.append([_render(config, m, channel) if m in drawn else None for m in models])
            row_labels.append(f"{channel}\noptimised image")
        if "topk" in show:
            # The first model's set, from the first pair with this channel: framed are the images it shares with
            # that pair's second model (the caption says so).
            row = [_mosaic(config, panel, mine[0]["pair"], channel, "a", mine[0].get("paper"), False)]
            for model in models[1:]:
                c = by_cell.get((model, channel))
                row.append(None if c is None else _mosaic(config, panel, c["pair"], channel, "b", c.get("paper"), True))
            rows.append(row)
            row_labels.append(f"{channel}\ntop-{config['render']['k']}")
    return {"column_labels": models, "row_labels": row_labels, "rows": rows}


def panel_spec(config: dict, name: str) -> dict:
    """A panel's grid: per row and column a cell (a render, or a mosaic with its JSON and the paper's numbers)."""
    panel = config["panels"][name]
    grid = _models_grid(config, panel) if panel["layout"] == "models" else _channels_grid(config, panel)
    return {"title": panel["title"], **grid}


def panel_inputs(config: dict, name: str) -> list[str]:
    """The render and mosaic folders a panel reads."""
    panel = config["panels"][name]
    folders = set()
    for pair in panel_pairs(panel):
        if "renders" in panel["show"]:
            folders |= {render_dir(config, m) for m in pair}
        if "topk" in panel["show"]:
            folders.add(mosaic_dir(config, pair, panel_dataset(config, panel, pair)))
    return sorted(folders)


def _paper_text(panel: dict) -> str:
    parts = []
    for c in panel["columns"]:
        paper = c.get("paper") or {}
        said = []
        if "overlap" in paper:
            said.append(f"overlap {paper['overlap']:g} %")
        for key in ("before", "after"):
            if paper.get(key):
                said.append(f"{key}: " + ", ".join(f"{cls} {pct:g} %" for cls, pct in paper[key]))
        if said:
            parts.append(f"{c['channel']} ({c['pair'][1]}): {'; '.join(said)}")
    return " The paper's numbers: " + ". ".join(parts) + "." if parts else ""


def panel_caption(config: dict, name: str) -> str:
    """What a panel shows, its models and channels, how renders and sets are made, and the paper's numbers."""
    panel = config["panels"][name]
    k = config["render"]["k"]
    what = {"renders": "optimised images", "topk": f"top-{k} maximal activation images"}
    shown = " and ".join(what[s] for s in panel["show"])
    pairs = "; ".join(f"{a} → {b}" for a, b in panel_pairs(panel))
    datasets = sorted({panel_dataset(config, panel, p) for p in panel_pairs(panel)})
    text = f"{panel['title'] or name}. The {shown} of channels {', '.join(panel_channels(panel))} for {pairs}."
    if "topk" in panel["show"]:
        text += (
            f" Top-{k} sets from the train split of {', '.join(datasets)}, in rank order; framed: the images in both "
            "models' sets (for the first model of a row of models, those it shares with the first pair's second). "
            "Beside each set: the overlapping ratio |A ∩ B| / k, ours (the paper's), and the three most frequent "
            "classes, ours then the paper's."
        )
    if "renders" in panel["show"]:
        text += f" {render_how(config)}"
    return rst_escape(text + _paper_text(panel))


# --- Drawing --------------------------------------------------------------------------------------------------


def read_image(path) -> np.ndarray:
    """A render or mosaic PNG as an RGB array."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"panel image {path} does not exist; build its render or mosaics first")
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def cell_image(cell: dict | None, summary: dict | None):
    """A cell's picture: a render, or a mosaic of whole images with, when recorded, its mosaic of the patches that
    fired the channel below it (a white gutter between): the column keeps its width, so the thumbnails keep theirs."""
    if cell is None:
        return None
    image = read_image(cell["image"])
    if summary is None or "patches" not in summary:
        return image
    import numpy as np

    patches = read_image(Path(cell["image"]).with_name(summary["patches"]["png"]))
    gutter = np.full((max(8, image.shape[0] // 30), image.shape[1], 3), 255, np.uint8)
    return np.concatenate([image, gutter, patches], axis=0)


def read_summary(cell: dict) -> dict:
    path = Path(cell["summary"])
    if not path.exists():
        raise UserError(f"the mosaic summary {path} does not exist; rebuild the pair's mosaics")
    return json.loads(path.read_text())


def percent(value: float) -> str:
    return f"{value:.0f} %"


def cell_text(cell: dict, summary: dict) -> str:
    """The text beside a mosaic: whose set, the overlap (ours and the paper's) and the composition (both)."""
    k, size = summary["k"], summary["size"]
    lines = [f"top-{k} of", summary["model"]]
    if 0 < size < k:
        lines.append(f"(only {size} images fire)" if size > 1 else "(only 1 image fires)")
    paper = cell.get("paper") or {}
    if cell.get("overlap", True):
        ours = f"overlap {percent(100 * summary['overlap'])}"
        lines.append(ours if paper.get("overlap") is None else f"{ours} (paper {paper['overlap']:g} %)")
    if summary["composition"]:
        lines += ["", "ours:"] + [f"{c['class']} {percent(c['percent'])}" for c in summary["composition"]]
    if paper.get("composition"):
        lines += ["", "paper:"] + [f"{cls} {pct:g} %" for cls, pct in paper["composition"]]
    return "\n".join(lines)


def check_grid(spec: dict) -> None:
    rows, labels = spec.get("rows") or [], spec.get("column_labels") or []
    if not rows or not labels:
        raise UserError("a panel needs at least one row and one column; give it columns and something to show")
    for r, row in enumerate(rows):
        if len(row) != len(labels):
            raise UserError(f"panel row {r} has {len(row)} cells for {len(labels)} columns; the grid must be full")
        for cell in row:
            if cell is not None and cell.get("kind") not in CELL_KINDS:
                raise UserError(f"a panel cell's kind is {cell.get('kind')!r}; use one of {', '.join(CELL_KINDS)}")
    if len(spec.get("row_labels") or []) != len(rows):
        raise UserError(f"a panel with {len(rows)} rows needs {len(rows)} row labels")


def show_image(ax, image, aspect: float) -> None:
    """An image at the top of its axes (a row is as tall as its tallest image), without ticks or frame."""
    _bare(ax)
    ax.imshow(image, interpolation="antialiased")
    width = image.shape[1]
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(width * aspect - 0.5, -0.5)


def show_note(ax, note: str, aspect: float) -> None:
    """A grey box of the row's shape with ``note`` in it (a set no image fires)."""
    _bare(ax)
    ax.set_facecolor(MISSING)
    ax.set_xlim(0, 1)
    ax.set_ylim(aspect, 0)
    ax.text(0.5, aspect / 2, note, ha="center", va="center", color="0.25", wrap=True)


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def draw_panel_grid(spec: dict) -> Figure:
    """The grid of a spec (:func:`panel_spec`): images, and beside each mosaic its text."""
    check_grid(spec)
    rows = spec["rows"]
    summaries = [[read_summary(c) if c and c["kind"] == "topk" else None for c in row] for row in rows]
    images = [
        [cell_image(c, m) for c, m in zip(row, sums, strict=True)] for row, sums in zip(rows, summaries, strict=True)
    ]
    n_columns = len(spec["column_labels"])
    has_topk = [any(r[j] is not None and r[j]["kind"] == "topk" for r in rows) for j in range(n_columns)]
    aspects = [max([im.shape[0] / im.shape[1] for im in row if im is not None and im.size] or [1.0]) for row in images]
    width = MOSAIC_WIDTH if any(has_topk) else RENDER_WIDTH
    widths = []
    for j in range(n_columns):
        widths += [width, TEXT_WIDTH if has_topk[j] else 0.05]
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from artfinetune.figures.style import STYLE

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(sum(widths) + 1.0, width * sum(aspects) + 1.2), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(
            len(rows), 2 * n_columns, squeeze=False, gridspec_kw={"height_ratios": aspects, "width_ratios": widths}
        )
        for r, row in enumerate(rows):
            for j, cell in enumerate(row):
                ax, text_ax = axes[r, 2 * j], axes[r, 2 * j + 1]
                text_ax.set_axis_off()
                if cell is None:
                    ax.set_axis_off()
                    continue
                summary = summaries[r][j]
                if summary is not None and summary["size"] == 0:
                    note = f"no image of the train set\nfires this channel:\nits top-{summary['k']} is empty"
                    show_note(ax, note, aspects[r])
                else:
                    show_image(ax, images[r][j], aspects[r])
                if summary is not None:
                    text = cell_text(cell, summary)
                    if "patches" in summary and summary["size"]:
                        text += "\n\nbelow: the patch of\neach image that\nfires the channel"
                    text_ax.text(0.04, 1.0, text, va="top", ha="left", transform=text_ax.transAxes)
            axes[r, 0].set_ylabel(spec["row_labels"][r])
        for j, label in enumerate(spec["column_labels"]):
            axes[0, 2 * j].set_title(label)
        if spec.get("title"):
            fig.suptitle(spec["title"])
    return fig


def draw_panel(spec: dict, out_png, out_pdf) -> tuple[Path, Path]:
    """The panel of a spec (:func:`panel_spec`), saved as PNG and PDF."""
    from artfinetune.figures.style import save_figure

    return save_figure(draw_panel_grid(spec), out_png, out_pdf)
