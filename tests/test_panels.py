"""Panels of named channels (figures 1-4, 7-13, 16, 17): the grid a config asks for, and what is printed beside each
mosaic, from small hand-made PNGs and mosaic summaries."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from PIL import Image

from artfinetune.errors import ConfigError, UserError
from artfinetune.figures.panels import (
    cell_image,
    cell_text,
    draw_panel,
    draw_panel_grid,
    panel_caption,
    panel_inputs,
    panel_spec,
)
from artfinetune.study.config import load_config, prepare_config

ROOT = Path(__file__).resolve().parents[1]
PAPER = load_config(ROOT / "config.yaml")
DEMO = load_config(ROOT / "resources/demo/config.yaml")

# Figure by figure, the paper's numbers as study.md lists them (an independent copy of what config.yaml must hold):
# per panel, the overlaps (%) of its columns in order.
PAPER_OVERLAPS = {
    "fig1_channels": [2, 2, 18, 46],
    "fig3_high_layers": [1, 0],
    "fig4_from_scratch": [0, 0, 0, 0],
    "fig8_mixed4": [31, 9],
    "fig9_modes_topk": [18, 24, 34, 42, 22, 8, 10, 13, 2, 3],
    "fig11_mixed5b_topk": [1, 0, 0],
    "fig12_end_from_scratch": [0, 0],
    "fig13_from_scratch": [0, 0, 0],
}


def write_png(path: Path, colour, size=(24, 24)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


COMPOSITION = [{"class": "Ukiyo-e", "percent": 60.0}, {"class": "Baroque", "percent": 30.0}]


def fake_pieces(spec: dict, overlap: float = 0.4, size: int = 10, composition=None) -> None:
    """Every image a spec's cells read, and each mosaic's summary: ``size`` images, the given overlap."""
    composition = COMPOSITION if composition is None else composition
    for row in spec["rows"]:
        for cell in row:
            if cell is None:
                continue
            write_png(Path(cell["image"]), (30, 90, 160), (24, 24) if cell["kind"] == "render" else (24, 18))
            if cell["kind"] == "topk":
                summary = {"k": 10, "size": size, "overlap": overlap, "model": "m", "composition": composition}
                Path(cell["summary"]).write_text(json.dumps(summary))


def in_tmp(config: dict, tmp_path) -> dict:
    config = copy.deepcopy(config)
    config["results"] = str(tmp_path / "results")
    return config


def texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_a_channels_panel_is_renders_and_mosaics_before_then_after_per_column(tmp_path):
    config = in_tmp(PAPER, tmp_path)
    spec = panel_spec(config, "fig1_channels")
    assert spec["column_labels"] == [
        "mixed4c_3x3_bottleneck_pre_relu:78",
        "mixed4d_pool_reduce_pre_relu:63",
        "mixed4d_3x3_pre_relu:52",
        "mixed4b_3x3_bottleneck_pre_relu:35",
    ]
    assert spec["row_labels"] == [
        "optimised image, before",
        "top-100, before",
        "optimised image, after",
        "top-100, after",
    ]
    results = tmp_path / "results"
    first = [cell["image"] for cell in (row[2] for row in spec["rows"])]
    assert first == [
        f"{results}/renders/imagenet/named/mixed4d_3x3_pre_relu_52.png",
        f"{results}/comparisons/rasta/imagenet_vs_rasta_A.1/mosaics/a_mixed4d_3x3_pre_relu_52.png",
        f"{results}/renders/rasta_A/1/named/mixed4d_3x3_pre_relu_52.png",
        f"{results}/comparisons/rasta/imagenet_vs_rasta_A.1/mosaics/b_mixed4d_3x3_pre_relu_52.png",
    ]
    assert [row[2].get("paper", {}).get("overlap") for row in spec["rows"] if row[2]["kind"] == "topk"] == [18, 18]


def test_a_models_panel_has_the_first_model_then_each_fine_tuned_one(tmp_path):
    config = in_tmp(PAPER, tmp_path)
    spec = panel_spec(config, "fig16_iconart")
    assert spec["column_labels"] == ["imagenet", "iconart_A/1", "rasta_A/1", "iconart_rasta_A/1"]
    assert spec["row_labels"] == [
        "mixed4c_pool_reduce_pre_relu:2\noptimised image",
        "mixed4c_3x3_bottleneck_pre_relu:78\noptimised image",
        "mixed4d_5x5_pre_relu:49\noptimised image",
    ]
    assert [Path(c["image"]).parents[2].name for c in spec["rows"][0][1:]] == [
        "iconart_A",
        "rasta_A",
        "iconart_rasta_A",
    ]
    topk = panel_spec(config, "fig17_iconart_topk")
    # Every set from the IconArt train split, whatever the pair's own dataset (rasta_A/1's is RASTA).
    assert {Path(c["image"]).parts[-4] for row in topk["rows"] for c in row} == {"iconart"}
    assert [c["overlap"] for c in topk["rows"][0]] == [False, True, True, True]  # the first model has no overlap
    assert f"{tmp_path}/results/comparisons/iconart/imagenet_vs_rasta_A.1/mosaics" in panel_inputs(
        config, "fig17_iconart_topk"
    )


def test_a_render_only_panel_reads_no_mosaics_and_a_topk_only_panel_no_renders(tmp_path):
    config = in_tmp(PAPER, tmp_path)
    assert all("/renders/" in path for path in panel_inputs(config, "fig7_low_layers"))
    assert all("/mosaics" in path for path in panel_inputs(config, "fig11_mixed5b_topk"))
    assert [
        len(panel_spec(config, "fig7_low_layers")["rows"]),
        len(panel_spec(config, "fig11_mixed5b_topk")["rows"]),
    ] == [2, 2]


@pytest.mark.parametrize("name", sorted(PAPER["panels"]))
def test_every_paper_panel_prints_the_papers_numbers_beside_ours(tmp_path, name):
    config = in_tmp(PAPER, tmp_path)
    spec = panel_spec(config, name)
    summary = {"k": 10, "size": 10, "overlap": 0.4, "model": "m", "composition": COMPOSITION}
    # What the drawing sets beside each mosaic (test_a_drawn_panel_sets_each_text_beside_its_mosaic checks the
    # drawing places exactly these texts).
    shown = "\n".join(cell_text(c, summary) for row in spec["rows"] for c in row if c and c["kind"] == "topk")
    for column in config["panels"][name]["columns"]:
        paper = column.get("paper") or {}
        if "topk" in config["panels"][name]["show"] and "overlap" in paper:
            assert f"overlap 40 % (paper {paper['overlap']:g} %)" in shown
        for composition in (paper.get("before"), paper.get("after")):
            if composition and "topk" in config["panels"][name]["show"]:
                assert "\n".join(f"{cls} {pct:g} %" for cls, pct in composition) in shown
    if "topk" in config["panels"][name]["show"]:
        assert "ours:\nUkiyo-e 60 %\nBaroque 30 %" in shown
    overlaps = [c.get("paper", {}).get("overlap") for c in config["panels"][name]["columns"]]
    assert [o for o in overlaps if o is not None] == PAPER_OVERLAPS.get(name, [o for o in overlaps if o is not None])
    caption = panel_caption(config, name)
    for value in PAPER_OVERLAPS.get(name, []):
        assert f"overlap {value} %" in caption


def test_a_drawn_panel_sets_each_text_beside_its_mosaic(tmp_path):
    config = in_tmp(PAPER, tmp_path)
    spec = panel_spec(config, "fig11_mixed5b_topk")
    fake_pieces(spec)
    fig = draw_panel_grid(spec)
    summary = json.loads(Path(spec["rows"][0][0]["summary"]).read_text())
    expected = sorted(cell_text(c, summary) for row in spec["rows"] for c in row)
    assert sorted(texts(fig)) == expected
    assert sum("overlap 40 % (paper 1 %)" in text for text in expected) == 2  # mixed5b_pool_reduce:92, before, after


def test_a_mosaic_with_patches_shows_them_below_it(tmp_path):
    config = in_tmp(DEMO, tmp_path)
    spec = panel_spec(config, "fig11_mixed5b_topk")
    fake_pieces(spec)
    cell = spec["rows"][0][0]
    summary = json.loads(Path(cell["summary"]).read_text())
    assert cell_image(cell, summary).shape == (18, 24, 3)  # no patches recorded: the mosaic alone
    write_png(Path(cell["image"]).with_name("patches_x.png"), (200, 10, 10), (24, 18))
    summary["patches"] = {"png": "patches_x.png", "boxes": []}
    shown = cell_image(cell, summary)
    assert shown.shape == (18 + 8 + 18, 24, 3)  # below: the column keeps its width
    assert (shown[:18] == (30, 90, 160)).all() and (shown[18:26] == 255).all()
    assert (shown[26:] == (200, 10, 10)).all()
    Path(cell["summary"]).write_text(json.dumps(summary))
    assert any("fires the channel" in t for t in texts(draw_panel_grid(spec)))


def test_the_papers_compositions_are_those_study_md_lists():
    columns = PAPER["panels"]["fig11_mixed5b_topk"]["columns"]
    assert columns[0]["paper"]["before"] == [["Realism", 17], ["Post-Impressionism", 10], ["Neoclassicism", 10]]
    assert columns[1]["paper"]["after"] == [["Minimalism", 65], ["Romanticism", 15], ["Color Field Painting", 11]]
    scratch = PAPER["panels"]["fig13_from_scratch"]["columns"]
    assert scratch[2]["paper"]["after"] == [["Magic Realism", 78], ["Ukiyo-e", 22]]
    assert PAPER["panels"]["fig4_from_scratch"]["columns"][2]["paper"]["after"][0] == ["Ukiyo-e", 85]


def test_where_the_paper_prints_nothing_nothing_is_printed(tmp_path):
    config = in_tmp(DEMO, tmp_path)  # the demo gives no paper numbers
    spec = panel_spec(config, "fig1_channels")
    fake_pieces(spec)
    shown = "\n".join(texts(draw_panel_grid(spec)))
    assert "overlap 40 %" in shown and "paper" not in shown


def test_an_empty_set_says_so_and_a_short_one_says_how_many_fire(tmp_path):
    config = in_tmp(DEMO, tmp_path)
    spec = panel_spec(config, "fig11_mixed5b_topk")
    fake_pieces(spec, size=0, composition=[])
    assert any("fires this channel" in t and "empty" in t for t in texts(draw_panel_grid(spec)))
    fake_pieces(spec, size=7)
    assert any("(only 7 images fire)" in t for t in texts(draw_panel_grid(spec)))
    fake_pieces(spec, size=1)
    assert any("(only 1 image fires)" in t for t in texts(draw_panel_grid(spec)))


def test_the_demo_has_the_papers_figure_set_on_its_own_models():
    assert sorted(DEMO["panels"]) == sorted(name.replace("iconart", "objects") for name in PAPER["panels"])
    for name, panel in PAPER["panels"].items():
        demo = DEMO["panels"][name.replace("iconart", "objects")]
        assert [c["channel"] for c in demo["columns"]][: len(panel["columns"])] == [
            c["channel"] for c in panel["columns"]
        ][: len(demo["columns"])]
        assert (demo["show"], demo["layout"]) == (panel["show"], panel["layout"])


def test_draw_panel_writes_png_and_pdf(tmp_path):
    config = in_tmp(DEMO, tmp_path)
    spec = panel_spec(config, "fig3_high_layers")
    fake_pieces(spec)
    png, pdf = draw_panel(spec, tmp_path / "p.png", tmp_path / "p.pdf")
    assert png.read_bytes().startswith(b"\x89PNG") and pdf.read_bytes().startswith(b"%PDF")


def test_a_missing_piece_is_named(tmp_path):
    config = in_tmp(DEMO, tmp_path)
    spec = panel_spec(config, "fig7_low_layers")
    with pytest.raises(UserError, match=r"panel image .*conv2d1_pre_relu_30\.png does not exist"):
        draw_panel_grid(spec)


def test_panel_config_errors_name_the_thing():
    config = copy.deepcopy(DEMO)
    config["panels"]["fig2_modes"]["columns"].append(
        {"pair": ["styles_A/1/init", "styles_A/1"], "channel": "mixed4d_3x3_pre_relu:52"}
    )
    with pytest.raises(ConfigError, match=r"panels\.fig2_modes has layout models, so every column's pair must start"):
        prepare_config(config)
    config = copy.deepcopy(DEMO)
    config["panels"]["fig17_objects_topk"]["dataset"] = "demo_object"
    with pytest.raises(ConfigError, match=r"panels\.fig17_objects_topk\.dataset is 'demo_object', not a dataset"):
        prepare_config(config)
    config = copy.deepcopy(DEMO)
    config["panels"]["fig1_channels"]["columns"][0]["channel"] = "mixed4a:600"
    with pytest.raises(ConfigError, match=r"panels\.fig1_channels\.columns\[0\]\.channel: channel 600 is out of range"):
        prepare_config(config)
