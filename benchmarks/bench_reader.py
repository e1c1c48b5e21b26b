"""The store reader's rate against its number of workers: one (a background thread) and two (processes).

224 px batches of 32, random crop + flip, shuffled, from a 256 px store of 3,888 images (one epoch per
measurement, from the page cache), in ABBA rounds so that a drift in the machine's speed favours neither. In the
same rounds, for the record of the choice of processes: the same two workers as threads of one process (which
the reader does not offer), and the ceiling two processes reach on this machine at the time, two processes
preparing half of the epoch's batches each, started beforehand, handing nothing to anyone. Target: two workers
at least 1.7x one on these 2 cores.

The cores are shared with other jobs, so the part also prints the load average before and after; a ceiling well
below 2x says the neighbours took a core.

Then why the workers are processes: the stored images alone read (no augmentation) by one thread, two threads
and two processes, in turns. h5py holds one lock over every call, so threads read one at a time.
"""

import csv
import multiprocessing
import os
import queue
import statistics
import tempfile
import threading
import time
from pathlib import Path

import h5py

from artfinetune.data.demo import GENERATORS, generate_demo_dataset
from artfinetune.data.reader import Augmentation, StoreReader
from artfinetune.data.store import StoredImages, build_store

COPIES, PER_CLASS, SOURCE = 12, 40, 288  # 9 classes x 40 generated images, each listed 12 times: 4,320 images
SIZE, STORE_SIZE, BATCH, ROUNDS = 224, 256, 32, 4
TARGET = 1.7
AUGMENTATION = Augmentation(crop="random", flip=True)


def _store(tmp: Path) -> Path:
    """A 256 px store of 3,888 train images (and 432 val): 360 generated JPEGs, each stored 12 times."""
    table = generate_demo_dataset(tmp, "styles", images_per_class=PER_CLASS, image_size=SOURCE, seed=0)
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    copies = tmp / "copies.csv"
    with open(copies, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, "id": f"{r['id']}_{k}", "split": "train"} for k in range(COPIES) for r in rows)
    store = tmp / "store.h5"
    build_store(copies, tmp, store, tmp / "manifest.csv", list(GENERATORS["styles"]), "single_label", STORE_SIZE)
    return store


def _reader(store: Path, workers: int = 1) -> StoreReader:
    return StoreReader(store, "train", BATCH, SIZE, AUGMENTATION, shuffle=True, seed=0, workers=workers)


def _timed(batches) -> tuple[int, float, float]:
    """(images, seconds to the first batch, seconds in all) of one epoch's batches."""
    start, first, n = time.perf_counter(), None, 0
    for images, _ in batches:
        first = first if first is not None else time.perf_counter() - start
        n += len(images)
    return n, first, time.perf_counter() - start


def _threads(reader: StoreReader, epoch: int, n: int = 2):
    """What ``n`` workers as threads would do (batch b by thread b % n, taken in order); not offered by the reader."""
    queues = [queue.Queue(maxsize=2) for _ in range(n)]

    def produce(w):
        with h5py.File(reader.path, "r") as f:
            images, order = StoredImages(f), reader.order(epoch)
            for b in range(w, len(reader), n):
                queues[w].put(reader.batch(images, order, epoch, b))

    threads = [threading.Thread(target=produce, args=(w,), daemon=True) for w in range(n)]
    for t in threads:
        t.start()
    for b in range(len(reader)):
        yield queues[b % n].get()
    for t in threads:
        t.join()


def _half(store: str, epoch: int, w: int, start, done) -> None:
    """Batches w, w + 2, ... of an epoch, prepared and dropped, once ``start`` lets every process go."""
    reader = _reader(Path(store))
    with h5py.File(reader.path, "r") as f:
        images, order = StoredImages(f), reader.order(epoch)
        start.wait()
        for b in range(w, len(reader), 2):
            reader.batch(images, order, epoch, b)
    done.put(time.perf_counter())


def _two_processes(target, *args) -> float:
    """Seconds until both of two processes ``target(*args, w, start, done)`` (w = 0, 1) are done, timed from a
    common start once both are running (each puts its end time in ``done``)."""
    context = multiprocessing.get_context("forkserver")
    start, done = context.Barrier(3), context.Queue()
    processes = [context.Process(target=target, args=(*args, w, start, done)) for w in range(2)]
    for p in processes:
        p.start()
    start.wait()
    began = time.perf_counter()
    seconds = max(done.get() for _ in processes) - began
    for p in processes:
        p.join()
    return seconds


