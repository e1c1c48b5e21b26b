"""Is this node ready for the study? ``artfinetune gpu-check CONFIG`` (``make gpu-check``).

One run measures, side by side, what a study's jobs will do here, with the package's own code: the training step
(:class:`~artfinetune.train.loop.Trainer`, in mixed precision on a GPU) fed from memory and fed by the store
reader with the config's ``reader_workers``, the reader alone, the activation probe
(:func:`~artfinetune.activations.extract.probe_function` over the config's analysed tensors) and Lucid render
steps (:func:`~artfinetune.render.renders.build_render_graph` of ``render.batch`` channels), then says whether
the reader keeps up with training. The data is a generated demo store; the networks have random weights, which
cost what trained ones do.

On a GPU, at the config's sizes: its image size, the largest batch of its modes, 64 images per activation batch
(the activations rule's), its render size, batch and graph optimiser setting. On a CPU the same at small sizes,
so that it ends in a couple of minutes, and the report says plainly that it measured a CPU.
"""

from __future__ import annotations

import csv
import logging
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

KEEPS_UP = 0.9  # training fed by the reader at >= 90 % of its rate on batches already in memory
SPARE = 1.2  # and the reader alone 20 % faster than training


@dataclass(frozen=True)
class Sizes:
    """What one check measures at."""

    image_size: int
    train_batch: int
    train_batches: int  # timed, after two warm-up steps
    activation_batch: int
    activation_batches: int
    render_size: int
    render_channels: int
    render_steps: int  # timed, after two warm-up steps (the first one runs the graph optimiser)
    optimise_graph: bool
    mixed_precision: bool
    copies: int  # times each generated image is stored, so that the reader's epochs are long


def check_sizes(config: dict, gpu: bool) -> Sizes:
    """The config's sizes on a GPU; small ones on a CPU."""
    if gpu:
        render = config["render"]
        return Sizes(
            image_size=config["image_size"],
            train_batch=max(mode["batch_size"] for mode in config["modes"].values()),
            train_batches=20,
            activation_batch=64,
            activation_batches=10,
            render_size=render["size"],
            render_channels=render["batch"],
            render_steps=20,
            optimise_graph=render["optimise_graph"],
            mixed_precision=True,
            copies=8,
        )
    return Sizes(96, 16, 12, 16, 8, 96, 2, 5, False, False, 4)


