"""What the report knows of every item: its category, and caption text set safely in reStructuredText.

The report is Snakemake's own (``snakemake --report results/report.zip``): rules mark their outputs with
``report(...)`` and one of these categories, and each caption is the reStructuredText a stage writes from the
config, passed to the rule as a param and printed by the caption template ``workflow/report/caption.rst``. A
caption says what the item shows, how it was computed and, where the paper has a number, the paper's number.
Because a caption depends only on its own item's config, editing one figure's title reruns that figure alone.
"""

from __future__ import annotations

# Report categories, numbered because Snakemake's report lists them in alphabetical order.
FINDINGS = "1. Findings"
CLASSIFICATION = "2. Classification"
SIMILARITY = "3. Similarity (CKA, l2)"
MAXIMAL = "4. Maximal activations"
VISUALISATION = "5. Feature visualisation"
STUDY = "6. Study"


def rst_escape(text: str) -> str:
    """Plain text for a reStructuredText paragraph: markup characters lose their meaning."""
    for char in "\\*`_|":
        text = text.replace(char, "\\" + char)
    return text


def values_text(values) -> str:
    """Numbers as a caption lists them: ``0.9, 0.85``."""
    return ", ".join(f"{v:g}" for v in values)