def _ceiling(store: Path, epoch: int) -> tuple[int, float, float]:
    """Two processes preparing half of an epoch's batches each, timed from a common start: what two cores give."""
    return len(_reader(store).indices), 0.0, _two_processes(_half, str(store), epoch)


def _read_from(store: str, step: int, w: int, start, done) -> None:
    """:func:`_read` with the argument order of :func:`_two_processes`."""
    _read(store, w, step, start, done)


def _read(store: str, w: int, step: int, start=None, done=None) -> None:
    """Read every ``step``-th stored image from the ``w``-th, three times over (after ``start``, if given)."""
    with h5py.File(store, "r") as f:
        images = StoredImages(f)
        if start is not None:
            start.wait()
        for _ in range(3):
            for i in range(w, len(images), step):
                images[i]
    if done is not None:
        done.put(time.perf_counter())


def reads_only(store: Path) -> None:
    """The stored images read, no augmentation: one thread, two threads, two processes (started beforehand)."""
    with h5py.File(store, "r") as f:
        n = 3 * len(f["offsets"])
    rates = {"1 thread": [], "2 threads": [], "2 processes": []}
    for r in range(ROUNDS):
        for name in list(rates) if r % 2 == 0 else list(rates)[::-1]:
            if name == "2 processes":
                seconds = _two_processes(_read_from, str(store), 2)
            else:
                k = 1 if name == "1 thread" else 2
                threads = [threading.Thread(target=_read, args=(str(store), w, k)) for w in range(k)]
                began = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                seconds = time.perf_counter() - began
            rates[name].append(n / seconds)
    alone = statistics.median(rates["1 thread"])
    print(f"  reading alone (no augmentation), why processes: median of {ROUNDS} turns")
    for name, r in rates.items():
        print(f"    {name:12} {statistics.median(r):8,.0f} img/s  {statistics.median(r) / alone:5.2f}x")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(Path(tmp))
        one, two = _reader(store, 1), _reader(store, 2)
        variants = {
            "1 worker (a thread)": one.epoch,
            "2 workers (processes)": two.epoch,
            "2 threads (not offered)": lambda epoch: _threads(one, epoch),
            "ceiling: 2 halves apart": lambda epoch: _ceiling(store, epoch),
        }
        print(
            f"reader workers: {SIZE} px batches of {BATCH}, random crop + flip, shuffled, {len(one.indices):,} "
            f"images of a {STORE_SIZE} px store per epoch, {ROUNDS} ABBA rounds, {os.cpu_count()} cores"
        )
        print(f"  load average before (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for epoch in (0, 1):  # warm-up: the page cache, the fork server
            _timed(one.epoch(epoch))
            _timed(two.epoch(epoch))
        runs = {name: [] for name in variants}
        for r in range(ROUNDS):
            names = list(variants) if r % 2 == 0 else list(variants)[::-1]
            for name in names:
                timed = variants[name](r)
                runs[name].append(timed if isinstance(timed, tuple) else _timed(timed))
        print(f"  {'':26} {'epoch rate':>12} {'past 1st batch':>15} {'1st batch':>10} {'vs 1 worker':>12}")
        rates = {}
        for name, timed in runs.items():
            rates[name] = sum(n for n, _, _ in timed) / sum(s for _, _, s in timed)
            past = sum(n - BATCH for n, _, _ in timed) / sum(s - f for _, f, s in timed)
            first = f"{1000 * statistics.median(f for _, f, _ in timed):7.0f} ms" if timed[0][1] else ""
            ratio = rates[name] / rates["1 worker (a thread)"]
            print(f"  {name:26} {rates[name]:8,.0f} img/s {past:9,.0f} img/s {first:>10} {ratio:11.2f}x")
        one_name, two_name, _, ceiling_name = variants
        per_round = [a[2] / b[2] for a, b in zip(runs[one_name], runs[two_name], strict=True)]
        ratio, ceiling = rates[two_name] / rates[one_name], rates[ceiling_name] / rates[one_name]
        verdict = "meets" if ratio >= TARGET else "MISSES"
        print(
            f"  2 workers / 1: {ratio:.2f}x (per round {min(per_round):.2f}-{max(per_round):.2f}x), {verdict} the "
            f"{TARGET}x target; the machine's ceiling meanwhile {ceiling:.2f}x"
        )
        reads_only(store)
        print(f"  load average after (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
