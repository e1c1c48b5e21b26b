"""The findings stage: the paper's claims judged on hand-made metric files and tables with hand-written answers."""

from __future__ import annotations

import copy
import csv
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from artfinetune.cli import main
from artfinetune.errors import ConfigError
from artfinetune.report.findings import (
    FAILS,
    HOLDS,
    UNJUDGED,
    entropy_layers,
    evaluate_findings,
    falls,
    findings_inputs,
    findings_spec,
    third,
    trend,
    write_findings,
)
from artfinetune.study import paths
from artfinetune.study.config import load_config, prepare_config
from artfinetune.study.names import analysis_pairs

from .conftest import PAPER_CONFIG

SIX = ["conv2d0", "conv2d1", "conv2d2", "mixed3a", "mixed3b", "mixed4a"]
TIDY = ["model_a", "model_b", "layer", "channel", "metric", "value", "k"]


# --- hand-made files -----------------------------------------------------------------------------------------------


def write_cka(path, linear: dict[str, float]) -> str:
    """A cka.csv: one linear_cka row per layer; the debiased rows are 0.5 lower (so reading them would show)."""
    rows = [["a", "b", layer, None, "linear_cka", v, None] for layer, v in linear.items()]
    rows += [["a", "b", layer, None, "debiased_cka", v - 0.5, None] for layer, v in linear.items()]
    pd.DataFrame(rows, columns=TIDY).to_csv(path, index=False)
    return str(path)


def write_l2(path, mean: float) -> str:
    """An l2.csv whose per-convolution rows average to something else than ``mean``."""
    rows = [["a", "b", "conv2d0", None, "l2", 100.0, None], ["a", "b", "all", None, "mean_l2", mean, None]]
    pd.DataFrame(rows, columns=TIDY).to_csv(path, index=False)
    return str(path)


def write_overlap(path, per_layer: dict[str, dict], k: int = 10, other_k: int = 40, chance: float = 0.05) -> str:
    """An overlap.csv: per layer, lists over channels of ``overlap``, ``entropy_a``, ``entropy_b`` at ``k``; at
    ``other_k`` every value is reversed (1 - v), so reading the wrong k reverses every trend."""
    rows = []
    for kk, flip in ((k, False), (other_k, True)):
        for layer, metrics in per_layer.items():
            for metric, values in metrics.items():
                for channel, v in enumerate(values):
                    value = (1.0 - v) if flip and not math.isnan(v) else v
                    rows.append(["a", "b", layer, channel, metric, value, kk, kk * chance / k])
    pd.DataFrame(rows, columns=[*TIDY, "chance"]).to_csv(path, index=False)
    return str(path)


