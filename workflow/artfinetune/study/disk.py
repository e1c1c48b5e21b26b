"""How much disk a study needs, estimated from its config before anything runs (``artfinetune preflight``).

For each dataset, N images (a real dataset's spec gives its ``image_count``; a demo's is ``images_per_class``
x classes; a csv dataset's, the rows of its table), the estimate adds, in bytes:

- **source files**: a download (an archive and its unpacked copy, 2 x the archive's size; Paintings' table
  and images, the spec's ``download_bytes``; Lucid's graph) at the size its mirror reports (or the file's,
  once downloaded), or the spec's ``download_bytes`` when none answers; a demo's drawn images at their raw
  size, N x s x round(1.2 s) x 3 (s = the source's ``image_size``; an upper bound for the JPEG files);
  nothing for a csv dataset (already on disk);
- **stores**: N x S x round(a S) x 3 (whole images, shorter side S = ``store_size``, RGB uint8; a = the mean
  long/short side ratio: 1.3 assumed for real and csv datasets, 1.2 for the demo's, the mean of its drawing);
- **activations**: for each (dataset, model) some pair compares, n x C x 4 (float32 channel means of the
  train and test splits: n = N, an upper bound, for real and csv datasets, N x the train and test share of a
  demo's splits; C = the channels of every extracted tensor, ``analysis_tensors``);
- **models**: a run's ``init.keras`` and ``model.keras`` per seed, an init's ``model.keras``; an InceptionV1 24.6 MB
  + 4.1 kB per class, plus 17.4 MB + 8.2 kB per class with the auxiliary heads (deep supervision, and Lucid's
  import with its 1008 classes); a ResNet-50 95.0 MB + 8.2 kB per class, a VGG16 59.0 MB + 2.1 kB per class (a
  Keras application's init has 1000 classes): measured on saved files; a Keras application's init also keeps its
  weights file (the spec's ``download_bytes`` or the size a mirror reports).

Not counted: the top-k sets, metric tables, renders, exported graphs, figures, the report, logs and training
checkpoints (0.18 GB of the demo's 1.55 GB results folder; its estimate is 1.37 GB, README "Before a long run").
"""

from __future__ import annotations

import csv
from pathlib import Path

from artfinetune.data import demo
from artfinetune.data.sources import REAL_KINDS, load_spec
from artfinetune.model.architectures import DEFAULT as DEFAULT_ARCHITECTURE
from artfinetune.model.architectures import architecture
from artfinetune.study.names import (
    analysis_models,
    analysis_tensors,
    init_architecture,
    model_architecture,
    run_architecture,
    run_seeds,
)

ASSUMED_ASPECT = 1.3  # mean long/short side of a real collection's images (WikiArt's paintings): an assumption
DEMO_ASPECT = sum(demo.ASPECT_RANGE) / 2
MODEL_BYTES = (24_600_000, 4_100)  # a saved InceptionV1: fixed bytes, bytes per class
# Other architectures' saved models (without auxiliary heads): fixed bytes, bytes per class.
ARCH_MODEL_BYTES = {"resnet50": (95_000_000, 8_200), "vgg16": (59_000_000, 2_100)}
KERAS_CLASSES = 1000
AUX_BYTES = (17_400_000, 8_200)  # what the two auxiliary heads add
LUCID_CLASSES = 1008
PARTS = ("source files", "stores", "activations", "models")


def image_count(dataset: dict) -> int:
    """N: the images of a dataset, from its spec, its demo settings or its table."""
    src = dataset["source"]
    if src["kind"] == "demo":
        return src["images_per_class"] * len(dataset["classes"])
    if src["kind"] in REAL_KINDS:
        return int(load_spec(src)["image_count"])
    table = Path(src["table"])
    if not table.exists():
        return 0
    with open(table, newline="", encoding="utf-8-sig") as f:
        return sum(1 for _ in csv.DictReader(f))


def _aspect(dataset: dict) -> float:
    return DEMO_ASPECT if dataset["source"]["kind"] == "demo" else ASSUMED_ASPECT


def _extracted_share(dataset: dict) -> float:
    """The share of a dataset's images whose activations are extracted (train and test splits)."""
    src = dataset["source"]
    if src["kind"] != "demo":
        return 1.0
    splits = src["splits"]
    return (splits.get("train", 0) + splits.get("test", 0)) / sum(splits.values())


