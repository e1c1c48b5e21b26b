"""Channel choice for renders: the most and least changed channels of each layer, by top-k overlap."""

import numpy as np
import pandas as pd
import pytest

from artfinetune.errors import UserError
from artfinetune.render.channels import select_changed_channels, topk_channel


def write_overlap(path, layer, overlaps, empty=()):
    rows = []
    for channel, value in enumerate(overlaps):
        entropy = np.nan if channel in empty else 0.5
        for metric, v in (("overlap", value), ("entropy_a", entropy), ("entropy_b", 0.5)):
            rows.append(
                {
                    "model_a": "a",
                    "model_b": "b",
                    "layer": layer,
                    "channel": channel,
                    "metric": metric,
                    "value": v,
                    "k": 10,
                    "chance": 0.1 if metric == "overlap" else None,
                }
            )
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_most_and_least_changed_channels_by_hand(tmp_path):
    #               channel: 0    1    2    3    4    5
    path = write_overlap(tmp_path / "o.csv", "mixed4a", [0.5, 0.1, 0.9, 0.1, 0.0, 0.9], empty={4})
    # channel 4 never fired in model A: left out; ties go to the lower channel
    assert select_changed_channels(path, ["mixed4a"], 2, 10) == ["mixed4a:1", "mixed4a:3", "mixed4a:2", "mixed4a:5"]
    assert select_changed_channels(path, ["mixed4a"], 1, 10) == ["mixed4a:1", "mixed4a:2"]
    assert select_changed_channels(path, ["mixed4a"], 9, 10) == [
        "mixed4a:1",
        "mixed4a:3",
        "mixed4a:0",
        "mixed4a:2",
        "mixed4a:5",
    ]  # no repeats


def test_unknown_layer_or_k_is_named(tmp_path):
    path = write_overlap(tmp_path / "o.csv", "mixed4a", [0.5, 0.1])
    with pytest.raises(UserError, match="no channels of mixed5b"):
        select_changed_channels(path, ["mixed5b"], 1, 10)
    with pytest.raises(UserError, match=r"no rows at k = 100; its k values are \[10\]"):
        select_changed_channels(path, ["mixed4a"], 1, 100)


def test_a_branch_channel_reads_the_top_k_of_its_tensor_after_relu():
    assert topk_channel("mixed4d_3x3_pre_relu:52") == ("mixed4d_3x3", 52)
    assert topk_channel("mixed4a:10") == ("mixed4a", 10)


def test_render_layers_narrow_the_gallerys_choice_in_the_studys_order(demo_config_dict):
    import copy

    from artfinetune.errors import ConfigError
    from artfinetune.render.captions import gallery_caption
    from artfinetune.render.channels import changed_settings
    from artfinetune.study.config import prepare_config

    cfg = copy.deepcopy(demo_config_dict)
    cfg["render"].pop("layers", None)
    everything = prepare_config(cfg)
    assert changed_settings(everything)["layers"] == everything["layers"]  # the default: the study's layers
    assert "per layer, the 1 channels" in gallery_caption(everything, ["imagenet", "styles_A/1"])
    cfg["render"]["layers"] = ["mixed5b", "conv2d0", "mixed4c"]
    narrowed = prepare_config(cfg)
    assert changed_settings(narrowed)["layers"] == ["conv2d0", "mixed4c", "mixed5b"]  # network order
    assert "per layer of conv2d0, mixed4c, mixed5b, the 1 channels" in gallery_caption(
        narrowed, ["imagenet", "styles_A/1"]
    )
    cfg["render"]["layers"] = ["mixed4d_3x3"]
    with pytest.raises(ConfigError, match=r"render\.layers has \['mixed4d_3x3'\], which are not analysed \(layers"):
        prepare_config(cfg)


