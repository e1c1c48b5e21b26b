"""The findings of a whole study: the config's findings section, its spec and inputs, the files, and the command."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest
import yaml

from artfinetune.cli import main
from artfinetune.errors import ConfigError
from artfinetune.model.layers import STUDY_LAYERS
from artfinetune.report.findings import (
    FAILS,
    HOLDS,
    UNJUDGED,
    evaluate_findings,
    findings_inputs,
    findings_spec,
    write_findings,
)
from artfinetune.study import paths
from artfinetune.study.config import load_config, prepare_config
from artfinetune.study.names import analysis_pairs, frozen_layers

from .conftest import PAPER_CONFIG
from .findings_files import write_cka, write_l2, write_overlap, write_result_table

# --- config: schema, cross-references, spec and inputs -----------------------------------------------------------


DEMO_FINDINGS = {
    "depth": {"pair": ["styles_B/1", "styles_B/2"], "overlap_k": 10},
    "init_distance": {
        "fine_tuned": [["imagenet", "styles_A/1"]],
        "from_scratch": [["objects_A/1", "objects_styles_A/1"]],
    },
    "fine_tuning": [{"table": "table1", "fine_tuned": "FT mode A", "off_the_shelf": "Off-the-shelf"}],
    "double_fine_tuning": [
        {"table": "table3", "double": "FT from ImageNet then RASTA", "direct": "FT from ImageNet (mode A)"}
    ],
}


def with_findings(cfg: dict, findings: dict) -> dict:
    """The demo config with ``findings``, mode B trained with both seeds (DEMO_FINDINGS' depth pair)."""
    cfg = copy.deepcopy(cfg)
    cfg["findings"] = copy.deepcopy(findings)
    cfg["runs"]["styles_B"].pop("seeds", None)
    return cfg


def test_the_findings_section_is_optional_and_gets_its_default(demo_config_dict):
    cfg = dict(demo_config_dict)
    cfg.pop("findings", None)
    assert prepare_config(cfg)["findings"] == {"min_drop": 0.02}
    spec = findings_spec(prepare_config(cfg))
    assert [f.verdict for f in evaluate_findings(spec)] == [UNJUDGED] * 8


def test_the_findings_pairs_are_measured(demo_config_dict):
    cfg = prepare_config(with_findings(demo_config_dict, DEMO_FINDINGS))
    pairs = analysis_pairs(cfg)
    assert ("styles_B/1", "styles_B/2") in pairs and ("objects_A/1", "objects_styles_A/1") in pairs
    assert ("styles_B/1", "styles_B/2") not in analysis_pairs(prepare_config(with_findings(demo_config_dict, {})))


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
        "variants": [],  # two trainings of one run: no seed variant
    }
    assert spec["fine_tuning"][0]["main_metrics"] == {"demo_styles": "top1"}
    assert spec["double_fine_tuning"][0]["main_metrics"] == {"demo_objects": "mAP"}
    inputs = findings_inputs(cfg)
    assert inputs["overlap"] == [f"{folder}/overlap.csv"]
    # the depth pair, the two init-distance pairs and imagenet vs styles_A/2, the fine-tuned pair's seed variant
    assert inputs["cka"][0] == f"{folder}/cka.csv" and len(inputs["cka"]) == 4
    assert paths.pair_files(cfg, ["imagenet", "styles_A/2"])["cka"] in inputs["cka"]
    assert len(inputs["l2"]) == 3
    assert inputs["tables"] == [paths.table_path(cfg, "table1"), paths.table_path(cfg, "table3")]
    assert json.loads(json.dumps(spec)) == spec  # plain values: the rule can pass it as JSON


def test_the_spec_lists_the_layers_in_network_order_whatever_the_configs_order(demo_config_dict):
    in_order = prepare_config(with_findings(demo_config_dict, DEMO_FINDINGS))
    shuffled = copy.deepcopy(in_order)
    shuffled["layers"] = ["mixed4e", "conv2d0", "mixed5b", "mixed3a", "conv2d2", "mixed4a"]
    shuffled["layers"] += ["mixed4c", "conv2d1", "mixed5a", "mixed3b", "mixed4d", "mixed4b"]
    spec = findings_spec(prepare_config(shuffled))
    assert spec["layers"] == ["conv2d0", "conv2d1", "conv2d2", "mixed3a", "mixed3b", "mixed4a"] + [
        "mixed4b", "mixed4c", "mixed4d", "mixed4e", "mixed5a", "mixed5b"
    ]  # fmt: skip
    assert spec == findings_spec(in_order)  # the same spec: the findings rule does not rerun for a reordering


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


LOW = ["conv2d0", "conv2d1", "conv2d2", "mixed3a", "mixed3b"]


def test_the_layers_a_model_kept_frozen_come_from_its_runs_mode():
    cfg = load_config(PAPER_CONFIG)
    assert frozen_layers(cfg, "rasta_end_from_scratch/1") == LOW  # mode end_from_scratch: frozen [conv2d0..mixed3b]
    assert frozen_layers(cfg, "rasta_end_from_scratch/1/init") == []  # its starting weights, never trained
    assert frozen_layers(cfg, "imagenet") == []
    assert frozen_layers(cfg, "paintings_rasta_end_from_scratch/1") == []  # mode A from it: every layer trained
    assert frozen_layers(cfg, "rasta_off_the_shelf/2") == list(STUDY_LAYERS)  # off the shelf: the whole trunk
    spec = findings_spec(cfg)["init_distance"]
    assert [e["frozen"] for e in spec["fine_tuned"]] == [{}]
    assert [e["frozen"] for e in spec["from_scratch"]] == [{}, {"rasta_end_from_scratch/1": LOW}]
    cfg["modes"]["end_from_scratch"]["frozen"] = ["mixed3b", "conv2d0..mixed3a", "conv2d1"]
    assert frozen_layers(cfg, "rasta_end_from_scratch/2") == LOW  # network order, once each