def source_bytes(dataset: dict, download: int | None) -> int:
    """The bytes of a dataset's source files: its download (of ``download`` bytes, as a mirror reports it, else the
    spec's ``download_bytes``), and an archive's unpacked copy; or a demo's drawn images."""
    src = dataset["source"]
    if src["kind"] == "demo":
        s = src["image_size"]
        return image_count(dataset) * s * round(DEMO_ASPECT * s) * 3
    if src["kind"] not in REAL_KINDS:
        return 0
    spec = load_spec(src)
    if spec["layout"] == "url_list":  # the table a mirror reports is small; the images are what weighs
        return int(spec["download_bytes"]) + (download or 0)
    return 2 * (download if download is not None else int(spec["download_bytes"]))


def store_bytes(dataset: dict) -> int:
    size = dataset["store_size"]
    return image_count(dataset) * size * round(_aspect(dataset) * size) * 3


def extracted_channels(config: dict, arch_name: str = DEFAULT_ARCHITECTURE) -> int:
    """C: the channels of every tensor whose activations are extracted from an architecture's models."""
    widths = architecture(arch_name).widths
    return sum(widths[t] for t in analysis_tensors(config, arch_name))


def model_bytes(classes: int, aux_heads: bool, arch_name: str = DEFAULT_ARCHITECTURE) -> int:
    fixed, per_class = ARCH_MODEL_BYTES.get(arch_name, MODEL_BYTES)
    size = fixed + per_class * classes
    if aux_heads:
        size += AUX_BYTES[0] + AUX_BYTES[1] * classes
    return size


def _run_model_bytes(config: dict, name: str, run: dict) -> int:
    classes = len(config["datasets"][run["dataset"]]["classes"])
    return model_bytes(classes, config["modes"][run["mode"]]["deep_supervision"], run_architecture(config, name))


def _init_model_bytes(config: dict, init: dict) -> int:
    if init["kind"] == "lucid":
        return model_bytes(LUCID_CLASSES, True)
    if init["kind"] == "keras":
        return model_bytes(KERAS_CLASSES, False, init["architecture"])
    dataset = config["datasets"][init["dataset"]]
    deep = config["modes"][init["mode"]]["deep_supervision"]
    return model_bytes(len(dataset["classes"]), deep, init_architecture(init))


def keras_weights_bytes(architecture_name: str, download: int | None) -> int:
    """A Keras application's weights file, kept in its init's folder: as a mirror reports it, or the spec's."""
    from artfinetune.model.keras_weights import load_spec as weights_spec

    return download if download is not None else int(weights_spec(architecture_name)["download_bytes"])


def graph_bytes(download: int | None) -> int:
    """Lucid's graph, kept beside the init it is imported into: as a mirror reports it, or the spec's estimate."""
    from artfinetune.model.lucid_weights import load_spec as lucid_spec

    return download if download is not None else int(lucid_spec()["download_bytes"])


def disk_needs(config: dict, downloads: dict[str, int | None] | None = None) -> dict[str, dict[str, int]]:
    """Bytes per part (:data:`PARTS`), then per dataset, run or init: what the study writes under its results.
    ``downloads``: a download's size by dataset or init name, where a mirror or the file reports it."""
    downloads = downloads or {}
    datasets = config["datasets"]
    needs = {part: {} for part in PARTS}
    for name, ds in datasets.items():
        needs["source files"][name] = source_bytes(ds, downloads.get(name))
        needs["stores"][name] = store_bytes(ds)
    channels = {}
    for dataset, model in analysis_models(config):
        ds = datasets[dataset]
        n = round(image_count(ds) * _extracted_share(ds))
        arch_name = model_architecture(config, model)
        if arch_name not in channels:
            channels[arch_name] = extracted_channels(config, arch_name)
        needs["activations"][dataset] = needs["activations"].get(dataset, 0) + n * channels[arch_name] * 4
    for name, run in config["runs"].items():
        needs["models"][name] = 2 * len(run_seeds(config, name)) * _run_model_bytes(config, name, run)
    for name, init in config["init"].items():
        if init["kind"] == "lucid":
            needs["source files"][name] = graph_bytes(downloads.get(name))
        if init["kind"] == "keras":
            needs["source files"][name] = keras_weights_bytes(init["architecture"], downloads.get(name))
        needs["models"][name] = _init_model_bytes(config, init)
    return needs


def size_text(n: int) -> str:
    """Bytes as the README writes them, with one decimal: GB (10^9), MB below 1 GB, kB below 1 MB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 1e3:.1f} kB"
