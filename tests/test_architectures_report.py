"""The architectures comparison: relative depth, the curves read from each architecture's metric files, the verdicts
per architecture (judged with that architecture's own layers and convolutions), the figure and the table."""

import math

import pandas as pd
import pytest

from artfinetune.report.architectures import (
    depth_curves,
    draw_depth_figure,
    relative_depths,
    verdict_table,
    write_architectures,
)

from .findings_files import TIDY, write_cka, write_overlap

RESNET = ["conv1_relu", "conv3_block1_out", "conv5_block3_out"]
VGG = ["block1_conv1", "block2_pool", "block4_conv1", "block5_pool"]


def test_relative_depth_runs_from_0_at_the_first_analysed_layer_to_1_at_the_last():
    from artfinetune.model.architectures import architecture

    inception = relative_depths(["mixed5b", "conv2d0", "mixed3a"])  # network order, whatever the given order
    assert inception == {"conv2d0": 0.0, "mixed3a": 0.5, "mixed5b": 1.0}
    resnet = relative_depths(list(architecture("resnet50").study_layers))
    assert resnet["conv1_relu"] == 0 and resnet["conv5_block3_out"] == 1
    assert resnet["conv3_block2_out"] == pytest.approx(5 / 16)  # the 6th of 17: stem, 3 conv2 blocks, then conv3's
    assert relative_depths(["block3_pool"]) == {"block3_pool": 0.0}


def _architecture_spec(tmp_path, arch: str, layers: list[str], cka: list[float], overlap: list[list[float]],
                       entropy: list[list[float]]) -> dict:  # fmt: skip
    """A findings spec of one architecture whose depth pair has hand-made files (the overlap file's other k holds
    1 - v, so reading the wrong k shows)."""
    cka_csv = write_cka(tmp_path / f"{arch}_cka.csv", dict(zip(layers, cka, strict=True)))
    per_layer = {layer: {"overlap": o, "entropy_a": [0.5] * len(e), "entropy_b": e}
                 for layer, o, e in zip(layers, overlap, entropy, strict=True)}  # fmt: skip
    overlap_csv = write_overlap(tmp_path / f"{arch}_overlap.csv", per_layer, k=5, other_k=20)
    pair = [f"imagenet_{arch}", f"styles_{arch}_A/1"]
    return {
        "layers": layers,
        "architecture": arch,
        "depth": {"pair": pair, "cka": cka_csv, "overlap": overlap_csv, "overlap_k": 5, "entropy_k": 5, "variants": []},
    }


def test_the_curves_are_each_architectures_values_at_its_relative_depths(tmp_path):
    nan = math.nan
    spec = {
        "title": "t",
        "findings": {
            "resnet50": _architecture_spec(tmp_path, "resnet50", RESNET, [0.9, 0.6, 0.2],
                                           [[0.8, 0.6], [0.4, 0.5], [0.1, 0.0]], [[2.0, 1.0], [1.0, nan], [0.5, 0.25]]),
            "vgg16": _architecture_spec(tmp_path, "vgg16", VGG, [1.0, 0.8, 0.5, 0.3],
                                        [[1.0], [0.6], [0.3], [0.2]], [[1.5], [1.2], [0.9], [0.6]]),
        },
    }  # fmt: skip
    curves = depth_curves(spec).set_index(["architecture", "measure", "layer"])
    assert len(curves) == 3 * 3 + 3 * 4
    resnet_middle = curves.loc[("resnet50", slice(None), "conv3_block1_out")]
    assert resnet_middle["depth"].tolist() == [0.5, 0.5, 0.5]
    assert resnet_middle["value"].tolist() == pytest.approx([0.6, 0.45, 1.0])  # CKA; overlap mean; NaN entropy left out
    assert curves.loc[("resnet50", "mean top-k overlap", "conv1_relu"), "value"] == pytest.approx(0.7)
    assert curves.loc[("vgg16", "linear CKA", "block2_pool"), "depth"] == pytest.approx(1 / 3)
    assert curves.loc[("vgg16", "mean class entropy of the fine-tuned model", "block5_pool"), "value"] == pytest.approx(
        0.6
    )
    fig = draw_depth_figure(depth_curves(spec), "t")
    axes = [ax for ax in fig.axes if ax.get_lines()]
    assert len(axes) == 3 and all(len(ax.get_lines()) == 2 for ax in axes)
    x, y = axes[0].get_lines()[1].get_data()
    assert list(x) == pytest.approx([0, 1 / 3, 2 / 3, 1]) and list(y) == pytest.approx([1.0, 0.8, 0.5, 0.3])