def test_the_demo_study_compares_its_pairs_over_the_layers_no_model_kept_frozen(demo_config_dict, tmp_path):
    cfg = prepare_config({**demo_config_dict, "results": str(tmp_path)})
    spec = findings_spec(cfg)
    for entry in [*spec["init_distance"]["fine_tuned"], *spec["init_distance"]["from_scratch"]]:
        Path(entry["cka"]).parent.mkdir(parents=True, exist_ok=True)
        write_cka(entry["cka"], dict.fromkeys(cfg["layers"], 0.5))
    f = {x.id: x for x in evaluate_findings(spec)}["init_distance_cka"]
    assert f.verdict == FAILS  # 0.5 everywhere: no pair above another
    assert f.statement.startswith(
        "averaged over the 7 layers no compared model kept frozen (mixed4a, mixed4b, mixed4c, mixed4d, mixed4e, "
        "mixed5a, mixed5b), the same for every pair; left out: conv2d0, conv2d1, conv2d2, mixed3a, mixed3b, which "
        "styles_end_from_scratch/1 kept frozen from its init (a model equals its init at a frozen layer: CKA 1 there "
        "by construction); mean CKA of the fine-tuned pairs: imagenet vs styles_A/1 0.500, "
    )


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
        (
            lambda f: f.update(render_change={"pair": ["styles_A/1", "styles_B/1"]}),
            r"findings\.render_change\.pair \['styles_A/1', 'styles_B/1'\] has no gallery, whose renders it compares",
        ),
    ],
)
def test_a_bad_findings_section_is_one_clear_error(demo_config_dict, change, message):
    findings = copy.deepcopy(DEMO_FINDINGS)
    change(findings)
    with pytest.raises(ConfigError, match=message):
        prepare_config(with_findings(demo_config_dict, findings))


def test_the_render_change_finding_needs_a_random_sample(demo_config_dict):
    cfg = copy.deepcopy(demo_config_dict)
    cfg["render"]["sample"] = 0
    with pytest.raises(
        ConfigError, match=r"findings\.render_change needs channels drawn at random: set render\.sample"
    ):
        prepare_config(cfg)
    spec = findings_spec(prepare_config(demo_config_dict))  # the demo: its gallery pair, its min_channels
    change = paths.render_change_path(prepare_config(demo_config_dict), ["imagenet", "styles_A/1"])
    assert spec["render_change"] == {"pair": ["imagenet", "styles_A/1"], "csv": change, "k": 10, "min_channels": 16}


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
    assert [f.verdict for f in findings] == [HOLDS] * 6 + [FAILS, UNJUDGED]  # no findings.render_change here
    lines = md.read_text().splitlines()
    assert lines[0] == "# Findings: the paper's claims checked on this study's outputs"
    assert lines[2].startswith("**Summary.** Of the paper's 7 claims checked on this study, 6 hold (CKA falls with ")
    assert "; 1 does not (double fine-tuning beats direct fine-tuning). On the paper's open question" in lines[2]
    assert lines[4].startswith("- **holds** — Linear CKA between styles_B/1 and styles_B/2 falls with depth (fig. 5): ")
    assert lines[10].startswith("- **does not hold** — Fine-tuning on RASTA first")
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
        "render_change_overlap",
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
    assert text.count("- **cannot be judged**") == 3 and f"{overlap} does not exist" in text
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
    assert definitions in readme, (
        "README.md's 'Findings: how each verdict is decided' differs from report/findings/__init__.py"
    )


def test_the_summary_paragraph_names_each_verdicts_claims_then_answers_the_open_question():
    from artfinetune.report.findings import Finding
    from artfinetune.report.findings.write import summary_paragraph

    findings = [
        Finding("cka_depth", "c", HOLDS, "s"),
        Finding("overlap_depth", "c", FAILS, "s"),
        Finding("init_distance_cka", "c", HOLDS, "s"),
        Finding("init_distance_l2", "c", HOLDS, "s"),
        Finding("double_beats_direct", "c", UNJUDGED, "s"),
        Finding("render_change_overlap", "c", HOLDS, "Spearman rho = -0.41 (95 % CI -0.70 to -0.02)"),
    ]
    assert summary_paragraph(findings) == (
        "Of the paper's 5 claims checked on this study, 3 hold (CKA falls with depth, fine-tuning moves the network "
        "less than training from scratch (CKA) and fine-tuning moves the kernels less than training from scratch "
        "(l2)); 1 does not (the top-k overlap falls with depth); "
        "1 cannot be judged (double fine-tuning beats direct fine-tuning). On the paper's open question (sec. 4.2), "
        "channels whose top-k sets changed more also have more changed optimised images: Spearman rho = -0.41 "
        "(95 % CI -0.70 to -0.02)."
    )
