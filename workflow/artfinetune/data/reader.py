"""Streaming batches from an image store, with the augmentation a training mode asks for.

Batches are uint8 images (batch, size, size, 3) in RGB [0, 255] and labels (class
indices, or float32 multi-hot for multi-label stores); the model applies its own
input convention. Workers read and augment the next batches while the model works
on the current one: one background thread (``workers=1``, the default), or
``workers`` processes (config: ``reader_workers``), worker ``w`` preparing batches
``w, w + workers, ...`` in shared memory and the consumer taking them in order,
where they lie. Processes rather than threads, because h5py holds one lock over
every call: two threads read stored images more slowly than one, so threads
would stop adding speed once reading is the larger part of the work (see
``benchmarks/bench_reader.py``). As with any multiprocessing start method but
fork, each worker imports the main module: a script that reads with several
workers needs the ``if __name__ == "__main__":`` guard (the ``artfinetune``
command has it).

A stored image is the whole image, its shorter side the store's ``store_size``: a
random crop can fall anywhere in it, along the long side too, as the paper's
"random 224 x 224 crops within an image resized to 256 for its smallest
dimension"; without one, a reader sees the centre window
(:func:`~artfinetune.data.store_format.centre_window`).

Every random choice of an epoch (order, crops, flips, shifts) comes from
``(seed, epoch)``, and a batch's from ``(seed, epoch, batch)``, so an epoch reads
the same batches whether or not training was interrupted before it, and whatever
the number of workers.
"""

from __future__ import annotations

