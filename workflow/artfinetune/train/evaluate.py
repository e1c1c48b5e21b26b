"""Test-set evaluation of a model or an ensemble: predictions saved, metrics in percent."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from artfinetune.data.reader import StoreReader
from artfinetune.errors import UserError
from artfinetune.io import atomic_path
from artfinetune.train.metrics import evaluate_predictions

PREDICTIONS = "predictions.npz"


def predict(model, reader: StoreReader) -> np.ndarray:
    """Main-head probabilities for every image of the reader's split (centre crop), in store order."""
    out = []
    for images, _ in reader.epoch(0):
        probs = model(images, training=False)
        if isinstance(probs, dict):
            probs = probs["softmax2"]
        out.append(np.asarray(probs, np.float32))
    return np.concatenate(out)


def save_predictions(path: Path, probs, labels, indices, task: str, class_names: list[str]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(
            f,
            probs=probs,
            labels=labels,
            store_index=indices,
            task=np.array(task),
            classes=np.array(json.dumps(class_names)),
        )


def load_predictions(path: str | Path) -> dict:
    with np.load(path) as data:
        return {
            "probs": data["probs"],
            "labels": data["labels"],
            "store_index": data["store_index"],
            "task": str(data["task"]),
            "classes": json.loads(str(data["classes"])),
        }


def evaluate_model(
    model, store: str | Path, image_size: int, out_dir: str | Path, split: str = "test", workers: int = 1
) -> dict:
    """Predict ``split`` of the store, save ``predictions.npz`` in ``out_dir`` and return the metrics (``workers``:
    the reader's)."""
    reader = StoreReader(store, split, 64, image_size, workers=workers)
    probs = predict(model, reader)
    save_predictions(Path(out_dir) / PREDICTIONS, probs, reader.labels, reader.indices, reader.task, reader.class_names)
    return {
        "split": split,
        "n": int(len(probs)),
        "task": reader.task,
        "metrics": evaluate_predictions(probs, reader.labels, reader.task, reader.class_names),
    }


def evaluate_ensemble(prediction_files: list[str | Path], out_dir: str | Path) -> dict:
    """Average the predicted probabilities of several models of one dataset and evaluate the average."""
    members = [load_predictions(p) for p in prediction_files]
    first = members[0]
    for path, m in zip(prediction_files, members, strict=True):
        if not np.array_equal(m["store_index"], first["store_index"]) or m["classes"] != first["classes"]:
            raise UserError(
                f"{path} does not predict the same images and classes as {prediction_files[0]}; "
                "an ensemble needs runs of one dataset"
            )
    probs = np.mean([m["probs"] for m in members], axis=0)
    out_dir = Path(out_dir)
    save_predictions(
        out_dir / PREDICTIONS, probs, first["labels"], first["store_index"], first["task"], first["classes"]
    )
    result = {
        "split": "test",
        "n": int(len(probs)),
        "task": first["task"],
        "members": [str(p) for p in prediction_files],
        "metrics": evaluate_predictions(probs, first["labels"], first["task"], first["classes"]),
    }
    with atomic_path(out_dir / "eval.json") as tmp:
        tmp.write_text(json.dumps(result, indent=1))
    return result
