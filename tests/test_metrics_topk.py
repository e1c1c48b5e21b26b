"""Top-k maximal activation images, overlapping ratio, class entropy and composition, on hand-made sets."""

import math

import numpy as np
import pytest

from artfinetune.metrics import topk
from artfinetune.metrics.topk import (
    chance_overlap,
    class_entropy,
    composition,
    layer_entropies,
    overlap_ratio,
    overlap_ratios,
    random_overlap_quantile,
    topk_images,
)

# Columns are channels: a plain one, one with ties, one that never fires, one with 2 positive images.
SCORES = np.array(
    [
        [0.1, 0.5, 0.0, 0.0],
        [0.5, 0.7, 0.0, 0.0],
        [0.3, 0.5, 0.0, 0.4],
        [0.0, 0.5, 0.0, -0.1],
        [0.9, 0.0, 0.0, 0.0],
        [0.2, 0.5, 0.0, 0.2],
    ],
    dtype=np.float32,
)


def by_definition(column: np.ndarray, k: int) -> list[int]:
    """Positive images sorted by score descending, then index ascending, first k: Python's sort, no numpy."""
    return sorted((i for i, x in enumerate(column) if x > 0), key=lambda i: (-column[i], i))[:k]


def test_topk_by_hand():
    tops = topk_images(SCORES, 3)
    assert [t.tolist() for t in tops] == [
        [4, 1, 2],  # 0.9, 0.5, 0.3
        [1, 0, 2],  # 0.7, then four images tied at 0.5: the lower indices 0 and 2
        [],  # zero on every image: an empty set
        [2, 5],  # only two images above 0 (the negative one is ignored too)
    ]


def test_topk_with_many_ties_across_blocks_matches_the_definition(monkeypatch):
    monkeypatch.setattr(topk, "BLOCK_BYTES", 4 * 500 * 3)  # 3 channels a block: 5 blocks, the last one short
    monkeypatch.setattr(topk, "TILE_IMAGES", 64)  # 500 images: 7 full tiles and a short one
    rng = np.random.default_rng(0)
    scores = np.maximum(rng.integers(-3, 6, size=(500, 13)), 0).astype(np.float32)  # values 0..5: ties everywhere
    scores[:, 4] = 0.0
    scores[:, 7] = 0.0
    scores[[10, 20, 30], 7] = 2.0
    for k in (1, 5, 100, 600):
        tops = topk_images(scores, k)
        assert [t.tolist() for t in tops] == [by_definition(scores[:, j], k) for j in range(13)]


def test_smaller_k_is_a_prefix_of_larger_k():
    scores = np.maximum(np.random.default_rng(1).normal(size=(3000, 8)), 0).round(2)  # rounding makes ties
    for small, large in zip(topk_images(scores, 100), topk_images(scores, 1000), strict=True):
        assert small.tolist() == large[:100].tolist()


def test_integer_scores_and_nan_channel():
    assert [t.tolist() for t in topk_images(np.array([[1, 0], [3, 2], [2, 2]]), 2)] == [[1, 2], [1, 2]]
    bad = SCORES.copy()
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match="channel 3 has NaN scores"):
        topk_images(bad, 2)
    with pytest.raises(ValueError, match="at least one image"):
        topk_images(np.zeros((0, 3)), 2)


def test_overlap_ratio_by_hand():
    assert overlap_ratio([1, 2, 3, 4], [3, 4, 5, 6], 4) == 0.5
    assert overlap_ratio([1, 2], [2, 9], 4) == 0.25  # fewer than k images: still divided by k
    assert overlap_ratio([], [1, 2], 4) == 0.0
    assert overlap_ratio([], [], 4) == 0.0
    assert chance_overlap(100, 70_000) == pytest.approx(1 / 700)


def test_the_random_overlap_quantile_by_hand():
    # k = 1 of n = 100: the two images coincide with probability 1/100, so P(overlap = 0) = 0.99 exactly
    assert random_overlap_quantile(1, 100) == 0.0
    assert random_overlap_quantile(1, 100, q=0.995) == 1.0
    assert random_overlap_quantile(5, 5) == 1.0  # k = n: every set is every image
    # k = 2 of n = 4: P(0) = 1/6, P(1) = 4/6, P(2) = 1/6 (C(2,i) C(2,2-i) / C(4,2)); the median overlap is 1 of 2
    assert random_overlap_quantile(2, 4, q=0.5) == 0.5 and random_overlap_quantile(2, 4, q=0.8) == 0.5
    assert random_overlap_quantile(2, 4, q=0.85) == 1.0
    with pytest.raises(ValueError, match="k must be between 1 and n = 10"):
        random_overlap_quantile(11, 10)


