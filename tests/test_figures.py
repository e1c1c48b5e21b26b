"""Figures 5 and 6 from hand-made metric files: what is drawn is what the files say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.text import Text

from artfinetune.errors import UserError
from artfinetune.figures import style
from artfinetune.figures.cka import cka_figure, draw_cka, read_cka
from artfinetune.figures.style import only_layers
from artfinetune.figures.topk import chance_level, draw_topk, entropy_boxes, overlap_boxes, topk_figure
from artfinetune.metrics.table import read_overlap_table
from artfinetune.model.layers import STUDY_LAYERS

# seaborn 0.13.2 passes boxplot's deprecated vert= to matplotlib 3.11: theirs to fix, not a fault of ours.
pytestmark = pytest.mark.filterwarnings("ignore:vert. bool was deprecated:matplotlib.MatplotlibDeprecationWarning")

COLUMNS = ["model_a", "model_b", "layer", "channel", "metric", "value", "k"]
REFERENCE = [0.997, 0.908, 0.903, 0.949, 0.896, 0.856, 0.837, 0.747, 0.624, 0.586, 0.576, 0.372]


def write_cka(path, linear: dict[str, float], debiased: dict[str, float] | None = None, metrics=None):
    debiased = debiased or {layer: v - 0.2 for layer, v in linear.items()}
    rows = [(layer, "linear_cka", v) for layer, v in linear.items()] + [
        (layer, "debiased_cka", v) for layer, v in debiased.items()
    ]
    base = {"model_a": "a", "model_b": "b", "channel": None, "k": None}
    frame = pd.DataFrame([{**base, "layer": lay, "metric": m, "value": v} for lay, m, v in rows], columns=COLUMNS)
    frame[frame["metric"].isin(metrics or ["linear_cka", "debiased_cka"])].to_csv(path, index=False)
    return path


# Per layer, channel -> overlap at k = 10, and the entropies of A and B; n = 200 train images.
N_TRAIN = 200
OVERLAP_10 = {"mixed3a": [0.9, 0.7, 0.5, 0.3], "conv2d0": [1.0, 0.9, 0.8, 0.8], "mixed4d_3x3": [0.1, 0.0, 0.2, 0.4]}
ENTROPY_A_20 = {
    "mixed3a": [0.9, np.nan, 0.7, 0.8],
    "conv2d0": [0.95, 0.9, 0.85, 0.8],
    "mixed4d_3x3": [0.5, 0.4, np.nan, 0.2],
}
ENTROPY_B_20 = {"mixed3a": [0.6, 0.5, 0.4, 0.3], "conv2d0": [0.9, 0.9, 0.8, 0.7], "mixed4d_3x3": [0.3, 0.2, 0.1, 0.0]}


def write_overlap(path, drop_metric=None, drop_column=None):
    """Rows at k = 10 and 20 (the k = 20 overlaps and k = 10 entropies are decoys: other values)."""
    rows = []
    for layer in OVERLAP_10:  # mixed3a before conv2d0 on purpose: the figure must sort layers into network order
        for channel in range(4):
            base = {"model_a": "imagenet", "model_b": "rasta_A/1", "layer": layer, "channel": channel}
            for k, overlap, a, b in (
                (10, OVERLAP_10[layer][channel], 0.01, 0.02),
                (20, 0.55, ENTROPY_A_20[layer][channel], ENTROPY_B_20[layer][channel]),
            ):
                rows += [
                    {**base, "metric": "overlap", "value": overlap, "k": k, "chance": k / N_TRAIN},
                    {**base, "metric": "entropy_a", "value": a, "k": k, "chance": None},
                    {**base, "metric": "entropy_b", "value": b, "k": k, "chance": None},
                ]
    frame = pd.DataFrame(rows)
    if drop_metric:
        frame = frame[frame["metric"] != drop_metric]
    if drop_column:
        frame = frame.drop(columns=drop_column)
    frame.to_csv(path, index=False)
    return path


def assert_written(png, pdf):
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 1000
    assert not [p for p in png.parent.iterdir() if ".tmp" in p.name]  # temporary names renamed into place


def assert_print_readable(fig):
    fig.canvas.draw()  # tick labels exist only once drawn
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
    assert sizes and min(sizes) >= 9


# --- figure 5 ----------------------------------------------------------------------------------------------------


@pytest.fixture
def two_pairs(tmp_path):
    layers = ["mixed5b", "conv2d0", "mixed3a"]  # out of order, and a subset of the study layers
    return [
        ("imagenet vs rasta_A/1", write_cka(tmp_path / "p1.csv", dict(zip(layers, [0.4, 1.0, 0.9], strict=True)))),
        ("rasta_A/1 vs rasta_A/2", write_cka(tmp_path / "p2.csv", dict(zip(layers, [0.8, 0.99, 0.95], strict=True)))),
    ]


def test_cka_figure_writes_png_and_pdf(tmp_path, two_pairs):
    out = tmp_path / "figures"
    paths = cka_figure(two_pairs, out / "figure5.png", out / "figure5.pdf", title="Figure 5")
    assert paths == (out / "figure5.png", out / "figure5.pdf")
    assert_written(*paths)


def test_cka_figure_draws_one_line_per_pair_in_network_order_and_the_reference(two_pairs):
    reference = {"label": "original code", "values": REFERENCE, "pair": "imagenet vs rasta_A/1"}
    fig = draw_cka(read_cka(two_pairs), reference=reference)
    linear_ax, debiased_ax = fig.axes
    assert [t.get_text() for t in linear_ax.get_xticklabels()] == ["conv2d0", "mixed3a", "mixed5b"]
    first, second, ref = linear_ax.get_lines()
    assert first.get_ydata().tolist() == [1.0, 0.9, 0.4] and second.get_ydata().tolist() == [0.99, 0.95, 0.8]
    assert ref.get_linestyle() == ":" and ref.get_ydata().tolist() == [0.997, 0.949, 0.372]  # at the layers shown
    assert "original code" in ref.get_label()
    debiased = debiased_ax.get_lines()
    assert [line.get_ydata().tolist() for line in debiased] == [
        pytest.approx([0.8, 0.7, 0.2]),
        pytest.approx([0.79, 0.75, 0.6]),
    ]
    assert [line.get_color() for line in debiased] == [first.get_color(), second.get_color()]  # a pair keeps its colour
    assert_print_readable(fig)


def test_cka_figure_draws_each_values_jackknife_interval_as_a_band(tmp_path, two_pairs):
    path = two_pairs[0][1]
    frame = pd.read_csv(path)
    leave_outs = pd.DataFrame(
        [{"model_a": "a", "model_b": "b", "layer": layer, "channel": b, "metric": f"{kind}_cka_leave_out",
          "value": v, "k": None}
         for layer, values in {"conv2d0": [1.0] * 4, "mixed3a": [0.9] * 4, "mixed5b": [0.4, 0.4, 0.4, 0.44]}.items()
         for kind in ("linear", "debiased") for b, v in enumerate(values)],
        columns=COLUMNS,
    )  # fmt: skip
    pd.concat([frame, leave_outs]).to_csv(path, index=False)
    linear_ax, _ = draw_cka(read_cka(two_pairs)).axes
    (band,) = [c for c in linear_ax.collections if isinstance(c, PolyCollection)]  # the second pair has no rows
    ys = band.get_paths()[0].vertices[:, 1]
    # mixed5b: 0.4 and, without each of 4 blocks, [0.4, 0.4, 0.4, 0.44]: pseudo-values 1.6 - 3 * that =
    # [0.4, 0.4, 0.4, 0.28], mean 0.37, sd 0.06, so 0.37 +- t(3, 97.5 %) * 0.06 / 2; the other layers: no spread
    half = 3.182446305284263 * 0.06 / 2
    assert min(ys) == pytest.approx(0.37 - half) and max(ys) == pytest.approx(1.0)
    assert sorted({round(y, 9) for y in ys}) == pytest.approx(sorted({0.37 - half, 0.37 + half, 0.9, 1.0}), abs=1e-8)


def test_cka_figure_without_reference_has_only_the_pairs(two_pairs):
    linear_ax, _ = draw_cka(read_cka(two_pairs)).axes
    assert len(linear_ax.get_lines()) == 2


def test_cka_reference_needs_one_value_per_study_layer(two_pairs):
    with pytest.raises(UserError, match="has 11 values"):
        draw_cka(read_cka(two_pairs), reference={"label": "original code", "values": REFERENCE[:-1]})


def test_cka_file_without_debiased_rows_is_named(tmp_path):
    path = write_cka(tmp_path / "linear_only.csv", {"conv2d0": 1.0}, metrics=["linear_cka"])
    with pytest.raises(UserError, match=r"linear_only\.csv.*debiased_cka"):
        cka_figure([("p", path)], tmp_path / "f.png", tmp_path / "f.pdf")


# --- figure 6 ----------------------------------------------------------------------------------------------------


def test_overlap_boxes_are_the_overlaps_at_k_in_percent(tmp_path):
    boxes = overlap_boxes(read_overlap_table(write_overlap(tmp_path / "overlap.csv")), 10)
    for layer, values in OVERLAP_10.items():
        assert boxes.loc[boxes["layer"] == layer, "value"].tolist() == pytest.approx([100 * v for v in values])


def test_entropy_boxes_are_one_models_and_leave_out_empty_sets(tmp_path):
    frame = read_overlap_table(write_overlap(tmp_path / "overlap.csv"))
    a = entropy_boxes(frame, 20, side="a")
    assert a["value"].notna().all() and len(a) == 10  # two of the twelve sets are empty
    assert a.loc[a["layer"] == "mixed3a", "channel"].tolist() == [0, 2, 3]
    assert a.loc[a["layer"] == "mixed3a", "value"].tolist() == [0.9, 0.7, 0.8]
    b = entropy_boxes(frame, 20, side="b")
    assert b.loc[b["layer"] == "conv2d0", "value"].tolist() == [0.9, 0.9, 0.8, 0.7]


def test_chance_level_is_k_over_n_in_percent(tmp_path):
    frame = read_overlap_table(write_overlap(tmp_path / "overlap.csv"))
    assert chance_level(frame, 10) == pytest.approx(100 * 10 / N_TRAIN)
    assert chance_level(frame, 20) == pytest.approx(100 * 20 / N_TRAIN)


def test_cka_pair_labels_must_differ(two_pairs):
    with pytest.raises(UserError, match="labels must differ"):
        read_cka([two_pairs[0], (two_pairs[0][0], two_pairs[1][1])])


def topk_panels(frame):
    return [
        {
            "values": overlap_boxes(frame, 10),
            "metric": "overlap",
            "title": "(a) overlap",
            "chance": 100 * 10 / N_TRAIN,
            "k": 10,
        },
        {
            "values": entropy_boxes(frame, 20, side="a"),
            "metric": "entropy",
            "title": "(b) entropy",
            "chance": None,
            "k": 20,
        },
    ]


def test_topk_figure_draws_the_mean_as_a_line_the_median_as_a_star_and_the_chance_line(tmp_path):
    fig = draw_topk(topk_panels(read_overlap_table(write_overlap(tmp_path / "overlap.csv"))))
    overlap_ax, entropy_ax = fig.axes
    layers = ["conv2d0", "mixed3a", "mixed4d_3x3"]  # network order, the branch after the study layers
    assert [t.get_text() for t in entropy_ax.get_xticklabels()] == layers
    boxes = overlap_ax.containers[0]
    (stars,) = overlap_ax.collections[-1:]
    assert stars.get_paths() and len(stars.get_offsets()) == 3
    for i, layer in enumerate(layers):
        values = 100 * np.array(OVERLAP_10[layer])
        mean = boxes.means[i]
        assert mean.get_linestyle() == "-" and mean.get_marker() in ("None", None, "")  # a line, not a marker
        assert mean.get_ydata()[0] == mean.get_ydata()[-1] == pytest.approx(values.mean())
        assert stars.get_offsets()[i].tolist() == pytest.approx([i, np.median(values)])
        assert not boxes.medians[i].get_visible()
    (chance,) = [line for line in overlap_ax.get_lines() if line.get_linestyle() == "--"]
    assert list(chance.get_ydata()) == [5.0, 5.0] and "chance" in chance.get_label()
    # k = 10 of n = 200 at random: P(X <= 1) = 0.918 < 0.99 <= P(X <= 2) = 0.9909, with the intersection size X
    # hypergeometric, P(X = i) = C(10, i) C(190, 10 - i) / C(200, 10): 2 of 10 images, 20 %
    (random,) = [line for line in overlap_ax.get_lines() if line.get_linestyle() == ":"]
    assert list(random.get_ydata()) == [20.0, 20.0] and "99th percentile = 20 %" in random.get_label()
    entropy_boxes_drawn = entropy_ax.containers[0]
    entropy_stars = entropy_ax.collections[-1]
    for i, layer in enumerate(layers):
        assert entropy_boxes_drawn.means[i].get_ydata()[0] == pytest.approx(np.nanmean(ENTROPY_A_20[layer]))
        assert entropy_stars.get_offsets()[i][1] == pytest.approx(np.nanmedian(ENTROPY_A_20[layer]))
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["(a) overlap", "(b) entropy"]
    assert_print_readable(fig)


def box(path, metric, k, side=None):
    out = {"metric": metric, "k": k, "overlap_csv": str(path), "title": metric}
    return out if side is None else {**out, "side": side}


def test_topk_figure_writes_png_and_pdf(tmp_path):
    path = write_overlap(tmp_path / "overlap.csv")
    out = tmp_path / "figures"
    boxes = [box(path, "overlap", 10), box(path, "entropy", 20, "a"), box(path, "entropy", 20, "b")]
    paths = topk_figure(boxes, out / "figure15.png", out / "figure15.pdf", title="Figure 15")
    assert_written(*paths)


@pytest.mark.parametrize("metric, k", [("overlap", 100), ("entropy", 1000)])
def test_a_k_not_in_the_file_names_the_k_values_it_has(tmp_path, metric, k):
    path = write_overlap(tmp_path / "overlap.csv")
    with pytest.raises(UserError, match=r"overlap\.csv.*k values are 10, 20"):
        topk_figure(
            [box(path, metric, k, "a" if metric == "entropy" else None)], tmp_path / "f.png", tmp_path / "f.pdf"
        )


@pytest.mark.parametrize("drop", [{"drop_metric": "entropy_b"}, {"drop_column": "chance"}])
def test_a_missing_metric_or_column_names_the_file(tmp_path, drop):
    path = write_overlap(tmp_path / "broken.csv", **drop)
    boxes = [box(path, "overlap", 10), box(path, "entropy", 20, "b")]
    with pytest.raises(UserError, match=r"broken\.csv.*(entropy_b|chance)"):
        topk_figure(boxes, tmp_path / "f.png", tmp_path / "f.pdf")


def test_study_layers_are_the_papers_twelve():
    assert len(STUDY_LAYERS) == len(REFERENCE) == 12


def test_a_figure_can_keep_to_the_configs_layers():
    frame = pd.DataFrame({"layer": ["conv2d0", "mixed4d_3x3", "mixed5b"], "value": [1.0, 2.0, 3.0]})
    assert only_layers(frame, ["conv2d0", "mixed5b"])["value"].tolist() == [1.0, 3.0]
    assert only_layers(frame, None)["value"].tolist() == [1.0, 2.0, 3.0]


def test_cka_figure_draws_each_pairs_seed_variants_thin_and_dashed_in_its_colour(tmp_path, two_pairs):
    from artfinetune.figures.cka import read_variants

    layers = ["mixed5b", "conv2d0", "mixed3a"]
    other = write_cka(tmp_path / "p1_seed2.csv", dict(zip(layers, [0.5, 0.98, 0.85], strict=True)))
    variants = read_variants({"imagenet vs rasta_A/1": [str(other)]})
    fig = draw_cka(read_cka(two_pairs), variants=variants)
    linear_ax, _ = fig.axes
    first, variant, second, legend_only = linear_ax.get_lines()
    assert variant.get_ydata().tolist() == [0.98, 0.85, 0.5]  # network order, the variant's own values
    assert variant.get_linestyle() == "--" and variant.get_color() == first.get_color()
    assert variant.get_linewidth() < first.get_linewidth() and variant.get_marker() in ("None", "", None)
    assert legend_only.get_label() == "same pair, other seeds" and len(legend_only.get_xdata()) == 0
    assert second.get_ydata().tolist() == [0.99, 0.95, 0.8]  # the other pair has no variant


def test_the_print_style_is_seaborns_whitegrid_paper_and_colorblind():
    """The style's seaborn values are written out (no seaborn import in a figure job): still seaborn's own."""
    import seaborn as sns

    assert dict(sns.axes_style("whitegrid")) == style.SEABORN_WHITEGRID
    assert dict(sns.plotting_context("paper")) == style.SEABORN_PAPER
    assert list(sns.color_palette("colorblind")) == style.PALETTE
    assert style.STYLE["font.size"] == 9 and style.STYLE["grid.color"] == ".8"  # ours over seaborn's, then its own
