"""Figures and tables: the paper's computed figures (a registry of kinds), render panels, and tables 1 to 5.

A computed figure's kind (``figures.<name>.kind`` in the config) names a module of this package with its
``spec`` (config -> what the rule passes as JSON), ``inputs`` (the files a spec reads), ``caption``,
``CATEGORY`` (report) and ``draw`` (spec -> PNG and PDF). Adding a kind is one module and one entry in
:data:`KINDS` (and its name in the schema's figure kinds).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from artfinetune.errors import UserError
from artfinetune.figures import cka, topk

KINDS: dict[str, ModuleType] = {"cka": cka, "topk": topk}


def kind_of(name: str) -> ModuleType:
    """The module of a figure kind; an unknown kind is an error naming the known ones."""
    if name not in KINDS:
        raise UserError(f"figure kind {name!r} is not one of {', '.join(KINDS)}; use one of those")
    return KINDS[name]


def figure_spec(config: dict, name: str) -> dict:
    """What the figure rule passes to the command: the figure's config with its pairs resolved to files."""
    return kind_of(config["figures"][name]["kind"]).spec(config, name)


def figure_inputs(config: dict, name: str) -> list[str]:
    return kind_of(config["figures"][name]["kind"]).inputs(figure_spec(config, name))


def figure_caption(config: dict, name: str) -> str:
    return kind_of(config["figures"][name]["kind"]).caption(config, name)


def figure_category(config: dict, name: str) -> str:
    return kind_of(config["figures"][name]["kind"]).CATEGORY


def draw_figure(spec: dict, out_png, out_pdf) -> tuple[Path, Path]:
    """Draw the figure a spec describes (its ``kind`` picks the module) as PNG and PDF."""
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind not in KINDS:
        raise UserError(f"--spec-json kind is {kind!r}; a figure is of kind {' or '.join(KINDS)}")
    return KINDS[kind].draw(spec, out_png, out_pdf)
