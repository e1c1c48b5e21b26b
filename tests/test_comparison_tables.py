"""Tables 2 and 4 from hand-made metric files with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from artfinetune.errors import UserError
from artfinetune.figures.comparison_tables import build_comparison_table, write_comparison_table
from artfinetune.metrics.summaries import mean_cka, mean_cka_interval, mean_l2


def tidy(rows: list[dict], model_a="imagenet", model_b="rasta_A/1") -> pd.DataFrame:
    base = {"model_a": model_a, "model_b": model_b, "channel": None, "k": None}
    return pd.DataFrame([{**base, **row} for row in rows])[
        ["model_a", "model_b", "layer", "channel", "metric", "value", "k"]
    ]


def write_cka(path, linear: dict[str, float], debiased_shift=0.3):
    rows = [{"layer": layer, "metric": "linear_cka", "value": v} for layer, v in linear.items()]
    rows += [{"layer": layer, "metric": "debiased_cka", "value": v - debiased_shift} for layer, v in linear.items()]
    tidy(rows).to_csv(path, index=False)
    return str(path)


def write_l2(path, mean: float, convs: dict[str, float] | None = None):
    """An l2 file whose per-conv rows average to something else than ``mean``, so a recomputation would show."""
    convs = convs or {"conv2d0": 3.0, "mixed4a_3x3": 5.0}
    rows = [{"layer": conv, "metric": "l2", "value": v} for conv, v in convs.items()]
    rows += [{"layer": conv, "metric": "relative_l2", "value": v / 10} for conv, v in convs.items()]
    rows += [
        {"layer": "all", "metric": "mean_l2", "value": mean},
        {"layer": "all", "metric": "mean_relative_l2", "value": 0.4},
    ]
    tidy(rows).to_csv(path, index=False)
    return str(path)


def test_mean_cka_is_the_mean_over_the_layers_of_linear_cka(tmp_path):
    path = write_cka(tmp_path / "cka.csv", {"conv2d0": 1.0, "mixed3a": 0.5, "mixed5b": 0.0})
    assert mean_cka(path) == pytest.approx(0.5)
    skewed = write_cka(tmp_path / "skewed.csv", {"conv2d0": 1.0, "mixed3a": 0.9, "mixed5b": 0.2})
    assert mean_cka(skewed) == pytest.approx(0.7)  # not the median (0.9), nor the debiased rows' mean (0.4)


def test_mean_cka_of_a_nan_layer_is_nan_not_the_mean_of_the_rest(tmp_path):
    path = write_cka(tmp_path / "cka.csv", {"conv2d0": 1.0, "mixed3a": float("nan")})
    assert math.isnan(mean_cka(path))


def test_mean_cka_refuses_a_layer_given_twice(tmp_path):
    path = tmp_path / "cka.csv"
    tidy([{"layer": "conv2d0", "metric": "linear_cka", "value": v} for v in (1.0, 0.0)]).to_csv(path, index=False)
    with pytest.raises(UserError, match="conv2d0"):
        mean_cka(path)


def test_mean_l2_is_read_from_the_all_row_not_recomputed(tmp_path):
    path = write_l2(tmp_path / "l2.csv", 1.26, {"conv2d0": 3.0, "mixed4a_3x3": 5.0})
    assert mean_l2(path) == 1.26


def test_a_missing_metric_or_column_names_the_file(tmp_path):
    only_l2 = tmp_path / "only_l2.csv"
    tidy([{"layer": "conv2d0", "metric": "l2", "value": 1.0}]).to_csv(only_l2, index=False)
    with pytest.raises(UserError, match=r"only_l2\.csv.*mean_l2"):
        mean_l2(only_l2)
    no_value = tmp_path / "no_value.csv"
    tidy([{"layer": "conv2d0", "metric": "linear_cka", "value": 1.0}]).drop(columns="value").to_csv(
        no_value, index=False
    )
    with pytest.raises(UserError, match=r"no_value\.csv.*value"):
        mean_cka(no_value)


def table4_spec(tmp_path, paper=(0.90, 0.14, 0.91, 0.15)) -> dict:
    """Table 4's first row: ImageNet vs FT on the small set, IconArt then Paintings."""
    pairs = [
        {
            "pair": "imagenet vs iconart_A/1",
            "dataset": "iconart",
            "cka": write_cka(tmp_path / "cka_iconart.csv", {"conv2d0": 1.0, "mixed5b": 0.8}),
            "l2": write_l2(tmp_path / "l2_iconart.csv", 0.125),
        },
        {
            "pair": "imagenet vs paintings_A/1",
            "dataset": "paintings",
            "cka": write_cka(tmp_path / "cka_paintings.csv", {"conv2d0": 1.0, "mixed5b": 0.6}),
            "l2": write_l2(tmp_path / "l2_paintings.csv", 0.25),
        },
    ]
    row = {"label": "ImageNet vs FT on the small set", "pairs": pairs}
    if paper is not None:
        row["paper"] = list(paper)
    return {"title": "Table 4", "metrics": ["mean_cka", "mean_l2"], "rows": [row]}


