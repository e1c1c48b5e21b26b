"""Table 5: the training modes' hyperparameters from the config, beside the paper's, a difference marked."""

from __future__ import annotations

import pandas as pd
import pytest
from docutils.core import publish_parts

from artfinetune.errors import ConfigError, UserError
from artfinetune.figures.mode_tables import (
    build_mode_table,
    mode_table_caption,
    mode_table_spec,
    write_mode_table,
)
from artfinetune.study.config import load_config, prepare_config

from .conftest import DEMO_CONFIG, REPO

PAPER_A = {
    "lr_head": 0.01,
    "lr_transferred": 0.001,
    "deep_supervision": False,
    "epochs": 20,
    "trainable": "all",
    "augmentation": "none",
    "optimizer": "SGD",
    "schedule": "none",
}
# A literal config, modes as a user writes them (defaults left out), the runs that use them.
CONFIG = {
    "init": {"imagenet": {"kind": "lucid"}},
    "modes": {
        "A": {"lr_head": 0.01, "lr_transferred": 0.001, "epochs": 20},
        "late": {
            "lr_head": 0.0001,
            "lr_transferred": 0.0001,
            "epochs": 200,
            "frozen": ["conv2d0..mixed3b"],
            "reinit": ["mixed4a..mixed5b"],
            "augmentation": {"flip": True, "translate": 28},
            "optimizer": "adam",
        },
        "scratch": {
            "lr_head": 0.001,
            "lr_transferred": 0.001,
            "epochs": 6,
            "deep_supervision": True,
            "augmentation": {"crop": "random"},
            "schedule": {"factor": 0.96, "every": 8},
            "batch_size": 16,
        },
        "shelf": {
            "kind": "off_the_shelf",
            "lr_head": 0.01,
            "lr_transferred": 0,
            "epochs": 20,
            "deep_supervision": True,
        },
    },
    "runs": {
        "r_A": {"dataset": "d", "init": "imagenet", "mode": "A"},
        "r_late": {"dataset": "d", "init": "imagenet", "mode": "late"},
        "r_scratch": {"dataset": "d", "init": "random", "mode": "scratch"},
        "r_shelf": {"dataset": "d", "init": "r_A", "mode": "shelf"},
    },
    "mode_tables": {
        "table5": {
            "title": "Table 5",
            "rows": [
                {"mode": "A", "paper": {**PAPER_A, "optimizer": "sgd"}},  # case does not matter
                {"mode": "late", "label": "High layers from scratch"},
                {
                    "mode": "scratch",
                    "label": "From scratch",
                    "paper": {"epochs": 200, "trainable": "all, random init", "schedule": "x0.96 every 8 epochs"},
                },
                {"mode": "shelf"},
            ],
        }
    },
}
HEADER = [
    "mode", "values", "lr last layer", "lr other layers", "deep supervision", "max epochs", "trainable",
    "augmentation", "optimizer", "schedule",
]  # fmt: skip


def table5(config=CONFIG) -> pd.DataFrame:
    return build_mode_table(mode_table_spec(config, "table5"))


def test_table5_shows_each_modes_settings_with_defaults_filled_and_the_papers_line_under_it():
    table = table5()
    assert list(table.columns) == HEADER
    none = ""
    assert table.values.tolist() == [
        ["A", "ours", "0.01", "0.001", "no", "20", "all", "none", "SGD", "none"],
        ["A", "paper", "0.01", "0.001", "no", "20", "all", "none", "sgd", "none"],
        [
            "late", "ours", "0.0001", "0.0001", "no", "200",
            "all but conv2d0..mixed3b (frozen); mixed4a..mixed5b re-initialised",
            "horizontal flip, translation up to 28 px", "Adam", "none",
        ],
        [
            "scratch", "ours", "0.001", "0.001", "yes", "6 (≠ paper)", "all, random init", "random crops", "SGD",
            "x0.96 every 8 epochs",
        ],
        ["From scratch", "paper", none, none, none, "200", "all, random init", none, none, "x0.96 every 8 epochs"],
        # Off the shelf trains the last layer only, and has no auxiliary heads whatever the mode says.
        ["shelf", "ours", "0.01", "0", "no", "20", "last layer only", "none", "SGD", "none"],
    ]  # fmt: skip


def marked(table: pd.DataFrame) -> set[tuple[str, str]]:
    """(mode, column) of every cell of ours marked as differing from the paper's."""
    lines = table.to_dict("records")
    return {(line["mode"], c) for line in lines for c, v in line.items() if str(v).endswith(" (≠ paper)")}


