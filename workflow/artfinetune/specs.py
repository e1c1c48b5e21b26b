"""What each analysis rule needs, built from the config: the models and files of a pair, a figure, a table.

The rules pass these specs to the CLI as JSON, so a figure reruns when its own spec changes (its pairs,
title or k) and not when another figure's does.
"""

from __future__ import annotations

from artfinetune import paths
from artfinetune.config import analysis_pairs, pair_dataset, pair_id


def pair_label(pair) -> str:
    return f"{pair[0]} vs {pair[1]}"


def pairs_by_id(config: dict) -> dict[str, tuple[str, str]]:
    return {pair_id(pair): pair for pair in analysis_pairs(config)}


def pair_files(config: dict, pair) -> dict[str, str]:
    """The metric tables of a pair."""
    folder = paths.pair_dir(config, pair)
    return {"cka": f"{folder}/cka.csv", "l2": f"{folder}/l2.csv", "overlap": f"{folder}/overlap.csv"}


def analysis_models(config: dict) -> list[tuple[str, str]]:
    """Every (dataset, model) whose activations some pair needs."""
    out = []
    for pair in analysis_pairs(config):
        dataset = pair_dataset(config, pair)
        out += [(dataset, model) for model in pair]
    return list(dict.fromkeys(out))


def figure_spec(config: dict, name: str) -> dict:
    """A figure's config section with its pairs resolved to metric files and labels."""
    figure = config["figures"][name]
    spec = {"kind": figure["kind"], "title": figure["title"], "layers": config["layers"]}  # as in the paper
    if figure["kind"] == "cka":
        spec["pairs"] = [[pair_label(p), pair_files(config, p)["cka"]] for p in figure["pairs"]]
        if "reference" in figure:
            spec["reference"] = figure["reference"]
    else:
        pair = figure["pair"]
        spec.update(
            overlap_csv=pair_files(config, pair)["overlap"],
            overlap_k=figure.get("overlap_k", min(config["topk"])),
            entropy_k=figure.get("entropy_k", max(config["topk"])),
            labels=list(pair),
        )
    return spec


def figure_inputs(config: dict, name: str) -> list[str]:
    spec = figure_spec(config, name)
    return [path for _, path in spec["pairs"]] if spec["kind"] == "cka" else [spec["overlap_csv"]]


def comparison_table_spec(config: dict, name: str) -> dict:
    """A comparison table's rows with, for each pair, its dataset and the metric files its metrics need."""
    table = config["comparison_tables"][name]
    rows = []
    for row in table["rows"]:
        pairs = []
        for pair in row["pairs"]:
            files = pair_files(config, pair)
            pairs.append(
                {
                    "pair": pair_label(pair),
                    "dataset": pair_dataset(config, pair),
                    "cka": files["cka"] if "mean_cka" in table["metrics"] else None,
                    "l2": files["l2"] if "mean_l2" in table["metrics"] else None,
                }
            )
        rows.append({"label": row["label"], "pairs": pairs, **({"paper": row["paper"]} if "paper" in row else {})})
    return {"title": table["title"], "metrics": table["metrics"], "rows": rows}


def comparison_table_inputs(config: dict, name: str) -> list[str]:
    spec = comparison_table_spec(config, name)
    return [p[k] for row in spec["rows"] for p in row["pairs"] for k in ("cka", "l2") if p[k]]