def test_the_random_sample_is_stratified_seeded_and_each_layers_own():
    from artfinetune.render.channels import draw_sample

    both = draw_sample(["conv2d0", "mixed4a"], 5, seed=3)
    by_layer = {
        layer: [int(c.split(":")[1]) for c in both if c.startswith(f"{layer}:")] for layer in ("conv2d0", "mixed4a")
    }
    assert [len(v) for v in by_layer.values()] == [5, 5]
    assert all(v == sorted(set(v)) for v in by_layer.values())  # distinct, in increasing order
    assert max(by_layer["conv2d0"]) < 64 and max(by_layer["mixed4a"]) < 508  # the layers' widths (study.md)
    assert draw_sample(["conv2d0", "mixed4a"], 5, seed=3) == both  # the seed fixes it
    assert draw_sample(["mixed4a"], 5, seed=3) == [c for c in both if c.startswith("mixed4a:")]  # each layer its own
    assert draw_sample(["conv2d0", "mixed4a"], 5, seed=4) != both
    assert len(draw_sample(["conv2d0"], 100, seed=0)) == 64  # a narrower layer: every channel, once
    # uniform: over many seeds each of conv2d0's 64 channels is drawn about 5/64 of the time
    counts = np.bincount(
        [int(c.split(":")[1]) for s in range(400) for c in draw_sample(["conv2d0"], 5, s)], minlength=64
    )
    expected = 400 * 5 / 64  # 31.25, binomial sd 5.4
    assert counts.min() > expected - 5 * 5.4 and counts.max() < expected + 5 * 5.4


def test_a_gallery_pair_renders_the_sample_and_no_other_pair_does(demo_config_dict):
    import copy

    from artfinetune.render.channels import model_channels, named_channels, sample_channels
    from artfinetune.study.config import prepare_config

    cfg = copy.deepcopy(demo_config_dict)
    cfg["render"]["sample"] = 2
    config = prepare_config(cfg)
    sample = sample_channels(config)
    assert len(sample) == 2 * len(config["render"]["layers"])
    assert set(sample) <= set(named_channels(config, ["imagenet", "styles_A/1"]))  # the demo's gallery pair
    assert not set(sample) & set(named_channels(config, ["styles_A/1", "styles_B/1"]))  # no gallery: no sample
    assert set(sample) <= set(model_channels(config, "styles_A/1"))


def test_a_gallery_of_another_architecture_shows_that_architectures_channels(demo_config_dict):
    import copy

    from artfinetune.render.channels import changed_settings, draw_sample, named_channels, sample_channels
    from artfinetune.study.config import prepare_config

    cfg = copy.deepcopy(demo_config_dict)
    cfg["init"]["demo_vgg16"] = {"kind": "pretrain", "dataset": "demo_source", "mode": "pretrain",
                                 "architecture": "vgg16"}  # fmt: skip
    cfg["runs"]["styles_vgg16_A"] = {"dataset": "demo_styles", "init": "demo_vgg16", "mode": "A"}
    cfg["render"]["sample"] = 1
    cfg["render"]["channels"] = [*cfg["render"]["channels"], "block4_conv3:500"]
    cfg["galleries"] = [*cfg["galleries"], ["demo_vgg16", "styles_vgg16_A/1"]]
    config = prepare_config(cfg)
    vgg = named_channels(config, ["demo_vgg16", "styles_vgg16_A/1"])
    # render.layers names InceptionV1's layers only: VGG16's gallery samples all 18 of its analysis layers
    assert changed_settings(config, "vgg16")["layers"][:3] == ["block1_conv1", "block1_conv2", "block1_pool"]
    assert len(changed_settings(config, "vgg16")["layers"]) == 18
    assert vgg == ["block4_conv3:500", *sample_channels(config, "vgg16")] and len(vgg) == 19
    assert sample_channels(config, "vgg16")[0] == draw_sample(["block1_conv1"], 1, config["render"]["seed"])[0]
    inception = named_channels(config, ["imagenet", "styles_A/1"])
    assert "block4_conv3:500" not in inception and not set(inception) & set(vgg)
    cfg["layers"] = [*config["layers"], "block5_conv3", "block1_conv1"]
    assert changed_settings(prepare_config(cfg), "vgg16")["layers"] == ["block5_conv3", "block1_conv1"]
