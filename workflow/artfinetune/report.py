"""What the study's report says about each of its items: captions, table pages, the software record.

The report is Snakemake's own (``snakemake --report results/report.zip``): rules mark their outputs with
``report(...)`` and a category, and each caption is the reStructuredText this module writes from the config,
passed to the rule as a param and printed by the caption template ``workflow/report/caption.rst``. A caption
says what the item shows, how it was computed, and where the paper has a number, the paper's number. Because a
caption depends only on its own item's config, editing one figure's title reruns that figure alone.
"""

from __future__ import annotations

import html
import platform
from importlib import metadata
from pathlib import Path

import pandas as pd

from artfinetune.io import atomic_path

# Report categories, numbered because Snakemake's report lists them in alphabetical order.
FINDINGS = "1. Findings"
CLASSIFICATION = "2. Classification"
SIMILARITY = "3. Similarity (CKA, l2)"
MAXIMAL = "4. Maximal activations"
VISUALISATION = "5. Feature visualisation"
STUDY = "6. Study"

# Distributions whose versions the report records (the numbers depend on them).
SOFTWARE = (
    "artfinetune",
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "numpy",
    "h5py",
    "pandas",
    "scikit-learn",
    "scipy",
    "lucid",
    "snakemake",
    "matplotlib",
    "seaborn",
    "pillow",
)

CKA_HOW = (
    "Linear CKA, ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F), between the two models' features of the same layer on "
    "the test images of the second model's dataset (the first's if the second is an init such as imagenet), centre "
    "crop; an image's feature is the spatial mean of each channel after ReLU; accumulated over chunks of images in "
    "float64."
)
DEBIASED = " Panel (b) is debiased CKA (unbiased HSIC), which has no floor at small n."
TOPK_HOW = (
    "Per channel, the top-k set is the k train images with the highest spatial-mean activation after ReLU "
    "(images where it is 0 are ignored). Overlap: |top_k(A) ∩ top_k(B)| / k, with the chance level k / n. "
    "Entropy: the normalised class entropy (1 / log2 C) Σ -p_c log2 p_c of a set, a multi-label image counting "
    "1/|L| towards each of its classes; sets without a labelled image are left out. Boxes over channels per layer, "
    "means as diamonds."
)
RENDER_HOW = (
    "Renders: Lucid activation maximisation of the channel ({size} px, {steps} Adam steps at lr {lr}, FFT "
    "parameterisation with colour decorrelation, Lucid's standard transforms, seed {seed}). Mosaics: the channel's "
    "top-{k} train images in rank order, those also in the other model's top-{k} framed in green, with the "
    "overlap and the three most frequent classes."
)


def figure_category(config: dict, name: str) -> str:
    """Figure 5 (CKA) goes with the similarities, figures 6, 14 and 15 (top-k) with the maximal activations."""
    return SIMILARITY if config["figures"][name]["kind"] == "cka" else MAXIMAL


