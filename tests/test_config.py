import copy
import subprocess
import sys

import pytest

from artfinetune.errors import ConfigError
from artfinetune.study.config import load_config, prepare_config

from .conftest import DEMO_CONFIG, PAPER_CONFIG, REPO


def test_both_configs_validate_and_get_defaults():
    paper = load_config(PAPER_CONFIG)
    assert set(paper["datasets"]) == {"rasta", "paintings", "iconart"}
    assert len(paper["datasets"]["rasta"]["classes"]) == 25
    assert paper["datasets"]["iconart"]["classes"][1] == "Child_Jesus"
    assert paper["modes"]["A"]["optimizer"] == "sgd" and paper["modes"]["A"]["momentum"] == 0.9
    assert paper["modes"]["from_scratch"]["schedule"] == {"factor": 0.96, "every": 8}
    assert paper["modes"]["A"]["augmentation"] == {"crop": "center", "flip": False, "translate": 0}
    assert paper["seeds"] == [1, 2] and paper["image_size"] == 224
    demo = load_config(DEMO_CONFIG)
    assert len(demo["datasets"]["demo_source"]["classes"]) >= 10
    assert len(demo["datasets"]["demo_styles"]["classes"]) >= 8
    assert 4 <= len(demo["datasets"]["demo_objects"]["classes"]) <= 7


def test_defaults_are_not_shared_between_sections():
    demo = load_config(DEMO_CONFIG)
    demo["modes"]["A"]["augmentation"]["flip"] = True
    assert demo["modes"]["B"]["augmentation"]["flip"] is False


def test_unknown_key_is_named(demo_config_dict):
    demo_config_dict["datasets"]["demo_styles"]["taks"] = "single_label"
    with pytest.raises(ConfigError, match=r"unknown key 'taks' in datasets\.demo_styles; remove it"):
        prepare_config(demo_config_dict)


def test_unknown_mode_key_is_named(demo_config_dict):
    demo_config_dict["modes"]["A"]["lr_hed"] = 0.1
    with pytest.raises(ConfigError, match=r"unknown key 'lr_hed' in modes\.A"):
        prepare_config(demo_config_dict)


def test_bad_type_is_named(demo_config_dict):
    demo_config_dict["modes"]["A"]["epochs"] = "twenty"
    with pytest.raises(ConfigError, match=r"modes\.A\.epochs has the wrong type: 'twenty' is not of type 'integer'"):
        prepare_config(demo_config_dict)


def test_bad_enum_is_named(demo_config_dict):
    demo_config_dict["datasets"]["demo_objects"]["task"] = "multilabel"
    with pytest.raises(ConfigError, match=r"datasets\.demo_objects\.task: 'multilabel' is not one of"):
        prepare_config(demo_config_dict)


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("mode", "mode", "Z", r"runs\.styles_A\.mode is 'Z', which is not in modes \(pretrain, A, B"),
        ("dataset", "dataset", "rasta", r"runs\.styles_A\.dataset is 'rasta', which is not in datasets"),
        ("init", "init", "nothing", r"runs\.styles_A\.init is 'nothing', which is neither 'random', an init"),
    ],
)
def test_dangling_run_reference_is_named(demo_config_dict, section, key, value, message):
    demo_config_dict["runs"]["styles_A"][key] = value
    with pytest.raises(ConfigError, match=message):
        prepare_config(demo_config_dict)


def test_run_init_cycle_and_comparison_and_layer_errors(demo_config_dict):
    cfg = copy.deepcopy(demo_config_dict)
    cfg["runs"]["styles_A"]["init"] = "objects_styles_A"
    with pytest.raises(ConfigError, match="forms a cycle"):
        prepare_config(cfg)
    cfg = copy.deepcopy(demo_config_dict)
    cfg["comparisons"] = [["imagenet", "styles_A/3"]]
    with pytest.raises(ConfigError, match=r"comparisons\[0\]: model 'styles_A/3' names seed '3'"):
        prepare_config(cfg)