def write_result_table(path, lines: list[tuple[str, str, str, float]]) -> str:
    """A result table (model, dataset, metric, run, seed 1, seed 2, mean, paper) from (model, dataset, metric, mean)."""
    rows = [
        {"model": m, "dataset": d, "metric": metric, "run": "r", "seed 1": v, "seed 2": v, "mean": v, "paper": None}
        for m, d, metric, v in lines
    ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def by_id(findings) -> dict:
    return {f.id: f for f in findings}


def judge(spec: dict, ident: str):
    return by_id(evaluate_findings(spec))[ident]


# --- the "falls" definition --------------------------------------------------------------------------------------


def test_a_monotone_fall_falls():
    t = trend([0.9, 0.7, 0.5, 0.3])
    assert t.rho == pytest.approx(-1.0)
    assert third(4) == 2
    assert (t.shallow, t.deep) == (pytest.approx(0.8), pytest.approx(0.4))  # (0.9 + 0.7) / 2, (0.5 + 0.3) / 2
    assert t.falls and falls([0.9, 0.7, 0.5, 0.3])


def test_a_rise_does_not_fall():
    t = trend([0.1, 0.2, 0.3])
    assert t.rho == pytest.approx(1.0) and not t.falls
    assert "above -0.5" in t.why_not()


def test_a_fall_smaller_than_min_drop_does_not_fall():
    values = [0.500, 0.499, 0.498, 0.497, 0.496, 0.495]  # perfectly ordered, but only 0.004 from third to third
    t = trend(values, min_drop=0.02)
    assert t.rho == pytest.approx(-1.0)
    assert t.drop == pytest.approx(0.004)  # (0.500 + 0.499) / 2 - (0.496 + 0.495) / 2
    assert not t.falls and "below min_drop 0.02" in t.why_not()
    assert falls(values, min_drop=0.001)


def test_constant_values_do_not_fall():
    t = trend([0.7, 0.7, 0.7])
    assert math.isnan(t.rho) and not t.falls


def test_a_noisy_fall_with_rho_exactly_minus_one_half_falls():
    # depth ranks 1..5 against value ranks 3, 4, 5, 1, 2: sum of d^2 = 30, rho = 1 - 6 * 30 / (5 * 24) = -0.5
    t = trend([0.5, 0.6, 0.7, 0.1, 0.2])
    assert t.rho == pytest.approx(-0.5)
    assert third(5) == 2  # ceil(5 / 3), not 5 // 3
    assert (t.shallow, t.deep) == (pytest.approx(0.55), pytest.approx(0.15))
    assert t.falls


def test_a_noisy_fall_with_rho_just_above_minus_one_half_does_not_fall():
    # value ranks 2, 5, 4, 3, 1: sum of d^2 = 28, rho = 1 - 6 * 28 / 120 = -0.4
    t = trend([0.3, 0.9, 0.8, 0.7, 0.1])
    assert t.rho == pytest.approx(-0.4)
    assert t.drop == pytest.approx(0.2)  # the thirds alone would say it falls
    assert not t.falls


def test_a_trend_needs_three_values_and_no_nan():
    with pytest.raises(ValueError, match="at least 3"):
        trend([0.9, 0.1])
    with pytest.raises(ValueError, match="NaN"):
        trend([0.9, float("nan"), 0.1])


def test_the_entropy_is_judged_on_the_second_half_of_the_layers():
    paper = ["conv2d0", "conv2d1", "conv2d2", "mixed3a", "mixed3b", "mixed4a"]
    paper += ["mixed4b", "mixed4c", "mixed4d", "mixed4e", "mixed5a", "mixed5b"]
    assert entropy_layers(paper) == ["mixed4b", "mixed4c", "mixed4d", "mixed4e", "mixed5a", "mixed5b"]
    assert entropy_layers(["conv2d0", "conv2d1", "conv2d2"]) == ["conv2d1", "conv2d2"]


# --- findings 1-3: depth -----------------------------------------------------------------------------------------


def depth_spec(tmp_path, cka=None, overlap=None, layers=SIX, **extra) -> dict:
    depth = {
        "pair": ["imagenet", "rasta_A/1"],
        "cka": str(tmp_path / "cka.csv"),
        "overlap": str(tmp_path / "overlap.csv"),
        "overlap_k": 10,
        "entropy_k": 10,
    }
    if cka is not None:
        write_cka(depth["cka"], cka)
    if overlap is not None:
        write_overlap(depth["overlap"], overlap)
    return {"layers": list(layers), "min_drop": 0.02, "depth": depth, **extra}


def test_cka_depth_holds_on_a_falling_cka(tmp_path):
    cka = dict(zip(SIX, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5], strict=True))
    f = judge(depth_spec(tmp_path, cka=cka), "cka_depth")
    assert f.verdict == HOLDS
    assert f.claim == "linear CKA between imagenet and rasta_A/1 falls with depth (fig. 5)"
    assert f.statement == (
        "1.000 at conv2d0 ... 0.500 at mixed4a; Spearman rho -1.00, shallow third 0.95 vs deep third 0.55."
    )


def test_cka_depth_does_not_hold_on_a_rising_cka(tmp_path):
    cka = dict(zip(SIX, [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], strict=True))
    f = judge(depth_spec(tmp_path, cka=cka), "cka_depth")
    assert f.verdict == FAILS and "Spearman rho 1.00" in f.statement


def test_cka_depth_follows_the_config_order_not_the_file_order(tmp_path):
    cka = dict(zip(reversed(SIX), [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], strict=True))  # file lists mixed4a first
    assert judge(depth_spec(tmp_path, cka=cka), "cka_depth").verdict == HOLDS


def test_cka_depth_cannot_be_judged_without_key_file_layers_or_with_nan(tmp_path):
    spec = depth_spec(tmp_path)
    del spec["depth"]
    f = judge(spec, "cka_depth")
    assert f.verdict == UNJUDGED and "findings.depth" in f.statement
    f = judge(depth_spec(tmp_path), "cka_depth")  # no file written
    assert f.verdict == UNJUDGED and f"{tmp_path / 'cka.csv'} does not exist" in f.statement
    two = judge(depth_spec(tmp_path, cka={"conv2d0": 1.0, "conv2d1": 0.2}, layers=SIX[:2]), "cka_depth")
    assert two.verdict == UNJUDGED and "a trend needs 3" in two.statement
    with_nan = dict(zip(SIX, [1.0, 0.9, float("nan"), 0.7, 0.6, 0.5], strict=True))
    f = judge(depth_spec(tmp_path, cka=with_nan), "cka_depth")
    assert f.verdict == UNJUDGED and "NaN at layer(s) conv2d2" in f.statement
    f = judge(depth_spec(tmp_path, cka={layer: 0.5 for layer in SIX[:5]}), "cka_depth")
    assert f.verdict == UNJUDGED and "no value for layer(s) mixed4a" in f.statement


