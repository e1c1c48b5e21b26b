"""The findings' verdicts: each claim judged on hand-made metric files and tables with hand-written answers."""

from __future__ import annotations

import math

import pytest

from artfinetune.model.layers import STUDY_LAYERS
from artfinetune.report.findings import (
    FAILS,
    HOLDS,
    UNJUDGED,
    entropy_layers,
    falls,
    third,
    trend,
)

from .findings_files import (
    SIX,
    judge,
    write_cka,
    write_l2,
    write_l2_per_layer,
    write_overlap,
    write_result_table,
)

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


# --- layer order: network order, whatever order the config lists its layers in ------------------------------------

SHUFFLED = ["mixed3a", "conv2d0", "mixed4a", "conv2d2", "mixed3b", "conv2d1"]  # SIX, shuffled


def test_the_depth_findings_hold_the_same_on_a_shuffled_layers_list(tmp_path):
    cka = dict(zip(SIX, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5], strict=True))
    overlap = [[m + 0.05, m - 0.05] for m in (0.9, 0.8, 0.7, 0.6, 0.5, 0.4)]
    b = [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.9, 0.9], [0.8, 0.8], [0.7, 0.7]]
    in_order = depth_spec(tmp_path, cka=cka, overlap=layers_with(overlap, b=b))
    shuffled = {**in_order, "layers": list(SHUFFLED)}
    expected = {
        "cka_depth": (
            "1.000 at conv2d0 ... 0.500 at mixed4a; Spearman rho -1.00, shallow third 0.95 vs deep third 0.55."
        ),
        "overlap_depth": (
            "0.900 at conv2d0 ... 0.400 at mixed4a; Spearman rho -1.00, shallow third 0.85 vs deep third 0.45 "
            "(chance level k/n = 0.05)."
        ),
        "entropy_depth": (
            "0.900 at mixed3a ... 0.700 at mixed4a; Spearman rho -1.00, shallow third 0.90 vs deep third 0.70; "
            "imagenet: 0.500 at mixed3a ... 0.500 at mixed4a, Spearman rho undefined, shallow third 0.50 vs deep "
            "third 0.50."
        ),
    }
    for ident, statement in expected.items():
        for spec in (in_order, shuffled):
            f = judge(spec, ident)
            assert (f.verdict, f.statement) == (HOLDS, statement), (ident, spec["layers"])


def test_a_cka_that_rises_with_depth_does_not_fall_when_the_config_lists_the_layers_deepest_first(tmp_path):
    cka = dict(zip(SIX, [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], strict=True))  # in the config's order it would fall
    f = judge(depth_spec(tmp_path, cka=cka, layers=list(reversed(SIX))), "cka_depth")
    assert f.verdict == FAILS
    assert f.statement == (
        "0.500 at conv2d0 ... 1.000 at mixed4a; Spearman rho 1.00, shallow third 0.55 vs deep third 0.95; does not "
        "fall: Spearman rho 1.00 is above -0.5; shallow third minus deep third is -0.400, below min_drop 0.02."
    )


def test_the_entropy_takes_the_deep_half_of_the_network_not_the_second_half_of_the_config_list(tmp_path):
    # listed deepest first, mixed4a would fall in the first half of the list; in network order it is the deepest
    # layer, where no channel of the fine-tuned model has a labelled image: the finding cannot be judged
    layers = ["mixed4a", "conv2d0", "conv2d1", "conv2d2", "mixed3a", "mixed3b"]
    b = [[0.5, 0.5]] * 3 + [[0.9, 0.9], [0.8, 0.8], [float("nan"), float("nan")]]
    spec = depth_spec(tmp_path, overlap=layers_with([[0.5, 0.5]] * 6, b=b), layers=layers)
    f = judge(spec, "entropy_depth")
    assert f.verdict == UNJUDGED
    assert (
        f.statement
        == f"the mean entropy of rasta_A/1 at k = 10 in {tmp_path / 'overlap.csv'} is NaN at layer(s) mixed4a."
    )
    assert entropy_layers(layers) == ["mixed3a", "mixed3b", "mixed4a"]


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