def test_table4_puts_each_paper_value_beside_its_pair_and_metric(tmp_path):
    table = build_comparison_table(table4_spec(tmp_path))
    assert list(table.columns) == [
        "model pair", "dataset", "pair", "mean_cka", "mean_cka low", "mean_cka high", "paper mean_cka", "mean_l2",
        "paper mean_l2",
    ]  # fmt: skip
    iconart, paintings = table.to_dict("records")
    assert iconart["dataset"] == "iconart" and paintings["dataset"] == "paintings"
    assert iconart["model pair"] == paintings["model pair"] == "ImageNet vs FT on the small set"
    assert (iconart["mean_cka"], iconart["paper mean_cka"]) == (pytest.approx(0.9), 0.90)
    assert (iconart["mean_l2"], iconart["paper mean_l2"]) == (0.125, 0.14)
    assert (paintings["mean_cka"], paintings["paper mean_cka"]) == (pytest.approx(0.8), 0.91)
    assert (paintings["mean_l2"], paintings["paper mean_l2"]) == (0.25, 0.15)


def l2_pair(path, pair: str, mean: float) -> dict:
    return {"pair": pair, "dataset": "rasta", "cka": None, "l2": write_l2(path, mean)}


def test_table2_has_one_metric_and_blank_paper_cells_for_a_row_without_them(tmp_path):
    spec = {
        "title": "Table 2",
        "metrics": ["mean_l2"],
        "rows": [
            {
                "label": "Pretrained on ImageNet / FT on RASTA (mode A training 1)",
                "pairs": [l2_pair(tmp_path / "a.csv", "imagenet vs rasta_A/1", 1.3)],
                "paper": [1.26],
            },
            {"label": "ours only", "pairs": [l2_pair(tmp_path / "b.csv", "rasta_A/1 vs rasta_A/2", 1.2)]},
        ],
    }
    table = build_comparison_table(spec)
    assert list(table.columns) == ["model pair", "dataset", "pair", "mean_l2", "paper mean_l2"]
    assert table["mean_l2"].tolist() == [1.3, 1.2]
    assert table["paper mean_l2"].iloc[0] == 1.26 and pd.isna(table["paper mean_l2"].iloc[1])


def test_no_paper_columns_when_no_row_has_paper_values(tmp_path):
    table = build_comparison_table(table4_spec(tmp_path, paper=None))
    assert list(table.columns) == [
        "model pair",
        "dataset",
        "pair",
        "mean_cka",
        "mean_cka low",
        "mean_cka high",
        "mean_l2",
    ]


def test_a_wrong_count_of_paper_values_names_the_row(tmp_path):
    with pytest.raises(UserError, match=r"'ImageNet vs FT on the small set' has 3 paper value\(s\); expected 4"):
        build_comparison_table(table4_spec(tmp_path, paper=(0.90, 0.14, 0.91)))


def test_a_pair_without_the_file_its_metric_needs_is_an_error(tmp_path):
    spec = table4_spec(tmp_path)
    spec["rows"][0]["pairs"][1]["cka"] = None
    with pytest.raises(UserError, match="imagenet vs paintings_A/1.*cka file"):
        build_comparison_table(spec)


def test_write_comparison_table_writes_full_precision_csv_and_two_decimal_markdown(tmp_path):
    spec = table4_spec(tmp_path)
    spec["rows"][0]["pairs"][0]["l2"] = write_l2(tmp_path / "precise.csv", 0.123456789)
    out = tmp_path / "out"
    write_comparison_table(spec, out / "table4.csv", out / "table4.md")
    assert pd.read_csv(out / "table4.csv")["mean_l2"].iloc[0] == 0.123456789
    markdown = (out / "table4.md").read_text()
    assert markdown.startswith("# Table 4\n")
    assert (
        "| ImageNet vs FT on the small set | iconart | imagenet vs iconart_A/1 | 0.90 |  |  | 0.90 | 0.12 | 0.14 |"
        in markdown
    )
    assert sorted(p.name for p in out.iterdir()) == ["table4.csv", "table4.md"]  # no temporary file left behind