@pytest.mark.parametrize(("k", "n"), [(10, 190), (40, 190), (100, 1000)])
def test_the_random_overlap_quantile_agrees_with_random_rankings(k, n):
    rng = np.random.default_rng(7)
    trials = 20_000
    ranks_a, ranks_b = rng.random((trials, n)).argsort(1)[:, :k], rng.random((trials, n)).argsort(1)[:, :k]
    marked = np.zeros((trials, n), bool)
    np.put_along_axis(marked, ranks_a, True, 1)
    overlaps = np.take_along_axis(marked, ranks_b, 1).sum(1) / k
    expected = random_overlap_quantile(k, n)
    # the quantile's defining property, up to three standard errors of the simulation: at most 1 % of the trials
    # lie above it, and at least 1 % at or above it (so any lower value would leave more than 1 % above)
    margin = 3 * math.sqrt(0.01 * 0.99 / trials)
    assert (overlaps > expected).mean() <= 0.01 + margin
    assert (overlaps >= expected).mean() >= 0.01 - margin


def test_overlap_ratios_of_a_layer_use_the_first_k():
    tops_a = [np.array([5, 1, 2, 3]), np.array([], dtype=int)]
    tops_b = [np.array([1, 5, 7, 2]), np.array([4])]
    assert overlap_ratios(tops_a, tops_b, 4).tolist() == [0.75, 0.0]
    assert overlap_ratios(tops_a, tops_b, 2).tolist() == [1.0, 0.0]  # {5, 1} and {1, 5}


def test_entropy_by_hand():
    assert class_entropy([0, 1, 2, 3], 4, multi_label=False) == pytest.approx(1.0)  # uniform
    assert class_entropy([2, 2, 2], 4, multi_label=False) == 0.0  # one class
    # 3:1 split: 3/4 log2(4/3) + 1/4 log2(4) = 0.811278, normalised by log2 2 = 1, or by log2 4 = 2.
    assert class_entropy([0, 0, 1, 0], 2, multi_label=False) == pytest.approx(0.8112781245)
    assert class_entropy([0, 0, 1, 0], 4, multi_label=False) == pytest.approx(0.8112781245 / 2)
    assert math.isnan(class_entropy(np.array([], dtype=int), 4, multi_label=False))


def test_multi_label_entropy_counts_each_image_once():
    labels = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]])
    # Image 0 gives 1/2 to classes 0 and 1, image 1 gives 1 to class 0, image 2 has no label and is left out,
    # image 3 gives 1 to class 2: p = (1.5, 0.5, 1, 0) / 3 labelled images = (1/2, 1/6, 1/3, 0).
    # H = 1/2 log2 2 + 1/6 log2 6 + 1/3 log2 3 = 1.459148, over log2 4 = 2: 0.729574.
    assert class_entropy(labels, 4, multi_label=True) == pytest.approx(0.7295739585)
    assert class_entropy(labels[[0, 0]], 4, multi_label=True) == pytest.approx(0.5)  # p = (1/2, 1/2, 0, 0)
    assert math.isnan(class_entropy(labels[[2]], 4, multi_label=True))  # nothing labelled: no entropy


def test_layer_entropies_leave_out_empty_sets():
    labels = np.array([0, 1, 0, 1, 2, 2])
    tops = [np.array([0, 1, 2, 3]), np.array([], dtype=int), np.array([4, 5, 0, 1])]
    out = layer_entropies(tops, labels, 3, multi_label=False)
    assert out[0] == pytest.approx(1 / math.log2(3))  # two classes 2:2 over C = 3
    assert math.isnan(out[1])
    assert out[2] == pytest.approx(1.5 / math.log2(3))  # classes 2, 2, 0, 1: p = (1/4, 1/4, 1/2), H = 1.5 bits
    assert layer_entropies(tops, labels, 3, multi_label=False, k=2)[2] == 0.0  # images 4 and 5: class 2 only


def test_composition_by_hand():
    names = ["angel", "Mary", "ruins"]
    assert composition([2, 2, 1, 2, 0, 1], 3, False, names) == [
        ("ruins", pytest.approx(50.0)),
        ("Mary", pytest.approx(100 / 3)),
        ("angel", pytest.approx(100 / 6)),
    ]
    labels = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]])
    # Share of the 4 images having each class: 2/4, 1/4, 1/4; classes 1 and 2 tie: lower index first.
    assert composition(labels, 4, True) == [(0, 50.0), (1, 25.0), (2, 25.0)]
    assert composition([1, 1], 3, False) == [(1, 100.0)]  # classes absent from the set are not listed
    assert composition(np.array([], dtype=int), 3, False) == []


def test_label_errors():
    with pytest.raises(ValueError, match=r"\(images x 4\) 0/1"):
        class_entropy([0, 1], 4, multi_label=True)
    with pytest.raises(ValueError, match="class indices must be in 0..3"):
        class_entropy([0, 4], 4, multi_label=False)
    with pytest.raises(ValueError, match="at least 2 classes"):
        class_entropy([0], 1, multi_label=False)
