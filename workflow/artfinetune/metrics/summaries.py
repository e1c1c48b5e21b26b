"""One number per model pair from its metric tables: the paper's mean CKA and mean l2 (tables 2 and 4, findings).

``mean_cka`` is the arithmetic mean over the layers present of the pair's linear CKA (paper table 4, "mean over
layers"); ``mean_l2`` is the l2 file's ``all``/``mean_l2`` row (the mean over the trunk's 57 convolutions, paper
tables 2 and 4), read as written, not recomputed, unless it is asked for some of the convolutions only (the
findings leave out frozen ones).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from artfinetune.errors import UserError
from artfinetune.metrics.table import read_tidy


def mean_cka(path: str | Path, layers: Iterable[str] | None = None) -> float:
    """Mean of the linear CKA over ``layers`` (paper table 4: the 12 study layers; None: every tensor in the file,
    branch tensors included); a missing layer is an error and a NaN layer makes the mean NaN, not smaller."""
    return _mean_of_rows(path, "linear_cka", None if layers is None else list(layers), "layer")


def _mean_of_rows(path: str | Path, metric: str, names: list[str] | None, what: str) -> float:
    """The mean of ``metric``'s rows at the tensors ``names`` (None: every row), one row each, NaN kept."""
    frame = read_tidy(path, [metric])
    rows = frame[frame["metric"] == metric]
    if names is not None:
        missing = [name for name in names if name not in set(rows["layer"])]
        if missing:
            raise UserError(f"{path} has no {metric} of {', '.join(missing)}; measure the pair on those {what}s")
        rows = rows[rows["layer"].isin(names)]
    repeated = sorted(set(rows.loc[rows["layer"].duplicated(), "layer"]))
    if repeated:
        raise UserError(f"{path} has several {metric} rows for {what}(s) {', '.join(repeated)}; expected one each")
    return float(rows["value"].mean(skipna=False))


def mean_l2(path: str | Path, convs: Iterable[str] | None = None) -> float:
    """The l2 file's ``all``/``mean_l2`` row: the mean over the trunk's convolutions, as the metric stage wrote it;
    with ``convs``, the mean of those convolutions' ``l2`` rows (a missing one is an error, a NaN makes it NaN)."""
    if convs is not None:
        return _mean_of_rows(path, "l2", list(convs), "convolution")
    frame = read_tidy(path, ["mean_l2"])
    row = frame[(frame["metric"] == "mean_l2") & (frame["layer"] == "all")]
    if len(row) != 1:
        raise UserError(f"{path} must have exactly one row with layer 'all' and metric mean_l2; it has {len(row)}")
    return float(row["value"].iloc[0])


# Each summary and the pair metric file it reads (:data:`artfinetune.study.names.PAIR_METRICS`).
SUMMARIES = {"mean_cka": (mean_cka, "cka"), "mean_l2": (mean_l2, "l2")}
