"""Hand-made metric files and result tables for the findings tests, with the helpers that judge one claim."""

from __future__ import annotations

import math

import pandas as pd

from artfinetune.model.layers import TRUNK_CONVS
from artfinetune.report.findings import evaluate_findings

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


def write_l2_per_layer(path, per_layer: dict[str, float]) -> str:
    """An l2.csv with an ``l2`` row for each trunk convolution of each layer given (every convolution of a layer at
    its value) and the ``all`` row their mean over the convolutions, as the metric stage writes it."""
    # an InceptionV1 convolution is named after its layer (conv2d0, mixed4a_1x1): written here independently
    values = {conv: v for layer, v in per_layer.items() for conv in TRUNK_CONVS if conv.split("_")[0] == layer}
    rows = [["a", "b", conv, None, "l2", v, None] for conv, v in values.items()]
    rows.append(["a", "b", "all", None, "mean_l2", sum(values.values()) / len(values), None])
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
    """A result table (model, dataset, metric, run, seed 1 (paper's run), seed 2, mean, paper) from (model, dataset,
    metric, mean)."""
    seeds = {"seed 1 (paper's run)": None, "seed 2": None}
    rows = [
        {"model": m, "dataset": d, "metric": metric, "run": "r", **dict.fromkeys(seeds, v), "mean": v, "paper": None}
        for m, d, metric, v in lines
    ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def by_id(findings) -> dict:
    return {f.id: f for f in findings}


def judge(spec: dict, ident: str):
    return by_id(evaluate_findings(spec))[ident]
