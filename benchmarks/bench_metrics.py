"""CKA and top-k metrics at the study's sizes, on synthetic ReLU features (float32, as extraction stores them).

- CKA: linear + debiased for one model pair over the 12 study layers at their real widths, n = 16,000 images
  streamed in the cka rule's chunks of 4,096 images (target < 2 s); then the error of each way of accumulating,
  against the centred one-shot float64 value, on features whose channel means are large.
- Top-k: k = 1000 and k = 100 sets, overlapping ratios and class entropies for one pair over the 12 layers at
  n = 70,000 images, layer by layer (target < 60 s, peak RSS < 2 GiB).

Each part runs in a fresh Python process (``python -m benchmarks metrics``), so the peak memory it prints is its own.
"""

import time

import numpy as np

from artfinetune.metrics.cka import CKAAccumulator, debiased_cka, linear_cka
from artfinetune.metrics.topk import layer_entropies, overlap_ratios, topk_images
from artfinetune.model.layers import STUDY_LAYERS, WIDTHS
from benchmarks import peak_memory_gib

CKA_N, CKA_CHUNK, CKA_TARGET = 16_000, 4_096, 2.0  # the chunk the cka rule reads (metrics.pairs.CHUNK_IMAGES)
REPEATS = 3  # CKA times are the best of 3 per layer: the 2 cores are shared, so single runs vary up to 3x
TOPK_N, TOPK_TARGET, RSS_TARGET_GIB = 70_000, 60.0, 2.0
NUM_CLASSES = 25  # RASTA's styles


def _pair(rng, n: int, c: int, offset: float = 0.0, rows: int = 10_000):
    """Features of one layer in two related models: ReLU of correlated Gaussians, per-channel thresholds."""
    mu = rng.normal(-0.3, 0.7, c).astype(np.float32) + np.float32(offset)
    A, B = np.empty((n, c), np.float32), np.empty((n, c), np.float32)
    for i in range(0, n, rows):  # in row blocks so generating adds little to the peak memory
        z = rng.standard_normal((min(rows, n - i), c), dtype=np.float32)
        A[i : i + rows] = np.maximum(z + mu, 0)
        B[i : i + rows] = np.maximum(0.9 * z + 0.44 * rng.standard_normal(z.shape, dtype=np.float32) + mu, 0)
    return A, B


def _stream(A, B, product_dtype=np.float64) -> CKAAccumulator:
    acc = CKAAccumulator(product_dtype)
    for i in range(0, len(A), CKA_CHUNK):
        acc.update(A[i : i + CKA_CHUNK], B[i : i + CKA_CHUNK])
    return acc


def _raw_moment_linear_cka(A, B, dtype) -> float:
    """What not to do: X^T X - n mu mu^T accumulated in ``dtype`` without shifting (for the numerics table)."""
    X, Y, n = A.astype(dtype), B.astype(dtype), len(A)
    mx, my = X.sum(0, dtype=dtype) / n, Y.sum(0, dtype=dtype) / n
    XtX, YtY, YtX = X.T @ X - n * np.outer(mx, mx), Y.T @ Y - n * np.outer(my, my), Y.T @ X - n * np.outer(my, mx)
    return float(np.linalg.norm(YtX.astype(np.float64)) ** 2 / (np.linalg.norm(XtX) * np.linalg.norm(YtY)))


