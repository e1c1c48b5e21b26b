"""CKA: known answers from Kornblith et al.'s notebook and Song et al.'s U-statistic, invariances, streaming."""

from itertools import permutations

import numpy as np
import pytest

from artfinetune.metrics.cka import (
    CKAAccumulator,
    debiased_cka,
    debiased_cka_gram,
    jackknife_blocks,
    jackknife_interval,
    linear_cka,
    unbiased_hsic,
    unbiased_hsic_gram,
)

CHUNKS = (7, 1, 50, 42)  # uneven, one of a single row


def notebook_example():
    np.random.seed(1337)  # the reference notebook's seed and draw order
    X = np.random.randn(100, 10)
    Y = X + np.random.randn(100, 10)
    return X, Y


def streamed(X, Y, sizes=CHUNKS, **kwargs) -> CKAAccumulator:
    acc = CKAAccumulator(**kwargs)
    edges = np.cumsum((0, *sizes))
    assert edges[-1] == len(X)
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        acc.update(X[a:b], Y[a:b])
    return acc


def u_statistic_hsic(K, L) -> float:
    """Song et al. (2012): mean over distinct (i, j, q, r) of k_ij l_ij + k_ij l_qr - 2 k_ij l_iq, by brute force."""
    n = len(K)
    total = sum(
        K[i, j] * L[i, j] + K[i, j] * L[q, r] - 2 * K[i, j] * L[i, q] for i, j, q, r in permutations(range(n), 4)
    )
    return total / (n * (n - 1) * (n - 2) * (n - 3))


def test_reference_notebook_values():
    X, Y = notebook_example()
    assert linear_cka(X, Y) == pytest.approx(0.55761, abs=5e-6)
    assert debiased_cka(X, Y) == pytest.approx(0.51346, abs=5e-6)
    assert debiased_cka_gram(X, Y) == pytest.approx(0.51346, abs=5e-6)
    acc = streamed(X, Y)
    assert acc.linear() == pytest.approx(0.55761, abs=5e-6)
    assert acc.debiased() == pytest.approx(0.51346, abs=5e-6)


def test_gram_form_is_song_et_al_u_statistic():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(8, 3)), rng.normal(size=(8, 4)) + 2.0  # uncentred: the estimator ignores the offset
    K, L = X @ X.T, Y @ Y.T
    assert unbiased_hsic_gram(K, L) == pytest.approx(u_statistic_hsic(K, L), rel=1e-12)
    assert unbiased_hsic_gram(K, K) == pytest.approx(u_statistic_hsic(K, K), rel=1e-12)


def test_feature_space_form_equals_gram_form_on_uncentred_data():
    rng = np.random.default_rng(1)
    n = 60
    X = rng.normal(size=(n, 20)) + rng.normal(size=20) * 5
    Y = np.maximum(X @ rng.normal(size=(20, 30)) + rng.normal(size=(n, 30)), 0)
    r, s = (X**2).sum(1), (Y**2).sum(1)
    feature = unbiased_hsic(Y.T @ X, X.sum(0), Y.sum(0), r @ s, X.T @ s, Y.T @ r, r.sum(), s.sum(), n)
    gram = unbiased_hsic_gram(X @ X.T, Y @ Y.T)
    assert feature == pytest.approx(gram, rel=1e-10)
    assert debiased_cka(X, Y) == pytest.approx(debiased_cka_gram(X, Y), abs=1e-10)


@pytest.mark.parametrize("cka", [linear_cka, debiased_cka, debiased_cka_gram])
def test_self_similarity_is_one(cka):
    X, _ = notebook_example()
    assert cka(X, X) == pytest.approx(1.0, abs=1e-12)


def test_streamed_self_similarity_is_one():
    """Averaging per-chunk estimates, or dividing by a chunk's size, breaks this."""
    X, _ = notebook_example()
    acc = streamed(X, X)
    assert acc.linear() == pytest.approx(1.0, abs=1e-12)
    assert acc.debiased() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("cka", [linear_cka, debiased_cka])
def test_invariant_to_orthogonal_transform_and_isotropic_scaling(cka):
    X, Y = notebook_example()
    Q, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(10, 10)))
    assert cka(X, Y @ Q) == pytest.approx(cka(X, Y), abs=1e-12)
    assert cka(3.7 * X, Y) == pytest.approx(cka(X, Y), abs=1e-12)


@pytest.mark.parametrize("cka", [linear_cka, debiased_cka])
def test_not_invariant_to_non_isotropic_scaling(cka):
    X, Y = notebook_example()
    D = np.diag(np.linspace(0.1, 10, 10))
    assert abs(cka(X, Y @ D) - cka(X, Y)) > 0.05


def test_streaming_over_uneven_chunks_equals_one_shot():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(100, 12))
    Y = np.maximum(X @ rng.normal(size=(12, 9)) + rng.normal(size=(100, 9)), 0)
    acc = streamed(X, Y)
    assert acc.n == 100
    assert acc.linear() == pytest.approx(linear_cka(X, Y), abs=1e-12)
    assert acc.debiased() == pytest.approx(debiased_cka(X, Y), abs=1e-12)


@pytest.mark.parametrize("sizes", [CHUNKS, (1, 99)])
def test_stream_survives_a_large_channel_mean(sizes):
    rng = np.random.default_rng(4)
    X = np.maximum(rng.normal(size=(100, 16)), 0)
    Y = np.maximum(X @ rng.normal(size=(16, 16)) + rng.normal(size=(100, 16)), 0)
    acc = streamed(X + 1000, Y + 1000, sizes)
    # Raw float64 moments (X^T X - n mu mu^T) would keep only ~1e-16 * 1000^2 / var relative precision.
    assert acc.linear() == pytest.approx(linear_cka(X, Y), abs=1e-10)
    assert acc.debiased() == pytest.approx(debiased_cka(X, Y), abs=1e-10)
    fast = streamed(X + 1000, Y + 1000, sizes, product_dtype=np.float32)
    assert fast.linear() == pytest.approx(linear_cka(X, Y), abs=1e-5)
    assert fast.debiased() == pytest.approx(debiased_cka(X, Y), abs=1e-5)


