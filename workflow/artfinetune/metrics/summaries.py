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


LEAVE_OUT = {"linear_cka": "linear_cka_leave_out", "debiased_cka": "debiased_cka_leave_out"}


def cka_intervals(frame, metric: str = "linear_cka", level: float = 0.95):
    """Per layer of a CKA table, the jackknife interval of ``metric`` from its leave-one-block-out rows: a frame
    with columns layer, low, high (NaN where the file has no such rows, as one written before they existed)."""
    import pandas as pd

    from artfinetune.metrics.cka import jackknife_interval

    values = frame[frame["metric"] == metric].set_index("layer")["value"]
    out = frame[frame["metric"] == LEAVE_OUT[metric]]
    rows = []
    for layer, value in values.items():
        blocks = out[out["layer"] == layer].sort_values("channel")["value"].to_numpy(dtype=float)
        low, high = jackknife_interval(value, blocks, level) if blocks.size else (float("nan"), float("nan"))
        rows.append({"layer": layer, "low": low, "high": high})
    return pd.DataFrame(rows, columns=["layer", "low", "high"])


def mean_cka_interval(path: str | Path, layers: Iterable[str] | None = None, level: float = 0.95) -> tuple:
    """The jackknife interval of :func:`mean_cka` over ``layers``: each block's leave-out values averaged over the
    layers (every layer's CKA was computed without the same block of images), then the usual interval. (NaN, NaN)
    for a file without leave-one-block-out rows."""
    from artfinetune.metrics.cka import jackknife_interval

    frame = read_tidy(path, ["linear_cka"])
    estimate = mean_cka(path, layers)
    out = frame[frame["metric"] == LEAVE_OUT["linear_cka"]]
    if layers is not None:
        out = out[out["layer"].isin(list(layers))]
    if out.empty:
        return float("nan"), float("nan")
    per_block = out.groupby("channel")["value"].mean()  # the mean over layers without block b
    return jackknife_interval(estimate, per_block.sort_index().to_numpy(dtype=float), level)