def cka_part() -> None:
    rng = np.random.default_rng(0)
    widths = [WIDTHS[layer] for layer in STUDY_LAYERS]
    print(
        f"CKA, one model pair, 12 layers (widths {widths}), n = {CKA_N:,} in chunks of {CKA_CHUNK:,}, "
        f"best of {REPEATS} per layer"
    )
    totals, values = {np.float64: 0.0, np.float32: 0.0}, {}
    for layer, c in zip(STUDY_LAYERS, widths, strict=True):
        A, B = _pair(rng, CKA_N, c)
        for dtype in totals:
            best = np.inf
            for _ in range(REPEATS):
                start = time.perf_counter()
                acc = _stream(A, B, dtype)
                values[dtype] = acc.linear(), acc.debiased()
                best = min(best, time.perf_counter() - start)
            totals[dtype] += best
        if layer == STUDY_LAYERS[-1]:
            start = time.perf_counter()
            exact = linear_cka(A, B), debiased_cka(A, B)
            one_shot = time.perf_counter() - start
    for dtype, total in totals.items():
        print(
            f"  streamed, {dtype.__name__} products: {total:6.2f} s for linear + debiased "
            f"= {total / CKA_TARGET:4.2f}x the {CKA_TARGET:.0f} s target"
        )
    print(
        f"  mixed5b one-shot (whole matrix in memory, float64): {one_shot:.2f} s; CKA {exact[0]:.4f} (linear), "
        f"{exact[1]:.4f} (debiased)"
    )
    for dtype, (lin, deb) in values.items():
        print(
            f"    |stream - one-shot| with {dtype.__name__} products: {abs(lin - exact[0]):.1e} (linear), "
            f"{abs(deb - exact[1]):.1e} (debiased)"
        )

    print("CKA numerics: |error| against the centred one-shot float64 value, n = 10,000, c = 1,024 (ReLU features)")
    print(
        f"  {'channel means':>22} {'float64 stream':>15} {'float32 products':>17} {'raw float32':>12} "
        f"{'raw float64':>12}"
    )
    for label, offset in (("as generated (~0.4)", 0.0), ("+100", 100.0)):
        A, B = _pair(np.random.default_rng(1), 10_000, 1024, offset)
        exact_lin, exact_deb = linear_cka(A, B), debiased_cka(A, B)
        acc64, acc32 = _stream(A, B), _stream(A, B, np.float32)
        err = [
            max(abs(acc64.linear() - exact_lin), abs(acc64.debiased() - exact_deb)),
            max(abs(acc32.linear() - exact_lin), abs(acc32.debiased() - exact_deb)),
            abs(_raw_moment_linear_cka(A, B, np.float32) - exact_lin),
            abs(_raw_moment_linear_cka(A, B, np.float64) - exact_lin),
        ]
        print(f"  {label:>22} " + " ".join(f"{e:{w}.1e}" for e, w in zip(err, (15, 17, 12, 12), strict=True)))


def topk_part() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, NUM_CLASSES, TOPK_N)
    print(f"Top-k, one model pair, 12 layers, n = {TOPK_N:,} (float32 ReLU scores), {NUM_CLASSES} classes")
    times = dict.fromkeys(("generate", "top-1000", "top-100", "overlap", "entropy"), 0.0)
    medians, chance = [], 100 / TOPK_N
    for layer in STUDY_LAYERS:
        start = time.perf_counter()
        A, B = _pair(rng, TOPK_N, WIDTHS[layer])
        A[:, 0] = 0.0  # a channel that never fires: empty set, overlap 0, no entropy
        times["generate"] += time.perf_counter() - start

        start = time.perf_counter()
        tops_a, tops_b = topk_images(A, 1000), topk_images(B, 1000)
        times["top-1000"] += time.perf_counter() - start
        start = time.perf_counter()
        small_a, small_b = topk_images(A, 100), topk_images(B, 100)
        times["top-100"] += time.perf_counter() - start
        assert all(s.tolist() == t[:100].tolist() for s, t in zip(small_a + small_b, tops_a + tops_b, strict=True))
        start = time.perf_counter()
        overlaps = {k: overlap_ratios(tops_a, tops_b, k) for k in (100, 1000)}
        times["overlap"] += time.perf_counter() - start
        start = time.perf_counter()
        for k in (100, 1000):
            for tops in (tops_a, tops_b):
                layer_entropies(tops, labels, NUM_CLASSES, multi_label=False, k=k)
        times["entropy"] += time.perf_counter() - start
        medians.append(float(np.median(overlaps[100])))
        del A, B, tops_a, tops_b, small_a, small_b
    metrics = sum(t for name, t in times.items() if name != "generate")
    for name, t in times.items():
        print(f"  {name:>9}: {t:6.2f} s")
    print(
        f"  metrics total (both k, both models, overlap, entropy): {metrics:6.2f} s "
        f"= {metrics / TOPK_TARGET:4.2f}x the {TOPK_TARGET:.0f} s target; "
        f"without the separate top-100 pass (take the prefix): {metrics - times['top-100']:6.2f} s"
    )
    print(f"  median overlap at k = 100 per layer: {min(medians):.2f}..{max(medians):.2f} (chance {chance:.4f})")
    rss = peak_memory_gib()
    print(
        f"  peak memory: {rss:.2f} GiB = {rss / RSS_TARGET_GIB:4.2f}x the {RSS_TARGET_GIB:.0f} GiB target "
        f"(mixed5b's two float32 score arrays alone: {2 * TOPK_N * 1024 * 4 / 2**30:.2f} GiB)"
    )