def test_layer_range_and_channel_errors(demo_config_dict):
    demo_config_dict["modes"]["end_from_scratch"]["frozen"] = ["conv2d0..mixed9z"]
    with pytest.raises(ConfigError, match=r"modes\.end_from_scratch\.frozen: unknown layer 'mixed9z'"):
        prepare_config(demo_config_dict)
    demo_config_dict["modes"]["end_from_scratch"]["frozen"] = ["conv2d0..mixed3b"]
    demo_config_dict["render"]["channels"] = ["mixed4a:508"]
    with pytest.raises(ConfigError, match=r"channel 508 is out of range for mixed4a, which has channels 0\.\.507"):
        prepare_config(demo_config_dict)


def test_store_smaller_than_input_is_refused(demo_config_dict):
    demo_config_dict["image_size"] = 96
    with pytest.raises(ConfigError, match=r"datasets\.demo_source\.store_size \(72\) is smaller than image_size"):
        prepare_config(demo_config_dict)


def test_snakemake_stops_on_bad_config_before_any_job(tmp_path, demo_config_dict):
    import yaml

    demo_config_dict["runs"]["styles_A"]["mode"] = "Z"
    demo_config_dict["results"] = str(tmp_path / "results")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(demo_config_dict))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile", str(bad)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "runs.styles_A.mode is 'Z', which is not in modes" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_typo_in_a_schedule_and_bad_names_are_named(demo_config_dict):
    cfg = copy.deepcopy(demo_config_dict)
    cfg["modes"]["from_scratch"]["schedule"] = {"factor": 0.96, "evry": 8}
    with pytest.raises(
        ConfigError, match=r"unknown key 'evry' in modes\.from_scratch\.schedule; .*allowed: every, factor"
    ):
        prepare_config(cfg)
    cfg = copy.deepcopy(demo_config_dict)
    cfg["runs"]["styles/A"] = cfg["runs"].pop("styles_A")
    with pytest.raises(ConfigError, match=r"runs: 'styles/A' is not allowed \(names are used in paths"):
        prepare_config(cfg)


def test_missing_dataset_spec_is_a_config_error(tmp_path):
    config = load_config(PAPER_CONFIG)
    config["datasets"]["rasta"]["source"]["spec"] = str(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"datasets\.rasta\.source: dataset spec .*nope.yaml does not exist"):
        prepare_config(config)


def test_demo_splits_that_leave_a_split_empty_are_refused(demo_config_dict):
    cfg = copy.deepcopy(demo_config_dict)
    cfg["datasets"]["demo_styles"]["source"].update(images_per_class=2, splits={"train": 0.6, "val": 0.2, "test": 0.2})
    with pytest.raises(ConfigError, match=r"datasets\.demo_styles\.source: 2 images per class leave split\(s\)"):
        prepare_config(cfg)
    cfg["datasets"]["demo_styles"]["source"].update(images_per_class=40, splits={"train": 0, "val": 0, "test": 0})
    with pytest.raises(ConfigError, match=r"splits give no share to \['train', 'test'\]"):
        prepare_config(cfg)


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        (
            "A",
            r"runs\.styles_from_scratch starts from a random init, where no layer is transferred, but mode 'A' "
            r"sets lr_head 0\.01 and lr_transferred 0\.001",
        ),
        (
            "end_from_scratch",
            r"runs\.styles_from_scratch starts from a random init but mode 'end_from_scratch' "
            r"freezes \['conv2d0\.\.mixed3b'\]",
        ),
    ],
)
def test_a_random_init_with_two_rates_or_frozen_layers_is_refused(demo_config_dict, mode, message):
    demo_config_dict["runs"]["styles_from_scratch"]["mode"] = mode
    with pytest.raises(ConfigError, match=message):
        prepare_config(demo_config_dict)


