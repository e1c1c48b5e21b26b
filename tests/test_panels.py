"""Render and mosaic panels from small hand-made PNGs: four rows by one column per channel or model."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from artfinetune.errors import UserError
from artfinetune.figures.panels import PIECES, ROW_LABELS, channel_panel, draw_channel_panel


def write_png(path, colour, size=(24, 24)):
    Image.new("RGB", size, colour).save(path)
    return path


def column(tmp_path, label, overlap, missing=()):
    """One column's pieces: square renders, taller mosaics (as with a caption strip); ``missing`` ones are None."""
    paths = {}
    for n, name in enumerate(PIECES):
        size = (24, 32) if name.startswith("mosaic") else (24, 24)
        paths[name] = (
            None
            if name in missing
            else write_png(tmp_path / f"{label.replace('/', '_')}_{name}.png", (40 * n, 90, 160), size)
        )
    return {"label": label, "overlap": overlap, **paths}


def grid_position(ax) -> tuple[int, int]:
    spec = ax.get_subplotspec()
    return spec.rowspan.start, spec.colspan.start


@pytest.mark.parametrize("n_columns", [2, 4])
def test_panel_writes_png_and_pdf_with_four_rows_of_images_per_column(tmp_path, n_columns):
    columns = [column(tmp_path, f"mixed4d_3x3_pre_relu:{c}", c / 10) for c in range(n_columns)]
    png, pdf = channel_panel(columns, tmp_path / "p.png", tmp_path / "p.pdf", title="figure 1")
    assert png.read_bytes().startswith(b"\x89PNG") and pdf.read_bytes().startswith(b"%PDF")
    fig = draw_channel_panel(columns)
    assert sorted(grid_position(ax) for ax in fig.axes) == [(r, c) for r in range(4) for c in range(n_columns)]
    assert all(len(ax.images) == 1 for ax in fig.axes)
    by_position = {grid_position(ax): ax for ax in fig.axes}
    assert [by_position[r, 0].get_ylabel() for r in range(4)] == list(ROW_LABELS)
    assert [by_position[0, c].get_title() for c in range(n_columns)] == [c["label"] for c in columns]
    assert [by_position[3, c].get_xlabel() for c in range(n_columns)] == [
        f"overlap {10 * c}%" for c in range(n_columns)
    ]


def test_a_missing_piece_is_a_grey_box_with_a_note_and_the_rows_keep_their_shape(tmp_path):
    columns = [
        column(tmp_path, "styles_A/1", 0.18, missing=("render_before",)),
        column(tmp_path, "styles_B/2", None, missing=("mosaic_before", "mosaic_after")),
    ]
    fig = draw_channel_panel(columns, row_labels=("a", "b", "c", "d"))
    by_position = {grid_position(ax): ax for ax in fig.axes}
    placeholders = {pos for pos, ax in by_position.items() if not ax.images}
    assert placeholders == {(0, 0), (1, 1), (3, 1)}
    assert [t.get_text() for t in by_position[0, 0].texts] == ["no optimised image"]
    assert [t.get_text() for t in by_position[1, 1].texts] == ["no top-k mosaic"]
    assert by_position[1, 1].get_box_aspect() == pytest.approx(32 / 24)  # the mosaic row's shape
    assert by_position[3, 1].get_xlabel() == ""  # no overlap given: nothing written
    channel_panel(columns, tmp_path / "p.png", tmp_path / "p.pdf")
    assert np.asarray(Image.open(tmp_path / "p.png")).size > 0


def test_panel_errors_name_the_thing(tmp_path):
    good = column(tmp_path, "mixed4a:3", 0.5)
    with pytest.raises(UserError, match="panel image .*nowhere.png does not exist"):
        draw_channel_panel([{**good, "render_after": tmp_path / "nowhere.png"}])
    with pytest.raises(UserError, match="overlap 18 of panel column 'mixed4a:3' must be a fraction"):
        draw_channel_panel([{**good, "overlap": 18}])
    with pytest.raises(UserError, match=r"unknown keys \['mosaic'\]"):
        draw_channel_panel([{**good, "mosaic": None}])
