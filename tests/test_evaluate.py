import copy
import json

import numpy as np
import pytest

from artfinetune.errors import ConfigError
from artfinetune.figures.tables import write_table
from artfinetune.study.config import prepare_config
from artfinetune.train.evaluate import evaluate_ensemble, save_predictions
from artfinetune.train.metrics import average_precisions, evaluate_predictions, metric_names, top_k_accuracy


def test_top_k_by_hand():
    probs = np.array([[0.5, 0.3, 0.2, 0.0], [0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])
    labels = np.array([0, 1, 3])
    assert top_k_accuracy(probs, labels, 1) == pytest.approx(1 / 3)  # only the first
    assert top_k_accuracy(probs, labels, 3) == pytest.approx(2 / 3)  # class 1 is 3rd in row 2; class 3 is 4th in row 3
    assert evaluate_predictions(probs, labels, "single_label", list("abcd")) == pytest.approx(
        {"top1": 100 / 3, "top3": 200 / 3}
    )
    assert metric_names("single_label", 25) == ["top1", "top3", "top5"]
    assert metric_names("multi_label", 7) == ["mAP"]


def test_average_precision_by_hand():
    # class 0: ranking 1,0,1,0 -> precision at the positives 1/1 and 2/3 -> AP 5/6
    # class 1: ranking 0,1,0,0 -> one positive at rank 2 -> AP 1/2; class 2: no positive -> undefined
    scores = np.array([[0.9, 0.1, 0.5], [0.8, 0.3, 0.4], [0.7, 0.7, 0.3], [0.6, 0.2, 0.2]])
    labels = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0]])
    ap = average_precisions(scores, labels)
    assert ap[0] == pytest.approx(5 / 6) and ap[1] == pytest.approx(1 / 2) and np.isnan(ap[2])
    result = evaluate_predictions(scores, labels, "multi_label", ["a", "b", "c"])
    assert result["mAP"] == pytest.approx(100 * (5 / 6 + 1 / 2) / 2)
    assert result["AP"] == {"a": pytest.approx(500 / 6), "b": pytest.approx(50.0), "c": None}


def test_ensemble_averages_probabilities(tmp_path):
    labels = np.array([0, 1])
    a = np.array([[0.6, 0.4], [0.6, 0.4]], np.float32)  # wrong on the second image
    b = np.array([[0.2, 0.8], [0.2, 0.8]], np.float32)  # wrong on the first
    c = np.array([[0.9, 0.1], [0.3, 0.7]], np.float32)
    for name, p in zip("abc", (a, b, c), strict=True):
        save_predictions(tmp_path / f"{name}.npz", p, labels, np.array([3, 5]), "single_label", ["x", "y"])
    result = evaluate_ensemble([tmp_path / f"{n}.npz" for n in "abc"], tmp_path / "ens")
    # mean: [[0.567, 0.433], [0.367, 0.633]] -> both right
    assert result["metrics"] == {"top1": 100.0}
    assert json.loads((tmp_path / "ens/eval.json").read_text())["metrics"]["top1"] == 100.0
    save_predictions(tmp_path / "d.npz", a, labels, np.array([3, 6]), "single_label", ["x", "y"])
    with pytest.raises(ValueError, match="does not predict the same images"):
        evaluate_ensemble([tmp_path / "a.npz", tmp_path / "d.npz"], tmp_path / "bad")


def eval_writer(folder):
    """A function that writes a run's eval.json (its metrics) for one seed and returns its path."""

    def ev(name, seed, metrics):
        path = folder / f"{name}_{seed}.json"
        path.write_text(json.dumps({"metrics": metrics}))
        return str(path)

    return ev


def test_table_has_a_column_per_seed_the_mean_and_the_paper(tmp_path):
    ev = eval_writer(tmp_path)

    spec = {
        "title": "Table 3",
        "seeds": [1, 2],
        "rows": [{"label": "FT mode A", "runs": ["p_A", "i_A"], "paper": [64.8, 59.2]}],
        "columns": {
            "p_A": {"dataset": "paintings", "metrics": ["mAP"],
                    "evals": {"1": ev("p", 1, {"mAP": 60.0}), "2": ev("p", 2, {"mAP": 62.0})}},
            "i_A": {"dataset": "iconart", "metrics": ["mAP"],
                    "evals": {"1": ev("i", 1, {"mAP": 50.0}), "2": ev("i", 2, {"mAP": 55.0})}},
        },
    }  # fmt: skip
    table = write_table(spec, tmp_path / "t.csv", tmp_path / "t.md")
    assert table[["dataset", "seed 1 (paper's run)", "seed 2", "mean", "paper"]].values.tolist() == [
        ["paintings", 60.0, 62.0, 61.0, 64.8],
        ["iconart", 50.0, 55.0, 52.5, 59.2],
    ]
    md = (tmp_path / "t.md").read_text()
    assert md.startswith("# Table 3")
    assert "| FT mode A | iconart | mAP | i_A | 50.00 | 55.00 | 52.50 | 5.00 | 59.20 |" in md  # spread 55 - 50


