"""Model comparison tables (the paper's tables 2 and 4): mean CKA and mean l2 of model pairs, beside the paper's values.

One line per row and model pair, each summary as :mod:`artfinetune.metrics.summaries` defines it. The rule
``comparison_table`` passes :func:`comparison_table_spec` as JSON and the command calls
:func:`write_comparison_table`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from artfinetune.errors import UserError
from artfinetune.figures.cka import CKA_HOW
from artfinetune.figures.tables import save_table, trainings_text
from artfinetune.metrics.summaries import SUMMARIES, mean_cka_interval
from artfinetune.model.architectures import DEFAULT as DEFAULT_ARCHITECTURE
from artfinetune.model.architectures import architecture
from artfinetune.study.names import analysis_layers, pair_architecture, pair_dataset, pair_label, seed_variants
from artfinetune.study.paths import pair_files
from artfinetune.study.report import rst_escape


def comparison_table_spec(config: dict, name: str) -> dict:
    """A comparison table's rows with, for each pair, its dataset and the metric files its metrics need."""
    table = config["comparison_tables"][name]
    rows = []

    def entry(pair) -> dict:
        files = pair_files(config, pair)
        out = {
            "pair": pair_label(pair),
            "dataset": pair_dataset(config, pair),
            "cka": files["cka"] if "mean_cka" in table["metrics"] else None,
            "l2": files["l2"] if "mean_l2" in table["metrics"] else None,
        }
        arch = pair_architecture(config, pair)
        if arch != DEFAULT_ARCHITECTURE:  # another architecture's pair: its mean CKA is over its own layers
            out["layers"] = analysis_layers(config, arch)
        return out

    for row in table["rows"]:
        pairs = []
        for pair in row["pairs"]:
            # the same comparison with the models' other seeds: the spread across trainings
            pairs.append({**entry(pair), "variants": [entry(v) for v in seed_variants(config, pair)]})
        rows.append({"label": row["label"], "pairs": pairs, **({"paper": row["paper"]} if "paper" in row else {})})
    layers = analysis_layers(config, DEFAULT_ARCHITECTURE)  # the config's layers, for InceptionV1 pairs
    return {"title": table["title"], "metrics": table["metrics"], "rows": rows, "layers": layers}


def comparison_table_inputs(config: dict, name: str) -> list[str]:
    spec = comparison_table_spec(config, name)
    pairs = [q for row in spec["rows"] for p in row["pairs"] for q in [p, *p.get("variants", [])]]
    return list(dict.fromkeys(q[k] for q in pairs for k in ("cka", "l2") if q[k]))


def _table_architectures(config: dict, table: dict) -> list[str]:
    pairs = [pair for row in table["rows"] for pair in row["pairs"]]
    return list(dict.fromkeys(pair_architecture(config, pair) for pair in pairs)) or [DEFAULT_ARCHITECTURE]


def _layers_text(config: dict, table: dict) -> str:
    archs = _table_architectures(config, table)
    if archs == [DEFAULT_ARCHITECTURE]:
        return ", ".join(analysis_layers(config, DEFAULT_ARCHITECTURE))
    return "; ".join(f"{arch}: {', '.join(analysis_layers(config, arch))}" for arch in archs)


def _convs_text(config: dict, table: dict) -> str:
    counts = {arch: len(architecture(arch).trunk_convs) for arch in _table_architectures(config, table)}
    if len(counts) == 1:
        return f"{next(iter(counts.values()))} convolutions"
    return ", ".join(f"{arch}'s {n} convolutions" for arch, n in counts.items())


def comparison_table_caption(config: dict, name: str) -> str:
    """Tables 2 and 4: mean CKA over the layers and mean l2 over the trunk convolutions, per pair of models."""
    table = config["comparison_tables"][name]
    parts = [f"{table['title'] or name}."]
    if "mean_cka" in table["metrics"]:
        parts.append(
            f"mean_cka: linear CKA averaged over the layers {_layers_text(config, table)}, with its 95 % confidence "
            f"interval over images (mean_cka low, mean_cka high: the jackknife of the bands, applied to the mean). "
            f"{CKA_HOW}"
        )
    if "mean_l2" in table["metrics"]:
        parts.append(
            "mean_l2: the Frobenius norm of the difference of each trunk convolution's kernel "
            f"({_convs_text(config, table)}, biases and auxiliary heads left out, nothing normalised), averaged over "
            "the convolutions."
        )
    if pair_seeds(table):
        parts.append(seeds_text(table, config["seeds"]))
        parts.append(
            "seed spread: the largest minus the smallest value of the same comparison over the seeds its models' "
            "runs were all trained with (each model's seed replaced by the other's, e.g. imagenet vs run/2 beside "
            "imagenet vs run/1); empty where there is no other seed, or for a pair of two seeds of one run, itself "
            "the paper's estimate of that spread."
        )
    paper = [row for row in table["rows"] if row.get("paper")]
    parts.append("The paper's values are in the columns named paper." if paper else "The config gives no paper values.")
    return rst_escape(" ".join(parts))