# --- findings 4 and 5: layers a compared model kept frozen -------------------------------------------------------

LOW = ["conv2d0", "conv2d1", "conv2d2", "mixed3a", "mixed3b"]  # what the end from scratch keeps frozen from ImageNet
EIGHT = [*SIX, "mixed4b", "mixed4c"]
END = "rasta_end_from_scratch/1"


def frozen_spec(tmp_path, cka: dict, l2: dict, layers=EIGHT, frozen: dict | None = None) -> dict:
    """The paper's pairs: imagenet vs rasta_A/1 (fine-tuned), from scratch and end from scratch vs their inits (from
    scratch), the end from scratch having kept LOW frozen (unless ``frozen`` says otherwise). ``cka``: pair name ->
    linear CKA at each layer of EIGHT; ``l2``: pair name -> l2 of each convolution of LOW, of each other one."""
    frozen = {"end": {END: LOW}} if frozen is None else frozen
    pairs = {"ft": ["imagenet", "rasta_A/1"], "scratch": ["rasta_from_scratch/1/init", "rasta_from_scratch/1"]}
    pairs["end"] = [f"{END}/init", END]
    entries = {}
    for name, pair in pairs.items():
        low, high = l2[name]
        entries[name] = {
            "pair": pair,
            "cka": write_cka(tmp_path / f"{name}_cka.csv", dict(zip(EIGHT, cka[name], strict=True))),
            "l2": write_l2_per_layer(tmp_path / f"{name}_l2.csv", {x: low if x in LOW else high for x in STUDY_LAYERS}),
            "frozen": frozen.get(name, {}),
        }
    groups = {"fine_tuned": [entries["ft"]], "from_scratch": [entries["scratch"], entries["end"]]}
    return {"layers": list(layers), "min_drop": 0.02, "init_distance": groups}


CKA = {
    "ft": [0.95, 0.9, 0.85, 0.8, 0.75, 0.6, 0.5, 0.4],  # mean 0.71875; 0.5 over mixed4a, mixed4b, mixed4c
    "scratch": [0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1],  # 0.1 over mixed4a ... mixed4c
    "end": [1.0, 1.0, 1.0, 1.0, 1.0, 0.45, 0.35, 0.25],  # 1 where frozen: mean 0.75625, 0.35 over mixed4a ...
}
L2 = {"ft": (1.5, 1.0), "scratch": (3.0, 6.0), "end": (0.0, 1.05)}  # files' means (15 low, 42 high convolutions):
# ft (15 * 1.5 + 42 * 1.0) / 57 = 1.132, end 42 * 1.05 / 57 = 0.774: over every convolution the end from scratch
# looks closer to its init than fine-tuning does, only because it kept 15 of them frozen
LEFT_OUT_CKA = (
    "averaged over the 3 layers no compared model kept frozen (mixed4a, mixed4b, mixed4c), the same for every "
    "pair; left out: conv2d0, conv2d1, conv2d2, mixed3a, mixed3b, which rasta_end_from_scratch/1 kept frozen from "
    "its init (a model equals its init at a frozen layer: CKA 1 there by construction); "
)
LEFT_OUT_L2 = (
    "averaged over the 42 convolutions of the layers no compared model kept frozen (mixed4a, mixed4b, mixed4c, "
    "mixed4d, mixed4e, mixed5a, mixed5b), the same for every pair; left out: the 15 convolutions of conv2d0, "
    "conv2d1, conv2d2, mixed3a, mixed3b, which rasta_end_from_scratch/1 kept frozen from its init (a model equals "
    "its init at a frozen layer: l2 0 there by construction); "
)