def layers_with(overlap: list[list[float]], a: list[list[float]] | None = None, b: list[list[float]] | None = None):
    """Per layer of SIX, the channels' overlap, entropy_a and entropy_b (0.5 everywhere unless given)."""
    a = a or [[0.5, 0.5]] * len(SIX)
    b = b or [[0.5, 0.5]] * len(SIX)
    return {
        layer: {"overlap": o, "entropy_a": ea, "entropy_b": eb}
        for layer, o, ea, eb in zip(SIX, overlap, a, b, strict=True)
    }


def test_overlap_depth_holds_on_a_falling_channel_mean(tmp_path):
    # channel means 0.9, 0.8, ..., 0.4 (each the mean of two channels that straddle it)
    overlap = [[m + 0.05, m - 0.05] for m in (0.9, 0.8, 0.7, 0.6, 0.5, 0.4)]
    f = judge(depth_spec(tmp_path, overlap=layers_with(overlap)), "overlap_depth")
    assert f.verdict == HOLDS, f.statement
    assert f.claim.startswith("the top-10 overlap between imagenet and rasta_A/1")
    assert f.statement == (
        "0.900 at conv2d0 ... 0.400 at mixed4a; Spearman rho -1.00, shallow third 0.85 vs deep third 0.45 "
        "(chance level k/n = 0.05)."
    )


def test_overlap_depth_does_not_hold_on_a_flat_overlap(tmp_path):
    overlap = [[0.61, 0.59], [0.6, 0.6], [0.6, 0.6], [0.6, 0.6], [0.6, 0.6], [0.6, 0.59]]
    f = judge(depth_spec(tmp_path, overlap=layers_with(overlap)), "overlap_depth")
    assert f.verdict == FAILS and "below min_drop 0.02" in f.statement


def test_overlap_depth_cannot_be_judged_at_a_k_the_file_lacks(tmp_path):
    overlap = [[m, m] for m in (0.9, 0.8, 0.7, 0.6, 0.5, 0.4)]
    spec = depth_spec(tmp_path, overlap=layers_with(overlap))
    spec["depth"]["overlap_k"] = 100
    f = judge(spec, "overlap_depth")
    assert f.verdict == UNJUDGED and "no overlap rows at k = 100; its k values are 10, 40" in f.statement


def test_entropy_depth_holds_when_the_fine_tuned_entropy_falls_from_the_middle_on(tmp_path):
    # entropy_b channel means: rise over the first half (0.1, 0.2, 0.3), fall over the second (0.9, 0.8, 0.7);
    # over all six layers the trend is not a fall. A NaN channel (empty set) in mixed3a is left out.
    b = [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.9, float("nan")], [0.8, 0.8], [0.7, 0.7]]
    a = [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [0.6, 0.6], [0.6, 0.6], [0.6, 0.6]]
    overlap = [[0.5, 0.5]] * 6
    f = judge(depth_spec(tmp_path, overlap=layers_with(overlap, a, b)), "entropy_depth")
    assert f.verdict == HOLDS, f.statement
    assert f.statement == (
        "0.900 at mixed3a ... 0.700 at mixed4a; Spearman rho -1.00, shallow third 0.90 vs deep third 0.70; "
        "imagenet: 0.600 at mixed3a ... 0.600 at mixed4a, Spearman rho undefined, shallow third 0.60 vs deep "
        "third 0.60."
    )


def test_entropy_depth_judges_the_fine_tuned_model_not_the_pretrained_one(tmp_path):
    a = [[0.9, 0.9]] * 3 + [[0.9, 0.9], [0.8, 0.8], [0.7, 0.7]]  # the pretrained model's falls ...
    b = [[0.5, 0.5]] * 3 + [[0.7, 0.7], [0.8, 0.8], [0.9, 0.9]]  # ... the fine-tuned model's rises
    f = judge(depth_spec(tmp_path, overlap=layers_with([[0.5, 0.5]] * 6, a, b)), "entropy_depth")
    assert f.verdict == FAILS and "Spearman rho 1.00" in f.statement


