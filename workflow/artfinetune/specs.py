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
    return {"title": table["title"], "metrics": table["metrics"], "rows": rows, "layers": config["layers"]}


def comparison_table_inputs(config: dict, name: str) -> list[str]:
    spec = comparison_table_spec(config, name)
    return [p[k] for row in spec["rows"] for p in row["pairs"] for k in ("cka", "l2") if p[k]]


# --- renders, mosaics, galleries and panels (issue: feature visualisation) -------------------------------------------


def _pairs_with(config: dict, model: str) -> list:
    return [
        p for p in [*config["galleries"], *(p for x in config["panels"].values() for p in x["pairs"])] if model in p
    ]


def named_channels(config: dict, pair) -> list[str]:
    """The named channels shown for a pair: render.channels if it has a gallery, and its panels' channels."""
    names = list(config["render"]["channels"]) if list(pair) in [list(p) for p in config["galleries"]] else []
    for panel in config["panels"].values():
        if list(pair) in [list(p) for p in panel["pairs"]]:
            names += panel["channels"]
    return list(dict.fromkeys(names))


def model_channels(config: dict, model: str) -> list[str]:
    """Every named channel a model is rendered for, in a stable order (adding a channel reruns its renders)."""
    return sorted({c for pair in _pairs_with(config, model) for c in named_channels(config, pair)})


def changed_settings(config: dict) -> dict:
    """How a gallery chooses its channels automatically: per layer, most and least changed at the smallest k."""
    return {"layers": config["layers"], "per_layer": config["render"]["per_layer"], "k": min(config["topk"])}


def gallery_has_changed(config: dict, pair) -> bool:
    return config["render"]["per_layer"] > 0 and list(pair) in [list(p) for p in config["galleries"]]


def panel_spec(config: dict, name: str) -> dict:
    """A panel's columns: per pair and channel, the renders and mosaics before (model a) and after (model b)."""
    panel = config["panels"][name]
    columns = []
    for pair in panel["pairs"]:
        mosaics = paths.mosaic_dir(config, pair)
        for channel in panel["channels"]:
            columns.append(
                {
                    "label": f"{channel}\n{pair[1]}" if len(panel["pairs"]) > 1 else channel,
                    "render_before": f"{paths.render_dir(config, pair[0])}/{paths.channel_file(channel)}",
                    "mosaic_before": f"{mosaics}/{paths.channel_file(channel, 'a_')}",
                    "render_after": f"{paths.render_dir(config, pair[1])}/{paths.channel_file(channel)}",
                    "mosaic_after": f"{mosaics}/{paths.channel_file(channel, 'b_')}",
                }
            )
    return {"title": panel["title"], "columns": columns}


def panel_inputs(config: dict, name: str) -> list[str]:
    pairs = config["panels"][name]["pairs"]
    return sorted(
        {paths.render_dir(config, m) for p in pairs for m in p} | {paths.mosaic_dir(config, p) for p in pairs}
    )