def test_init_distance_holds_over_the_layers_no_compared_model_kept_frozen(tmp_path):
    for layers in (EIGHT, ["mixed4c", "conv2d2", "mixed3a", "conv2d0", "mixed4a", "mixed3b", "mixed4b", "conv2d1"]):
        spec = frozen_spec(tmp_path, CKA, L2, layers=layers)
        cka, l2 = judge(spec, "init_distance_cka"), judge(spec, "init_distance_l2")
        assert (cka.verdict, l2.verdict) == (HOLDS, HOLDS), layers
        assert cka.statement == LEFT_OUT_CKA + (
            "mean CKA of the fine-tuned pairs: imagenet vs rasta_A/1 0.500; mean CKA of the from-scratch pairs: "
            "rasta_from_scratch/1/init vs rasta_from_scratch/1 0.100, rasta_end_from_scratch/1/init vs "
            "rasta_end_from_scratch/1 0.350; lowest fine-tuned 0.500 vs highest from scratch 0.350."
        )
        assert l2.statement == LEFT_OUT_L2 + (
            "mean l2 of the fine-tuned pairs: imagenet vs rasta_A/1 1.000; mean l2 of the from-scratch pairs: "
            "rasta_from_scratch/1/init vs rasta_from_scratch/1 6.000, rasta_end_from_scratch/1/init vs "
            "rasta_end_from_scratch/1 1.050; highest fine-tuned 1.000 vs lowest from scratch 1.050."
        )
    # the same files with the frozen layers counted: the end from scratch's frozen half decides both
    spec = frozen_spec(tmp_path, CKA, L2, frozen={})
    cka, l2 = judge(spec, "init_distance_cka"), judge(spec, "init_distance_l2")
    assert cka.verdict == FAILS and "imagenet vs rasta_A/1 (0.719) is not above rasta_end_from_scratch/1/init" in (
        cka.statement
    )
    assert l2.verdict == FAILS and "imagenet vs rasta_A/1 (1.132) is not below rasta_end_from_scratch/1/init" in (
        l2.statement
    )


def test_init_distance_does_not_hold_when_the_unfrozen_layers_moved_less_from_scratch(tmp_path):
    cka = {**CKA, "end": [1.0] * 5 + [0.65, 0.55, 0.45]}  # 0.55 over mixed4a ... mixed4c, above 0.5
    l2 = {**L2, "end": (0.0, 0.95)}  # 0.95 over the 42 convolutions, below 1.0
    spec = frozen_spec(tmp_path, cka, l2, layers=list(reversed(EIGHT)))
    f = judge(spec, "init_distance_cka")
    assert f.verdict == FAILS
    assert f.statement == LEFT_OUT_CKA + (
        "mean CKA of the fine-tuned pairs: imagenet vs rasta_A/1 0.500; mean CKA of the from-scratch pairs: "
        "rasta_from_scratch/1/init vs rasta_from_scratch/1 0.100, rasta_end_from_scratch/1/init vs "
        "rasta_end_from_scratch/1 0.550; lowest fine-tuned 0.500 vs highest from scratch 0.550; fails: imagenet vs "
        "rasta_A/1 (0.500) is not above rasta_end_from_scratch/1/init vs rasta_end_from_scratch/1 (0.550)."
    )
    f = judge(spec, "init_distance_l2")
    assert f.verdict == FAILS
    assert f.statement == LEFT_OUT_L2 + (
        "mean l2 of the fine-tuned pairs: imagenet vs rasta_A/1 1.000; mean l2 of the from-scratch pairs: "
        "rasta_from_scratch/1/init vs rasta_from_scratch/1 6.000, rasta_end_from_scratch/1/init vs "
        "rasta_end_from_scratch/1 0.950; highest fine-tuned 1.000 vs lowest from scratch 0.950; fails: imagenet vs "
        "rasta_A/1 (1.000) is not below rasta_end_from_scratch/1/init vs rasta_end_from_scratch/1 (0.950)."
    )