def test_entropy_depth_cannot_be_judged_on_fewer_than_three_layers_from_the_middle(tmp_path):
    spec = depth_spec(tmp_path, overlap=layers_with([[0.5, 0.5]] * 6), layers=SIX[:5])  # second half: 3 layers
    assert judge(spec, "entropy_depth").verdict == FAILS  # judged (constant values do not fall)
    spec["layers"] = SIX[:4]  # second half: conv2d2, mixed3a
    f = judge(spec, "entropy_depth")
    assert f.verdict == UNJUDGED and "fewer than 3 layers" in f.statement
    all_nan = [[0.5, 0.5]] * 5 + [[float("nan"), float("nan")]]
    f = judge(depth_spec(tmp_path, overlap=layers_with([[0.5, 0.5]] * 6, b=all_nan)), "entropy_depth")
    assert f.verdict == UNJUDGED and "NaN at layer(s) mixed4a" in f.statement


# --- findings 4 and 5: init distance -----------------------------------------------------------------------------


def init_spec(tmp_path, ft: list[tuple[float, float]], scratch: list[tuple[float, float]], layers=SIX[:3]) -> dict:
    """Pairs with a (mean CKA, mean l2) each; each CKA file has 3 layers around its mean and a 4th layer outside
    ``layers`` at 0.0, which must not count."""
    groups = {}
    for group, values in (("fine_tuned", ft), ("from_scratch", scratch)):
        entries = []
        for i, (cka, l2) in enumerate(values):
            name = f"{group}{i}"
            per_layer = dict(zip(layers, [cka + 0.05, cka, cka - 0.05], strict=True)) | {"mixed5b": 0.0}
            entries.append(
                {
                    "pair": [f"{name}_a", f"{name}_b"],
                    "cka": write_cka(tmp_path / f"{name}_cka.csv", per_layer),
                    "l2": write_l2(tmp_path / f"{name}_l2.csv", l2),
                }
            )
        groups[group] = entries
    return {"layers": list(layers), "min_drop": 0.02, "init_distance": groups}


def test_init_distance_holds_when_every_fine_tuned_pair_is_closer(tmp_path):
    spec = init_spec(tmp_path, ft=[(0.9, 1.2), (0.8, 1.3)], scratch=[(0.5, 6.5), (0.7, 8.1)])
    cka, l2 = judge(spec, "init_distance_cka"), judge(spec, "init_distance_l2")
    assert cka.verdict == HOLDS and l2.verdict == HOLDS
    assert cka.statement == (
        "mean CKA of the fine-tuned pairs: fine_tuned0_a vs fine_tuned0_b 0.900, fine_tuned1_a vs fine_tuned1_b "
        "0.800; mean CKA of the from-scratch pairs: from_scratch0_a vs from_scratch0_b 0.500, from_scratch1_a vs "
        "from_scratch1_b 0.700; lowest fine-tuned 0.800 vs highest from scratch 0.700."
    )
    assert "highest fine-tuned 1.300 vs lowest from scratch 6.500" in l2.statement


def test_init_distance_does_not_hold_when_one_fine_tuned_pair_is_not_closer_than_one_scratch_pair(tmp_path):
    # the best fine-tuned pair beats every scratch pair, the worst does not beat the best scratch pair
    spec = init_spec(tmp_path, ft=[(0.9, 1.2), (0.6, 7.0)], scratch=[(0.5, 6.5), (0.7, 8.1)])
    cka, l2 = judge(spec, "init_distance_cka"), judge(spec, "init_distance_l2")
    assert cka.verdict == FAILS and l2.verdict == FAILS
    assert "fine_tuned1_a vs fine_tuned1_b (0.600) is not above from_scratch1_a vs from_scratch1_b (0.700)" in (
        cka.statement
    )
    assert "fine_tuned1_a vs fine_tuned1_b (7.000) is not below from_scratch0_a vs from_scratch0_b (6.500)" in (
        l2.statement
    )


def test_init_distance_cannot_be_judged_without_the_key_or_with_a_file_missing(tmp_path):
    spec = init_spec(tmp_path, ft=[(0.9, 1.2)], scratch=[(0.5, 6.5), (0.7, 8.1)])
    missing = tmp_path / "from_scratch1_l2.csv"
    missing.unlink()
    f = judge(spec, "init_distance_l2")
    assert f.verdict == UNJUDGED and f"{missing} does not exist" in f.statement
    assert judge(spec, "init_distance_cka").verdict == HOLDS
    del spec["init_distance"]
    f = judge(spec, "init_distance_cka")
    assert f.verdict == UNJUDGED and "findings.init_distance" in f.statement


