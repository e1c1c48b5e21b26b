"""l2 distance between two models' convolution kernels (paper table 2 and table 4).

For each convolution, ||W_b - W_a||_F, the Frobenius norm of the difference of the two kernels (biases left out,
nothing normalised); the model-level number is the arithmetic mean over the trunk's 57 convolutions
(``artfinetune.model.layers.TRUNK_CONVS``; the auxiliary and classification heads are left out).
Kernels come in as dicts conv name -> array; reading them from model files is the caller's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from artfinetune.errors import UserError


def _paired(kernels_a: Mapping, kernels_b: Mapping, convs: Sequence[str] | None):
    """Yield (name, W_a, W_b) in order, after checking that both models have every conv with the same shape."""
    if convs is None:
        if set(kernels_a) != set(kernels_b):
            only_a, only_b = sorted(set(kernels_a) - set(kernels_b)), sorted(set(kernels_b) - set(kernels_a))
            raise UserError(
                f"the two models have different convolutions: only in the first {only_a}, only in the second {only_b}"
            )
        convs = list(kernels_a)
    for name in convs:
        for label, kernels in (("first", kernels_a), ("second", kernels_b)):
            if name not in kernels:
                raise UserError(f"convolution {name!r} is missing from the {label} model's kernels")
    if not convs:
        raise UserError("no convolution to compare")
    for name in convs:
        W_a, W_b = np.asarray(kernels_a[name], dtype=np.float64), np.asarray(kernels_b[name], dtype=np.float64)
        if W_a.shape != W_b.shape:
            raise UserError(
                f"convolution {name!r} has kernel shape {W_a.shape} in the first model and {W_b.shape} in the second"
            )
        yield name, W_a, W_b


def l2_distances(kernels_a: Mapping, kernels_b: Mapping, convs: Sequence[str] | None = None) -> dict[str, float]:
    """||W_b - W_a||_F per convolution; ``convs`` picks and orders them (default: all, which must match)."""
    return {name: float(np.linalg.norm(W_b - W_a)) for name, W_a, W_b in _paired(kernels_a, kernels_b, convs)}


def relative_changes(kernels_a: Mapping, kernels_b: Mapping, convs: Sequence[str] | None = None) -> dict[str, float]:
    """||W_b - W_a||_F / ||W_a||_F per convolution: inf when W_a is all zeros and W_b is not, NaN when both are."""
    out = {}
    for name, W_a, W_b in _paired(kernels_a, kernels_b, convs):
        change, norm_a = np.linalg.norm(W_b - W_a), np.linalg.norm(W_a)
        if norm_a > 0:
            out[name] = float(change / norm_a)
        else:
            out[name] = float("inf") if change > 0 else float("nan")
    return out


def mean_l2(kernels_a: Mapping, kernels_b: Mapping, convs: Sequence[str] | None = None) -> float:
    """The paper's "mean l2 norm": the arithmetic mean over convolutions of ||W_b - W_a||_F."""
    return float(np.mean(list(l2_distances(kernels_a, kernels_b, convs).values())))