def test_each_architecture_is_judged_on_its_own_layers_and_convolutions(tmp_path):
    """The init-distance l2 of a pair with frozen layers is averaged over the convolutions of the layers no model
    kept frozen: for ResNet-50, its own (a frozen stem leaves out conv1_conv only)."""
    from artfinetune.model.architectures import architecture

    resnet = architecture("resnet50")
    convs = list(resnet.trunk_convs)
    assert convs[0] == "conv1_conv" and len(convs) == 53

    def l2_file(name: str, first: float, rest: float) -> str:
        rows = [["a", "b", conv, None, "l2", first if conv == "conv1_conv" else rest, None] for conv in convs]
        rows.append(["a", "b", "all", None, "mean_l2", (first + rest * 52) / 53, None])
        pd.DataFrame(rows, columns=TIDY).to_csv(tmp_path / name, index=False)
        return str(tmp_path / name)

    layers = list(resnet.study_layers)
    cka = write_cka(tmp_path / "cka.csv", {layer: 0.5 for layer in layers})
    # fine-tuned: 0 at the frozen stem, 1 elsewhere; from scratch: 5 at the stem, 2 elsewhere. Over every
    # convolution the fine-tuned pair would still be lower; only the stem's left out is the architecture's own.
    spec = {
        "layers": layers,
        "architecture": "resnet50",
        "section": "architectures.findings.resnet50",
        "init_distance": {
            "fine_tuned": [{"pair": ["i", "r/1"], "cka": cka, "l2": l2_file("ft.csv", 0.0, 1.0),
                            "frozen": {"r/1": ["conv1_relu"]}, "variants": []}],
            "from_scratch": [{"pair": ["s/1/init", "s/1"], "cka": cka, "l2": l2_file("fs.csv", 5.0, 2.0),
                              "frozen": {}, "variants": []}],
        },
    }  # fmt: skip
    table = verdict_table({"title": "t", "findings": {"resnet50": spec}}).set_index("id")
    l2 = table.loc["init_distance_l2"]
    assert l2["verdict"] == "holds"
    assert "averaged over the 52 convolutions of the layers no compared model kept frozen" in l2["statement"]
    assert "i vs r/1 1.000" in l2["statement"] and "s/1/init vs s/1 2.000" in l2["statement"]
    assert "left out: the 1 convolutions of conv1_relu" in l2["statement"]
    assert table.loc["cka_depth", "verdict"] == "cannot be judged"  # no depth pair given: said, not an error
    assert table.loc["cka_depth", "statement"].startswith("the config has no architectures.findings.resnet50.depth;")


def test_the_table_names_each_architectures_verdicts_and_the_figure_is_written(tmp_path):
    falls = _architecture_spec(tmp_path, "resnet50", RESNET, [0.9, 0.6, 0.2], [[0.8], [0.5], [0.1]],
                               [[2.0], [1.0], [0.5]])  # fmt: skip
    flat = _architecture_spec(tmp_path, "vgg16", VGG, [0.5, 0.5, 0.5, 0.5], [[0.5]] * 4, [[1.0]] * 4)
    spec = {"title": "Universal?", "findings": {"resnet50": falls, "vgg16": flat}}
    out = {ext: tmp_path / f"architectures.{ext}" for ext in ("png", "pdf", "csv", "md")}
    write_architectures(spec, out["png"], out["pdf"], out["csv"], out["md"])
    assert out["png"].stat().st_size > 10_000 and out["pdf"].exists()
    table = pd.read_csv(out["csv"])
    verdicts = table.pivot(index="id", columns="architecture", values="verdict")
    assert verdicts.loc["cka_depth", "resnet50"] == "holds" and verdicts.loc["cka_depth", "vgg16"] == "does not hold"
    assert verdicts.loc["overlap_depth"].tolist() == ["holds", "does not hold"]
    md = out["md"].read_text()
    assert "| finding | resnet50 | vgg16 |" in md and "| cka_depth | holds | does not hold |" in md
    # entropy cannot be judged on 3 or 4 layers (the second half has 2)
    assert "| entropy_depth | cannot be judged | cannot be judged |" in md
    assert "Findings that hold: resnet50 2 of 8, vgg16 0 of 8." in md