def test_a_run_with_fewer_seeds_leaves_their_cells_empty_and_averages_its_own(tmp_path):
    ev = eval_writer(tmp_path)

    spec = {
        "title": "Table 1",
        "seeds": [1, 2, 3],
        "rows": [{"label": "FT mode A", "runs": ["r_A"]}, {"label": "From scratch", "runs": ["r_S"]}],
        "columns": {
            "r_A": {"dataset": "rasta", "metrics": ["top1"],
                    "evals": {"1": ev("a", 1, {"top1": 50.0}), "2": ev("a", 2, {"top1": 56.0}),
                              "3": ev("a", 3, {"top1": 59.0})}},
            "r_S": {"dataset": "rasta", "metrics": ["top1"],
                    "evals": {"1": ev("s", 1, {"top1": 40.0}), "3": ev("s", 3, {"top1": 45.0})}},
        },
    }  # fmt: skip
    table = write_table(spec, tmp_path / "t.csv", tmp_path / "t.md")
    columns = ["seed 1 (paper's run)", "seed 2", "seed 3", "mean"]
    assert table[columns].values.tolist()[0] == [50.0, 56.0, 59.0, 55.0]
    assert table[columns].values.tolist()[1][0] == 40.0 and np.isnan(table[columns].values.tolist()[1][1])
    assert table[columns].values.tolist()[1][2:] == [45.0, 42.5]  # the mean of the seeds it has, 1 and 3
    assert table["spread"].tolist() == [59.0 - 50.0, 45.0 - 40.0]  # largest minus smallest over its seeds
    assert "| From scratch | rasta | top1 | r_S | 40.00 |  | 45.00 | 42.50 | 5.00 |" in (tmp_path / "t.md").read_text()


def test_seed_variants_are_the_same_comparison_with_the_other_seeds(demo_config_dict):
    from artfinetune.study.names import analysis_pairs, seed_variants

    cfg = copy.deepcopy(demo_config_dict)
    cfg["runs"]["styles_B"].pop("seeds")  # seeds 1 and 2: styles_A and styles_B trained with both, the others 1
    config = prepare_config(cfg)
    assert seed_variants(config, ["imagenet", "styles_A/1"]) == [("imagenet", "styles_A/2")]
    assert seed_variants(config, ["styles_A/1", "styles_B/1"]) == [("styles_A/2", "styles_B/2")]
    assert seed_variants(config, ["styles_A/1", "styles_A/2"]) == []  # two trainings: itself the spread's estimate
    assert seed_variants(config, ["styles_from_scratch/1/init", "styles_from_scratch/1"]) == []  # one seed only
    cfg = copy.deepcopy(demo_config_dict)
    cfg["runs"]["styles_from_scratch"].pop("seeds", None)
    both = prepare_config(cfg)
    assert seed_variants(both, ["styles_from_scratch/1/init", "styles_from_scratch/1"]) == [
        ("styles_from_scratch/2/init", "styles_from_scratch/2")
    ]
    assert ("styles_A/2", "styles_B/2") in analysis_pairs(config)  # table 2's pair with seed 2: measured too


def test_a_runs_own_seeds_decide_its_models_targets_and_table_inputs(demo_config_dict):
    from artfinetune.figures.tables import table_inputs
    from artfinetune.study.names import parse_model, run_seeds

    cfg = copy.deepcopy(demo_config_dict)
    cfg["seeds"] = [1, 2]
    cfg["runs"]["styles_A"].pop("seeds", None)
    for run in ("styles_end_from_scratch", "styles_from_scratch", "styles_off_the_shelf"):
        cfg["runs"][run]["seeds"] = [1]
    config = prepare_config(cfg)
    assert run_seeds(config, "styles_A") == [1, 2] and run_seeds(config, "styles_from_scratch") == [1]
    assert run_seeds(config, "styles_ensemble") == [1]  # the seeds its three runs share
    with pytest.raises(ValueError, match=r"run 'styles_from_scratch' is trained with seeds \[1\]"):
        parse_model("styles_from_scratch/2", config)
    inputs = table_inputs(config, "table1")
    assert sum("/styles_A/2/" in i for i in inputs) == 1
    assert not [i for i in inputs if "/2/" in i and "/styles_A/" not in i]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"styles_A": [3]}, r"runs\.styles_A\.seeds has \[3\], which are not in seeds \[1, 2\]"),
        (
            {"styles_A": [1], "objects_styles_A": [1, 2]},
            r"runs\.objects_styles_A starts from run 'styles_A' with seeds \[2\], which 'styles_A' is not trained with",
        ),
        (
            {"styles_A": [2], "styles_end_from_scratch": [1], "styles_from_scratch": [1], "objects_styles_A": [2],
             "objects_off_the_shelf_styles": [2]},
            r"ensembles\.styles_ensemble: its runs share no seed",
        ),
    ],
)  # fmt: skip
def test_a_runs_seeds_are_checked_against_the_study_its_init_run_and_its_ensembles(demo_config_dict, change, message):
    cfg = copy.deepcopy(demo_config_dict)
    cfg["seeds"] = [1, 2]
    for run, seeds in change.items():
        cfg["runs"][run]["seeds"] = seeds
    with pytest.raises(ConfigError, match=message):
        prepare_config(cfg)


def test_config_checks_ensembles_and_tables(demo_config_dict):
    import copy

    cfg = copy.deepcopy(demo_config_dict)
    cfg["ensembles"]["styles_ensemble"]["runs"].append("objects_A")
    with pytest.raises(ConfigError, match="ensembles.styles_ensemble mixes datasets"):
        prepare_config(cfg)
    cfg = copy.deepcopy(demo_config_dict)
    cfg["tables"]["table1"]["rows"][0]["paper"] = [30.95, 58.71]
    with pytest.raises(
        ConfigError, match=r"tables\.table1\.rows\[0\] \(Off-the-shelf\) gives 2 paper values, expected 3"
    ):
        prepare_config(cfg)
    cfg = copy.deepcopy(demo_config_dict)
    cfg["tables"]["table3"]["rows"][0]["runs"] = ["objects_Z"]
    with pytest.raises(ConfigError, match=r"names \['objects_Z'\], which are neither runs nor ensembles"):
        prepare_config(cfg)
