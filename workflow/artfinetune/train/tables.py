"""Result tables (the paper's tables 1 and 3): one line per row, dataset and metric; a column per seed and the mean."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from artfinetune import paths
from artfinetune.config import dataset_of, metrics_of
from artfinetune.errors import UserError
from artfinetune.io import atomic_path


def table_spec(config: dict, table: str) -> dict:
    """What :func:`build_table` needs for ``config``'s table ``table``: its rows, the seeds, and for
    every run or ensemble its dataset, metrics and eval.json per seed."""
    names = [name for row in config["tables"][table]["rows"] for name in row["runs"]]
    columns = {
        name: {
            "dataset": dataset_of(config, name),
            "metrics": metrics_of(config, name),
            "evals": {str(s): f"{paths.run_dir(config, name, s)}/eval.json" for s in config["seeds"]},
        }
        for name in names
    }
    return {**config["tables"][table], "seeds": config["seeds"], "columns": columns}


def build_table(spec: dict) -> pd.DataFrame:
    """``spec``: ``rows`` (label, runs, optional paper values), ``seeds``, and for every run or
    ensemble its ``dataset``, ``metrics`` and ``evals`` (seed -> eval.json path)."""
    missing = [k for k in ("rows", "seeds", "columns") if k not in spec]
    if missing:
        raise UserError(f"the table spec lacks {', '.join(missing)}; the table rule writes it from the config's tables")
    lines = []
    for row in spec["rows"]:
        paper = list(row.get("paper", []))
        for run in row["runs"]:
            column = spec["columns"][run]
            values = {
                seed: json.loads(Path(column["evals"][str(seed)]).read_text())["metrics"] for seed in spec["seeds"]
            }
            for metric in column["metrics"]:
                line = {"model": row["label"], "dataset": column["dataset"], "metric": metric, "run": run}
                for seed in spec["seeds"]:
                    line[f"seed {seed}"] = values[seed][metric]
                line["mean"] = sum(values[s][metric] for s in spec["seeds"]) / len(spec["seeds"])
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
    table: pd.DataFrame, title: str, out_csv: str | Path, out_md: str | Path, out_html: str | Path | None = None
) -> pd.DataFrame:
    """Write a result table as CSV (full precision), markdown and, if asked, an HTML page for the report (two
    decimals), each renamed into place."""
    from artfinetune.report import table_page

    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out_md) as tmp:
        tmp.write_text(to_markdown(table, title))
    if out_html:
        table_page(table, title, out_html)
    return table


def write_table(
    spec: dict, out_csv: str | Path, out_md: str | Path, out_html: str | Path | None = None
) -> pd.DataFrame:
    """Write a table as CSV (full precision), markdown and HTML (two decimals, metrics in %)."""
    return save_table(build_table(spec), spec.get("title", ""), out_csv, out_md, out_html)