def test_init_distance_fails_on_a_counterexample_even_with_a_file_missing(tmp_path):
    spec = init_spec(tmp_path, ft=[(0.9, 7.0)], scratch=[(0.5, 6.5), (0.7, 8.1)])
    (tmp_path / "from_scratch1_l2.csv").unlink()
    assert judge(spec, "init_distance_l2").verdict == FAILS


# --- findings 6 and 7: result tables -----------------------------------------------------------------------------


def tables_spec(tmp_path, table1=None, table3=None) -> dict:
    t1, t3 = str(tmp_path / "table1.csv"), str(tmp_path / "table3.csv")
    if table1 is not None:
        write_result_table(t1, table1)
    if table3 is not None:
        write_result_table(t3, table3)
    main = {"paintings": "mAP", "iconart": "mAP"}
    return {
        "layers": SIX,
        "min_drop": 0.02,
        "fine_tuning": [
            {"table": "table1", "csv": t1, "better": "FT", "worse": "Off", "main_metrics": {"rasta": "top1"}},
            {"table": "table3", "csv": t3, "better": "FT3", "worse": "Off3", "main_metrics": main},
        ],
        "double_fine_tuning": [
            {"table": "table3", "csv": t3, "better": "Double", "worse": "FT3", "main_metrics": main}
        ],
    }


TABLE1 = [  # top1 decides; off-the-shelf's top3 is higher, which must not matter
    ("Off", "rasta", "top1", 31.0),
    ("Off", "rasta", "top3", 90.0),
    ("FT", "rasta", "top1", 55.0),
    ("FT", "rasta", "top3", 82.0),
]
TABLE3 = [
    ("Off3", "paintings", "mAP", 56.0),
    ("Off3", "iconart", "mAP", 53.2),
    ("FT3", "paintings", "mAP", 64.8),
    ("FT3", "iconart", "mAP", 59.2),
    ("Double", "paintings", "mAP", 65.6),
    ("Double", "iconart", "mAP", 67.4),
]


def test_fine_tuning_and_double_fine_tuning_hold_on_the_papers_numbers(tmp_path):
    spec = tables_spec(tmp_path, TABLE1, TABLE3)
    ft, double = judge(spec, "fine_tuning_beats_off_the_shelf"), judge(spec, "double_beats_direct")
    assert ft.verdict == HOLDS and double.verdict == HOLDS
    assert ft.statement == (
        "table1 rasta top1: FT 55.00 > Off 31.00; table3 paintings mAP: FT3 64.80 > Off3 56.00; "
        "table3 iconart mAP: FT3 59.20 > Off3 53.20."
    )
    assert ft.claim.endswith("(table1, table3)")


def test_one_dataset_where_the_rows_tie_makes_it_fail(tmp_path):
    table3 = [*TABLE3[:3], ("FT3", "iconart", "mAP", 53.2), *TABLE3[4:]]  # FT3 iconart ties with Off3
    ft = judge(tables_spec(tmp_path, TABLE1, table3), "fine_tuning_beats_off_the_shelf")
    assert ft.verdict == FAILS
    assert "fails: table3 iconart mAP: FT3 53.20 <= Off3 53.20" in ft.statement
    double = judge(tables_spec(tmp_path, TABLE1, [*TABLE3[:4], ("Double", "paintings", "mAP", 60.0), TABLE3[5]]),
                   "double_beats_direct")  # fmt: skip
    assert double.verdict == FAILS and "Double 60.00 <= FT3 64.80" in double.statement


def test_table_findings_cannot_be_judged_without_the_key_a_file_or_a_row(tmp_path):
    spec = tables_spec(tmp_path, TABLE1)  # table3.csv not written
    f = judge(spec, "fine_tuning_beats_off_the_shelf")
    assert f.verdict == UNJUDGED  # table1 holds, table3 cannot be read: not every comparison was made
    assert "table1 rasta top1: FT 55.00 > Off 31.00" in f.statement and "table3.csv does not exist" in f.statement
    f = judge(spec, "double_beats_direct")
    assert f.verdict == UNJUDGED and f.statement.startswith("no comparison could be made")
    f = judge(tables_spec(tmp_path, TABLE1, [line for line in TABLE3 if line[0] != "Double"]), "double_beats_direct")
    assert f.verdict == UNJUDGED and "has no row 'Double'" in f.statement
    spec = tables_spec(tmp_path, TABLE1, TABLE3)
    del spec["fine_tuning"], spec["double_fine_tuning"]
    assert "findings.fine_tuning" in judge(spec, "fine_tuning_beats_off_the_shelf").statement
    assert "findings.double_fine_tuning" in judge(spec, "double_beats_direct").statement


