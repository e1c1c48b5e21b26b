"""Activations of a model on one split of a store: each channel's spatial mean after ReLU, per image.

What the CKA and top-k analyses read (study.md, "Metrics between two models"): an image's feature for a
channel is the global spatial average of the channel's post-ReLU map on the centre crop. One forward pass
over the split writes every requested tensor, keeping every image (the original code dropped the last
partial batch). File layout::

    layers/<tensor>  (n, c) float32   spatial mean after ReLU, one row per image in store order; <tensor> is
                                      the post-ReLU name (``mixed4a``, ``mixed4d_3x3``), chunked for reading
                                      one layer or one channel
    argmax/<tensor>  (n, c) uint16    where each channel's map peaks: the flat index ``y * w + x`` of its
                                      largest value after ReLU on the map of side (h, w) (``uint32`` for maps
                                      of more than 65,536 units); chunked as ``layers``. A patch of the image
                                      that fires the channel is that unit's receptive field
                                      (:mod:`artfinetune.model.receptive`). Files written before positions
                                      were recorded lack this group.
    store_index      (n,) int64       row of each image in the store
    ids              (n,) str         the store's ids
    labels           (n,) int64       single-label: class index
                     (n, C) uint8     multi-label: multi-hot (as in the store)
    attrs            model (e.g. styles_A/1), model_file, model_sha256 (of the file's bytes), dataset,
                     store_sha256, split, task, classes (JSON), image_size, crop ("center"),
                     tensors (JSON list of the stored names, in request order),
                     map_shapes (JSON: tensor -> [h, w], the side of each map ``argmax`` indexes)
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

from artfinetune.data.reader import StoreReader
from artfinetune.data.store import open_store, store_sha256
from artfinetune.errors import UserError
from artfinetune.io import atomic_path, file_sha256
from artfinetune.model.layers import post_relu

if TYPE_CHECKING:  # keras (TensorFlow) is imported where a model runs: readers of the files stay light
    import keras

log = logging.getLogger(__name__)

# Chunks of 4096 images x 32 channels (512 KiB): a layer read takes whole chunks, a channel read takes n / 4096
# chunks (9 MiB at n = 70,000), and the writer's buffer of one chunk row over all study layers and branches
# (4096 x ~6,700 channels x 4 B) stays near 110 MiB.
CHUNK_ROWS = 4096
CHUNK_CHANNELS = 32
CROP = "center"
# Maps of this many units (56 x 56) or more find their peaks row by row (see PeakPosition): measured faster there.
ROW_FIRST_UNITS = 56 * 56


def tensor_names(tensors: list[str]) -> list[str]:
    """The post-ReLU names of the requested layers and branches, duplicates removed, order kept."""
    names = list(dict.fromkeys(post_relu(t) for t in tensors))
    if not names:
        raise UserError("no tensors to extract; name at least one layer, e.g. mixed4a or mixed4d_3x3_pre_relu")
    return names


def check_input_size(model: keras.Model, image_size: int, model_path: str | Path) -> None:
    """A model built for a fixed input size reads only that size."""
    size = model.input_shape[1]
    if size is not None and size != image_size:
        raise UserError(
            f"image_size {image_size} differs from the {size} px input of {model_path}; "
            f"extract at {size} px or use a model built for {image_size} px"
        )


def position_dtype(map_shape) -> np.dtype:
    """The smallest unsigned integer that holds every flat position of a map of ``map_shape`` (h, w)."""
    return np.dtype(np.uint16) if map_shape[0] * map_shape[1] <= 2**16 else np.dtype(np.uint32)


def _peak_position_layer():
    import keras
    import tensorflow as tf

    class PeakPosition(keras.layers.Layer):
        """Where each channel's map peaks: the flat position ``y * w + x`` of its largest value, per image; on ties
        (a map of zeros) the first in row-major order, as numpy's ``argmax`` of the flattened map.

        TensorFlow's ``argmax`` over a map's units reduces a non-last axis, which is slow on large maps (94 ms for
        32 maps of 112 x 112 x 64 on this project's 2-core machine). Maps of :data:`ROW_FIRST_UNITS` units or more
        are read once, row by row: each row's maximum (a plain reduction), the row holding the map's maximum,
        then the argmax along that one row, gathered per image and channel (17 ms for the same maps). Smaller
        maps, where the gather costs more than it saves, use ``argmax`` directly.
        """

        def call(self, maps):
            _, h, w, c = maps.shape
            if h * w < ROW_FIRST_UNITS:
                where = tf.argmax(tf.reshape(maps, (-1, h * w, c)), axis=1, output_type=tf.int32)
            else:
                b = tf.shape(maps)[0]
                rows = tf.transpose(tf.reduce_max(maps, axis=2), (0, 2, 1))  # (b, c, h): each row's maximum
                y = tf.argmax(rows, axis=-1, output_type=tf.int32)  # (b, c): the row holding the map's maximum
                start = (tf.range(b)[:, None] * h + y) * (w * c) + tf.range(c)[None, :]  # unit (y, 0), flat
                row = tf.gather(tf.reshape(maps, [-1]), start[:, :, None] + tf.range(w)[None, None, :] * c)
                where = y * w + tf.argmax(row, axis=-1, output_type=tf.int32)
            return tf.cast(where, position_dtype((h, w)).name)

        def compute_output_spec(self, maps):
            _, h, w, c = maps.shape
            return keras.KerasTensor((maps.shape[0], c), dtype=position_dtype((h, w)).name)

    return PeakPosition


def probe_model(model: keras.Model, names: list[str], model_path: str | Path, positions: bool = True) -> keras.Model:
    """A model from ``model``'s input to, for each tensor, its per-channel spatial mean after ReLU, in float32;
    with ``positions``, then for each tensor the flat position (``y * w + x``) of each channel's maximum."""
    import keras

    PeakPosition = _peak_position_layer()
    means, peaks = [], []
    for name in names:
        try:
            feature_map = model.get_layer(name).output
        except ValueError:
            raise UserError(f"{model_path} ({model.name}) has no layer {name}; is it a model of this study?") from None
        # float32 before averaging: a mixed-precision model's maps are float16, whose sum over a map loses digits
        means.append(keras.layers.GlobalAveragePooling2D(dtype="float32", name=f"{name}_mean")(feature_map))
        if positions:
            peaks.append(PeakPosition(name=f"{name}_peak")(feature_map))
    wrong = [f"{n} ({o.dtype})" for n, o in zip(names, means, strict=True) if o.dtype != "float32"]
    if wrong:
        raise RuntimeError(f"channel means are not float32: {', '.join(wrong)}")
    return keras.Model(model.input, means + peaks, name="activation_probe")


def map_shapes(model: keras.Model, names: list[str]) -> dict[str, list[int]]:
    """Each tensor's map side (h, w) in ``model``."""
    return {name: [int(d) for d in model.get_layer(name).output.shape[1:3]] for name in names}


class ChunkRowWriter:
    """Writes batches of means to the layer datasets a whole chunk row at a time.

    Each chunk is written once, whole, instead of being read back and rewritten for every batch.
    """

    def __init__(self, datasets: list[h5py.Dataset]):
        self.datasets = datasets
        self.rows = datasets[0].chunks[0]
        self.pending: list[list[np.ndarray]] = [[] for _ in datasets]
        self.n_pending = 0
        self.written = 0

    def add(self, means: list[np.ndarray]) -> None:
        for pending, m in zip(self.pending, means, strict=True):
            pending.append(m)
        self.n_pending += len(means[0])
        while self.n_pending >= self.rows:
            self._flush(self.rows)

    def close(self) -> None:
        if self.n_pending:
            self._flush(self.n_pending)

    def _flush(self, count: int) -> None:
        for k, ds in enumerate(self.datasets):
            block = np.concatenate(self.pending[k])
            ds[self.written : self.written + count] = block[:count]
            self.pending[k] = [block[count:]]
        self.written += count
        self.n_pending -= count


def split_rows(store: str | Path, indices: np.ndarray) -> dict:
    """Ids, labels (as stored) and dataset name of the store rows ``indices``."""
    with open_store(store) as f:
        return {
            "ids": f["ids"].asstr()[:][indices],
            "labels": f["labels"][:][indices],
            "dataset": str(f.attrs.get("dataset", "")),
        }


def probe_function(probe: keras.Model, image_size: int):
    """``probe`` on a uint8 batch of any size, as one graph traced once.

    Keras's ``predict_on_batch`` traces again for the last, smaller batch of a split; tracing costs seconds,
    as much as the forward pass of a small split. Returns the outputs as a list, one array per tensor.
    """
    import keras
    import tensorflow as tf

    images = tf.TensorSpec([None, image_size, image_size, 3], tf.uint8)

    @tf.function(input_signature=[images])
    def run(batch):
        # flatten: Keras hands back a bare tensor, not a list, when only one tensor is probed
        return keras.tree.flatten(probe(batch, training=False))

    return run


def forward_pass(predict, reader: StoreReader, writer: ChunkRowWriter) -> None:
    """Every batch of the split once through ``predict`` (:func:`probe_function`); logs progress about every
    10 % of the batches."""
    every, start, done = max(1, len(reader) // 10), time.perf_counter(), 0
    for b, (images, _) in enumerate(reader.epoch(0)):
        writer.add([m.numpy() for m in predict(images)])
        done += len(images)
        if (b + 1) % every == 0 or b + 1 == len(reader):
            rate = done / (time.perf_counter() - start)
            log.info("batch %d/%d: %d/%d images, %.1f img/s", b + 1, len(reader), done, len(reader.indices), rate)
    writer.close()
    if writer.written != len(reader.indices):  # every image of the split, the last partial batch included
        raise RuntimeError(f"wrote {writer.written} of the {len(reader.indices)} images of split {reader.split}")


def extract_activations(
    model_path: str | Path,
    store: str | Path,
    split: str,
    out: str | Path,
    tensors: list[str],
    image_size: int,
    model_name: str,
    batch_size: int = 64,
    reader_workers: int = 1,
) -> Path:
    """Write the per-image channel means after ReLU of ``tensors`` on ``split`` (centre crop) to ``out``.

    ``tensors`` are layer or branch names, pre- or post-ReLU; each is stored under its post-ReLU name.
    Every input is checked before the forward pass; ``out`` appears only once complete.
    """
    outs = {split: out}
    return extract_splits(model_path, store, outs, tensors, image_size, model_name, batch_size, reader_workers)[0]


def extract_splits(
    model_path: str | Path,
    store: str | Path,
    outs: dict[str, str | Path],
    tensors: list[str],
    image_size: int,
    model_name: str,
    batch_size: int = 64,
    reader_workers: int = 1,
) -> list[Path]:
    """:func:`extract_activations` for several splits (``outs``: split -> file) with one model load and probe.

    Every split's images are checked before the first forward pass.
    """
    from artfinetune.model.files import as_float32, load_model

    names = tensor_names(tensors)
    readers = {split: StoreReader(store, split, batch_size, image_size, workers=reader_workers) for split in outs}
    model = as_float32(load_model(model_path))  # the same numbers whatever precision the model trained in
    check_input_size(model, image_size, model_path)
    probe = probe_model(model, names, model_path)
    predict = probe_function(probe, image_size)
    shapes = map_shapes(model, names)
    common = {
        "model": model_name,
        "model_file": str(model_path),
        "model_sha256": file_sha256(model_path),
        "store_sha256": store_sha256(store),
        "image_size": image_size,
        "crop": CROP,
        "tensors": json.dumps(names),
        "map_shapes": json.dumps(shapes),
    }
    return [
        _write_split(probe, predict, names, shapes, store, readers[split], out, common) for split, out in outs.items()
    ]


def _write_split(
    probe, predict, names: list[str], shapes: dict, store, reader: StoreReader, out: str | Path, common: dict
) -> Path:
    """One split's forward pass through ``probe`` (``predict``: its traced function) into ``out``, renamed into
    place once complete."""
    split = reader.split
    rows = split_rows(store, reader.indices)
    n = len(reader.indices)
    attrs = {
        **common,
        "dataset": rows["dataset"],
        "split": split,
        "task": reader.task,
        "classes": json.dumps(reader.class_names),
    }
    log.info(
        "%s on %s/%s: %d images at %d px, %d tensors",
        common["model"],
        rows["dataset"],
        split,
        n,
        common["image_size"],
        len(names),
    )
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        datasets = []
        for group in ("layers", "argmax"):  # the probe's outputs: every tensor's means, then its positions
            for name, output in zip(names, probe.outputs[: len(names)], strict=True):
                c = output.shape[-1]
                chunks = (min(n, CHUNK_ROWS), min(c, CHUNK_CHANNELS))
                dtype = np.float32 if group == "layers" else position_dtype(shapes[name])
                datasets.append(f.create_dataset(f"{group}/{name}", shape=(n, c), dtype=dtype, chunks=chunks))
        f.create_dataset("store_index", data=reader.indices.astype(np.int64))
        f.create_dataset("ids", data=rows["ids"].astype(object), dtype=h5py.string_dtype())
        f.create_dataset("labels", data=rows["labels"])
        f.attrs.update(attrs)
        forward_pass(predict, reader, ChunkRowWriter(datasets))
    return Path(out)


def extract_job(
    model_path: str | Path,
    store: str | Path,
    splits: list[str],
    outs: list[str | Path],
    tensors: list[str],
    image_size: int,
    model_name: str,
    batch_size: int = 64,
    threads: int = 0,
    reader_workers: int = 1,
) -> list[Path]:
    """The activations job: every tensor name and the splits' files checked, a device claimed, then one model load
    for all ``splits`` (``outs``: one file each, in the same order)."""
    from artfinetune.gpu import start_tensorflow_job
    from artfinetune.model.architectures import saved_model_architecture
    from artfinetune.model.layers import check_layer

    if len(splits) != len(outs):
        raise UserError(f"--split names {len(splits)} splits but --out {len(outs)} files; give one file each")
    arch = saved_model_architecture(model_path)
    for tensor in tensors:  # before any expensive work
        check_layer(tensor, arch.widths)
    start_tensorflow_job(threads)
    outs_by_split = dict(zip(splits, outs, strict=True))  # one model load and probe for every split
    return extract_splits(model_path, store, outs_by_split, tensors, image_size, model_name, batch_size, reader_workers)