def pair_seeds(table: dict) -> list[int]:
    """The seeds of the trained models (``run/seed``, ``run/seed/init``) of a comparison table's pairs, in order."""
    models = [model for row in table["rows"] for pair in row["pairs"] for model in pair]
    return sorted({int(model.split("/")[1]) for model in models if "/" in model})


def seeds_text(table: dict, seeds: list[int]) -> str:
    """What the pairs' seeds stand for: the paper compares single trainings ("mode A training 1"), and so do these
    tables, each model naming its seed; there is no column per seed and no mean over seeds."""
    used = pair_seeds(table)
    named = ", ".join(str(s) for s in used)
    return (
        f"Each model is a single training, as in the paper's table: run/seed names its seed ({trainings_text(seeds)}), "
        f"and these pairs are of seed{'s' if len(used) > 1 else ''} {named}{'' if len(used) > 1 else ' only'}; "
        "there is no column per seed and no mean over seeds."
    )


def paper_values(row: dict, metrics: list[str]) -> list[list[float]] | None:
    """The row's paper values split per pair (for each pair, its metrics in order), or None when it has none."""
    if row.get("paper") is None:
        return None
    paper, width = [float(v) for v in row["paper"]], len(metrics)
    expected = width * len(row["pairs"])
    if len(paper) != expected:
        raise UserError(
            f"table row {row['label']!r} has {len(paper)} paper value(s); expected {expected} "
            f"({len(metrics)} metric(s) x {len(row['pairs'])} pair(s), each pair's metrics in turn)"
        )
    return [paper[i : i + width] for i in range(0, expected, width)]


def measure(pair: dict, metric: str, layers: Iterable[str] | None = None) -> float:
    """Our value of ``metric`` for one pair, from the file the metric reads (mean CKA over ``layers``)."""
    summary, kind = SUMMARIES[metric]
    path = pair.get(kind)
    if not path:
        raise UserError(f"pair {pair['pair']!r} needs a {kind} file for {metric}; none was given")
    return summary(path, layers) if metric == "mean_cka" else summary(path)


def seed_spread(value: float, pair: dict, metric: str, layers) -> float | None:
    """The largest minus the smallest of ``metric`` over the pair and its seed variants (the same comparison with
    the models' other seeds); None for a pair without variants."""
    variants = pair.get("variants") or []
    if not variants:
        return None
    values = [value, *(measure(v, metric, layers) for v in variants)]
    return max(values) - min(values)


def build_comparison_table(spec: dict) -> pd.DataFrame:
    """``spec``: ``title``, ``metrics`` (mean_cka, mean_l2), ``rows`` (label, pairs, optional paper values)."""
    missing = [k for k in ("metrics", "rows") if k not in spec]
    if missing:
        raise UserError(f"the comparison table spec lacks {', '.join(missing)}")
    metrics = list(spec["metrics"])
    unknown = [m for m in metrics if m not in SUMMARIES]
    if unknown:
        raise UserError(f"unknown comparison metric(s) {', '.join(unknown)}; choose from {', '.join(SUMMARIES)}")
    with_paper = any(row.get("paper") is not None for row in spec["rows"])
    with_spread = any(pair.get("variants") for row in spec["rows"] for pair in row["pairs"])
    lines = []
    for row in spec["rows"]:
        paper = paper_values(row, metrics)
        for i, pair in enumerate(row["pairs"]):
            line = {"model pair": row["label"], "dataset": pair["dataset"], "pair": pair["pair"]}
            layers = pair.get("layers", spec.get("layers"))  # its architecture's (another's than InceptionV1's)
            for j, metric in enumerate(metrics):
                line[metric] = measure(pair, metric, layers)
                if metric == "mean_cka":
                    line["mean_cka low"], line["mean_cka high"] = mean_cka_interval(pair["cka"], layers)
                if with_spread:
                    line[f"{metric} seed spread"] = seed_spread(line[metric], pair, metric, layers)
                if with_paper:
                    line[f"paper {metric}"] = paper[i][j] if paper else None
            lines.append(line)
    return pd.DataFrame(lines)


def write_comparison_table(
    spec: dict, out_csv: str | Path, out_md: str | Path, out_html: str | Path | None = None
) -> pd.DataFrame:
    """Write a comparison table as CSV (full precision), markdown and HTML (two decimals), as tables 1 and 3 are."""
    return save_table(build_comparison_table(spec), spec.get("title", ""), out_csv, out_md, out_html)
