"""Evaluation metrics: top-k accuracy (single-label) and mean average precision (multi-label)."""

from __future__ import annotations

import numpy as np

from artfinetune.data.tasks import metric_names


def top_k_accuracy(probs: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Share of images whose true class is among the k highest scores (ties broken by class order)."""
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def average_precisions(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Average precision of every class (scikit-learn's definition); NaN for a class with no positive."""
    from sklearn.metrics import average_precision_score

    out = np.full(labels.shape[1], np.nan)
    for c in range(labels.shape[1]):
        if labels[:, c].any():
            out[c] = average_precision_score(labels[:, c], probs[:, c])
    return out


def evaluate_predictions(probs: np.ndarray, labels: np.ndarray, task: str, class_names: list[str]) -> dict:
    """Metrics in percent, as the paper reports them, plus per-class AP for multi-label data."""
    if task == "single_label":
        return {name: 100 * top_k_accuracy(probs, labels, int(name[3:])) for name in metric_names(task, probs.shape[1])}
    ap = average_precisions(probs, labels)
    out = {"mAP": float(100 * np.nanmean(ap))}
    out["AP"] = {c: (None if np.isnan(v) else float(100 * v)) for c, v in zip(class_names, ap, strict=True)}
    return out