def test_a_pretrain_init_is_a_random_init_too(demo_config_dict):
    demo_config_dict["modes"]["pretrain"]["lr_transferred"] = 0.001
    with pytest.raises(ConfigError, match=r"init\.imagenet starts from a random init"):
        prepare_config(demo_config_dict)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c.update(tensors=["mixed4d_3x3_pre_reluu"]),
            r"tensors: unknown layer 'mixed4d_3x3_pre_reluu'; valid",
        ),
        (
            lambda c: c.update(layers=["mixed4d_3x3"]),
            r"layers: 'mixed4d_3x3' is a tensor of inception_v1 but not one of its analysis layers; the analysis "
            r"layers are inception_v1: conv2d0, .*; resnet50: conv1_relu, ",
        ),
        (lambda c: c.update(layers=["mixed9z"]), r"layers: 'mixed9z' is no layer of any network; the analysis layers"),
        (lambda c: c["render"].update(channels=["mixed4a:600"]), r"channel 600 is out of range for mixed4a"),
        (lambda c: c.update(topk=[0]), r"topk\.0: 0 is less than the minimum of 1"),
        (
            lambda c: c["figures"]["fig6_topk"]["boxes"][0].update(k=100),
            r"figures\.fig6_topk\.boxes\[0\]\.k is 100, which is not in topk \[10, 40\]",
        ),
        (
            lambda c: c["figures"]["fig15_entropy"]["boxes"][1].update(model="styles_A/1"),
            r"figures\.fig15_entropy\.boxes\[1\]\.model is styles_A/1, not a model of its pair",
        ),
        (
            lambda c: c["figures"]["fig6_topk"]["boxes"][0].update(model="imagenet"),
            r"figures\.fig6_topk\.boxes\[0\] is an overlap panel, which compares both models of its pair",
        ),
        (
            lambda c: c["figures"]["fig5_cka"]["pairs"].append(["imagenet", "styles_C/1"]),
            r"figures\.fig5_cka\.pairs\[6\]: model 'styles_C/1' names run 'styles_C'",
        ),
        (
            lambda c: c["figures"]["fig5_cka"].update(reference={"label": "x", "values": [1.0] * 3}),
            r"figures\.fig5_cka\.reference gives 3 values, expected one per study layer",
        ),
        (
            lambda c: c["comparison_tables"]["table2"]["rows"][0].update(paper=[1.0, 2.0]),
            r"comparison_tables\.table2\.rows\[0\] \(Pretrained vs FT mode A 1\) gives 2 paper values, expected 1",
        ),
        (lambda c: c.update(comparisons=[["imagenet", "imagenet"]]), r"comparisons\[0\] compares imagenet with itself"),
        (
            lambda c: c.update(comparison_tables={"table1": c["comparison_tables"]["table2"]}),
            r"has the name of a table",
        ),
    ],
)
def test_analysis_settings_are_checked_before_any_job(demo_config_dict, change, message):
    change(demo_config_dict)
    with pytest.raises(ConfigError, match=message):
        prepare_config(demo_config_dict)


def test_a_pair_of_two_inits_has_no_dataset(demo_config_dict):
    demo_config_dict["init"]["other"] = {"kind": "pretrain", "dataset": "demo_source", "mode": "pretrain"}
    demo_config_dict["comparisons"] = [["imagenet", "other"]]
    with pytest.raises(ConfigError, match=r"comparisons\[0\] names no run \(imagenet, other\), so no dataset"):
        prepare_config(demo_config_dict)


def _with_resnet(cfg: dict) -> dict:
    """The demo config with a ResNet-50 pretrained on demo_source and a run fine-tuned from it."""
    cfg["init"]["demo_resnet50"] = {"kind": "pretrain", "dataset": "demo_source", "mode": "pretrain",
                                    "architecture": "resnet50"}  # fmt: skip
    cfg["runs"]["styles_resnet50_A"] = {"dataset": "demo_styles", "init": "demo_resnet50", "mode": "A"}
    return cfg


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda c: c["comparisons"].append(["imagenet", "styles_resnet50_A/1"]),
            r"comparisons\[\d+\] compares imagenet \(inception_v1\) with styles_resnet50_A/1 \(resnet50\); a pair "
            "compares two models of one architecture",
        ),
        (
            lambda c: c["modes"]["A"].update(frozen=["conv2d0..mixed3b"]),
            r"modes\.A\.frozen: unknown layer 'conv2d0'; valid layers are: conv1_relu, conv2_block1_out.* "
            r"\(runs\.styles_resnet50_A, trained in this mode, is a resnet50 model\)",
        ),
        (
            lambda c: c["modes"]["A"].update(deep_supervision=True),
            r"modes\.A sets deep_supervision, which trains InceptionV1's auxiliary heads, but "
            r"runs\.styles_resnet50_A is a resnet50 model",
        ),
        (
            lambda c: c["runs"]["styles_resnet50_A"].update(architecture="vgg16"),
            r"runs\.styles_resnet50_A\.architecture is vgg16, but the run starts from 'demo_resnet50'",
        ),
        (
            lambda c: c["panels"]["fig1_channels"]["columns"][0].update(channel="conv3_block1_out:3"),
            r"channel conv3_block1_out:3 is one of resnet50, but its pair's models are inception_v1 models",
        ),
    ],
)
def test_models_of_other_architectures_are_checked_against_their_own_layers(demo_config_dict, change, message):
    cfg = _with_resnet(demo_config_dict)
    change(cfg)
    with pytest.raises(ConfigError, match=message):
        prepare_config(cfg)


