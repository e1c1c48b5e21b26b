"""What the report says about its items: captions from the config, table and findings pages, the software record."""

from __future__ import annotations

import json
import platform
import re
from importlib import metadata

import pandas as pd
from docutils.core import publish_parts

from artfinetune.figures import figure_caption, figure_category
from artfinetune.figures.comparison_tables import comparison_table_caption
from artfinetune.figures.panels import panel_caption
from artfinetune.figures.tables import table_caption, table_page, write_table
from artfinetune.report.findings import Finding
from artfinetune.report.pages import findings_page
from artfinetune.report.software import write_software
from artfinetune.study.config import fill_k_defaults
from artfinetune.study.report import rst_escape

CONFIG = {
    "seeds": [1, 2],
    "init": {"imagenet": {"kind": "lucid"}},
    "runs": {"rasta_A": {"dataset": "rasta", "init": "imagenet", "mode": "A"}},
    "topk": [100, 1000],
    "layers": ["conv2d0", "mixed4a", "mixed5b"],
    "render": {"size": 224, "steps": 2048, "lr": 0.05, "seed": 0, "batch": 32, "per_layer": 2, "channels": []},
    "figures": {
        "fig5_cka": {
            "kind": "cka",
            "title": "Figure 5",
            "pairs": [["imagenet", "rasta_A/1"], ["rasta_A/1", "rasta_B/1"]],
            "reference": {"label": "original code", "values": [0.997, 0.908, 0.372]},
        },
        "fig6_topk": {
            "kind": "topk",
            "title": "",
            "boxes": [
                {"metric": "overlap", "pair": ["imagenet", "rasta_A/1"]},
                {"metric": "entropy", "pair": ["imagenet", "rasta_A/1"], "k": 1000},
                {"metric": "entropy", "pair": ["imagenet", "rasta_A/1"], "model": "imagenet"},
            ],
        },
    },
    "tables": {"table1": {"title": "Table 1", "rows": [{"label": "FT", "runs": ["rasta_A"], "paper": [55.18]}]}},
    "comparison_tables": {
        "table2": {"title": "", "metrics": ["mean_l2"], "rows": [{"label": "x", "pairs": []}]},
        "table4": {
            "title": "Table 4",
            "metrics": ["mean_l2"],
            "rows": [{"label": "y", "pairs": [["imagenet", "rasta_A/1"], ["rasta_A/1/init", "rasta_A/1"]]}],
        },
    },
    "panels": {
        "fig2": {
            "title": "Figure 2",
            "show": ["renders", "topk"],
            "layout": "channels",
            "columns": [{"pair": ["imagenet", "rasta_A/1"], "channel": "mixed4d:52", "paper": {"overlap": 18}}],
        }
    },
}
fill_k_defaults(CONFIG)  # as the config loader does: the ks left out are the smallest and largest topk


def html_of(rst: str) -> str:
    """The caption as Snakemake's report shows it (reStructuredText through docutils), without the tags."""
    import re

    return re.sub(r"<[^>]+>", "", publish_parts(rst, writer="html")["body"])


def test_a_cka_figure_caption_names_its_pairs_method_and_the_papers_values():
    text = html_of(figure_caption(CONFIG, "fig5_cka"))
    assert text.startswith("Figure 5. Pairs: imagenet vs rasta_A/1; rasta_A/1 vs rasta_B/1.")
    assert "float64" in text and "debiased" in text
    assert "Reference line (original code), per layer: 0.997, 0.908, 0.372." in text


def test_a_topk_caption_names_each_panels_k_pair_and_model():
    text = html_of(figure_caption(CONFIG, "fig6_topk"))
    assert text.startswith("fig6_topk. Per layer: (a) overlap of the top-100 sets, imagenet vs rasta_A/1; (b) class")
    assert (
        "(b) class entropy of the top-1000 sets of rasta_A/1; (c) class entropy of the top-100 sets of imagenet" in text
    )
    assert "the orange line is the mean and the star the median" in text


def test_names_with_underscores_and_stars_survive_restructuredtext():
    rst = rst_escape("mixed4d_3x3_pre_relu:52 *bold* `code` a|b trailing_")
    assert html_of(rst).strip() == "mixed4d_3x3_pre_relu:52 *bold* `code` a|b trailing_"


def test_table_captions_say_whether_the_paper_has_values():
    assert "The paper's values are in the column paper." in html_of(table_caption(CONFIG, "table1"))
    text = html_of(comparison_table_caption(CONFIG, "table2"))
    assert text.startswith("table2. mean_l2: the Frobenius norm") and "The config gives no paper values." in text


