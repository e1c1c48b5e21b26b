"""The tidy table every metric ends up in: one row per (model pair, layer, channel, metric, k)."""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ("model_a", "model_b", "layer", "channel", "metric", "value", "k")


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