def _study_with_resnet(demo_config_dict) -> dict:
    """The demo config with a ResNet-50 pretrained on demo_source, fine-tuned on demo_styles, in a CKA figure, a
    top-k figure and a comparison table beside InceptionV1 pairs, with the study's findings on its pair."""
    from artfinetune.study.config import prepare_config

    cfg = demo_config_dict
    cfg["init"]["demo_resnet50"] = {"kind": "pretrain", "dataset": "demo_source", "mode": "pretrain",
                                    "architecture": "resnet50"}  # fmt: skip
    cfg["runs"]["styles_resnet50_A"] = {"dataset": "demo_styles", "init": "demo_resnet50", "mode": "A"}
    resnet = ["demo_resnet50", "styles_resnet50_A/1"]
    cfg["figures"]["resnet_cka"] = {"kind": "cka", "title": "t", "pairs": [resnet]}
    cfg["figures"]["resnet_topk"] = {"kind": "topk", "title": "t", "boxes": [{"metric": "overlap", "pair": resnet}]}
    cfg["comparison_tables"]["mixed"] = {"title": "t", "metrics": ["mean_cka", "mean_l2"],
                                         "rows": [{"label": "i", "pairs": [["imagenet", "styles_A/1"]]},
                                                  {"label": "r", "pairs": [resnet]}]}  # fmt: skip
    cfg["render"]["layers"] = [*cfg["render"]["layers"], "conv4_block6_out"]  # analysed: ResNet-50 at all its layers
    cfg["findings"] = {"depth": {"pair": resnet}}
    return prepare_config(cfg)


def test_figures_tables_and_findings_of_a_resnet_pair_use_its_layers(demo_config_dict):
    from artfinetune.figures import figure_spec
    from artfinetune.figures.comparison_tables import comparison_table_caption, comparison_table_spec
    from artfinetune.model.architectures import architecture
    from artfinetune.report.findings import findings_spec

    config = _study_with_resnet(demo_config_dict)
    resnet = list(architecture("resnet50").study_layers)
    assert figure_spec(config, "resnet_cka")["layers"] == resnet
    assert figure_spec(config, "resnet_topk")["layers"] == resnet
    assert figure_spec(config, "fig5_cka")["layers"] == config["layers"]  # InceptionV1's, as before
    table = comparison_table_spec(config, "mixed")
    assert table["layers"] == config["layers"] and "layers" not in table["rows"][0]["pairs"][0]
    assert table["rows"][1]["pairs"][0]["layers"] == resnet
    caption = comparison_table_caption(config, "mixed").replace("\\_", "_")  # rst-escaped
    assert "inception_v1's 57 convolutions, resnet50's 53 convolutions" in caption
    assert "resnet50: conv1_relu, conv2_block1_out" in caption
    findings = findings_spec(config)
    assert findings["layers"] == resnet and findings["architecture"] == "resnet50"


def test_a_comparison_table_averages_each_pair_over_its_own_layers(tmp_path):
    from artfinetune.figures.comparison_tables import build_comparison_table

    inception = write_cka(tmp_path / "i.csv", {"conv2d0": 0.9, "mixed5b": 0.5})
    resnet = write_cka(tmp_path / "r.csv", {"conv1_relu": 1.0, "conv5_block3_out": 0.2})
    spec = {"title": "t", "metrics": ["mean_cka"], "layers": ["conv2d0", "mixed5b"],
            "rows": [{"label": "i", "pairs": [{"pair": "a vs b", "dataset": "d", "cka": inception}]},
                     {"label": "r", "pairs": [{"pair": "c vs d", "dataset": "d", "cka": resnet,
                                               "layers": ["conv1_relu", "conv5_block3_out"]}]}]}  # fmt: skip
    assert build_comparison_table(spec)["mean_cka"].tolist() == pytest.approx([0.7, 0.6])
