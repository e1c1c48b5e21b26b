"""Spearman's rank correlation with a confidence interval: the render-change finding's measure.

The interval is Fisher's: z = artanh(rho) is close to normal with standard error sqrt(1.06 / (n - 3)) for a rank
correlation (Fieller, Hartley and Pearson 1957; the 1.06 widens Pearson's 1 / (n - 3) for ranks), so the interval
is tanh(z -+ q * se) with q the normal quantile of the level. It needs no resampling, so a finding's numbers are
the same on every run, and it is the interval statistics packages give for Spearman's rho; for small n (below
about 10) or |rho| near 1 it is approximate, which is why the finding asks for a minimum number of channels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

FIELLER = 1.06


@dataclass(frozen=True)
class Correlation:
    rho: float
    low: float
    high: float
    n: int


def spearman_interval(x, y, level: float = 0.95) -> Correlation:
    """Spearman's rho between ``x`` and ``y`` (ties get their average rank) and its Fisher interval at ``level``;
    pairs where either value is NaN are left out. NaN throughout for fewer than 4 pairs or a constant variable."""
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = len(x)
    if n < 4 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Correlation(math.nan, math.nan, math.nan, n)
    rho = float(spearmanr(x, y).statistic)
    if abs(rho) >= 1:
        return Correlation(rho, rho, rho, n)
    z, se = math.atanh(rho), math.sqrt(FIELLER / (n - 3))
    q = NormalDist().inv_cdf(0.5 + level / 2)
    return Correlation(rho, math.tanh(z - q * se), math.tanh(z + q * se), n)
