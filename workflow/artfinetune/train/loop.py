"""One training run: a mode applied to a dataset from an init, with one seed.

The loop keeps the epoch with the best validation loss (of the main head),
checkpoints after every epoch and resumes from the last completed one when it
is started again, ending with the same weights as an uninterrupted run: every
random choice of an epoch comes from (seed, epoch) and the checkpoint holds the
weights, the optimizer states and the best weights so far.

Outputs in ``out_dir``: ``init.keras`` (the weights before training),
``model.keras`` (the selected epoch), ``history.csv``, ``eval.json`` and
``predictions.npz`` (test-set probabilities).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from artfinetune.data.reader import Augmentation, StoreReader
from artfinetune.data.store import store_sha256
from artfinetune.errors import UserError
from artfinetune.gpu import configure_devices
from artfinetune.io import atomic_path
from artfinetune.model.architectures import DEFAULT as DEFAULT_ARCHITECTURE
from artfinetune.model.architectures import architecture_of_model
from artfinetune.model.files import load_model, save_model, weights_sha256
from artfinetune.train.evaluate import evaluate_model
from artfinetune.train.setup import RunModel, build_run_model

log = logging.getLogger(__name__)

AUX_WEIGHT = 0.3  # deep supervision: loss = 1.0 main + 0.3 head0 + 0.3 head1
CHECKPOINT = "checkpoint/state.npz"  # beside checkpoint/init.keras, until the run is complete


def learning_rate(base: float, schedule: dict | None, epoch: int) -> float:
    """The rate of epoch ``epoch`` (from 0): ``base * factor ** (epoch // every)`` under a step schedule."""
    if not schedule:
        return base
    return base * schedule["factor"] ** (epoch // schedule["every"])


def head_loss(logits, labels, task: str):
    """Mean over the batch of the cross-entropy (softmax) or the sum of per-class binary cross-entropies.

    Taken from the logits in float32: from float16 probabilities the loss would saturate and lose its
    gradient on confident mistakes (mixed precision).
    """
    logits = keras.ops.cast(logits, "float32")
    if task == "single_label":
        return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
    per_class_mean = keras.losses.binary_crossentropy(keras.ops.cast(labels, "float32"), logits, from_logits=True)
    return keras.ops.mean(per_class_mean * keras.ops.cast(keras.ops.shape(labels)[-1], "float32"))


def run_loss(outputs, labels, task: str):
    """(training loss, main-head loss) from the heads' logits; with auxiliary heads, 1.0 main + 0.3 each auxiliary."""
    if not isinstance(outputs, dict):
        main = head_loss(outputs, labels, task)
        return main, main
    main = head_loss(outputs["softmax2"], labels, task)
    total = main + AUX_WEIGHT * (
        head_loss(outputs["softmax0"], labels, task) + head_loss(outputs["softmax1"], labels, task)
    )
    return total, main


def logits_model(model: keras.Model) -> keras.Model:
    """The same layers, returning each head's logits (``<head>_pre_activation``: InceptionV1's ``softmaxN``, the
    other architectures' ``predictions``) instead of its probabilities."""
    if isinstance(model.output, dict):
        outputs = {name: model.get_layer(f"{name}_pre_activation").output for name in model.output}
    else:
        head = architecture_of_model(model.name).head
        outputs = model.get_layer(f"{head}_pre_activation").output
    return keras.Model(model.input, outputs, name=f"{model.name}_logits")


def any_batch_size(step):
    """``step(images, labels)`` as one tf.function for every batch size, traced once on its first call.

    Traced per input shape, an epoch whose last batch is smaller traces the step twice, and tracing the
    network's gradient costs seconds.
    """
    traced = {}

    def call(images, labels):
        key = (images.dtype, labels.dtype, tuple(images.shape[1:]), tuple(labels.shape[1:]))
        if key not in traced:
            signature = [tf.TensorSpec([None, *t.shape[1:]], t.dtype) for t in (images, labels)]
            traced[key] = tf.function(step, input_signature=signature)
        return traced[key](images, labels)

    return call


def make_optimizer(mode: dict, lr: float, mixed_precision: bool):
    if mode["optimizer"] == "adam":
        opt = keras.optimizers.Adam(lr)
    else:
        opt = keras.optimizers.SGD(lr, momentum=mode["momentum"])
    return keras.optimizers.LossScaleOptimizer(opt) if mixed_precision else opt


class Trainer:
    """Two optimizers (new head, transferred layers) over one model, with checkpointing."""

    def __init__(self, run: RunModel, mode: dict, task: str, mixed_precision: bool = False):
        self.run, self.mode, self.task = run, mode, task
        self.groups = {}
        for group, names, base in (
            ("head", run.head, mode["lr_head"]),
            ("transferred", run.body, mode["lr_transferred"]),
        ):
            variables = run.variables(names)
            if variables and base > 0:
                opt = make_optimizer(mode, base, mixed_precision)
                opt.build(variables)
                self.groups[group] = (opt, variables, base)
        self.mixed_precision = mixed_precision
        self.logits = logits_model(run.model)  # shares the model's layers and weights
        self._step = any_batch_size(self._train_step)
        self._eval = any_batch_size(self._eval_step)

    def set_epoch(self, epoch: int) -> dict[str, float]:
        rates = {}
        for group, (opt, _, base) in self.groups.items():
            rates[group] = learning_rate(base, self.mode.get("schedule"), epoch)
            opt.learning_rate.assign(rates[group])
        return rates

    def _train_step(self, images, labels):
        groups = list(self.groups.values())
        with tf.GradientTape(persistent=self.mixed_precision) as tape:
            loss, main = self.losses(images, labels, training=True)
            # each loss-scale optimizer scales the loss by its own dynamic factor, on the tape
            scaled = [opt.scale_loss(loss) for opt, _, _ in groups] if self.mixed_precision else None
        if self.mixed_precision:
            for (opt, variables, _), scaled_loss in zip(groups, scaled, strict=True):
                opt.apply(tape.gradient(scaled_loss, variables), variables)
        else:
            grads = tape.gradient(loss, [v for _, variables, _ in groups for v in variables])
            for opt, variables, _ in groups:
                opt.apply(grads[: len(variables)], variables)
                grads = grads[len(variables) :]
        return loss, main

    def losses(self, images, labels, training: bool):
        """(training loss, main-head loss) of a batch, in float32 from the logits."""
        return run_loss(self.logits(images, training=training), labels, self.task)

    def _eval_step(self, images, labels):
        return self.losses(images, labels, training=False)

    @staticmethod
    def _mean(step, batches, which: int) -> float:
        """Image-weighted mean over an epoch of one of the (training loss, main-head loss) pair."""
        total, n = 0.0, 0
        for images, labels in batches:
            losses = step(tf.convert_to_tensor(images), tf.convert_to_tensor(labels))
            total += float(losses[which]) * len(images)
            n += len(images)
        return total / n

    def train_epoch(self, batches) -> float:
        return self._mean(self._step, batches, 0)

    def validation_loss(self, batches) -> float:
        return self._mean(self._eval, batches, 1)  # model selection looks at the main head only

    # -- checkpoints: one .npz holding everything, renamed into place
    def save_checkpoint(self, path: Path, state: dict, best_weights) -> None:
        arrays = {f"w{i}": w for i, w in enumerate(self.run.model.get_weights())}
        arrays.update({f"b{i}": w for i, w in enumerate(best_weights)})
        for group, (opt, _, _) in self.groups.items():
            arrays.update({f"o_{group}_{i}": v.numpy() for i, v in enumerate(opt.variables)})
        arrays["state"] = np.array(json.dumps(state))
        # straight to the file: the same bytes as through a buffer, a fifth of a second and a copy less an epoch
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)

    @staticmethod
    def checkpoint_state(path: Path) -> dict:
        with np.load(path) as data:
            return json.loads(str(data["state"]))

    def load_checkpoint(self, path: Path) -> tuple[dict, list]:
        with np.load(path) as data:
            n = len(self.run.model.get_weights())
            self.run.model.set_weights([data[f"w{i}"] for i in range(n)])
            best = [data[f"b{i}"] for i in range(n)]
            for group, (opt, _, _) in self.groups.items():
                for i, v in enumerate(opt.variables):
                    v.assign(data[f"o_{group}_{i}"])
            return json.loads(str(data["state"])), best


def log_learning_rates(run: RunModel, trainer: Trainer) -> None:
    """Write the effective rate of every variable, so a reader can check what the mode did."""
    rate_of = {}
    for group, (_, variables, base) in trainer.groups.items():
        for v in variables:
            rate_of[id(v)] = f"lr {base:g} (lr_{group})"  # the mode's key that sets it
    log.info("effective learning rate of every variable at epoch 0:")
    for layer in run.model.layers:
        for v in layer.weights:
            if layer.name in run.frozen:
                what = "frozen (kept from the init)"
            else:
                what = rate_of.get(id(v), "not updated (learning rate 0)")
            origin = (
                "transferred"
                if layer.name in run.transferred
                else "re-initialised"
                if layer.name in run.reinit
                else "new"
            )
            log.info("  %-45s %-20s %s, %s", v.path, str(tuple(v.shape)), what, origin)


def _random_init(arch_name: str) -> str:
    """A random init in a checkpoint's setup: "random" for InceptionV1, as before other architectures existed (so
    their checkpoints still resume), "random <architecture>" for the others."""
    return "random" if arch_name == DEFAULT_ARCHITECTURE else f"random {arch_name}"


def train_run(
    store: str | Path,
    out_dir: str | Path,
    mode: dict,
    seed: int,
    image_size: int,
    init_model: str | Path | None = None,
    mixed_precision: bool = False,
    max_epochs: int | None = None,
    deterministic: bool = True,
    reader_workers: int = 1,
    architecture: str | None = None,
) -> dict:
    """Train one run and write its outputs to ``out_dir``; returns the test evaluation.

    ``init_model`` is a ``.keras`` file (None: a random init from ``seed``, of ``architecture``, default
    InceptionV1; from an init, the architecture is the init's, and naming another is an error).
    ``max_epochs`` stops early (tests); a later call resumes from the checkpoint, if the checkpoint was
    made from the same inputs (init weights, store content, mode, seed, image size, precision, determinism).
    ``deterministic`` turns TensorFlow's op determinism on (the same seed gives the same weights).
    ``reader_workers`` prepare the batches (:class:`~artfinetune.data.reader.StoreReader`): the speed changes, the
    batches do not, so a checkpoint resumes whatever the number.
    """
    out = Path(out_dir)
    device = configure_devices(mixed_precision, deterministic)
    log.info(
        "training on %s (mixed precision %s, op determinism %s, %d reader worker%s)",
        device,
        mixed_precision,
        deterministic,
        reader_workers,
        "s" if reader_workers > 1 else "",
    )
    train = StoreReader(
        store,
        "train",
        mode["batch_size"],
        image_size,
        shuffle=True,
        seed=seed,
        augmentation=Augmentation.from_config(mode.get("augmentation")),
        workers=reader_workers,
    )
    val = StoreReader(store, "val", mode["batch_size"], image_size, workers=reader_workers)
    init = load_model(init_model) if init_model else None
    arch_name = architecture_of_model(init.name).name if init is not None else architecture or DEFAULT_ARCHITECTURE
    if init is not None and architecture not in (None, arch_name):
        raise UserError(
            f"the init {init_model} is a {arch_name}, not a {architecture}; a run has its init's architecture"
        )
    # What a checkpoint must match to be resumed: the content of the inputs, not their paths (the number of
    # epochs may grow).
    setup = json.loads(
        json.dumps(
            {
                "mode": {k: v for k, v in mode.items() if k != "epochs"},
                "seed": seed,
                "image_size": image_size,
                "init": weights_sha256(init) if init is not None else _random_init(arch_name),
                "store": store_sha256(store),
                "mixed_precision": mixed_precision,
                "deterministic": deterministic,
            }
        )
    )
    if (out / "checkpoint").exists() and not (out / CHECKPOINT).exists():
        # killed before its first epoch ended: nothing to resume, and its init.keras may be from another setup
        shutil.rmtree(out / "checkpoint")
    if (out / CHECKPOINT).exists():
        previous = Trainer.checkpoint_state(out / CHECKPOINT).get("setup") or {}
        changed = sorted(k for k in {*setup, *previous} if setup.get(k) != previous.get(k))
        if changed:
            log.warning(
                "checkpoint in %s was made with another setup (%s changed); starting afresh from epoch 0",
                out / "checkpoint",
                ", ".join(changed),
            )
            shutil.rmtree(out / "checkpoint")
    run = build_run_model(mode, len(train.class_names), train.task, image_size, seed, init, arch_name)
    # Outputs appear only when the run is complete; until then everything lives in checkpoint/.
    initial = out / "checkpoint" / "init.keras"
    if not initial.exists():
        save_model(run.model, initial)
    trainer = Trainer(run, mode, train.task, mixed_precision)
    log_learning_rates(run, trainer)

    checkpoint = out / CHECKPOINT
    state = {"epoch": 0, "best_loss": None, "best_epoch": None, "history": [], "setup": setup}
    best_weights = run.model.get_weights()
    if checkpoint.exists():
        state, best_weights = trainer.load_checkpoint(checkpoint)
        log.info(
            "resuming after epoch %d (best validation loss %s at epoch %s)",
            state["epoch"],
            state["best_loss"],
            state["best_epoch"],
        )
    last = mode["epochs"] if max_epochs is None else min(mode["epochs"], max_epochs)
    for epoch in range(state["epoch"], last):
        started = time.perf_counter()
        rates = trainer.set_epoch(epoch)
        train_loss = trainer.train_epoch(train.epoch(epoch))
        val_loss = trainer.validation_loss(val.epoch(epoch))
        if not np.isfinite(train_loss):
            raise UserError(f"training loss is {train_loss} at epoch {epoch + 1}; lower the mode's learning rates")
        if state["best_loss"] is None or val_loss < state["best_loss"]:
            state["best_loss"], state["best_epoch"] = val_loss, epoch + 1
            best_weights = run.model.get_weights()
        state["history"].append(
            {
                "epoch": epoch + 1,
                "train_loss": train_loss,
                "val_loss": val_loss,
                **{f"lr_{g}": r for g, r in rates.items()},
            }
        )
        state["epoch"] = epoch + 1
        trainer.save_checkpoint(checkpoint, state, best_weights)
        log.info(
            "epoch %d/%d: train loss %.4f, val loss %.4f%s (%.1f s, %s)",
            epoch + 1,
            mode["epochs"],
            train_loss,
            val_loss,
            " (best)" if state["best_epoch"] == epoch + 1 else "",
            time.perf_counter() - started,
            ", ".join(f"lr {g} {r:g}" for g, r in rates.items()),
        )
    if state["epoch"] < mode["epochs"]:
        return {}  # stopped early on request; the checkpoint holds the progress
    run.model.set_weights(best_weights)
    save_model(run.model, out / "model.keras")
    os.replace(initial, out / "init.keras")
    write_history(state["history"], out / "history.csv")
    result = evaluate_model(run.model, store, image_size, out, workers=reader_workers)
    result.update(
        best_epoch=state["best_epoch"],
        best_val_loss=state["best_loss"],
        mixed_precision=mixed_precision,
        deterministic=deterministic,
        device=device,
    )
    with atomic_path(out / "eval.json") as tmp:
        tmp.write_text(json.dumps(result, indent=1))
    shutil.rmtree(checkpoint.parent, ignore_errors=True)
    log.info(
        "selected epoch %d (val loss %.4f); test: %s",
        state["best_epoch"],
        state["best_loss"],
        ", ".join(f"{k} {v:.2f}" for k, v in result["metrics"].items() if isinstance(v, float)),
    )
    return result


def write_history(history: list[dict], path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
