"""The two kinds of dataset and what is reported for each, shared by the config check, the store and training."""

from __future__ import annotations

TASKS = ("single_label", "multi_label")
TOP_K = (1, 3, 5)  # single-label accuracies reported, as in the paper's table 1


def metric_names(task: str, num_classes: int) -> list[str]:
    """The metrics reported for a dataset: top1/top3/top5 (k < classes) or mAP."""
    if task == "single_label":
        return [f"top{k}" for k in TOP_K if k < num_classes or k == 1]
    return ["mAP"]
