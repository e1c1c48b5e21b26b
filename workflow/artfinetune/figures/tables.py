"""Result tables (the paper's tables 1 and 3): one line per row, dataset and metric; a column per seed, the mean and
the spread across seeds (largest minus smallest; empty for a run with one seed).

The paper reports one training per row (its "training 1"); our first seed stands for it, and its column is named so
(:func:`seed_column`): that column, not the mean, is the one that compares with the paper's value.

Also how every table is saved (CSV at full precision, markdown, and the report's HTML page), tables 2, 4 and 5 too.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd

from artfinetune.errors import UserError
from artfinetune.io import atomic_path
from artfinetune.study.names import dataset_of, metrics_of, run_seeds
from artfinetune.study.paths import run_dir
from artfinetune.study.report import rst_escape

PAPER_RUN = "paper's run"


def paper_seed(seeds: list[int]) -> int:
    """The seed that stands for the paper's single run ("training 1"): the first of the config's seeds."""
    return seeds[0]


def seed_column(seed: int, seeds: list[int]) -> str:
    """A seed's column in tables 1 and 3: ``seed 1 (paper's run)`` for :func:`paper_seed`, ``seed 2`` otherwise."""
    return f"seed {seed} ({PAPER_RUN})" if seed == paper_seed(seeds) else f"seed {seed}"


def trainings_text(seeds: list[int]) -> str:
    """Which of our seeds stands for which of the paper's trainings, in order: ``seed 1 stands for the paper's
    training 1, seed 2 for its training 2``."""
    first, *others = [f"seed {s}" for s in seeds]
    text = f"{first} stands for the paper's training 1"
    return ", ".join([text, *(f"{s} for its training {i}" for i, s in enumerate(others, 2))])


def table_spec(config: dict, table: str) -> dict:
    """What :func:`build_table` needs for ``config``'s table ``table``: its rows, the seeds, and for
    every run or ensemble its dataset, metrics and eval.json per seed."""
    names = [name for row in config["tables"][table]["rows"] for name in row["runs"]]
    columns = {
        name: {
            "dataset": dataset_of(config, name),
            "metrics": metrics_of(config, name),
            "evals": {str(s): f"{run_dir(config, name, s)}/eval.json" for s in run_seeds(config, name)},
        }
        for name in names
    }
    return {**config["tables"][table], "seeds": config["seeds"], "columns": columns}


def table_inputs(config: dict, table: str) -> list[str]:
    """The eval.json files a table reads, every run's and ensemble's for each of its seeds."""
    columns = table_spec(config, table)["columns"].values()
    return [e for c in columns for e in c["evals"].values()]


def table_caption(config: dict, name: str) -> str:
    """Tables 1 and 3: the test metric of each row's runs per seed, their mean and the paper's value."""
    table = config["tables"][name]
    seeds = ", ".join(str(s) for s in config["seeds"])
    marked = seed_column(paper_seed(config["seeds"]), config["seeds"])
    text = (
        f"{table['title'] or name}. Test metrics in % of each row's run (or ensemble) per seed ({seeds}) and "
        "their mean over the seeds the run was trained with (an empty cell: the run has no such seed), and their "
        "spread (the largest minus the smallest, how much another training moves the number; empty for one seed): "
        "top-1/3/5 accuracy for a single-label dataset, mean average precision over classes "
        "(scikit-learn's average precision per class) for a multi-label one. "
        f"The paper reports a single training per row; our first seed stands for it, so the column {marked} is "
        "the one that compares with the paper's value (the other seeds and the mean show how much another training "
        "moves the number). "
    )
    if any(row.get("paper") for row in table["rows"]):
        text += "The paper's values are in the column paper."
    else:
        text += "The config gives no paper values for this table."
    return rst_escape(text)


def build_table(spec: dict) -> pd.DataFrame:
    """``spec``: ``rows`` (label, runs, optional paper values), ``seeds``, and for every run or
    ensemble its ``dataset``, ``metrics`` and ``evals`` (seed -> eval.json path, for the seeds it was trained with)."""
    missing = [k for k in ("rows", "seeds", "columns") if k not in spec]
    if missing:
        raise UserError(f"the table spec lacks {', '.join(missing)}; the table rule writes it from the config's tables")
    lines = []
    for row in spec["rows"]:
        paper = list(row.get("paper", []))
        for run in row["runs"]:
            column = spec["columns"][run]
            values = {
                int(seed): json.loads(Path(path).read_text())["metrics"] for seed, path in column["evals"].items()
            }
            for metric in column["metrics"]:
                line = {"model": row["label"], "dataset": column["dataset"], "metric": metric, "run": run}
                for seed in spec["seeds"]:  # a run trained with fewer seeds leaves the others' cells empty
                    line[seed_column(seed, spec["seeds"])] = values[seed][metric] if seed in values else None
                line["mean"] = sum(v[metric] for v in values.values()) / len(values)
                seeds = [v[metric] for v in values.values()]
                line["spread"] = max(seeds) - min(seeds) if len(seeds) > 1 else None
                line["paper"] = paper.pop(0) if paper else None
                lines.append(line)
    return pd.DataFrame(lines)


def to_markdown(table: pd.DataFrame, title: str) -> str:
    columns = list(table.columns)
    out = [f"# {title}" if title else "", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, line in table.iterrows():
        cells = []
        for c in columns:
            v = line[c]
            cells.append(
                ""
                if v is None or (isinstance(v, float) and pd.isna(v))
                else f"{v:.2f}"
                if isinstance(v, float)
                else str(v)
            )
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out).lstrip() + "\n"


def save_table(
    table: pd.DataFrame,
    title: str,
    out_csv: str | Path,
    out_md: str | Path,
    out_html: str | Path | None = None,
    shaded: tuple[str, ...] = (),
    marked: str | None = None,
) -> pd.DataFrame:
    """Write a result table as CSV (full precision), markdown and, if asked, an HTML page for the report (two
    decimals, the ``shaded`` columns shaded, the cells ending in ``marked`` too), each renamed into place."""
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out_md) as tmp:
        tmp.write_text(to_markdown(table, title))
    if out_html:
        table_page(table, title, out_html, shaded=shaded, marked=marked)
    return table


def write_table(
    spec: dict, out_csv: str | Path, out_md: str | Path, out_html: str | Path | None = None
) -> pd.DataFrame:
    """Write a table as CSV (full precision), markdown and HTML (two decimals, metrics in %; the column that compares
    with the paper shaded, and the paper's column)."""
    table = build_table(spec)
    return save_table(table, spec.get("title", ""), out_csv, out_md, out_html, shaded=compared_columns(table))


def compared_columns(table: pd.DataFrame) -> tuple[str, ...]:
    """The columns to read side by side: ours that compares with the paper's single run, and the paper's."""
    return tuple(c for c in table.columns if c.endswith(f"({PAPER_RUN})") or c == "paper")


def table_page(
    table: pd.DataFrame,
    title: str,
    out_html: str | Path,
    digits: int = 2,
    shaded: tuple[str, ...] = (),
    marked: str | None = None,
) -> Path:
    """A table as a small standalone HTML page (numbers to ``digits`` decimals), for the report: the ``shaded``
    columns shaded, and the cells whose text ends in ``marked`` (a value that differs from the paper's)."""
    body = table.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.{digits}f}", border=0)
    columns = [i for i, c in enumerate(table.columns, 1) if c in shaded]
    style = "".join(f"td:nth-child({i}), th:nth-child({i}) {{ background: {SHADE}; }}\n" for i in columns)
    if marked:
        body = re.sub(rf"<td>([^<]*{re.escape(html.escape(marked))})</td>", r'<td class="marked">\1</td>', body)
        style += f"td.marked {{ background: {MARKED}; }}\n"
    with atomic_path(out_html) as tmp:
        tmp.write_text(TABLE_PAGE.format(title=html.escape(title), style=style, table=body), encoding="utf-8")
    return Path(out_html)


SHADE = "#fff3c4"  # the columns to read side by side
MARKED = "#f9d0c4"  # a cell that differs from the paper's


TABLE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: .3em .8em; border-bottom: 1px solid #ddd; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
thead th {{ border-bottom: 2px solid #888; }}
{style}</style></head>
<body><h1>{title}</h1>
{table}
</body></html>
"""
