"""The tidy table every metric ends up in: one row per (model pair, layer, channel, metric, k).

``layer`` is the post-ReLU tensor (``mixed4d_3x3``) or, for l2, the convolution; ``channel`` and ``k`` are empty
where a metric has none (CKA, l2); overlap tables add a ``chance`` column. Writers and readers of every stage and
figure use the helpers here, so the columns are spelled once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from artfinetune.errors import UserError
from artfinetune.io import atomic_path

COLUMNS = ("model_a", "model_b", "layer", "channel", "metric", "value", "k")
OVERLAP_COLUMNS = (*COLUMNS, "chance")
OVERLAP_METRICS = ("overlap", "entropy_a", "entropy_b")


def tidy_frame(model_a: str, model_b: str, layer: str, metric: str, values, k: int | None = None) -> pd.DataFrame:
    """Rows for one layer's result: one per channel for an array, one with channel <NA> for a single number.

    ``k`` is <NA> for metrics that have none (CKA, l2). NaN values (e.g. the entropy of an empty set) are kept.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim > 1:
        raise ValueError(f"{metric} of {layer}: expected a number or one value per channel; got shape {values.shape}")
    channels = pd.array(np.arange(values.size) if values.ndim == 1 else [None], dtype="Int64")
    rows = len(channels)
    return pd.DataFrame(
        {
            "model_a": [model_a] * rows,
            "model_b": [model_b] * rows,
            "layer": [layer] * rows,
            "channel": channels,
            "metric": [metric] * rows,
            "value": np.atleast_1d(values),
            "k": pd.array([k] * rows, dtype="Int64"),
        },
        columns=list(COLUMNS),
    )


def write_csv(frame: pd.DataFrame, out: str | Path) -> pd.DataFrame:
    """Write a metric table atomically; returns it."""
    with atomic_path(out) as tmp:
        frame.to_csv(tmp, index=False)
    return frame


def read_tidy(path: str | Path, metrics: Iterable[str], columns: Iterable[str] = COLUMNS) -> pd.DataFrame:
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


def read_overlap_table(path: str | Path) -> pd.DataFrame:
    """An overlap stage's table (overlap and both entropies per channel and k, with the chance level)."""
    return read_tidy(path, OVERLAP_METRICS, columns=OVERLAP_COLUMNS)


def rows_at_k(frame: pd.DataFrame, metrics: Sequence[str], k: int, path: str | Path) -> pd.DataFrame:
    """The rows of ``metrics`` at ``k``; a UserError names the file and the k values it has."""
    rows = frame[frame["metric"].isin(metrics)]
    if not (rows["k"] == k).any():
        available = ", ".join(str(v) for v in sorted(rows["k"].dropna().unique()))
        raise UserError(f"{path} has no {'/'.join(metrics)} rows at k = {k}; its k values are {available or 'none'}")
    return rows[rows["k"] == k]