def test_a_result_table_marks_the_first_seed_as_the_one_that_compares_with_the_paper(tmp_path):
    """The paper reports one training per row: our first seed's column says so in the CSV, the markdown, the HTML page
    (shaded with the paper's column) and the caption."""
    columns = {}
    for seed, top1 in ((1, 55.0), (2, 57.0)):
        path = tmp_path / f"eval_{seed}.json"
        path.write_text(json.dumps({"metrics": {"top1": top1}}))
        columns[str(seed)] = str(path)
    spec = {
        "title": "Table 1",
        "seeds": [1, 2],
        "rows": [{"label": "FT mode A", "runs": ["rasta_A"], "paper": [55.18]}],
        "columns": {"rasta_A": {"dataset": "rasta", "metrics": ["top1"], "evals": columns}},
    }
    write_table(spec, tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.html")
    header = ["model", "dataset", "metric", "run", "seed 1 (paper's run)", "seed 2", "mean", "spread", "paper"]
    assert list(pd.read_csv(tmp_path / "t.csv").columns) == header
    assert "| " + " | ".join(header) + " |" in (tmp_path / "t.md").read_text()
    page = (tmp_path / "t.html").read_text()
    assert "<th>seed 1 (paper's run)</th>" in page and "<th>seed 2</th>" in page
    assert [int(i) for i in re.findall(r"td:nth-child\((\d+)\)", page)] == [5, 9]  # seed 1's column and the paper's
    caption = html_of(table_caption(CONFIG, "table1"))
    assert "the column seed 1 (paper's run) is the one that compares with the paper's value" in caption


def test_the_first_seed_is_the_papers_run_whatever_its_number(tmp_path):
    path = tmp_path / "eval.json"
    path.write_text(json.dumps({"metrics": {"top1": 50.0}}))
    spec = {
        "seeds": [7, 3],
        "rows": [{"label": "A", "runs": ["r"]}],
        "columns": {"r": {"dataset": "d", "metrics": ["top1"], "evals": {"7": str(path), "3": str(path)}}},
    }
    table = write_table(spec, tmp_path / "t.csv", tmp_path / "t.md")
    assert [c for c in table.columns if c.startswith("seed")] == ["seed 7 (paper's run)", "seed 3"]


def test_a_comparison_table_caption_says_which_seeds_its_pairs_are():
    """Tables 2 and 4 have no seed columns: each pair names its models' seeds, and the caption says which."""
    text = html_of(comparison_table_caption(CONFIG, "table4"))
    assert "seed 1 stands for the paper's training 1, seed 2 for its training 2" in text
    assert "these pairs are of seed 1 only; there is no column per seed and no mean over seeds" in text


def test_a_panel_caption_gives_the_render_settings():
    text = html_of(panel_caption(CONFIG, "fig2"))
    assert "top-100 maximal activation images of channels mixed4d:52 for imagenet → rasta_A/1" in text
    assert "224 px, 2048 Adam steps at lr 0.05" in text and "top-100 train images" in text
    assert "The paper's numbers: mixed4d:52 (rasta_A/1): overlap 18 %." in text


def test_figures_go_to_their_category():
    assert figure_category(CONFIG, "fig5_cka") == "3. Similarity (CKA, l2)"
    assert figure_category(CONFIG, "fig6_topk") == "4. Maximal activations"


def test_the_software_record_lists_what_is_installed(tmp_path):
    lines = write_software(tmp_path / "software.txt").read_text().splitlines()
    versions = dict(line.split(" ", 1) for line in lines)
    assert versions["python"] == platform.python_version()
    assert versions["numpy"] == metadata.version("numpy") and versions["snakemake"] == metadata.version("snakemake")
    assert "tensorflow-cpu" in versions or "tensorflow" in versions


def test_a_table_page_shows_two_decimals_and_escapes_the_title(tmp_path):
    table = pd.DataFrame({"model": ["FT <A>"], "seed 1": [55.1849], "paper": [None]})
    page = table_page(table, "Table <1>", tmp_path / "t.html").read_text()
    assert "<title>Table &lt;1&gt;</title>" in page and "FT &lt;A&gt;" in page
    assert "<td>55.18</td>" in page and "55.1849" not in page


def test_the_findings_page_colours_each_verdict(tmp_path):
    findings = [
        Finding("cka_depth", "CKA falls", "holds", "0.99 -> 0.37"),
        Finding("overlap_depth", "Overlap falls", "does not hold", "rho 0.2 > -0.5"),
        Finding("double_beats_direct", "Double <beats> direct", "cannot be judged", "set findings.double"),
    ]
    page = findings_page(findings, "Findings", "defined in findings.py", tmp_path / "f.html").read_text()
    assert [cls for cls in ("holds", "does-not-hold", "cannot-be-judged") if f'<tr class="{cls}">' in page] == [
        "holds",
        "does-not-hold",
        "cannot-be-judged",
    ]
    assert "Double &lt;beats&gt; direct" in page and "rho 0.2 &gt; -0.5" in page