def test_the_main_metric_defaults_to_the_rows_first_metric(tmp_path):
    spec = tables_spec(tmp_path, TABLE1, TABLE3)
    del spec["fine_tuning"][0]["main_metrics"]
    assert judge(spec, "fine_tuning_beats_off_the_shelf").verdict == HOLDS  # top1, listed first


# --- config: schema, cross-references, spec and inputs -----------------------------------------------------------


DEMO_FINDINGS = {
    "depth": {"pair": ["styles_B/1", "styles_B/2"], "overlap_k": 10},
    "init_distance": {
        "fine_tuned": [["imagenet", "styles_A/1"]],
        "from_scratch": [["objects_A/1", "objects_A/2"]],
    },
    "fine_tuning": [{"table": "table1", "fine_tuned": "FT mode A", "off_the_shelf": "Off-the-shelf"}],
    "double_fine_tuning": [
        {"table": "table3", "double": "FT from ImageNet then RASTA", "direct": "FT from ImageNet (mode A)"}
    ],
}


def with_findings(cfg: dict, findings: dict) -> dict:
    cfg = copy.deepcopy(cfg)
    cfg["findings"] = copy.deepcopy(findings)
    return cfg


def test_the_findings_section_is_optional_and_gets_its_default(demo_config_dict):
    cfg = dict(demo_config_dict)
    cfg.pop("findings", None)
    assert prepare_config(cfg)["findings"] == {"min_drop": 0.02}
    spec = findings_spec(prepare_config(cfg))
    assert [f.verdict for f in evaluate_findings(spec)] == [UNJUDGED] * 7


def test_the_findings_pairs_are_measured(demo_config_dict):
    cfg = prepare_config(with_findings(demo_config_dict, DEMO_FINDINGS))
    pairs = analysis_pairs(cfg)
    assert ("styles_B/1", "styles_B/2") in pairs and ("objects_A/1", "objects_A/2") in pairs
    assert ("styles_B/1", "styles_B/2") not in analysis_pairs(prepare_config(demo_config_dict))


def test_findings_spec_and_inputs_from_the_demo_config(demo_config_dict):
    cfg = prepare_config(with_findings(demo_config_dict, DEMO_FINDINGS))
    spec = findings_spec(cfg)
    folder = paths.pair_dir(cfg, ["styles_B/1", "styles_B/2"])
    assert spec["depth"] == {
        "pair": ["styles_B/1", "styles_B/2"],
        "cka": f"{folder}/cka.csv",
        "overlap": f"{folder}/overlap.csv",
        "overlap_k": 10,
        "entropy_k": 40,  # the largest topk
    }
    assert spec["fine_tuning"][0]["main_metrics"] == {"demo_styles": "top1"}
    assert spec["double_fine_tuning"][0]["main_metrics"] == {"demo_objects": "mAP"}
    inputs = findings_inputs(cfg)
    assert inputs["overlap"] == [f"{folder}/overlap.csv"]
    assert inputs["cka"][0] == f"{folder}/cka.csv" and len(inputs["cka"]) == 3
    assert len(inputs["l2"]) == 2
    assert inputs["tables"] == [paths.table_path(cfg, "table1"), paths.table_path(cfg, "table3")]
    assert json.loads(json.dumps(spec)) == spec  # plain values: the rule can pass it as JSON


