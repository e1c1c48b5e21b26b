"""The training modes' hyperparameters (the paper's table 5): ours beside the paper's, a difference marked.

One line per mode with our values, read from the config's ``modes`` with their defaults filled, and under it,
when the config gives them, the paper's values for that mode (``mode_tables.<name>.rows[].paper``: the paper's
numbers live in the config, never here). A value of ours that differs from the paper's ends in :data:`DIFFERS`
(and its cell is shaded in the HTML page). Columns are the paper's, each shown as :func:`our_values` words it.

The rule ``mode_table`` passes :func:`mode_table_spec` as JSON and the command calls :func:`write_mode_table`;
both are plain functions: ``write_mode_table(mode_table_spec(config, "table5"), csv, md, html)``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from artfinetune.errors import ConfigError, UserError
from artfinetune.figures.tables import save_table
from artfinetune.study.checks import unknown_mode_row
from artfinetune.study.config import complete_section
from artfinetune.study.names import RANDOM_INIT
from artfinetune.study.report import rst_escape

# The paper's columns: the config key of each (a mode's key, except trainable) and its header.
COLUMNS = {
    "lr_head": "lr last layer",
    "lr_transferred": "lr other layers",
    "deep_supervision": "deep supervision",
    "epochs": "max epochs",
    "trainable": "trainable",
    "augmentation": "augmentation",
    "optimizer": "optimizer",
    "schedule": "schedule",
}
DIFFERS = " (≠ paper)"  # ends our value where the paper's differs
OPTIMIZERS = {"sgd": "SGD", "adam": "Adam"}


def mode_table_spec(config: dict, name: str) -> dict:
    """What :func:`build_mode_table` needs for ``config``'s mode table ``name``: per row, the mode's settings with
    their defaults filled, which of the runs using it start from a random init, and the paper's values."""
    table = config["mode_tables"][name]
    rows = []
    for i, row in enumerate(table["rows"]):
        mode = row["mode"]
        problem = unknown_mode_row(config, name, i)
        if problem:
            raise ConfigError(problem)
        settings = complete_section("mode", config["modes"][mode], f"modes.{mode}")
        # What the mode trains from: each run's init; a pretrain init (the demo's ImageNet) starts from random.
        users = {n: r["init"] for n, r in config["runs"].items() if r["mode"] == mode}
        users |= {f"init {n}": RANDOM_INIT for n, init in config["init"].items() if init.get("mode") == mode}
        from_random = [n for n, init in users.items() if init == RANDOM_INIT]
        rows.append(
            {
                "mode": mode,
                "label": row.get("label", mode),
                "settings": settings,
                "random_init": from_random,
                "trained_init": len(from_random) < len(users),
                **({"paper": row["paper"]} if "paper" in row else {}),
            }
        )
    return {"title": table.get("title", ""), "rows": rows}


def mode_table_caption(config: dict, name: str) -> str:
    """Table 5: what each column means, how a difference is marked, and the settings the paper's table leaves out."""
    table = config["mode_tables"][name]
    shown = [row["mode"] for row in table["rows"] if row["mode"] in config["modes"]]
    modes = {mode: complete_section("mode", config["modes"][mode], f"modes.{mode}") for mode in shown}
    text = (
        f"{table['title'] or name}. The hyperparameters of each training mode: ours (the config's modes, defaults "
        "filled) and, under them, the paper's (its table 5, as the config gives it). lr last layer: the new "
        "classification layer (and the auxiliary classifiers under deep supervision); lr other layers: every "
        "transferred or re-initialised layer; max epochs: training keeps the epoch of the best validation loss; "
        "trainable: the layers trained (frozen: kept from the init and not trained; re-initialised: drawn at "
        "random before training; random init: the mode's runs start from a random network; off the shelf: only "
        "the new last layer on the frozen network); augmentation of the training images (random crops: a window of "
        "the input size at a random place of the stored image; translation: the centre window shifted at random); "
        "schedule: a step decay of every learning rate. "
    )
    if any(row.get("paper") for row in table["rows"]):
        text += f"'{DIFFERS.strip()}' marks our value where it differs from the paper's. "
        if not all(row.get("paper") for row in table["rows"]):
            text += "A mode without a paper line is not in the paper's table. "
    else:
        text += "The config gives no paper values for this table. "
    text += f"Not in the paper's table: batch size {grouped(modes, 'batch_size')}"
    sgd = {m: s for m, s in modes.items() if s["optimizer"] == "sgd"}
    text += f"; SGD momentum {grouped(sgd, 'momentum')}." if sgd else "."
    return rst_escape(text)


