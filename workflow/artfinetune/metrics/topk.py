"""Maximal activation images of a channel, and how two models' sets overlap and spread over the classes.

Definitions (study.md, "Metrics between two models"):

- A channel's score for an image is the spatial mean of its post-ReLU map. Its top-k set is the k images of
  highest score, ignoring images whose score is <= 0; with fewer than k positive images the set is smaller, and
  a channel that never fires has an empty set. Ties go to the lower image index, so the ranking is a total
  order (score descending, index ascending): the top-100 set is the first 100 of the top-1000 list.
- Overlapping ratio between models M0 and M1: |top_k(M0) ∩ top_k(M1)| / k, 0 for empty sets; chance is k / n,
  and two independent random rankings exceed the hypergeometric 99th percentile in 1 % of channels.
- Entropy of a top-k set: (1 / log2 C) sum_c -p_c log2 p_c, with p_c the fraction of the set in class c.
  A multi-label image with labels L counts 1/|L| towards each of its classes, so that p sums to 1; an image with
  no label counts towards no class and p is over the labelled images only. A set with no labelled image (or an
  empty set) has no entropy (NaN) and is left out, as in the original code.
- Composition: the three most frequent classes, each with the percentage of the set's images that have it
  (so a multi-label set's percentages may add up to more than 100).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BLOCK_BYTES = 16 * 2**20  # a block of channels is copied to (channels x images): bounded, contiguous rows
TILE_IMAGES = 256


def topk_images(scores, k: int) -> list[np.ndarray]:
    """Per channel of an (images x channels) score array, the indices of its top-k images (see the module doc).

    Each entry is ordered by score descending, ties by lower image index first. Works a block of channels at a
    time in the scores' own dtype, so memory stays at a few blocks whatever the number of images.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ValueError(f"scores must be 2-D (images x channels) with at least one image; got {scores.shape}")
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")
    n, c = scores.shape
    dtype = scores.dtype if scores.dtype.kind == "f" else np.dtype(np.float64)
    k_n = min(k, n)
    block = max(1, BLOCK_BYTES // max(1, n * dtype.itemsize))
    tops: list[np.ndarray] = []
    for start in range(0, c, block):
        s = _channel_rows(scores, start, min(start + block, c), dtype)
        if np.isnan(s).any():
            bad = start + int(np.flatnonzero(np.isnan(s).any(axis=1))[0])
            raise ValueError(f"channel {bad} has NaN scores; the activations are broken upstream")
        # The k-th highest score of each channel: numpy's SIMD sort is ~4x faster than np.argpartition here.
        t = np.sort(s, axis=1)[:, n - k_n]
        # Images above it, or tied with it, that fire; exactly k unless ties at the k-th score or too few fire.
        chosen = (s >= t[:, None]) & (s > 0)
        rows, images = np.nonzero(chosen)
        # By channel, then score down; lexsort is stable and np.nonzero lists images in index order: ties go up.
        order = np.lexsort((-s[rows, images], rows))
        per_channel = np.split(images[order], np.cumsum(chosen.sum(axis=1))[:-1])
        tops.extend(top[:k_n] for top in per_channel)
    return tops


def _channel_rows(scores: np.ndarray, start: int, stop: int, dtype) -> np.ndarray:
    """Channels start..stop-1 as contiguous (channels x images) rows of ``dtype``."""
    s = np.empty((stop - start, len(scores)), dtype=dtype)
    # Transposing a tile of images at a time stays in cache: ~3x faster than one strided copy of the block.
    for i in range(0, len(scores), TILE_IMAGES):
        s[:, i : i + TILE_IMAGES] = scores[i : i + TILE_IMAGES, start:stop].T
    return s


def overlap_ratio(a, b, k: int) -> float:
    """|a ∩ b| / k for two top-k sets of image indices (0 when either is empty)."""
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")
    return len(np.intersect1d(a, b)) / k


def chance_overlap(k: int, n: int) -> float:
    """Expected overlapping ratio of two independent random k-subsets of n images: k / n."""
    return k / n


def random_overlap_quantile(k: int, n: int, q: float = 0.99) -> float:
    """The overlapping ratio that two independent random rankings of n images reach with probability ``q`` at most:
    the ``q``-quantile of |A ∩ B| / k for A, B independent uniform k-subsets (the top-k of a random ranking), whose
    intersection size is hypergeometric (n images, k marked by A, k drawn by B). Above it, an overlap is unlikely
    to be chance (at 1 - q per channel; a layer of hundreds of channels still has a few by chance)."""
    from scipy.stats import hypergeom

    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and n = {n}; got {k}")
    if not 0 < q < 1:
        raise ValueError(f"q must be a probability strictly between 0 and 1; got {q}")
    return float(hypergeom(n, k, k).ppf(q)) / k


def overlap_ratios(tops_a: Sequence, tops_b: Sequence, k: int) -> np.ndarray:
    """Overlapping ratio of every channel of a layer; the lists may come from a larger k (the first k are used)."""
    if len(tops_a) != len(tops_b):
        raise ValueError(f"the two models' layers have {len(tops_a)} and {len(tops_b)} channels")
    return np.array([overlap_ratio(a[:k], b[:k], k) for a, b in zip(tops_a, tops_b, strict=True)])


def class_weights(labels, num_classes: int, multi_label: bool) -> np.ndarray:
    """(images x classes) share each image gives each class: one-hot, or 1/|L| over a multi-label image's L."""
    labels = np.asarray(labels)
    if multi_label:
        if labels.ndim != 2 or labels.shape[1] != num_classes:
            raise ValueError(f"multi-label labels must be (images x {num_classes}) 0/1; got shape {labels.shape}")
        counts = labels.sum(axis=1, keepdims=True, dtype=np.float64)
        return np.divide(labels, counts, out=np.zeros(labels.shape), where=counts > 0)  # unlabelled rows stay 0
    if labels.ndim != 1:
        raise ValueError(f"single-label labels must be 1-D class indices; got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"class indices must be in 0..{num_classes - 1}; got {labels.min()}..{labels.max()}")
    weights = np.zeros((labels.size, num_classes))
    weights[np.arange(labels.size), labels] = 1.0
    return weights


def _entropy_of_weights(w: np.ndarray, num_classes: int) -> float:
    """(1 / log2 C) sum_c -p_c log2 p_c with p = w / sum(w), w the class weights summed over a set's images."""
    total = w.sum()  # = number of labelled images in the set
    if total <= 0:
        return float("nan")
    p = w[w > 0] / total
    return float(-(p * np.log2(p)).sum() / np.log2(num_classes)) + 0.0  # + 0.0: a one-class set is 0, not -0


def class_entropy(labels_of_topk, num_classes: int, multi_label: bool) -> float:
    """Normalised entropy of the classes of one top-k set (1 = uniform, 0 = one class; NaN if nothing labelled)."""
    if num_classes < 2:
        raise ValueError(f"the entropy over classes needs at least 2 classes; got {num_classes}")
    return _entropy_of_weights(class_weights(labels_of_topk, num_classes, multi_label).sum(axis=0), num_classes)


def layer_entropies(tops: Sequence, labels, num_classes: int, multi_label: bool, k: int | None = None) -> np.ndarray:
    """Normalised class entropy of every channel's top-k set (``labels`` of all n images; NaN for empty sets)."""
    if num_classes < 2:
        raise ValueError(f"the entropy over classes needs at least 2 classes; got {num_classes}")
    weights = class_weights(labels, num_classes, multi_label)  # once for all channels
    return np.array([_entropy_of_weights(weights[top[:k]].sum(axis=0), num_classes) for top in tops])


def composition(labels_of_topk, num_classes: int, multi_label: bool, class_names=None, top: int = 3) -> list:
    """The ``top`` most frequent classes of a set as (class, percent of the set's images having it).

    Ties go to the lower class index; classes absent from the set are not listed; an empty set gives [].
    """
    labels = np.asarray(labels_of_topk)
    has_class = class_weights(labels, num_classes, multi_label) > 0
    if len(has_class) == 0:
        return []
    counts = has_class.sum(axis=0)
    order = np.lexsort((np.arange(num_classes), -counts))
    names = class_names if class_names is not None else range(num_classes)
    return [(names[c], 100.0 * counts[c] / len(has_class)) for c in order[:top] if counts[c] > 0]