def software_versions() -> dict[str, str]:
    """Python, the platform, and the installed version of each distribution in SOFTWARE (absent ones left out)."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in SOFTWARE:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def write_software(out: str | Path) -> Path:
    """The software record of the report: one ``name version`` line per distribution, as installed here."""
    lines = [f"{name} {version}" for name, version in software_versions().items()]
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return Path(out)


def rst_escape(text: str) -> str:
    """Plain text for a reStructuredText paragraph: markup characters lose their meaning."""
    for char in "\\*`_|":
        text = text.replace(char, "\\" + char)
    return text


def _pairs(pairs) -> str:
    return "; ".join(f"{a} vs {b}" for a, b in pairs)


def _values(values) -> str:
    return ", ".join(f"{v:g}" for v in values)


def table_caption(config: dict, name: str) -> str:
    """Tables 1 and 3: the test metric of each row's runs per seed, their mean and the paper's value."""
    table = config["tables"][name]
    seeds = ", ".join(str(s) for s in config["seeds"])
    text = (
        f"{table['title'] or name}. Test metrics in % of each row's run (or ensemble) per seed ({seeds}) and "
        "their mean: top-1/3/5 accuracy for a single-label dataset, mean average precision over classes "
        "(scikit-learn's average precision per class) for a multi-label one. "
    )
    if any(row.get("paper") for row in table["rows"]):
        text += "The paper's values are in the column paper."
    else:
        text += "The config gives no paper values for this table."
    return rst_escape(text)


def comparison_table_caption(config: dict, name: str) -> str:
    """Tables 2 and 4: mean CKA over the layers and mean l2 over the trunk convolutions, per pair of models."""
    table = config["comparison_tables"][name]
    parts = [f"{table['title'] or name}."]
    if "mean_cka" in table["metrics"]:
        parts.append(f"mean_cka: linear CKA averaged over the layers {', '.join(config['layers'])}. {CKA_HOW}")
    if "mean_l2" in table["metrics"]:
        parts.append(
            "mean_l2: the Frobenius norm of the difference of each trunk convolution's kernel (57 convolutions, "
            "biases and auxiliary heads left out, nothing normalised), averaged over the convolutions."
        )
    paper = [row for row in table["rows"] if row.get("paper")]
    parts.append("The paper's values are in the columns named paper." if paper else "The config gives no paper values.")
    return rst_escape(" ".join(parts))


def figure_caption(config: dict, name: str) -> str:
    """Figures 5 (kind cka) and 6, 14, 15 (kind topk)."""
    figure = config["figures"][name]
    title = figure["title"] or name
    if figure["kind"] == "cka":
        text = f"{title}. Pairs: {_pairs(figure['pairs'])}. {CKA_HOW}{DEBIASED}"
        reference = figure.get("reference")
        if reference:
            text += f" Reference line ({reference['label']}), per layer: {_values(reference['values'])}."
        return rst_escape(text)
    overlap_k = figure.get("overlap_k", min(config["topk"]))
    entropy_k = figure.get("entropy_k", max(config["topk"]))
    a, b = figure["pair"]
    text = (
        f"{title}. Model A {a}, model B {b}. (a) overlap of the top-{overlap_k} sets of each channel, per layer; "
        f"(b) class entropy of the top-{entropy_k} sets of both models. {TOPK_HOW} In the paper (figure 6, "
        "ImageNet vs RASTA mode A) the overlap falls with depth and the entropy falls from the middle of the "
        "network on."
    )
    return rst_escape(text)


def panel_caption(config: dict, name: str) -> str:
    """Render panels (figures 1, 2, ...): per pair and channel, render and mosaic before and after."""
    panel = config["panels"][name]
    render = config["render"]
    how = RENDER_HOW.format(k=min(config["topk"]), **render)
    text = (
        f"{panel['title'] or name}. Channels {', '.join(panel['channels'])} for {_pairs(panel['pairs'])}: per "
        f"column, the render and the top-{min(config['topk'])} mosaic before (first model) and after (second model) "
        f"and the overlap. {how}"
    )
    return rst_escape(text)


def gallery_caption(config: dict, pair) -> str:
    """A pair's channel gallery (an HTML page with its images)."""
    render = config["render"]
    how = RENDER_HOW.format(k=min(config["topk"]), **render)
    chosen = (
        f" and, per layer, the {render['per_layer']} channels whose top-{min(config['topk'])} sets changed most "
        "and as many that changed least"
        if render["per_layer"]
        else ""
    )
    text = (
        f"Channel gallery of {pair[0]} vs {pair[1]}: the named channels{chosen}, each with both renders, both "
        f"mosaics, the overlap and both entropies; sortable by layer, overlap and entropy. {how}"
    )
    return rst_escape(text)


def table_page(table: pd.DataFrame, title: str, out_html: str | Path, digits: int = 2) -> Path:
    """A table as a small standalone HTML page (numbers to ``digits`` decimals), for the report."""
    body = table.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.{digits}f}", border=0)
    return _write_page(TABLE_PAGE.format(title=html.escape(title), table=body), out_html)


def _write_page(page: str, out_html: str | Path) -> Path:
    with atomic_path(out_html) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return Path(out_html)


def findings_page(findings, title: str, definitions: str, out_html: str | Path) -> Path:
    """The findings as the report's first page: a line per claim with its verdict (coloured) and its numbers."""
    rows = "\n".join(
        f'<tr class="{html.escape(f.verdict.replace(" ", "-"))}"><td class="verdict">{html.escape(f.verdict)}</td>'
        f"<td><b>{html.escape(f.claim)}</b><br>{html.escape(f.statement)}</td><td><code>{html.escape(f.id)}</code>"
        "</td></tr>"
        for f in findings
    )
    return _write_page(
        FINDINGS_PAGE.format(title=html.escape(title), rows=rows, definitions=html.escape(definitions)), out_html
    )


FINDINGS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 70em; }}
table {{ border-collapse: collapse; }}
td {{ padding: .5em .8em; border-bottom: 1px solid #ddd; vertical-align: top; }}
td.verdict {{ font-weight: bold; white-space: nowrap; }}
tr.holds td.verdict {{ color: #17803d; }}
tr.does-not-hold td.verdict {{ color: #b91c1c; }}
tr.cannot-be-judged td.verdict {{ color: #6b7280; }}
</style></head>
<body><h1>{title}</h1>
<table>
{rows}
</table>
<p>{definitions}</p>
</body></html>
"""


TABLE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: .3em .8em; border-bottom: 1px solid #ddd; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
thead th {{ border-bottom: 2px solid #888; }}
</style></head>
<body><h1>{title}</h1>
{table}
</body></html>
"""
