"""Model comparison tables (the paper's tables 2 and 4): mean CKA and mean l2 of model pairs, beside the paper's values.

One line per row and model pair. ``mean_cka`` is the arithmetic mean over the layers present of the pair's linear
CKA (paper table 4, "mean over layers"); ``mean_l2`` is the l2 file's ``all``/``mean_l2`` row (the mean over the
trunk's 57 convolutions, paper tables 2 and 4), read as written, not recomputed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from artfinetune.errors import UserError
from artfinetune.train.tables import save_table

TIDY_COLUMNS = ("model_a", "model_b", "layer", "channel", "metric", "value", "k")
# Which metric file each table column reads.
MEASURE_FILES = {"mean_cka": "cka", "mean_l2": "l2"}


def read_tidy(path: str | Path, metrics: Iterable[str], columns: Iterable[str] = TIDY_COLUMNS) -> pd.DataFrame:
    """Read a metric stage's tidy CSV; a UserError names the file when a column or one of ``metrics`` is missing."""
    frame = pd.read_csv(path, dtype={"layer": str, "metric": str, "channel": "Int64", "k": "Int64"})
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(f"{path} lacks column(s) {', '.join(missing)}; it has {', '.join(frame.columns)}")
    present = set(frame["metric"])
    absent = [m for m in metrics if m not in present]
    if absent:
        have = ", ".join(sorted(present)) or "none"
        raise UserError(f"{path} has no rows with metric {', '.join(absent)}; its metrics are {have}")
    return frame


def mean_cka(path: str | Path, layers: Iterable[str] | None = None) -> float:
    """Mean of the linear CKA over ``layers`` (paper table 4: the 12 study layers; None: every tensor in the file,
    branch tensors included); a missing layer is an error and a NaN layer makes the mean NaN, not smaller."""
    frame = read_tidy(path, ["linear_cka"])
    linear = frame[frame["metric"] == "linear_cka"]
    if layers is not None:
        layers = list(layers)
        missing = [layer for layer in layers if layer not in set(linear["layer"])]
        if missing:
            raise UserError(f"{path} has no linear_cka of {', '.join(missing)}; measure the pair on those layers")
        linear = linear[linear["layer"].isin(layers)]
    repeated = sorted(set(linear.loc[linear["layer"].duplicated(), "layer"]))
    if repeated:
        raise UserError(f"{path} has several linear_cka rows for layer(s) {', '.join(repeated)}; expected one each")
    return float(linear["value"].mean(skipna=False))


def mean_l2(path: str | Path) -> float:
    """The l2 file's ``all``/``mean_l2`` row: the mean over the trunk's convolutions, as the metric stage wrote it."""
    frame = read_tidy(path, ["mean_l2"])
    row = frame[(frame["metric"] == "mean_l2") & (frame["layer"] == "all")]
    if len(row) != 1:
        raise UserError(f"{path} must have exactly one row with layer 'all' and metric mean_l2; it has {len(row)}")
    return float(row["value"].iloc[0])


MEASURES = {"mean_cka": mean_cka, "mean_l2": mean_l2}


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
    path = pair.get(MEASURE_FILES[metric])
    if not path:
        raise UserError(f"pair {pair['pair']!r} needs a {MEASURE_FILES[metric]} file for {metric}; none was given")
    return mean_cka(path, layers) if metric == "mean_cka" else MEASURES[metric](path)


def build_comparison_table(spec: dict) -> pd.DataFrame:
    """``spec``: ``title``, ``metrics`` (mean_cka, mean_l2), ``rows`` (label, pairs, optional paper values)."""
    missing = [k for k in ("metrics", "rows") if k not in spec]
    if missing:
        raise UserError(f"the comparison table spec lacks {', '.join(missing)}")
    metrics = list(spec["metrics"])
    unknown = [m for m in metrics if m not in MEASURES]
    if unknown:
        raise UserError(f"unknown comparison metric(s) {', '.join(unknown)}; choose from {', '.join(MEASURES)}")
    with_paper = any(row.get("paper") is not None for row in spec["rows"])
    lines = []
    for row in spec["rows"]:
        paper = paper_values(row, metrics)
        for i, pair in enumerate(row["pairs"]):
            line = {"model pair": row["label"], "dataset": pair["dataset"], "pair": pair["pair"]}
            for j, metric in enumerate(metrics):
                line[metric] = measure(pair, metric, spec.get("layers"))
                if with_paper:
                    line[f"paper {metric}"] = paper[i][j] if paper else None
            lines.append(line)
    return pd.DataFrame(lines)


def write_comparison_table(
    spec: dict, out_csv: str | Path, out_md: str | Path, out_html: str | Path | None = None
) -> pd.DataFrame:
    """Write a comparison table as CSV (full precision), markdown and HTML (two decimals), as tables 1 and 3 are."""
    return save_table(build_comparison_table(spec), spec.get("title", ""), out_csv, out_md, out_html)
