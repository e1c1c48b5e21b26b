"""Streaming batches from an image store, with the augmentation a training mode asks for.

Batches are uint8 images (batch, size, size, 3) in RGB [0, 255] and labels (class
indices, or float32 multi-hot for multi-label stores); the model applies its own
input convention. A background thread reads and augments the next batches while
the model works on the current one.

A stored image is the whole image, its shorter side the store's ``store_size``: a
random crop can fall anywhere in it, along the long side too, as the paper's
"random 224 x 224 crops within an image resized to 256 for its smallest
dimension"; without one, a reader sees the centre window
(:func:`~artfinetune.data.store_format.centre_window`).

Every random choice of an epoch (order, crops, flips, shifts) comes from
``(seed, epoch)``, so an epoch reads the same batches whether or not training was
interrupted before it.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from artfinetune.data.store import StoredImages, open_store
from artfinetune.data.store_format import centre_window
from artfinetune.errors import UserError


@dataclass(frozen=True)
class Augmentation:
    """What the training reader does to each stored image (config: ``modes.<mode>.augmentation``)."""

    crop: str = "center"  # "center" or "random": where the input-size window sits in the (whole) stored image
    flip: bool = False  # random horizontal flip, probability 0.5
    translate: int = 0  # random shift of the window by up to this many pixels per axis (edges reflected)

    def __post_init__(self):
        if self.crop not in ("center", "random"):
            raise UserError(f"augmentation crop must be 'center' or 'random', not {self.crop!r}")
        if self.translate < 0:
            raise UserError(f"augmentation translate must be >= 0, not {self.translate}")

    @classmethod
    def from_config(cls, cfg: dict | None) -> Augmentation:
        return cls(**(cfg or {}))


NO_AUGMENTATION = Augmentation()


class StoreReader:
    """Batches of one split of a store; iterate over :meth:`epoch`.

    ``image_size`` must not exceed the store's size (the shorter side of every
    stored image); with no augmentation each image is the centre ``image_size``
    window (the evaluation view).
    """

    def __init__(
        self,
        path: str | Path,
        split: str,
        batch_size: int,
        image_size: int,
        augmentation: Augmentation = NO_AUGMENTATION,
        shuffle: bool = False,
        seed: int = 0,
        prefetch: int = 4,
        drop_remainder: bool = False,
    ):
        self.path = Path(path)
        with open_store(self.path) as f:
            self.splits = json.loads(f.attrs["splits"])
            if split not in self.splits:
                raise UserError(f"split {split!r} is not one of {self.splits} in {self.path}")
            self.class_names = json.loads(f.attrs["classes"])
            self.task = str(f.attrs["task"])
            self.store_size = int(f.attrs["store_size"])
            self.indices = np.flatnonzero(f["split"][:] == self.splits.index(split))
            labels = f["labels"][:]
        if image_size > self.store_size:
            raise UserError(
                f"image_size {image_size} exceeds the store's {self.store_size} px ({self.path}); "
                "rebuild the store with a larger store_size"
            )
        if len(self.indices) == 0:
            raise UserError(f"split {split!r} of {self.path} is empty")
        self.labels = labels[self.indices]
        if self.task == "multi_label":
            self.labels = self.labels.astype(np.float32)
        self.split = split
        self.batch_size = batch_size
        self.image_size = image_size
        self.augmentation = augmentation
        self.shuffle = shuffle
        self.seed = seed
        self.prefetch = prefetch
        self.drop_remainder = drop_remainder

    def __len__(self) -> int:
        n, b = len(self.indices), self.batch_size
        return n // b if self.drop_remainder else -(-n // b)

    def order(self, epoch: int) -> np.ndarray:
        """Positions (into this split) in the order epoch ``epoch`` reads them."""
        n = len(self.indices)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def epoch(self, epoch: int = 0):
        """Yield (images, labels) batches of epoch ``epoch``, prefetched in a background thread."""
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def produce():
            try:
                with h5py.File(self.path, "r") as f:
                    for batch in self._batches(StoredImages(f), epoch):
                        if stop.is_set():
                            return
                        q.put(batch)
                q.put(None)
            except BaseException as err:  # hand the error to the consumer
                q.put(err)

        thread = threading.Thread(target=produce, daemon=True, name=f"reader-{self.split}")
        thread.start()
        try:
            while True:
                item = q.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while thread.is_alive():  # unblock a producer waiting on a full queue
                try:
                    q.get_nowait()
                except queue.Empty:
                    thread.join(0.01)

    def __iter__(self):
        return self.epoch(0)

    def _batches(self, images: StoredImages, epoch: int):
        order = self.order(epoch)
        for b in range(len(self)):
            pos = order[b * self.batch_size : (b + 1) * self.batch_size]
            rng = np.random.default_rng([self.seed, epoch, b])
            # One contiguous read per image: h5py's fancy indexing is two orders of magnitude slower here.
            raw = [images[int(row)] for row in self.indices[pos]]
            yield self._augment(raw, rng), self.labels[pos]

    def _augment(self, raw: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
        size, aug = self.image_size, self.augmentation
        out = np.empty((len(raw), size, size, 3), np.uint8)
        for k, img in enumerate(raw):
            h, w = img.shape[:2]
            if aug.crop == "random":  # anywhere in the whole image, along its long side too
                top, left = rng.integers(0, [h - size + 1, w - size + 1])
            else:
                rows, columns = centre_window(img.shape, size)
                top, left = rows.start, columns.start
            if aug.translate:
                dy, dx = rng.integers(-aug.translate, aug.translate + 1, size=2)
                top, left = top + dy, left + dx
            out[k] = _window(img, int(top), int(left), size)
            if aug.flip and rng.random() < 0.5:
                out[k] = out[k, :, ::-1]
        return out


def _window(img: np.ndarray, top: int, left: int, size: int) -> np.ndarray:
    """The size x size window at (top, left), reflecting the image where it runs past an edge."""
    h, w = img.shape[:2]
    if top >= 0 and top + size <= h and left >= 0 and left + size <= w:
        return img[top : top + size, left : left + size]
    pad_t, pad_l = max(0, -top), max(0, -left)
    pad_b, pad_r = max(0, top + size - h), max(0, left + size - w)
    padded = np.pad(img, ((pad_t, pad_b), (pad_l, pad_r), (0, 0)), mode="reflect")
    return padded[top + pad_t : top + pad_t + size, left + pad_l : left + pad_l + size]
