"""Dataset sources: what a config's ``source`` section names, and the classes it provides."""

from __future__ import annotations

from pathlib import Path

import yaml

from artfinetune.data import demo
from artfinetune.data.mirrors import DownloadError, Mirror, merge_mirrors, mirror_list

REAL_KINDS = ("rasta", "iconart", "paintings")
SPEC_DIR = Path(__file__).resolve().parents[3] / "resources" / "datasets"


def spec_path(source: dict) -> Path:
    """The download spec of a real dataset (mirrors, checksum, layout, classes)."""
    return Path(source.get("spec") or SPEC_DIR / f"{source['kind']}.yaml")


def load_spec(source: dict) -> dict:
    path = spec_path(source)
    if not path.exists():
        raise FileNotFoundError(f"dataset spec {path} does not exist; restore it or set source.spec")
    spec = yaml.safe_load(path.read_text())
    if "url" in spec:  # specs written before mirrors
        raise DownloadError(f"dataset spec {path} has a url; write it as a list, mirrors: [<url>], tried in order")
    return spec


def source_mirrors(name: str, source: dict, spec: dict) -> list[Mirror]:
    """Where dataset ``name``'s file is fetched from, in the order tried: the config's own mirrors
    (``source.mirrors``), then the spec's (the authors' URL first, then known deposits)."""
    return merge_mirrors(
        mirror_list(source.get("mirrors"), f"datasets.{name}.source.mirrors of the config"),
        mirror_list(spec.get("mirrors"), str(spec_path(source))),
    )


def source_classes(source: dict) -> list[str] | None:
    """Class names a source defines, or None when the config must list them (csv sources)."""
    kind = source["kind"]
    if kind == "demo":
        return list(demo.GENERATORS[source["generator"]])
    if kind in REAL_KINDS:
        return list(load_spec(source)["classes"])
    return None
