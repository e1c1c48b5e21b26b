"""Centred kernel alignment (CKA) between the features of one layer in two models, on the same n images.

X (n x c) and Y (n x d) hold one row per image (the spatial mean of each channel). Definitions:

- Linear CKA (Kornblith et al. 2019, ICML), with X, Y column-centred:
  CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F).
- Debiased CKA: the same ratio with each squared norm replaced by the unbiased HSIC estimator of
  Song et al. (2012, JMLR 13, "HSIC_1"), as in Kornblith et al.'s reference notebook. With K = X X^T and L = Y Y^T
  whose diagonals are zeroed (K~, L~):
  HSIC_1 = [tr(K~ L~) + (1^T K~ 1)(1^T L~ 1) / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1] / (n (n-3)),
  CKA_1 = HSIC_1(K, L) / sqrt(HSIC_1(K, K) HSIC_1(L, L)).

Feature-space form of HSIC_1 (never builds an n x n matrix, so it streams over rows). Write r_i = ||x_i||^2,
s_i = ||y_i||^2, R = sum_i r_i, S = sum_i s_i, u = X^T 1, v = Y^T 1. Since K~ = X X^T - diag(r):
  tr(K~ L~)    = ||Y^T X||_F^2 - sum_i r_i s_i
  1^T K~ 1     = ||u||^2 - R                      (and 1^T L~ 1 = ||v||^2 - S)
  1^T K~ L~ 1  = (X u - r)^T (Y v - s) = v^T (Y^T X) u - u^T (X^T s) - v^T (Y^T r) + sum_i r_i s_i
Every term is a sum over images, hence exact for any chunking. HSIC_1 is unchanged by a constant shift of the
rows of X or Y (U-centring removes it), so for centred data u = v = 0 and this is Kornblith et al.'s
``feature_space_linear_cka(debiased=True)``. HSIC_1(K, K) is a sum of squares of U-centred entries, so it is
never negative; HSIC_1(K, L) can be, and a negative debiased CKA is reported as it is, never clipped.

Numerics of the stream (benchmarks/bench_metrics.py: n = 10,000, c = 1,024 ReLU features, error against the
centred one-shot float64 value): raw moments X^T X - n mu mu^T err by 7e-6 in float32 with channel means ~0.4,
by 4e-2 with means +100, and by 5e-11 even in float64. So each chunk is first shifted by the first chunk's column
means (exact: both CKAs are shift-invariant), then multiplied and summed in float64: error 2e-16 either way (the
tests ask for 1e-10 with means +1000 and chunks of 7, 1, 50, 42 rows; measured 4e-15). ``product_dtype=np.float32``
multiplies the shifted chunks in float32, still summing in float64: error ~1e-8, about 1.5x faster.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

JACKKNIFE_BLOCKS = 10  # CKA's confidence intervals: delete-one-of-10-blocks jackknife (t with 9 degrees of freedom)


def _centred(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    return X - X.mean(axis=0)


def _check_pair(X, Y) -> None:
    if X.ndim != 2 or Y.ndim != 2:
        raise ValueError(f"features must be 2-D (images x channels); got shapes {X.shape} and {Y.shape}")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"the two models saw different numbers of images: {X.shape[0]} and {Y.shape[0]}")


def _ratio(hsic_xy: float, norm_x: float, norm_y: float) -> float:
    # Constant features give 0/0: the similarity is undefined, not 0 or 1.
    denominator = norm_x * norm_y
    return float(hsic_xy / denominator) if denominator > 0 else float("nan")


def linear_cka(X, Y) -> float:
    """Linear CKA of Kornblith et al. (2019): ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F), columns centred, float64."""
    X, Y = np.asarray(X), np.asarray(Y)
    _check_pair(X, Y)
    X, Y = _centred(X), _centred(Y)
    return _ratio(np.linalg.norm(Y.T @ X) ** 2, np.linalg.norm(X.T @ X), np.linalg.norm(Y.T @ Y))


def unbiased_hsic_gram(K, L) -> float:
    """HSIC_1 of Song et al. (2012) from two n x n Gram matrices; their diagonals are zeroed first."""
    K, L = np.array(K, dtype=np.float64), np.array(L, dtype=np.float64)
    n = K.shape[0]
    if n < 4:
        raise ValueError(f"the unbiased HSIC needs at least 4 images; got {n}")
    # Zeroing, not subtracting a vector: the estimator is defined on the off-diagonal entries only.
    np.fill_diagonal(K, 0.0)
    np.fill_diagonal(L, 0.0)
    trace_KL = np.sum(K * L)  # tr(K~ L~) for symmetric K~, L~
    one_K_one, one_L_one = K.sum(), L.sum()
    one_KL_one = K.sum(axis=0) @ L.sum(axis=0)
    return float((trace_KL + one_K_one * one_L_one / ((n - 1) * (n - 2)) - 2 * one_KL_one / (n - 2)) / (n * (n - 3)))


def debiased_cka_gram(X, Y) -> float:
    """Debiased CKA through the n x n Gram matrices K = X X^T, L = Y Y^T (the reference form; small n only)."""
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    _check_pair(X, Y)
    K, L = X @ X.T, Y @ Y.T
    return _debiased_ratio(unbiased_hsic_gram(K, L), unbiased_hsic_gram(K, K), unbiased_hsic_gram(L, L))


def unbiased_hsic(YtX, u, v, sum_rs, Xt_s, Yt_r, R, S, n) -> float:
    """HSIC_1 (Song et al. 2012) of K = X X^T, L = Y Y^T from feature-space sums (see the module doc).

    YtX = Y^T X, u = X^T 1, v = Y^T 1, sum_rs = sum_i r_i s_i, Xt_s = X^T s, Yt_r = Y^T r, R = sum r, S = sum s.
    """
    if n < 4:
        raise ValueError(f"the unbiased HSIC needs at least 4 images; got {n}")
    trace_KL = np.sum(YtX**2) - sum_rs
    one_K_one = u @ u - R
    one_L_one = v @ v - S
    one_KL_one = v @ YtX @ u - u @ Xt_s - v @ Yt_r + sum_rs
    return float((trace_KL + one_K_one * one_L_one / ((n - 1) * (n - 2)) - 2 * one_KL_one / (n - 2)) / (n * (n - 3)))


def _debiased_ratio(hsic_xy: float, hsic_xx: float, hsic_yy: float) -> float:
    # HSIC_1(K, K) >= 0 in exact arithmetic; a rounding-level negative means constant features: undefined.
    if hsic_xx <= 0 or hsic_yy <= 0:
        return float("nan")
    return float(hsic_xy / np.sqrt(hsic_xx * hsic_yy))


def debiased_cka(X, Y) -> float:
    """Debiased CKA (unbiased HSIC of Song et al. 2012, as in Kornblith et al.'s notebook), feature-space form."""
    X, Y = np.asarray(X), np.asarray(Y)
    _check_pair(X, Y)
    X, Y = _centred(X), _centred(Y)  # u = v = 0; centring first keeps the sums small
    n = X.shape[0]
    r, s = np.einsum("ij,ij->i", X, X), np.einsum("ij,ij->i", Y, Y)
    u, v = X.sum(axis=0), Y.sum(axis=0)
    hsic_xy = unbiased_hsic(Y.T @ X, u, v, r @ s, X.T @ s, Y.T @ r, r.sum(), s.sum(), n)
    hsic_xx = unbiased_hsic(X.T @ X, u, u, r @ r, X.T @ r, X.T @ r, r.sum(), r.sum(), n)
    hsic_yy = unbiased_hsic(Y.T @ Y, v, v, s @ s, Y.T @ s, Y.T @ s, s.sum(), s.sum(), n)
    return _debiased_ratio(hsic_xy, hsic_xx, hsic_yy)


def _copied(value):
    return value.copy() if isinstance(value, np.ndarray) else value


@dataclass
class _Sums:
    """The feature-space sums of some images' features, shifted by one fixed vector per model (additive: the sums
    of a set of images are the sums of its parts, and a part's can be taken away)."""

    XtX: np.ndarray
    YtY: np.ndarray
    YtX: np.ndarray
    u: np.ndarray
    v: np.ndarray
    Xt_r: np.ndarray
    Xt_s: np.ndarray
    Yt_r: np.ndarray
    Yt_s: np.ndarray
    R: float = 0.0
    S: float = 0.0
    sum_rs: float = 0.0
    sum_rr: float = 0.0
    sum_ss: float = 0.0
    n: int = 0

    @classmethod
    def zeros(cls, c: int, d: int) -> _Sums:
        return cls(np.zeros((c, c)), np.zeros((d, d)), np.zeros((d, c)), np.zeros(c), np.zeros(d),
                   np.zeros(c), np.zeros(c), np.zeros(d), np.zeros(d))  # fmt: skip

    def add(self, X: np.ndarray, Y: np.ndarray, product_dtype) -> None:
        """Add shifted float64 rows of both models."""
        Xp, Yp = X.astype(product_dtype, copy=False), Y.astype(product_dtype, copy=False)
        self.XtX += Xp.T @ Xp
        self.YtY += Yp.T @ Yp
        self.YtX += Yp.T @ Xp
        r, s = np.einsum("ij,ij->i", X, X), np.einsum("ij,ij->i", Y, Y)
        self.u += X.sum(axis=0)
        self.v += Y.sum(axis=0)
        self.Xt_r += X.T @ r
        self.Xt_s += X.T @ s
        self.Yt_r += Y.T @ r
        self.Yt_s += Y.T @ s
        self.R += r.sum()
        self.S += s.sum()
        self.sum_rs += r @ s
        self.sum_rr += r @ r
        self.sum_ss += s @ s
        self.n += X.shape[0]

    def accumulate(self, other: _Sums, sign: int = 1) -> None:
        """Add (``sign`` 1) or take away (-1) another part's sums, in place: no new c x c array."""
        for f in fields(self):
            value, part = getattr(self, f.name), getattr(other, f.name)
            if isinstance(value, np.ndarray):
                if sign > 0:
                    value += part
                else:
                    value -= part
            else:
                setattr(self, f.name, value + sign * part)

    def copy(self) -> _Sums:
        """An independent copy (its arrays copied)."""
        return _Sums(**{f.name: _copied(getattr(self, f.name)) for f in fields(self)})

    def combine(self, other: _Sums, sign: int) -> _Sums:
        """New sums: these plus (``sign`` 1) or minus (-1) another part's."""
        out = self.copy()
        out.accumulate(other, sign)
        return out

    def linear(self) -> float:
        """Linear CKA (centring: X_c^T X_c = X^T X - u u^T / n)."""
        n, u, v = self.n, self.u, self.v
        XtX = self.XtX - np.outer(u, u) / n
        YtY = self.YtY - np.outer(v, v) / n
        YtX = self.YtX - np.outer(v, u) / n
        return _ratio(np.linalg.norm(YtX) ** 2, np.linalg.norm(XtX), np.linalg.norm(YtY))

    def debiased(self) -> float:
        """Debiased CKA (unbiased HSIC in feature space)."""
        n, u, v = self.n, self.u, self.v
        hsic_xy = unbiased_hsic(self.YtX, u, v, self.sum_rs, self.Xt_s, self.Yt_r, self.R, self.S, n)
        hsic_xx = unbiased_hsic(self.XtX, u, u, self.sum_rr, self.Xt_r, self.Xt_r, self.R, self.R, n)
        hsic_yy = unbiased_hsic(self.YtY, v, v, self.sum_ss, self.Yt_s, self.Yt_s, self.S, self.S, n)
        return _debiased_ratio(hsic_xy, hsic_xx, hsic_yy)


def jackknife_blocks(n: int, blocks: int, seed: int = 0) -> np.ndarray:
    """Each of n images' block (0 .. blocks - 1): a seeded random partition into blocks of sizes differing by at most
    one, so that a block is a random sample of the images whatever their order in the files (a dataset listed by
    class or artist would otherwise give blocks of one class)."""
    if not 2 <= blocks <= n:
        raise ValueError(f"a jackknife needs between 2 and n = {n} blocks; got {blocks}")
    return np.random.default_rng(seed).permutation(n) % blocks


def jackknife_interval(estimate: float, leave_outs: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The delete-a-block jackknife's interval: pseudo-values B * estimate - (B - 1) * leave_out_b, their mean (the
    bias-corrected estimate) plus or minus Student's t (B - 1 degrees of freedom) times their standard error.
    NaN when any leave-one-out value is undefined."""
    from scipy.special import stdtrit  # Student's t quantile (what scipy.stats.t.ppf calls), without scipy.stats

    leave_outs = np.asarray(leave_outs, dtype=np.float64)
    B = leave_outs.size
    if B < 2 or not np.isfinite(estimate) or not np.isfinite(leave_outs).all():
        return float("nan"), float("nan")
    pseudo = B * estimate - (B - 1) * leave_outs
    half = stdtrit(B - 1, 0.5 + level / 2) * pseudo.std(ddof=1) / np.sqrt(B)
    return float(pseudo.mean() - half), float(pseudo.mean() + half)


class CKAAccumulator:
    """Linear and debiased CKA of a pair of feature matrices streamed in row chunks of any sizes.

    Keeps only feature-space sums (c x c, d x d, d x c matrices and vectors), in float64, of the chunks shifted by
    the first chunk's column means; the result equals the one-shot value up to float64 rounding.
    ``product_dtype=np.float32`` computes the three matrix products in float32 (then sums them in float64).

    With ``blocks`` (each image's jackknife block, in the order the images are streamed; :func:`jackknife_blocks`)
    it keeps the sums of each block instead, B times the memory: every value then also gets a delete-a-block
    jackknife interval (:meth:`intervals`), each leave-one-block-out value computed from the total minus one
    block's sums, with no second pass over the images.
    """

    def __init__(self, product_dtype=np.float64, blocks: np.ndarray | None = None):
        self.product_dtype = np.dtype(product_dtype)
        self.blocks = None if blocks is None else np.asarray(blocks)
        self.n = 0
        self._sum = None

    def _start(self, X: np.ndarray, Y: np.ndarray) -> None:
        c, d = X.shape[1], Y.shape[1]
        # Shift by a mean close to the true one so the products below are of nearly centred data.
        self.shift_x = X.mean(axis=0, dtype=np.float64)
        self.shift_y = Y.mean(axis=0, dtype=np.float64)
        count = 1 if self.blocks is None else int(self.blocks.max()) + 1
        self.parts = [_Sums.zeros(c, d) for _ in range(count)]

    def update(self, X, Y) -> None:
        """Add the features of the same chunk of images in the two models."""
        X, Y = np.asarray(X), np.asarray(Y)
        _check_pair(X, Y)
        if self.n == 0:
            self._start(X, Y)
        elif X.shape[1] != self.parts[0].u.size or Y.shape[1] != self.parts[0].v.size:
            raise ValueError(
                f"chunk has {X.shape[1]} and {Y.shape[1]} channels; earlier chunks had {self.parts[0].u.size} and "
                f"{self.parts[0].v.size}"
            )
        X = X.astype(np.float64) - self.shift_x
        Y = Y.astype(np.float64) - self.shift_y
        rows = X.shape[0]
        self._sum = None
        if self.blocks is None:
            self.parts[0].add(X, Y, self.product_dtype)
        else:
            if self.n + rows > self.blocks.size:
                raise ValueError(f"more images were added than the {self.blocks.size} the blocks were drawn for")
            ids = self.blocks[self.n : self.n + rows]
            for b in np.unique(ids):
                self.parts[b].add(X[ids == b], Y[ids == b], self.product_dtype)
        self.n += rows

    def _total(self) -> _Sums:
        """The sums of every image: the one part, or the blocks' added up once (kept until the next update)."""
        if self.n == 0:
            raise ValueError("no features were added: call update() with at least one chunk first")
        if len(self.parts) == 1:
            return self.parts[0]
        if self._sum is None:
            self._sum = self.parts[0].copy()
            for part in self.parts[1:]:
                self._sum.accumulate(part)
        return self._sum

    def linear(self) -> float:
        """Linear CKA of everything added so far."""
        return self._total().linear()

    def debiased(self) -> float:
        """Debiased CKA of everything added so far."""
        return self._total().debiased()

    def leave_outs(self) -> dict[str, np.ndarray]:
        """Each CKA (``linear``, ``debiased``) without each block's images, block by block; needs ``blocks``."""
        if self.blocks is None:
            raise ValueError("leave-one-block-out values need the images' jackknife blocks: CKAAccumulator(blocks=...)")
        total = self._total()
        if total.n != self.blocks.size:
            raise ValueError(f"{total.n} images were added, but the blocks were drawn for {self.blocks.size}")
        linear, debiased = [], []
        for part in self.parts:  # one block's complement at a time: one c x c copy in memory, not B
            rest = total.combine(part, -1)
            linear.append(rest.linear())
            debiased.append(rest.debiased())
        return {"linear": np.array(linear), "debiased": np.array(debiased)}

    def intervals(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Each CKA's delete-a-block jackknife interval (``linear``, ``debiased``); needs ``blocks``."""
        values = {"linear": self.linear(), "debiased": self.debiased()}
        return {name: jackknife_interval(values[name], out, level) for name, out in self.leave_outs().items()}