def test_table4_averages_the_configs_layers_not_the_branch_tensors(tmp_path):
    """Branch tensors (for renders) are in the CKA file too; the paper's mean is over the 12 layers."""
    cka = write_cka(tmp_path / "cka.csv", {"conv2d0": 1.0, "mixed5b": 0.5, "mixed4d_3x3": 0.0})
    assert mean_cka(cka, ["conv2d0", "mixed5b"]) == pytest.approx(0.75)
    assert mean_cka(cka) == pytest.approx(0.5)
    with pytest.raises(UserError, match="has no linear_cka of mixed4a"):
        mean_cka(cka, ["conv2d0", "mixed4a"])
    spec = {
        "title": "",
        "metrics": ["mean_cka"],
        "layers": ["conv2d0", "mixed5b"],
        "rows": [{"label": "r", "pairs": [{"pair": "a vs b", "dataset": "d", "cka": cka, "l2": None}]}],
    }
    assert build_comparison_table(spec)["mean_cka"].tolist() == pytest.approx([0.75])


def test_the_mean_ckas_interval_is_the_jackknife_of_the_mean_over_the_layers(tmp_path):
    cka = write_cka(tmp_path / "cka.csv", {"conv2d0": 0.9, "mixed5b": 0.5, "mixed4d_3x3": 0.0})
    frame = pd.read_csv(cka)
    leave_outs = {"conv2d0": [0.9, 0.95, 0.85, 0.9], "mixed5b": [0.5, 0.45, 0.55, 0.6], "mixed4d_3x3": [9, 9, 9, 9]}
    rows = [
        {"model_a": "imagenet", "model_b": "rasta_A/1", "layer": layer, "channel": b, "metric": "linear_cka_leave_out",
         "value": v, "k": None}
        for layer, values in leave_outs.items() for b, v in enumerate(values)
    ]  # fmt: skip
    pd.concat([frame, pd.DataFrame(rows)]).to_csv(cka, index=False)
    # the mean over conv2d0 and mixed5b is 0.7; without block b: [0.7, 0.7, 0.7, 0.75]; pseudo-values
    # 4 * 0.7 - 3 * that = [0.7, 0.7, 0.7, 0.55], mean 0.6625, sd 0.075, t(3) at 97.5 % = 3.182446305
    half = 3.182446305284263 * 0.075 / 2
    assert mean_cka_interval(cka, ["conv2d0", "mixed5b"]) == pytest.approx((0.6625 - half, 0.6625 + half))
    spec = {
        "title": "",
        "metrics": ["mean_cka"],
        "layers": ["conv2d0", "mixed5b"],
        "rows": [{"label": "r", "pairs": [{"pair": "a vs b", "dataset": "d", "cka": cka, "l2": None}]}],
    }
    line = build_comparison_table(spec).iloc[0]
    assert (line["mean_cka low"], line["mean_cka high"]) == pytest.approx((0.6625 - half, 0.6625 + half))
    assert all(np.isnan(mean_cka_interval(write_cka(tmp_path / "old.csv", {"conv2d0": 0.9}), ["conv2d0"])))


def test_a_pairs_seed_spread_is_the_range_over_it_and_its_seed_variants(tmp_path):
    spec = {
        "title": "Table 2",
        "metrics": ["mean_l2"],
        "rows": [
            {
                "label": "Pretrained vs FT mode A",
                "pairs": [
                    {
                        **l2_pair(tmp_path / "a.csv", "imagenet vs rasta_A/1", 1.3),
                        "variants": [
                            l2_pair(tmp_path / "a2.csv", "imagenet vs rasta_A/2", 1.1),
                            l2_pair(tmp_path / "a3.csv", "imagenet vs rasta_A/3", 1.25),
                        ],
                    }
                ],
            },
            {"label": "two trainings", "pairs": [{**l2_pair(tmp_path / "b.csv", "rasta_A/1 vs rasta_A/2", 1.2)}]},
        ],
    }
    table = build_comparison_table(spec)
    assert list(table.columns) == ["model pair", "dataset", "pair", "mean_l2", "mean_l2 seed spread"]
    assert table["mean_l2"].tolist() == [1.3, 1.2]  # the pair's own value, not a mean over seeds
    assert table["mean_l2 seed spread"].iloc[0] == pytest.approx(1.3 - 1.1)
    assert pd.isna(table["mean_l2 seed spread"].iloc[1])  # no variant: no spread
    assert "mean_l2 seed spread" not in build_comparison_table(table4_spec(tmp_path)).columns  # none anywhere