def test_init_distance_cannot_be_judged_when_every_layer_was_kept_frozen(tmp_path):
    f = judge(frozen_spec(tmp_path, CKA, L2, layers=list(reversed(LOW))), "init_distance_cka")
    assert f.verdict == UNJUDGED
    assert f.statement == (
        "no layer is left to compare: the config's layers are all left out: conv2d0, conv2d1, conv2d2, mixed3a, "
        "mixed3b, which rasta_end_from_scratch/1 kept frozen from its init (a model equals its init at a frozen "
        "layer: CKA 1 there by construction); add to layers some that no model of a compared pair kept frozen."
    )
    assert judge(frozen_spec(tmp_path, CKA, L2, layers=LOW), "init_distance_cka").statement == f.statement
    every = {"end": {END: list(STUDY_LAYERS)}}  # an off-the-shelf mode keeps the whole trunk frozen
    f = judge(frozen_spec(tmp_path, CKA, L2, frozen=every), "init_distance_l2")
    assert f.verdict == UNJUDGED
    assert f.statement == (
        f"no convolution is left to compare: every layer of the trunk is left out: {', '.join(STUDY_LAYERS)}, which "
        "rasta_end_from_scratch/1 kept frozen from its init (a model equals its init at a frozen layer: l2 0 there "
        "by construction)."
    )
    spec = frozen_spec(tmp_path, CKA, L2)
    write_l2(spec["init_distance"]["fine_tuned"][0]["l2"], 1.2)  # its mean only: no l2 per convolution
    f = judge(spec, "init_distance_l2")
    assert f.verdict == UNJUDGED and "ft_l2.csv has no l2 of mixed4a_1x1, mixed4a_3x3_bottleneck" in f.statement


def test_the_frozen_layers_of_several_models_are_left_out_of_every_pair_and_each_named(tmp_path):
    frozen = {"ft": {"rasta_A/1": ["mixed4a"]}, "end": {END: list(reversed(LOW))}}  # as if rasta_A froze mixed4a
    f = judge(frozen_spec(tmp_path, CKA, L2, frozen=frozen), "init_distance_cka")
    assert f.verdict == HOLDS
    assert f.statement.startswith(
        "averaged over the 2 layers no compared model kept frozen (mixed4b, mixed4c), the same for every pair; "
        "left out: conv2d0, conv2d1, conv2d2, mixed3a, mixed3b, mixed4a, which rasta_A/1 (mixed4a) and "
        "rasta_end_from_scratch/1 (conv2d0, conv2d1, conv2d2, mixed3a, mixed3b) kept frozen from their inits (a "
        "model equals its init at a frozen layer: CKA 1 there by construction); mean CKA of the fine-tuned pairs: "
        "imagenet vs rasta_A/1 0.450; "
    )


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


def test_the_pretrained_models_entropy_is_reported_never_judged(tmp_path):
    """Model A's entropy is only shown beside: a layer where none of its sets has a labelled image (all NaN) leaves
    the verdict, judged on model B, as it is."""
    a = [[0.5, 0.5]] * 5 + [[float("nan"), float("nan")]]
    b = [[0.5, 0.5]] * 3 + [[0.9, 0.9], [0.8, 0.8], [0.7, 0.7]]
    f = judge(depth_spec(tmp_path, overlap=layers_with([[0.5, 0.5]] * 6, a, b)), "entropy_depth")
    assert f.verdict == HOLDS, f.statement
    assert "imagenet: not reported (" in f.statement and "NaN at layer(s) mixed4a" in f.statement


# --- render change against overlap (the paper's open question) --------------------------------------------------


def test_the_spearman_interval_by_hand():
    from artfinetune.report.findings.correlation import spearman_interval

    # y's ranks: 1, 2, 3.5, 5, 3.5 (a tie); against 1..5: sum of products of deviations 8, of squares 10 and 9.5
    c = spearman_interval([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])
    rho = 8 / math.sqrt(10 * 9.5)
    assert c.rho == pytest.approx(rho) and c.n == 5
    z, se = math.atanh(rho), math.sqrt(1.06 / 2)  # Fisher, with Fieller's 1.06 for ranks, n - 3 = 2
    assert (c.low, c.high) == (pytest.approx(math.tanh(z - 1.959964 * se)), pytest.approx(math.tanh(z + 1.959964 * se)))
    assert (round(c.low, 3), round(c.high, 3)) == (-0.261, 0.989)
    nan = spearman_interval([1, 2, float("nan"), 4, 5, 6], [1, 1, 1, 1, 1, 1])  # constant: no correlation
    assert math.isnan(nan.rho) and nan.n == 5