def test_a_value_that_differs_from_the_papers_is_marked_and_only_that_one():
    # 6 epochs against the paper's 200; the paper's blank cells are not compared, SGD and sgd are the same.
    assert marked(table5()) == {("scratch", "max epochs")}
    config = {**CONFIG, "modes": {**CONFIG["modes"], "A": {**CONFIG["modes"]["A"], "lr_transferred": 0.002}}}
    assert marked(table5(config)) == {("A", "lr other layers"), ("scratch", "max epochs")}
    assert table5(config)["lr other layers"].tolist()[:2] == ["0.002 (≠ paper)", "0.001"]


def test_a_mode_trained_from_a_random_init_by_some_of_its_runs_names_them():
    runs = {**CONFIG["runs"], "r_scratch_ft": {"dataset": "d", "init": "imagenet", "mode": "scratch"}}
    table = table5({**CONFIG, "runs": runs})
    assert table.loc[table["mode"] == "scratch", "trainable"].item() == "all, random init in r_scratch (≠ paper)"


def test_table5_files_mark_the_difference_in_markdown_and_html(tmp_path):
    spec = mode_table_spec(CONFIG, "table5")
    write_mode_table(spec, tmp_path / "t5.csv", tmp_path / "t5.md", tmp_path / "t5.html")
    assert pd.read_csv(tmp_path / "t5.csv")["max epochs"].tolist() == ["20", "20", "200", "6 (≠ paper)", "200", "20"]
    md = (tmp_path / "t5.md").read_text()
    assert md.startswith("# Table 5\n") and "| " + " | ".join(HEADER) + " |" in md
    assert "| scratch | ours | 0.001 | 0.001 | yes | 6 (≠ paper) | all, random init | random crops |" in md
    page = (tmp_path / "t5.html").read_text(encoding="utf-8")
    assert '<td class="marked">6 (≠ paper)</td>' in page and page.count('class="marked"') == 1


def test_no_paper_lines_and_no_values_column_when_no_row_has_paper_values():
    config = {**CONFIG, "mode_tables": {"table5": {"rows": [{"mode": "A"}, {"mode": "scratch"}]}}}
    table = table5(config)
    assert list(table.columns) == [c for c in HEADER if c != "values"]
    assert table["mode"].tolist() == ["A", "scratch"]
    assert "(≠ paper)" not in table.to_string()


def test_an_unknown_mode_is_a_config_error_naming_the_row():
    config = {**CONFIG, "mode_tables": {"table5": {"rows": [{"mode": "A"}, {"mode": "Z"}]}}}
    with pytest.raises(ConfigError, match=r"mode_tables\.table5\.rows\[1\] names mode 'Z', which is not in modes"):
        mode_table_spec(config, "table5")


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda c: c["mode_tables"]["table5"]["rows"].append({"mode": "C"}),
            r"mode_tables\.table5\.rows\[6\] names mode 'C', which is not in modes \(pretrain, A, B, ",
        ),
        (lambda c: c.update(mode_tables={"table1": c["mode_tables"]["table5"]}), r"mode_tables\.table1 has the name"),
        (
            lambda c: c["mode_tables"]["table5"]["rows"][0]["paper"].update(lr=0.1),
            r"unknown key 'lr' in mode_tables\.table5\.rows\.0\.paper",
        ),
    ],
)
def test_a_bad_mode_table_stops_the_config_check(demo_config_dict, change, message):
    change(demo_config_dict)
    with pytest.raises(ConfigError, match=message):
        prepare_config(demo_config_dict)


def test_a_spec_without_rows_is_an_error():
    with pytest.raises(UserError, match="the mode table spec lacks rows"):
        build_mode_table({})


def test_the_paper_configs_modes_are_the_papers_table5():
    """The paper study trains what the paper's table 5 says: no cell of ours is marked."""
    config = load_config(REPO / "config.yaml")
    table = table5(config)
    assert "(≠ paper)" not in table.to_string()
    assert table["mode"].tolist()[:2] == ["A", "A"] and len(table) == 17  # 8 modes and their paper lines, off the shelf


def test_the_demos_table5_marks_how_it_scales_the_paper_down():
    assert marked(table5(load_config(DEMO_CONFIG))) == {
        ("A", "max epochs"),
        ("B", "max epochs"),
        ("end_from_scratch", "max epochs"),
        ("end_from_scratch", "augmentation"),  # translation up to 4 px of 64, not 28 of 224
        ("from_scratch", "max epochs"),
    }


def test_the_caption_explains_the_columns_the_mark_and_what_the_papers_table_leaves_out():
    text = publish_parts(mode_table_caption(CONFIG, "table5"), writer="html")["body"]
    assert "'(≠ paper)' marks our value where it differs from the paper's" in text
    assert "A mode without a paper line is not in the paper's table." in text
    assert "batch size 32 (A, late, shelf), 16 (scratch); SGD momentum 0.9." in text
