"""The tidy metrics table: per-channel arrays and per-layer numbers in the same columns."""

import numpy as np
import pandas as pd
import pytest

from artfinetune.metrics.table import COLUMNS, tidy_frame


def test_per_channel_and_per_layer_rows_stack():
    overlap = tidy_frame("imagenet", "rasta_A/1", "mixed4d", "overlap", [0.5, 0.0, np.nan], k=100)
    cka = tidy_frame("imagenet", "rasta_A/1", "mixed4d", "linear_cka", 0.75)
    table = pd.concat([overlap, cka], ignore_index=True)
    assert tuple(table.columns) == COLUMNS
    assert table["channel"].tolist()[:3] == [0, 1, 2] and table["channel"].isna().tolist() == [False] * 3 + [True]
    assert table["k"].tolist()[:3] == [100] * 3 and pd.isna(table["k"].iloc[3])
    assert np.isnan(table["value"].iloc[2]) and table["value"].iloc[3] == 0.75
    assert set(table["layer"]) == {"mixed4d"} and set(table["metric"]) == {"overlap", "linear_cka"}


def test_a_matrix_is_refused():
    with pytest.raises(ValueError, match="overlap of conv2d0: expected a number or one value per channel"):
        tidy_frame("a", "b", "conv2d0", "overlap", np.zeros((2, 2)))
