"""Is it universal? The paper's findings on each architecture of a study, side by side.

The config's ``architectures.findings`` gives, per architecture (``inception_v1``, ``resnet50``, ``vgg16``), a
findings section of its own models (:mod:`artfinetune.report.findings`). From it come:

- a figure: linear CKA, mean top-k overlap (at the depth finding's ``overlap_k``) and mean class entropy of the
  fine-tuned model (at ``entropy_k``, channels with no positive image left out) of each architecture's depth pair,
  per analysis layer against its relative depth: 0 at the first analysed layer, 1 at the last, evenly spaced in
  between (layer i of n at i / (n - 1)), so networks of 12, 17 and 18 analysis layers share one axis;
- a table: every finding's verdict per architecture (markdown and CSV, with each verdict's statement), judged
  exactly as the study's own findings are.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from artfinetune.errors import UserError
from artfinetune.io import atomic_path
from artfinetune.metrics.table import OVERLAP_COLUMNS, OVERLAP_METRICS, read_tidy, rows_at_k
from artfinetune.model.layers import network_order
from artfinetune.report.findings import evaluate_findings, findings_inputs, findings_spec

CSV_COLUMNS = ("architecture", "id", "verdict", "claim", "statement")
CAPTION = (
    "Is it universal? Linear CKA, mean top-k overlap and mean class entropy of each architecture's pretrained and "
    "fine-tuned pair, per analysed layer against its relative depth (0 = first analysed layer, 1 = last); "
    "tables/architectures.md gives every finding's verdict per architecture."
)
MEASURES = ("linear CKA", "mean top-k overlap", "mean class entropy of the fine-tuned model")


def architectures_spec(config: dict) -> dict:
    """What the architectures rule passes on: its title and each architecture's findings spec."""
    section = config["architectures"]
    return {"title": section["title"], "findings": {arch: findings_spec(config, arch) for arch in section["findings"]}}


def architectures_inputs(config: dict) -> list[str]:
    """Every file the architectures' findings read."""
    files = [f for arch in config["architectures"]["findings"] for fs in findings_inputs(config, arch).values()
             for f in fs]  # fmt: skip
    return list(dict.fromkeys(files))


def relative_depths(layers: list[str]) -> dict[str, float]:
    """Each layer's relative depth: i / (n - 1) for the i-th of n layers in network order (0 for a single one)."""
    ordered = network_order(layers)
    last = max(len(ordered) - 1, 1)
    return {layer: i / last for i, layer in enumerate(ordered)}


def depth_curves(spec: dict) -> pd.DataFrame:
    """Per architecture with a depth pair, per analysis layer: its relative depth and the three measures (columns
    architecture, pair, layer, depth, measure, k, value)."""
    rows = []
    for arch, findings in spec["findings"].items():
        depth = findings.get("depth")
        if not depth:
            continue
        layers = network_order(findings["layers"])
        at = relative_depths(layers)
        pair = " vs ".join(depth["pair"])
        cka = read_tidy(depth["cka"], ["linear_cka"])
        cka = cka[cka["metric"] == "linear_cka"].set_index("layer")["value"]
        topk = read_tidy(depth["overlap"], OVERLAP_METRICS, OVERLAP_COLUMNS)
        overlap = rows_at_k(topk, ["overlap"], depth["overlap_k"], depth["overlap"]).groupby("layer")["value"].mean()
        entropy = rows_at_k(topk, ["entropy_b"], depth["entropy_k"], depth["overlap"])
        entropy = entropy.groupby("layer")["value"].mean()  # NaN (no positive image) left out
        for measure, values, k in zip(
            MEASURES, (cka, overlap, entropy), (None, depth["overlap_k"], depth["entropy_k"]), strict=True
        ):
            missing = [layer for layer in layers if layer not in values.index]
            if missing:
                raise UserError(f"{pair}: no {measure} for layers {missing} in its metric files; rerun its metrics")
            rows += [
                {"architecture": arch, "pair": pair, "layer": layer, "depth": at[layer], "measure": measure, "k": k,
                 "value": float(values[layer])}
                for layer in layers
            ]  # fmt: skip
    return pd.DataFrame(rows, columns=["architecture", "pair", "layer", "depth", "measure", "k", "value"])