def test_each_architecture_extracts_its_own_tensors_and_inception_keeps_its_list(demo_config_dict):
    from artfinetune.study.names import analysis_tensors

    cfg = _with_resnet(demo_config_dict)
    cfg["render"]["channels"] = [*cfg["render"]["channels"], "conv4_block2_out:7"]
    cfg["comparisons"].append(["demo_resnet50", "styles_resnet50_A/1"])
    cfg = prepare_config(cfg)
    # layers lists none of ResNet-50's: all 17 of its analysis layers, then its rendered tensor (already one of them)
    resnet = ["conv1_relu"] + [f"conv{s}_block{b}_out" for s, n in ((2, 3), (3, 4), (4, 6), (5, 3)) for b in
                               range(1, n + 1)]  # fmt: skip
    assert analysis_tensors(cfg, "resnet50") == resnet
    inception = analysis_tensors(cfg)
    assert inception[:12] == cfg["layers"] and not set(inception) & set(resnet)
    cfg["layers"] = [*cfg["layers"], "conv5_block3_out", "conv1_relu"]
    assert analysis_tensors(cfg, "resnet50") == ["conv5_block3_out", "conv1_relu", "conv4_block2_out"]
    assert analysis_tensors(cfg) == inception


def test_the_architectures_findings_name_pairs_of_their_own_architecture(demo_config_dict):
    from artfinetune.study.names import analysis_pairs

    cfg = _with_resnet(demo_config_dict)
    cfg["architectures"] = {"findings": {"resnet50": {"depth": {"pair": ["demo_resnet50", "styles_resnet50_A/1"]}}}}
    config = prepare_config(copy.deepcopy(cfg))
    assert config["architectures"]["findings"]["resnet50"]["depth"]["overlap_k"] == min(config["topk"])  # defaults
    pairs = analysis_pairs(config)
    assert ("demo_resnet50", "styles_resnet50_A/1") in pairs and ("demo_resnet50", "styles_resnet50_A/2") in pairs
    cfg["architectures"]["findings"]["resnet50"]["depth"]["pair"] = ["imagenet", "styles_A/1"]
    with pytest.raises(ConfigError, match=r"architectures\.findings\.resnet50\.depth\.pair compares inception_v1 "):
        prepare_config(copy.deepcopy(cfg))
    cfg["architectures"]["findings"]["resnet50"]["depth"] = {"pair": ["demo_resnet50", "styles_resnet50_A/1"]}
    inception_rows = {"table": "table1", "fine_tuned": "FT mode A", "off_the_shelf": "Off-the-shelf"}
    cfg["architectures"]["findings"]["resnet50"]["fine_tuning"] = [inception_rows]
    with pytest.raises(ConfigError, match=r"resnet50\.fine_tuning\[0\]\.fine_tuned is row 'FT mode A', whose runs are "
                       r"inception_v1 models; name a row of resnet50 runs there"):  # fmt: skip
        prepare_config(copy.deepcopy(cfg))
    del cfg["architectures"]["findings"]["resnet50"]["fine_tuning"]
    cfg["figures"]["architectures"] = cfg["figures"].pop("fig5_cka")
    with pytest.raises(ConfigError, match=r"figures\.architectures has the name of the architectures comparison"):
        prepare_config(cfg)