def test_the_paper_config_judges_the_papers_pairs_and_rows():
    cfg = load_config(PAPER_CONFIG)
    spec = findings_spec(cfg)
    assert spec["depth"]["pair"] == ["imagenet", "rasta_A/1"]
    assert (spec["depth"]["overlap_k"], spec["depth"]["entropy_k"]) == (100, 1000)
    scratch = [e["pair"] for e in spec["init_distance"]["from_scratch"]]
    assert scratch == [
        ["rasta_from_scratch/1/init", "rasta_from_scratch/1"],
        ["rasta_end_from_scratch/1/init", "rasta_end_from_scratch/1"],
    ]
    assert [(e["table"], e["better"], e["worse"]) for e in spec["fine_tuning"]] == [
        ("table1", "FT mode A", "Off-the-shelf"),
        ("table3", "FT from ImageNet (mode A)", "Off-the-shelf ImageNet"),
    ]
    assert spec["fine_tuning"][1]["main_metrics"] == {"paintings": "mAP", "iconart": "mAP"}
    assert spec["double_fine_tuning"][0]["better"] == "FT from ImageNet then RASTA"
    assert paths.findings_path(cfg) == "results/findings.md"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: f["fine_tuning"][0].update(off_the_shelf="Off the shelf"),
            r"findings\.fine_tuning\[0\]\.off_the_shelf is 'Off the shelf', which is not a row of tables\.table1 "
            r"\('Off-the-shelf', 'FT mode A'",
        ),
        (
            lambda f: f["depth"].update(overlap_k=7),
            r"findings\.depth\.overlap_k is 7, which is not in topk \[10, 40\]; add it to topk or change it",
        ),
        (
            lambda f: f["depth"].update(entropy_k=100),
            r"findings\.depth\.entropy_k is 100, which is not in topk \[10, 40\]",
        ),
        (
            lambda f: f["double_fine_tuning"][0].update(table="table2"),
            r"findings\.double_fine_tuning\[0\]\.table is 'table2', which is not in tables \(table1, table3\) "
            r"\(a comparison table has no accuracy to compare\)",
        ),
        (
            lambda f: f["double_fine_tuning"][0].update(direct="FT from ImageNet then RASTA"),
            r"findings\.double_fine_tuning\[0\] compares row 'FT from ImageNet then RASTA' with itself",
        ),
        (
            lambda f: f["init_distance"]["fine_tuned"].append(["imagenet", "styles_A/3"]),
            r"findings\.init_distance\.fine_tuned\[1\]: model 'styles_A/3' names seed '3'",
        ),
        (lambda f: f.update(min_dorp=0.1), r"unknown key 'min_dorp' in findings; remove it"),
        (lambda f: f["depth"].pop("pair"), r"findings\.depth is missing a required key: 'pair'"),
    ],
)
def test_a_bad_findings_section_is_one_clear_error(demo_config_dict, change, message):
    findings = copy.deepcopy(DEMO_FINDINGS)
    change(findings)
    with pytest.raises(ConfigError, match=message):
        prepare_config(with_findings(demo_config_dict, findings))


def test_rows_without_a_common_dataset_are_refused(demo_config_dict):
    cfg = copy.deepcopy(demo_config_dict)
    cfg["tables"]["mixed"] = {
        "rows": [{"label": "styles", "runs": ["styles_A"]}, {"label": "obj", "runs": ["objects_A"]}]
    }
    findings = {"fine_tuning": [{"table": "mixed", "fine_tuned": "styles", "off_the_shelf": "obj"}]}
    with pytest.raises(
        ConfigError, match=r"findings\.fine_tuning\[0\]: rows 'styles' and 'obj' of tables\.mixed share"
    ):
        prepare_config(with_findings(cfg, findings))


# --- outputs and the command line --------------------------------------------------------------------------------


def fill_study(cfg: dict) -> None:
    """Hand-made files at the paths the findings read: every claim holds but the double fine-tuning one."""
    layers = cfg["layers"]
    spec = findings_spec(cfg)
    depth = spec["depth"]
    for path in [*findings_inputs(cfg)["cka"], *findings_inputs(cfg)["l2"], depth["overlap"]]:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    falling = [1.0 - 0.05 * i for i in range(len(layers))]
    write_cka(depth["cka"], dict(zip(layers, falling, strict=True)))
    per_layer = {
        layer: {"overlap": [v], "entropy_a": [v], "entropy_b": [v]} for layer, v in zip(layers, falling, strict=True)
    }
    write_overlap(depth["overlap"], per_layer, k=10, other_k=40)
    for entry, cka, l2 in [
        (spec["init_distance"]["fine_tuned"][0], 0.9, 0.1),
        (spec["init_distance"]["from_scratch"][0], 0.4, 0.9),
    ]:
        write_cka(entry["cka"], dict.fromkeys(layers, cka))
        write_l2(entry["l2"], l2)
    for table, lines in (
        ("table1", [("Off-the-shelf", "demo_styles", "top1", 26.4), ("FT mode A", "demo_styles", "top1", 37.5)]),
        (
            "table3",
            [
                ("FT from ImageNet (mode A)", "demo_objects", "mAP", 22.1),
                ("FT from ImageNet then RASTA", "demo_objects", "mAP", 21.0),
            ],
        ),
    ):
        Path(paths.table_path(cfg, table)).parent.mkdir(parents=True, exist_ok=True)
        write_result_table(paths.table_path(cfg, table), lines)


