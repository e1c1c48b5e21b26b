"""Where the Keras applications' ImageNet weights come from (``resources/models/<architecture>.yaml``), without
TensorFlow: the preflight, the disk estimate and the download rule read it; :mod:`.keras_apps` checks and loads the
files."""

from __future__ import annotations

from pathlib import Path

import yaml

from artfinetune.data.mirrors import Mirror, merge_mirrors, mirror_list
from artfinetune.errors import UserError

SPEC_DIR = Path(__file__).resolve().parents[3] / "resources" / "models"
CONFIG_ORIGIN = "the init section of the config"
WEIGHTS_FILE = "weights.h5"  # what download_keras_weights keeps in the init's folder


def spec_path(architecture: str) -> Path:
    return SPEC_DIR / f"{architecture}.yaml"


def load_spec(architecture: str) -> dict:
    """An architecture's weights spec (mirrors, download_bytes); a UserError if it has none."""
    spec = spec_path(architecture)
    if not spec.exists():
        raise UserError(f"architecture {architecture!r} has no published weights here ({spec} is missing)")
    return yaml.safe_load(spec.read_text())


def weights_mirrors(architecture: str, urls: list[str] = ()) -> list[Mirror]:
    """The config's URLs for an architecture's ImageNet weights, then the known mirrors of its spec, each once."""
    known = load_spec(architecture)["mirrors"]
    return merge_mirrors(mirror_list(list(urls), CONFIG_ORIGIN), mirror_list(known, str(spec_path(architecture))))