def test_the_spearman_interval_covers_a_known_correlation():
    """Coverage on bivariate normal samples with rho_s = (6 / pi) asin(r / 2) (Pearson r = 0.5 -> 0.4826)."""
    import numpy as np

    from artfinetune.report.findings.correlation import spearman_interval

    rng = np.random.default_rng(0)
    truth = 6 / math.pi * math.asin(0.25)
    cover = []
    for _ in range(400):
        x = rng.normal(size=40)
        y = 0.5 * x + math.sqrt(0.75) * rng.normal(size=40)
        c = spearman_interval(x, y)
        cover.append(c.low <= truth <= c.high)
    assert 0.92 <= np.mean(cover) <= 0.98  # 95 % nominal; 400 draws: binomial sd 1.1 %


def write_render_change(path, overlaps, changes, sampled=None):
    import pandas as pd

    n = len(overlaps)
    sampled = [True] * n if sampled is None else sampled
    rows = {
        "layer": [SIX[i % 6] for i in range(n)],
        "channel": list(range(n)),
        "label": [f"{SIX[i % 6]}:{i}" for i in range(n)],
        "sampled": sampled,
        "overlap": overlaps,
        "render_change": changes,
    }
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def render_change_spec(csv, minimum=10):
    return {"render_change": {"pair": ["imagenet", "a/1"], "csv": csv, "k": 10, "min_channels": minimum}}


def test_render_change_holds_when_lower_overlap_goes_with_more_change(tmp_path):
    overlaps = [i / 20 for i in range(20)]
    changes = [1 - o + (0.05 if i % 2 else -0.05) for i, o in enumerate(overlaps)]  # falls with overlap, noisy
    f = judge(render_change_spec(write_render_change(tmp_path / "c.csv", overlaps, changes)), "render_change_overlap")
    assert f.verdict == HOLDS and "over 20 channels drawn at random in 6 layers" in f.statement
    # each pair of neighbours swapped against a perfect fall: sum of squared rank differences 2640 (by hand), so
    # rho = 1 - 6 * 2640 / (20 * 399) = -0.985
    assert "Spearman rho between top-10 overlap and render change = -0.98 (95 % CI" in f.statement


def test_render_change_does_not_hold_when_unrelated_or_opposite(tmp_path):
    overlaps = [i / 20 for i in range(20)]
    flat = [0.5 + (0.1 if i % 2 else -0.1) for i in range(20)]  # alternates: rho near 0
    f = judge(render_change_spec(write_render_change(tmp_path / "a.csv", overlaps, flat)), "render_change_overlap")
    assert f.verdict == FAILS and "includes 0" in f.statement
    f = judge(render_change_spec(write_render_change(tmp_path / "b.csv", overlaps, overlaps)), "render_change_overlap")
    assert f.verdict == FAILS and "opposite sign" in f.statement


def test_render_change_cannot_be_judged_on_too_few_sampled_channels(tmp_path):
    overlaps = [i / 20 for i in range(20)]
    sampled = [i < 8 for i in range(20)]  # the 12 others are the gallery's chosen channels: not counted
    path = write_render_change(tmp_path / "c.csv", overlaps, [1 - o for o in overlaps], sampled)
    f = judge(render_change_spec(path, minimum=10), "render_change_overlap")
    assert f.verdict == UNJUDGED and "8 randomly sampled channels" in f.statement and "render.sample" in f.statement
    f = judge({}, "render_change_overlap")
    assert f.verdict == UNJUDGED and "findings.render_change" in f.statement


# --- each verdict against the spread across seeds ------------------------------------------------------------------