def _store(tmp: Path, size: int, copies: int) -> Path:
    """A demo store (9 classes) whose shorter side is ``size`` + 1/7, each generated image stored ``copies`` times."""
    from artfinetune.data.demo import GENERATORS, generate_demo_dataset
    from artfinetune.data.store import build_store

    store_size = size + size // 7
    splits = {"train": 0.8, "val": 0.1, "test": 0.1}
    table = generate_demo_dataset(tmp, "styles", images_per_class=24, image_size=store_size, splits=splits)
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(tmp / "copies.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, "id": f"{r['id']}_{k}"} for k in range(copies) for r in rows)
    store = tmp / "store.h5"
    classes = list(GENERATORS["styles"])
    build_store(tmp / "copies.csv", tmp, store, tmp / "manifest.csv", classes, "single_label", store_size)
    return store


def _rate(images_per_call: int, calls: int, call) -> float:
    """Images per second of ``calls`` calls of ``call(i)``, after two warm-up calls."""
    call(0)
    call(1)
    start = time.perf_counter()
    for i in range(calls):
        call(i)
    return images_per_call * calls / (time.perf_counter() - start)


def reader_rate(reader, epochs: int = 3) -> tuple[float, float]:
    """(images per second past each epoch's first batch, median seconds to an epoch's first batch)."""
    images, seconds, firsts = 0, 0.0, []
    for epoch in range(epochs):
        start, first = time.perf_counter(), None
        for batch, _ in reader.epoch(epoch):
            if first is None:
                first = time.perf_counter()
                firsts.append(first - start)
            else:
                images += len(batch)
        seconds += time.perf_counter() - first
    return images / seconds, statistics.median(firsts)


def training_rates(trainer, reader, batches: int) -> tuple[float, float]:
    """Images per second of ``trainer.train_epoch`` (the training loop's steps) over ``batches`` batches already in
    memory, and over as many read by ``reader`` then (in turns: memory, reader, memory, so that a drift in speed
    favours neither); each after two batches of warm-up."""
    import itertools

    def timed(stream) -> float:
        trainer.train_epoch(itertools.islice(stream, 2))  # tracing; the reader's workers starting
        start = time.perf_counter()
        trainer.train_epoch(itertools.islice(stream, batches))
        return batches * reader.batch_size / (time.perf_counter() - start)

    memory = list(itertools.islice(reader.epoch(0), batches + 2))
    first = timed(iter(memory))
    fed = timed(reader.epoch(1))
    return (first + timed(iter(memory))) / 2, fed


def activation_rate(config: dict, sizes: Sizes, num_classes: int) -> tuple[float, int, int]:
    """(images per second, tensors, channels) of the probe over the config's analysed tensors."""
    from artfinetune.activations.extract import probe_function, probe_model, tensor_names
    from artfinetune.model.inception import build_inception_v1
    from artfinetune.study.names import analysis_tensors

    names = tensor_names(analysis_tensors(config))
    model = build_inception_v1(num_classes, input_size=sizes.image_size)
    probe = probe_model(model, names, "a random InceptionV1")
    predict = probe_function(probe, sizes.image_size)
    x = np.random.default_rng(0).integers(0, 256, (sizes.activation_batch, sizes.image_size, sizes.image_size, 3))
    x = x.astype(np.uint8)
    rate = _rate(len(x), sizes.activation_batches, lambda i: [m.numpy() for m in predict(x)])
    return rate, len(names), sum(o.shape[-1] for o in probe.outputs[: len(names)])


def render_rate(config: dict, sizes: Sizes, num_classes: int, tmp: Path) -> tuple[float, list[str], float]:
    """(render steps per second, the channels optimised together, seconds of the first step)."""
    from artfinetune.model.inception import build_inception_v1
    from artfinetune.model.lucid_export import export_graph
    from artfinetune.render.lucid_compat import lucid
    from artfinetune.render.renders import build_render_graph, exported_model, session_config

    spare = [f"mixed4a:{i}" for i in range(sizes.render_channels)]
    channels = list(dict.fromkeys([*config["render"]["channels"], *spare]))[: sizes.render_channels]
    graph = export_graph(build_inception_v1(num_classes, input_size=sizes.image_size), tmp / "render.pb")
    L = lucid()
    tf = L.render.tf  # tf.compat.v1, as the render jobs run it
    model = exported_model(L, graph, sizes.render_size)
    render = config["render"]
    with tf.Graph().as_default(), tf.Session(config=session_config(tf, sizes.optimise_graph)) as sess:
        tf.set_random_seed(render["seed"])
        step = build_render_graph(L, model, channels, sizes.render_size, render["lr"], render["seed"]).vis_op
        tf.global_variables_initializer().run()
        start = time.perf_counter()
        sess.run(step)
        first = time.perf_counter() - start
        rate = _rate(1, sizes.render_steps, lambda i: sess.run(step))
    return rate, channels, first


def verdict(train: float, fed: float, reader: float, workers: int) -> tuple[bool, str]:
    """Whether the reader keeps up with training: alone it prepares at least 1.2x the images training takes, and
    training fed by it runs at >= 90 % of its rate from memory. If not, why, and what to change."""
    alone = f"the reader alone gives {reader / train:.1f}x the training rate"
    fed_at = f"training fed by it runs at {fed / train:.0%} of its rate from memory"
    if reader < SPARE * train:
        per_worker = reader / workers
        needed = max(workers + 1, int(np.ceil(SPARE * train / per_worker)))
        return False, (
            f"the reader does NOT keep up with training ({alone}): set reader_workers to about {needed} (a worker "
            f"gives about {per_worker:,.0f} img/s here), within the job's cores"
        )
    if fed < KEEPS_UP * train:
        return False, (
            f"the reader is fast enough ({alone}), but {fed_at}: reading takes CPU time training needs; give the "
            f"training jobs more cores"
        )
    return True, f"the reader keeps up with training ({alone}, {fed_at})"


def gpu_check(config_path: str | Path, mode_name: str | None = None, say=print) -> dict:
    """Measure this node for the study of ``config_path`` (see the module docstring), saying each result as it
    comes; returns the numbers. ``mode_name``: the mode whose training step is timed (default: the first run's)."""
    from artfinetune.data.reader import Augmentation, StoreReader
    from artfinetune.gpu import configure_devices, start_tensorflow_job
    from artfinetune.study.config import load_config

    config = load_config(config_path)
    mode_name = mode_name or config["runs"][next(iter(config["runs"]))]["mode"]
    mode = config["modes"][mode_name]
    workers = config["reader_workers"]
    start_tensorflow_job()  # a local GPU of its own, as a job claims one
    import tensorflow as tf

    gpu = bool(tf.config.list_physical_devices("GPU"))
    sizes = check_sizes(config, gpu)
    device = configure_devices(mixed_precision=False)
    if gpu:
        say(f"gpu-check on {device}, at the sizes of {config_path}")
    else:
        say(
            f"gpu-check on {device}: THIS MEASURED A CPU, not a GPU (TensorFlow sees no GPU here), at small sizes "
            f"({sizes.image_size} px) so that it ends in minutes; run `make gpu-check` on the GPU node for its numbers"
        )
    say(f"  load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = {"gpu": gpu, "device": device, "sizes": sizes, "reader_workers": workers, "mode": mode_name}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = _store(tmp, sizes.image_size, sizes.copies)
        augmentation = Augmentation.from_config(mode.get("augmentation"))
        reader = StoreReader(
            store, "train", sizes.train_batch, sizes.image_size, augmentation, shuffle=True, workers=workers
        )
        num_classes = len(reader.class_names)

        rate, first = reader_rate(reader)
        results["reader"] = rate
        say(
            f"  reader, {workers} worker{'s' if workers > 1 else ''} (reader_workers), {augmentation.crop} crop"
            f"{' + flip' if augmentation.flip else ''}, {sizes.image_size} px: {rate:,.0f} img/s "
            f"(and {1000 * first:.0f} ms to an epoch's first batch)"
        )

        results["activations"], n_tensors, channels = activation_rate(config, sizes, num_classes)
        say(
            f"  activations, {n_tensors} tensors ({channels:,} channels), batches of {sizes.activation_batch}: "
            f"{results['activations']:,.1f} img/s"
        )

        from artfinetune.train.loop import Trainer
        from artfinetune.train.setup import build_run_model

        configure_devices(mixed_precision=sizes.mixed_precision)
        run = build_run_model(mode, num_classes, reader.task, sizes.image_size, 0, None)
        trainer = Trainer(run, mode, reader.task, sizes.mixed_precision)
        memory, fed = training_rates(trainer, reader, sizes.train_batches)
        results["train"], results["train_fed"] = memory, fed
        precision = "mixed float16" if sizes.mixed_precision else "float32"
        say(
            f"  training step, mode {mode_name}, {precision}, batches of {sizes.train_batch}: {memory:,.1f} img/s "
            f"from memory, {fed:,.1f} img/s fed by the reader ({fed / memory:.0%})"
        )
        configure_devices(mixed_precision=False)

        steps, names, first = render_rate(config, sizes, num_classes, tmp)
        results["render_steps"] = steps
        optimiser = "on" if sizes.optimise_graph else "off"
        say(
            f"  render, {len(names)} channels in one graph, {sizes.render_size} px, graph optimiser {optimiser}: "
            f"{steps:.2f} steps/s (first step {first:.1f} s); {config['render']['steps']:,} steps take "
            f"{config['render']['steps'] / steps / 60:.1f} min a graph"
        )

    results["keeps_up"], text = verdict(memory, fed, rate, workers)
    say(f"  verdict: {text}")
    if not gpu:
        say("  (measured on a CPU: these numbers say nothing about a GPU node)")
    return results
