"""Where Lucid's InceptionV1 graph comes from: its mirrors, and the check a downloaded file must pass.

The known mirrors are in ``resources/models/inception_v1.yaml`` (Lucid's model zoo, then the DeepDream release
of the same graph inside ``inception5h.zip``); a config's lucid init puts its own first (``mirrors``, then
``url``). Whichever mirror a file comes from, it is kept only if it passes the importer's structural check
(:func:`artfinetune.model.lucid_import.check_graph_file`), and its sha256 is recorded at the first download and
checked on every later use (:func:`artfinetune.data.download.fetch`).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from artfinetune.data.download import fetch
from artfinetune.data.mirrors import Mirror, merge_mirrors, mirror_list

SPEC_PATH = Path(__file__).resolve().parents[3] / "resources" / "models" / "inception_v1.yaml"
CONFIG_ORIGIN = "the init section of the config"


def load_spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


def init_urls(init: dict) -> list[str]:
    """A lucid init's own URLs, in the order tried: its ``mirrors``, then its ``url``."""
    return [*(init.get("mirrors") or []), init["url"]]


def lucid_mirrors(urls: list[str]) -> list[Mirror]:
    """The config's URLs (:func:`init_urls`), then the known mirrors of the spec, each place once."""
    return merge_mirrors(mirror_list(urls, CONFIG_ORIGIN), mirror_list(load_spec()["mirrors"], str(SPEC_PATH)))


def fetch_lucid(urls: list[str], sha256: str | None, out: str | Path) -> str:
    """The download_lucid_weights rule: the first mirror's graph that passes the structural check, saved as
    ``out`` (``InceptionV1.pb``), its sha256 recorded beside it at the first download and checked later."""
    from artfinetune.model.lucid_import import check_graph_file

    out = Path(out)
    return fetch(
        lucid_mirrors(urls),
        sha256,
        out.parent,
        fname=out.name,
        spec_name=CONFIG_ORIGIN,
        accept=check_graph_file,
        mirror_key="init.<name>.mirrors in the config",
    )