def grouped(modes: dict[str, dict], key: str) -> str:
    """A setting over modes, each value once: ``32`` if every mode shares it, else ``16 (A, B), 32 (from_scratch)``."""
    values: dict[str, list[str]] = {}
    for mode, settings in modes.items():
        values.setdefault(f"{settings[key]:g}", []).append(mode)
    if len(values) == 1:
        return next(iter(values))
    return ", ".join(f"{v} ({', '.join(ms)})" for v, ms in values.items())


def our_values(row: dict) -> dict[str, str]:
    """A row's mode as the paper's columns show it, from its settings (and the inits of the runs using it)."""
    mode = row["settings"]
    off_the_shelf = mode["kind"] == "off_the_shelf"
    return {
        "lr_head": number(mode["lr_head"]),
        "lr_transferred": number(mode["lr_transferred"]),
        "deep_supervision": yes_no(mode["deep_supervision"] and not off_the_shelf),  # off the shelf has no heads
        "epochs": number(mode["epochs"]),
        "trainable": trainable(mode, row.get("random_init", []), row.get("trained_init", True)),
        "augmentation": augmentation(mode["augmentation"]),
        "optimizer": OPTIMIZERS[mode["optimizer"]],
        "schedule": schedule(mode["schedule"]),
    }


def number(value) -> str:
    return f"{value:g}"


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def trainable(mode: dict, random_init: list[str], trained_init: bool) -> str:
    """``all``; ``all, random init``; ``all but conv2d0..mixed3b (frozen); mixed4a..mixed5b re-initialised``;
    ``last layer only`` (off the shelf). Random init is said of the runs using the mode: all of them, or which."""
    if mode["kind"] == "off_the_shelf":
        text = "last layer only"
    else:
        text = f"all but {', '.join(mode['frozen'])} (frozen)" if mode["frozen"] else "all"
        if mode["reinit"]:
            text += f"; {', '.join(mode['reinit'])} re-initialised"
    if random_init:
        text += f", random init in {', '.join(random_init)}" if trained_init else ", random init"
    return text


def augmentation(aug: dict) -> str:
    """``none``, or what is done: ``random crops``, ``horizontal flip``, ``translation up to 28 px``."""
    parts = ["random crops"] if aug["crop"] == "random" else []
    parts += ["horizontal flip"] if aug["flip"] else []
    parts += [f"translation up to {aug['translate']} px"] if aug["translate"] else []
    return ", ".join(parts) or "none"


def schedule(sched: dict | None) -> str:
    return f"x{sched['factor']:g} every {sched['every']} epochs" if sched else "none"


def paper_text(value) -> str:
    """A paper value as our column shows it: numbers as ours, true/false as yes/no, text as given."""
    if isinstance(value, bool):
        return yes_no(value)
    return number(value) if isinstance(value, int | float) else str(value)


def same(ours: str, paper: str) -> bool:
    """Our value and the paper's are the same, ignoring case and spacing (``SGD`` = ``sgd``)."""
    return " ".join(ours.split()).casefold() == " ".join(paper.split()).casefold()


def build_mode_table(spec: dict) -> pd.DataFrame:
    """``spec``: ``rows`` (mode, label, settings, random_init, trained_init, optional paper values by column)."""
    if not isinstance(spec, dict) or "rows" not in spec:
        raise UserError("the mode table spec lacks rows; the mode_table rule writes it from the config's mode_tables")
    with_paper = any(row.get("paper") for row in spec["rows"])
    lines = []
    for row in spec["rows"]:
        missing = [k for k in ("mode", "settings") if k not in row]
        if missing:
            raise UserError(f"a row of the mode table spec lacks {', '.join(missing)}: {row}")
        ours = our_values(row)
        paper = {k: paper_text(v) for k, v in (row.get("paper") or {}).items()}
        unknown = sorted(set(paper) - set(COLUMNS))
        if unknown:
            raise UserError(f"mode {row['mode']}'s paper values name {unknown}; the columns are {', '.join(COLUMNS)}")
        line = {"mode": row["mode"], **({"values": "ours"} if with_paper else {})}
        for key, header in COLUMNS.items():
            differs = key in paper and not same(ours[key], paper[key])
            line[header] = ours[key] + (DIFFERS if differs else "")
        lines.append(line)
        if paper:
            cells = {header: paper.get(key, "") for key, header in COLUMNS.items()}  # blank: the config gives none
            lines.append({"mode": row.get("label", row["mode"]), "values": "paper", **cells})
    return pd.DataFrame(lines)


def write_mode_table(
    spec: dict, out_csv: str | Path, out_md: str | Path, out_html: str | Path | None = None
) -> pd.DataFrame:
    """Write table 5 as CSV, markdown and HTML (our values that differ from the paper's marked and shaded)."""
    return save_table(build_mode_table(spec), spec.get("title", ""), out_csv, out_md, out_html, marked=DIFFERS)
