"""Dataset sources: what a config's ``source`` section names, and the classes it provides."""

from __future__ import annotations

from pathlib import Path

import yaml

from artfinetune.data import demo

REAL_KINDS = ("rasta", "iconart", "paintings")
SPEC_DIR = Path(__file__).resolve().parents[3] / "resources" / "datasets"


def spec_path(source: dict) -> Path:
    """The download spec of a real dataset (URL, checksum, layout, classes)."""
    return Path(source.get("spec") or SPEC_DIR / f"{source['kind']}.yaml")


def load_spec(source: dict) -> dict:
    path = spec_path(source)
    if not path.exists():
        raise FileNotFoundError(f"dataset spec {path} does not exist; restore it or set source.spec")
    return yaml.safe_load(path.read_text())


def source_classes(source: dict) -> list[str] | None:
    """Class names a source defines, or None when the config must list them (csv sources)."""
    kind = source["kind"]
    if kind == "demo":
        return list(demo.GENERATORS[source["generator"]])
    if kind in REAL_KINDS:
        return list(load_spec(source)["classes"])
    return None