def test_a_depth_findings_drop_is_compared_with_its_seed_variants(tmp_path):
    cka = dict(zip(SIX, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5], strict=True))  # drop 0.95 - 0.55 = 0.40
    spec = depth_spec(tmp_path, cka=cka)
    seed2 = write_cka(tmp_path / "seed2.csv", dict(zip(SIX, [1.0, 0.95, 0.9, 0.85, 0.8, 0.75], strict=True)))
    spec["depth"]["variants"] = [{"pair": ["imagenet", "rasta_A/2"], "cka": seed2, "overlap": "none"}]
    f = judge(spec, "cka_depth")  # seed 2 drops 0.975 - 0.775 = 0.200: spread 0.200 < 0.400
    assert f.verdict == HOLDS
    assert f.statement.endswith(
        "; the drop over seeds 0.400, 0.200: seed spread 0.200, the effect (0.400) is larger than the seed spread."
    )
    flat = write_cka(tmp_path / "flat.csv", dict.fromkeys(SIX, 0.9))  # drop 0: spread 0.400, not larger
    spec["depth"]["variants"][0]["cka"] = flat
    assert "seed spread 0.400, the effect (0.400) is within the seed spread" in judge(spec, "cka_depth").statement
    spec["depth"]["variants"][0]["cka"] = str(tmp_path / "absent.csv")
    f = judge(spec, "cka_depth")
    assert f.verdict == HOLDS and "seed variants not read: imagenet vs rasta_A/2:" in f.statement


def test_an_init_distance_gap_is_compared_with_the_largest_seed_spread_of_a_pair(tmp_path):
    spec = init_spec(tmp_path, ft=[(0.9, 1.2), (0.8, 1.3)], scratch=[(0.5, 6.5), (0.7, 8.1)])
    (tmp_path / "seed2").mkdir()
    other = init_spec(tmp_path / "seed2", ft=[(0.75, 1.0)], scratch=[(0.4, 6.0)])["init_distance"]  # seed 2's
    spec["init_distance"]["fine_tuned"][0]["variants"] = other["fine_tuned"]  # 0.900 vs 0.750: spread 0.150
    spec["init_distance"]["from_scratch"][0]["variants"] = other["from_scratch"]  # 0.500 vs 0.400: spread 0.100
    f = judge(spec, "init_distance_cka")  # gap: lowest fine-tuned 0.800 - highest from scratch 0.700 = 0.100
    assert f.verdict == HOLDS
    assert (
        "; the gap between the groups (0.100) is within the largest seed spread of a pair (fine_tuned0_a vs "
        "fine_tuned0_b: 0.150 over its seeds)." in f.statement
    )
    l2 = judge(spec, "init_distance_l2")  # gap 6.5 - 1.3 = 5.2; spreads 1.2 - 1.0 = 0.2 and 6.5 - 6.0 = 0.5
    assert "gap between the groups (5.200) is larger than the largest seed spread of a pair" in l2.statement
    assert "(from_scratch0_a vs from_scratch0_b: 0.500 over its seeds)" in l2.statement
    # the claim contradicted: the gap's size, not its sign, is what a second training could or could not undo
    spec["init_distance"]["from_scratch"][1]["cka"] = write_cka(tmp_path / "high.csv", dict.fromkeys(SIX[:3], 0.99))
    f = judge(spec, "init_distance_cka")  # gap 0.800 - 0.990 = -0.190
    assert f.verdict == FAILS and "the gap between the groups (-0.190, against the claim) is larger than" in f.statement


def test_a_table_findings_difference_is_compared_with_the_rows_seed_spread(tmp_path):
    import pandas as pd

    spec = tables_spec(tmp_path, TABLE1, TABLE3)
    frame = pd.read_csv(spec["fine_tuning"][0]["csv"])
    frame["spread"] = [2.0, 1.0, 30.0, 1.0]  # FT's top1 spread 30 against a difference of 55 - 31 = 24
    frame.to_csv(spec["fine_tuning"][0]["csv"], index=False)
    f = judge(spec, "fine_tuning_beats_off_the_shelf")
    assert f.verdict == HOLDS  # the verdict is the means'; the spread is said beside
    assert "FT 55.00 > Off 31.00 (difference 24.00 within the rows' largest seed spread 30.00)" in f.statement
    frame["spread"] = [2.0, 1.0, 5.0, 1.0]
    frame.to_csv(spec["fine_tuning"][0]["csv"], index=False)
    assert (
        "(difference 24.00 larger than the rows' largest seed spread 5.00)"
        in judge(spec, "fine_tuning_beats_off_the_shelf").statement
    )