import collections
import contextlib
import json
import multiprocessing
import pickle
import queue
import threading
import traceback
import weakref
from dataclasses import dataclass
from multiprocessing.connection import wait
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
    window (the evaluation view). ``workers`` prepare the batches: 1 is a
    background thread, more are processes; the batches are the same either way.
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
        workers: int = 1,
    ):
        if workers < 1:
            raise UserError(f"reader workers must be at least 1, not {workers}")
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
        self.workers = workers

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
        """Yield (images, labels) batches of epoch ``epoch``, prepared ahead by the reader's workers.

        An error in a worker is raised here, at the batch it was preparing; leaving the loop early stops the
        workers (none is left running).
        """
        if self.workers == 1 or len(self) == 1:
            return self._thread_epoch(epoch)
        return self._process_epoch(epoch)

    def __iter__(self):
        return self.epoch(0)

    def batch(self, images: StoredImages, order: np.ndarray, epoch: int, b: int, out: np.ndarray | None = None):
        """Batch ``b`` of epoch ``epoch`` (``order``: :meth:`order`'s), its images written into ``out`` if given."""
        pos = order[b * self.batch_size : (b + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, epoch, b])
        # One contiguous read per image: h5py's fancy indexing is two orders of magnitude slower here.
        raw = [images[int(row)] for row in self.indices[pos]]
        return self._augment(raw, rng, out), self.labels[pos]

    def _batches(self, images: StoredImages, epoch: int):
        order = self.order(epoch)
        for b in range(len(self)):
            yield self.batch(images, order, epoch, b)

    def _thread_epoch(self, epoch: int):
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

    def _process_epoch(self, epoch: int):
        """Worker ``w`` of ``n`` prepares batches ``w, w + n, ...`` in slots of its own in shared memory; the
        consumer takes batch ``b`` from worker ``b % n`` and yields it where it lies, without a copy. A slot goes
        back to its worker once the consumer has dropped the batch in it; a consumer that keeps its batches gets
        copies instead when keeping one more would leave the worker without a slot for its next batch."""
        n = min(self.workers, len(self))
        slots = max(2, -(-self.prefetch // n))  # per worker: together about ``prefetch`` batches ahead
        shape = (self.batch_size, self.image_size, self.image_size, 3)
        # Forked from multiprocessing's fork server (a fresh single-threaded process, started once, that has
        # imported this module), not from this process: it runs TensorFlow's threads, and a fork copies whatever
        # locks they hold. A worker starts in milliseconds; a spawned one would import numpy and h5py each epoch.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        memory = context.RawArray("B", n * slots * int(np.prod(shape)))  # freed once no batch in it is left
        buffers = np.frombuffer(memory, np.uint8).reshape(n, slots, *shape)
        released = collections.deque()  # (worker, slot) of each yielded batch the consumer has dropped since
        held = [0] * n  # per worker: its slots whose batch the consumer still holds
        pipes, workers, finished = [], [], False
        try:
            for w in range(n):
                ours, theirs = context.Pipe()
                worker = context.Process(
                    target=_work,
                    args=(self, epoch, w, n, memory, slots, theirs),
                    name=f"reader-{self.split}-{w}",
                    daemon=True,
                )
                worker.start()
                theirs.close()
                pipes.append(ours)
                workers.append(worker)
            for b in range(len(self)):
                while released:
                    w, slot = released.popleft()
                    held[w] -= 1
                    _hand_back(pipes[w], slot)
                w = b % n
                message = _receive(pipes[w], workers[w])
                if message[0] == "error":
                    raise _error(*message[1:])
                _, slot, size, labels = message
                images = buffers[w, slot, :size]
                if held[w] + 1 < slots or b + n >= len(self):  # the worker keeps a slot for its next batch
                    held[w] += 1
                    weakref.finalize(images, released.append, (w, slot)).atexit = False
                else:
                    images = images.copy()
                    _hand_back(pipes[w], slot)
                yield images, labels
            finished = True
        finally:
            for worker in workers:
                if finished:  # each has sent its last batch and is exiting
                    worker.join(5.0)
                if worker.is_alive():  # stopped early, or stuck: the consumer no longer wants its batches
                    worker.terminate()
                    worker.join()
            for pipe in pipes:
                pipe.close()

    def _augment(self, raw: list[np.ndarray], rng: np.random.Generator, out: np.ndarray | None = None) -> np.ndarray:
        size, aug = self.image_size, self.augmentation
        out = np.empty((len(raw), size, size, 3), np.uint8) if out is None else out[: len(raw)]
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


def _work(reader: StoreReader, epoch: int, w: int, n: int, memory, slots: int, pipe) -> None:
    """A reader process: batches ``w, w + n, ...`` of ``epoch``, each into a slot the consumer handed back."""
    try:
        shape = (slots, reader.batch_size, reader.image_size, reader.image_size, 3)
        buffers = np.frombuffer(memory, np.uint8).reshape(n, *shape)[w]
        free = list(range(slots))
        with h5py.File(reader.path, "r") as f:
            images, order = StoredImages(f), reader.order(epoch)
            for b in range(w, len(reader), n):
                slot = free.pop() if free else pipe.recv()
                batch, labels = reader.batch(images, order, epoch, b, buffers[slot])
                pipe.send(("batch", slot, len(batch), labels))
    except BaseException as err:
        with contextlib.suppress(OSError):  # the consumer may have stopped listening
            pipe.send(("error", _picklable(err), traceback.format_exc()))


def _picklable(err: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(err))
        return err
    except Exception:
        return RuntimeError(f"{type(err).__name__}: {err}")


def _error(err: BaseException, trace: str) -> BaseException:
    err.add_note(f"in a reader process:\n{trace}")
    return err


def _hand_back(pipe, slot: int) -> None:
    """A slot to its worker (which may have made its last batch and left, or died: its next batch reports that)."""
    with contextlib.suppress(OSError):
        pipe.send(slot)


def _receive(pipe, worker):
    """The worker's next message; an error if it died without sending it (killed, out of memory)."""
    try:
        while not pipe.poll():
            if worker.sentinel in wait([pipe, worker.sentinel]) and not pipe.poll():
                break
        else:
            return pipe.recv()
    except (EOFError, OSError):  # its end of the pipe closed (or reset) as it died
        pass
    worker.join()
    raise RuntimeError(f"reader process {worker.name} died (exit code {worker.exitcode}) before its batch")