@pytest.fixture
def study(tmp_path, demo_config_dict):
    cfg = with_findings(demo_config_dict, DEMO_FINDINGS)
    cfg["findings"]["depth"]["entropy_k"] = 10
    cfg["results"] = str(tmp_path / "results")
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(cfg))
    fill_study(load_config(config_file))
    return config_file, load_config(config_file)


def test_write_findings_writes_markdown_and_csv(study, tmp_path):
    _, cfg = study
    md, out_csv = tmp_path / "out" / "findings.md", tmp_path / "out" / "findings.csv"
    findings = write_findings(findings_spec(cfg), md, out_csv)
    assert [f.verdict for f in findings] == [HOLDS] * 6 + [FAILS]
    lines = md.read_text().splitlines()
    assert lines[0] == "# Findings: the paper's claims checked on this study's outputs"
    assert lines[2].startswith("- **holds** — Linear CKA between styles_B/1 and styles_B/2 falls with depth (fig. 5): ")
    assert lines[8].startswith("- **does not hold** — Fine-tuning on RASTA first")
    assert "report/findings/__init__.py" in lines[-1]
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == [
        "cka_depth",
        "overlap_depth",
        "entropy_depth",
        "init_distance_cka",
        "init_distance_l2",
        "fine_tuning_beats_off_the_shelf",
        "double_beats_direct",
    ]
    assert rows[6]["verdict"] == FAILS and "21.00 <= FT from ImageNet (mode A) 22.10" in rows[6]["statement"]
    assert sorted(p.name for p in md.parent.iterdir()) == ["findings.csv", "findings.md"]  # no temporary left


def test_the_cli_judges_a_study_and_survives_a_missing_file(study, tmp_path, capsys):
    config_file, cfg = study
    md, out_csv = tmp_path / "findings.md", tmp_path / "findings.csv"
    assert main(["findings", str(config_file), "--out", str(md), "--csv", str(out_csv)]) == 0
    assert capsys.readouterr().out == md.read_text()
    assert md.read_text().count("- **holds**") == 6
    overlap = findings_spec(cfg)["depth"]["overlap"]
    Path(overlap).unlink()
    assert main(["findings", str(config_file), "--out", str(md)]) == 0
    text = md.read_text()
    assert text.count("- **cannot be judged**") == 2 and f"{overlap} does not exist" in text
    spec = json.dumps(findings_spec(cfg))
    assert main(["findings", "--spec-json", spec, "--out", str(tmp_path / "again.md")]) == 0
    assert (tmp_path / "again.md").read_text() == text


def test_summary_prints_the_findings(study, capsys):
    config_file, cfg = study
    assert main(["summary", str(config_file)]) == 0
    assert "findings: not judged yet" in capsys.readouterr().out
    write_findings(findings_spec(cfg), paths.findings_path(cfg), paths.findings_path(cfg, "csv"))
    assert main(["summary", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert f"findings: {paths.findings_path(cfg)}" in out and "- **holds** — Linear CKA" in out


def test_the_cli_needs_a_config_or_a_spec(tmp_path, capsys):
    assert main(["findings", "--out", str(tmp_path / "f.md")]) == 2  # one sentence, no traceback
    assert "give the study config" in capsys.readouterr().err
    assert not (tmp_path / "f.md").exists()


def test_the_readme_quotes_the_definitions_of_the_module():
    """The verdicts are defined once, in the module; the README quotes that text verbatim (backticks as Markdown)."""
    import artfinetune.report.findings as module

    definitions = module.__doc__.split("\n", 2)[2].strip().replace("``", "`")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert definitions in readme, "README.md's 'Findings: how each verdict is decided' differs from findings.py"


def test_the_pretrained_models_entropy_is_reported_never_judged(tmp_path):
    """Model A's entropy is only shown beside: a layer where none of its sets has a labelled image (all NaN) leaves
    the verdict, judged on model B, as it is."""
    a = [[0.5, 0.5]] * 5 + [[float("nan"), float("nan")]]
    b = [[0.5, 0.5]] * 3 + [[0.9, 0.9], [0.8, 0.8], [0.7, 0.7]]
    f = judge(depth_spec(tmp_path, overlap=layers_with([[0.5, 0.5]] * 6, a, b)), "entropy_depth")
    assert f.verdict == HOLDS, f.statement
    assert "imagenet: not reported (" in f.statement and "NaN at layer(s) mixed4a" in f.statement