def draw_depth_figure(curves: pd.DataFrame, title: str):
    """Three panels (CKA, overlap, entropy against relative depth), one curve per architecture."""
    if curves.empty:
        raise UserError("no architecture of architectures.findings has a depth pair; give each a depth: {pair: ...}")
    from artfinetune.figures.style import MARKERS, PALETTE, new_figure  # seaborn: not at the workflow's start-up

    fig, axes = new_figure(10.5, 3.4, len(MEASURES))
    archs = list(dict.fromkeys(curves["architecture"]))
    for ax, measure in zip(axes, MEASURES, strict=True):
        part = curves[curves["measure"] == measure]
        for i, arch in enumerate(archs):
            line = part[part["architecture"] == arch].sort_values("depth")
            ax.plot(line["depth"], line["value"], marker=MARKERS[i % len(MARKERS)], color=PALETTE[i % len(PALETTE)],
                    label=f"{arch} ({line['pair'].iloc[0]})")  # fmt: skip
        k = part["k"].dropna().unique()
        ax.set_title(measure.replace(" of the", "\nof the") + (f" (k = {int(k[0])})" if len(k) == 1 else ""))
        ax.set_xlim(-0.03, 1.03)
    axes[0].set_ylabel("value")
    axes[0].set_ylim(0, 1.02)
    axes[1].set_ylim(0, 1.02)
    fig.suptitle(title)
    for ax in axes:
        ax.set_xlabel("relative depth")
    axes[1].set_xlabel("relative depth (0 = the first analysed layer, 1 = the last)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 3), frameon=False)
    return fig


def verdict_table(spec: dict) -> pd.DataFrame:
    """Every finding judged on each architecture (columns of :data:`CSV_COLUMNS`, architectures in order)."""
    rows = []
    for arch, findings in spec["findings"].items():
        for finding in evaluate_findings(findings):
            rows.append({"architecture": arch, "id": finding.id, "verdict": finding.verdict, "claim": finding.claim,
                         "statement": finding.statement})  # fmt: skip
    return pd.DataFrame(rows, columns=list(CSV_COLUMNS))


def verdicts_markdown(table: pd.DataFrame, title: str) -> str:
    """The verdicts as a finding x architecture table, then each architecture's statements."""
    archs = list(dict.fromkeys(table["architecture"]))
    grid = table.pivot(index="id", columns="architecture", values="verdict")
    order = list(dict.fromkeys(table["id"]))
    lines = [f"# {title}", "", "| finding | " + " | ".join(archs) + " |", "|---" * (len(archs) + 1) + "|"]
    lines += [f"| {ident} | " + " | ".join(grid.loc[ident, arch] for arch in archs) + " |" for ident in order]
    held = {arch: int((table[table["architecture"] == arch]["verdict"] == "holds").sum()) for arch in archs}
    lines += ["", "Findings that hold: " + ", ".join(f"{arch} {n} of {len(order)}" for arch, n in held.items()) + "."]
    for arch in archs:
        lines += ["", f"## {arch}", ""]
        lines += [f"- **{row.verdict}** — {row.id}: {row.statement}" for row in
                  table[table["architecture"] == arch].itertuples()]  # fmt: skip
    return "\n".join(lines) + "\n"


def write_architectures(
    spec: dict, out_png: str | Path, out_pdf: str | Path, out_csv: str | Path, out_md: str | Path
) -> pd.DataFrame:
    """The architectures rule: the depth figure (PNG, PDF) and the verdict table (CSV, markdown), atomically."""
    from artfinetune.figures.style import save_figure

    curves = depth_curves(spec)
    table = verdict_table(spec)
    save_figure(draw_depth_figure(curves, spec["title"]), out_png, out_pdf)
    with atomic_path(out_csv) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(table.to_dict("records"))
    with atomic_path(out_md) as tmp:
        tmp.write_text(verdicts_markdown(table, spec["title"]), encoding="utf-8")
    return table