def test_debiased_removes_the_floor_of_independent_features():
    rng = np.random.default_rng(5)
    X = np.maximum(rng.normal(size=(1000, 1024)), 0)
    Y = np.maximum(rng.normal(size=(1000, 1024)), 0)
    assert 0.45 < linear_cka(X, Y) < 0.57  # study.md measured 0.51 at n = 1000, c = 1024
    assert abs(debiased_cka(X, Y)) < 0.02


def test_negative_debiased_cka_is_reported():
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(12, 3)), rng.normal(size=(12, 3))
    value = debiased_cka(X, Y)
    assert value < 0  # independent draws at small n: the unbiased HSIC falls below 0 about half the time
    assert value == pytest.approx(debiased_cka_gram(X, Y), abs=1e-12)
    assert streamed(X, Y, (5, 7)).debiased() == pytest.approx(value, abs=1e-12)


def test_constant_features_give_nan_not_a_number_that_looks_real():
    X = np.ones((10, 3))
    Y = np.random.default_rng(7).normal(size=(10, 3))
    assert np.isnan(linear_cka(X, Y))
    assert np.isnan(debiased_cka(X, Y))


def test_errors_name_the_problem():
    X = np.zeros((10, 3))
    with pytest.raises(ValueError, match="different numbers of images: 10 and 9"):
        linear_cka(X, X[:9])
    with pytest.raises(ValueError, match="at least 4 images"):
        debiased_cka(X[:3], X[:3])
    with pytest.raises(ValueError, match="no features were added"):
        CKAAccumulator().linear()
    acc = CKAAccumulator()
    acc.update(X, X)
    with pytest.raises(ValueError, match="earlier chunks had 3 and 3"):
        acc.update(np.zeros((2, 4)), np.zeros((2, 3)))


def test_the_jackknife_interval_by_hand():
    # B = 4 leave-one-out values around an estimate of 0.5: pseudo-values 4 * 0.5 - 3 * [0.5, 0.6, 0.4, 0.5] =
    # [0.5, 0.2, 0.8, 0.5]: mean 0.5, standard deviation sqrt(0.18 / 3), t(3) at 97.5 % = 3.182446305
    low, high = jackknife_interval(0.5, [0.5, 0.6, 0.4, 0.5])
    half = 3.182446305284263 * np.sqrt(0.18 / 3) / 2
    assert (low, high) == pytest.approx((0.5 - half, 0.5 + half), abs=1e-12)
    assert np.isnan(jackknife_interval(0.5, [0.5, float("nan")])[0])


def test_blocks_are_a_balanced_random_partition():
    ids = jackknife_blocks(103, 10, seed=3)
    assert sorted(np.bincount(ids)) == [10] * 7 + [11] * 3
    assert not np.array_equal(ids[:10], np.arange(10))  # not the images' order
    assert np.array_equal(ids, jackknife_blocks(103, 10, seed=3))
    with pytest.raises(ValueError, match="between 2 and n = 5 blocks"):
        jackknife_blocks(5, 6)


def test_each_leave_one_block_out_value_is_the_direct_one_on_the_other_images():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(90, 6)) + 50.0
    Y = X @ rng.normal(size=(6, 4)) + rng.normal(size=(90, 4))
    ids = jackknife_blocks(90, 6, seed=1)
    acc = CKAAccumulator(blocks=ids)
    for start, stop in ((0, 7), (7, 8), (8, 50), (50, 90)):  # chunks of any sizes
        acc.update(X[start:stop], Y[start:stop])
    assert acc.linear() == pytest.approx(linear_cka(X, Y), abs=1e-12)
    assert acc.debiased() == pytest.approx(debiased_cka(X, Y), abs=1e-12)
    got = acc.intervals()
    for name, cka in (("linear", linear_cka), ("debiased", debiased_cka)):
        direct = [cka(X[ids != b], Y[ids != b]) for b in range(6)]
        assert got[name] == pytest.approx(jackknife_interval(cka(X, Y), direct), abs=1e-10)


def population_linear_cka(A: np.ndarray, noise: float) -> float:
    """Linear CKA of X ~ N(0, I_c) and Y = X A + noise * E: ||Cov(Y, X)||_F^2 / (||Cov X||_F ||Cov Y||_F), with
    Cov X = I_c, Cov(Y, X) = A^T, Cov Y = A^T A + noise^2 I_d."""
    c, d = A.shape
    return np.linalg.norm(A) ** 2 / (np.sqrt(c) * np.linalg.norm(A.T @ A + noise**2 * np.eye(d)))


def test_the_jackknife_interval_covers_the_true_cka_95_times_in_100():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(5, 4))
    truth = population_linear_cka(A, 2.0)
    trials, n = 400, 600
    covered = {"linear": 0, "debiased": 0}
    for trial in range(trials):
        X = rng.normal(size=(n, 5))
        Y = X @ A + 2.0 * rng.normal(size=(n, 4))
        acc = CKAAccumulator(blocks=jackknife_blocks(n, 10, seed=trial))
        acc.update(X, Y)
        for name, (low, high) in acc.intervals().items():
            covered[name] += low <= truth <= high
    # measured: 0.9675 for both (the delete-a-block jackknife errs on the wide side); a binomial 95 % band around
    # 0.95 with 400 trials is +- 0.021
    for name, count in covered.items():
        assert 0.92 <= count / trials <= 0.98, (name, count / trials, truth)
