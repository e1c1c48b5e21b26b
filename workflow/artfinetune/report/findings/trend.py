"""What "falls with depth" means (see :mod:`artfinetune.report.findings`): Spearman rho and the drop between thirds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_MIN_DROP = 0.02


MAX_RHO = -0.5


MIN_VALUES = 3


TOLERANCE = 1e-9


@dataclass(frozen=True)
class Trend:
    """A sequence of per-layer values (shallow to deep), its Spearman rho against depth and its thirds."""

    values: tuple[float, ...]
    rho: float
    shallow: float
    deep: float
    min_drop: float

    @property
    def drop(self) -> float:
        return self.shallow - self.deep

    @property
    def falls(self) -> bool:
        return not math.isnan(self.rho) and self.rho <= MAX_RHO + TOLERANCE and self.drop >= self.min_drop - TOLERANCE

    def why_not(self) -> str:
        """Why the values do not fall ('' if they do)."""
        reasons = []
        if math.isnan(self.rho):
            reasons.append("the values are constant, so they have no rank correlation with depth")
        elif self.rho > MAX_RHO + TOLERANCE:
            reasons.append(f"Spearman rho {self.rho:.2f} is above {MAX_RHO}")
        if self.drop < self.min_drop - TOLERANCE:
            reasons.append(f"shallow third minus deep third is {self.drop:.3f}, below min_drop {self.min_drop:g}")
        return "; ".join(reasons)


def third(n: int) -> int:
    """How many values make the shallowest (and the deepest) third of ``n``: ceil(n / 3)."""
    return math.ceil(n / 3)


def trend(values: Sequence[float], min_drop: float = DEFAULT_MIN_DROP) -> Trend:
    """The trend of ``values`` (shallow to deep); a ValueError if fewer than 3 values or a NaN."""
    values = tuple(float(v) for v in values)
    if len(values) < MIN_VALUES:
        raise ValueError(f"{len(values)} value(s); a trend needs at least {MIN_VALUES}")
    if any(math.isnan(v) for v in values):
        raise ValueError("a value is NaN")
    if max(values) == min(values):
        rho = math.nan  # spearmanr would warn and return NaN
    else:
        from scipy.stats import spearmanr

        rho = float(spearmanr(np.arange(len(values)), values).statistic)
    m = third(len(values))
    return Trend(values, rho, float(np.mean(values[:m])), float(np.mean(values[-m:])), float(min_drop))


def falls(values: Sequence[float], min_drop: float = DEFAULT_MIN_DROP) -> bool:
    """Whether ``values`` (shallow to deep) fall with depth, as the module docstring defines it."""
    return trend(values, min_drop).falls
