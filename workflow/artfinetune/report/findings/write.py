"""The findings judged in order and written: markdown, CSV and the report's page."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from artfinetune.io import atomic_path
from artfinetune.model.layers import network_order
from artfinetune.report.findings.judge import (
    cka_depth,
    double_beats_direct,
    entropy_depth,
    fine_tuning_beats_off_the_shelf,
    init_distance_cka,
    init_distance_l2,
    overlap_depth,
    render_change_overlap,
)
from artfinetune.report.findings.trend import DEFAULT_MIN_DROP
from artfinetune.report.findings.verdicts import FAILS, HOLDS, TITLE, UNJUDGED, CannotJudge, Finding
from artfinetune.report.pages import findings_page

DEFINITIONS = (
    'Verdicts and the meaning of each claim ("falls": Spearman rho <= -0.5 between depth and value, and the '
    "shallowest third at least min_drop above the deepest third) are defined in the docstring of "
    "workflow/artfinetune/report/findings/__init__.py, quoted in the README; findings.csv gives each line's id."
)


CSV_COLUMNS = ("id", "verdict", "claim", "statement")

# Each finding in a few words, for the summary paragraph; the open question is told apart from the paper's claims.
SHORT = {
    "cka_depth": "CKA falls with depth",
    "overlap_depth": "the top-k overlap falls with depth",
    "entropy_depth": "the class entropy falls from the middle of the network on",
    "init_distance_cka": "fine-tuning moves the network less than training from scratch (CKA)",
    "init_distance_l2": "fine-tuning moves the kernels less than training from scratch (l2)",
    "fine_tuning_beats_off_the_shelf": "fine-tuning beats the off-the-shelf classifier",
    "double_beats_direct": "double fine-tuning beats direct fine-tuning",
}
OPEN_QUESTION = "render_change_overlap"


def _claims(spec: dict) -> dict[str, str]:
    depth = spec.get("depth")
    a, b = depth["pair"] if depth else ("the pretrained model", "the fine-tuned model")
    ok = f"top-{depth['overlap_k']}" if depth else "top-k"
    ek = f"top-{depth['entropy_k']}" if depth else "top-k"
    tables = sorted({e["table"] for e in spec.get("fine_tuning", [])})
    return {
        "cka_depth": f"linear CKA between {a} and {b} falls with depth (fig. 5)",
        "overlap_depth": f"the {ok} overlap between {a} and {b}, averaged over channels, falls with depth (fig. 6a)",
        "entropy_depth": (
            f"the class entropy of {b}'s {ek} sets, averaged over channels, falls from the middle of the network on "
            "(fig. 6b)"
        ),
        "init_distance_cka": (
            "fine-tuning moves a network less than training from scratch: every fine-tuned pair has a higher mean "
            "CKA than every from-scratch pair (table 2, fig. 5)"
        ),
        "init_distance_l2": (
            "fine-tuning moves a network's kernels less than training from scratch: every fine-tuned pair has a "
            "lower mean l2 than every from-scratch pair (table 2)"
        ),
        "fine_tuning_beats_off_the_shelf": (
            "fine-tuning beats the off-the-shelf classifier on every dataset"
            + (f" ({', '.join(tables)})" if tables else " (tables 1 and 3)")
        ),
        "double_beats_direct": (
            "fine-tuning on RASTA first, then on the small dataset, beats fine-tuning on the small dataset "
            "directly (table 3)"
        ),
        "render_change_overlap": (
            "channels whose top-k sets changed more (lower overlap) have optimised images that changed more: "
            "a negative rank correlation between overlap and render change (the paper's open question, sec. 4.2)"
        ),
    }


FINDINGS: dict[str, Callable[[dict], tuple[str, str]]] = {
    "cka_depth": cka_depth,
    "overlap_depth": overlap_depth,
    "entropy_depth": entropy_depth,
    "init_distance_cka": init_distance_cka,
    "init_distance_l2": init_distance_l2,
    "fine_tuning_beats_off_the_shelf": fine_tuning_beats_off_the_shelf,
    "double_beats_direct": double_beats_direct,
    "render_change_overlap": render_change_overlap,
}


def evaluate_findings(spec: dict) -> list[Finding]:
    """Every finding of the module docstring, in order, judged on the files ``spec`` names (see
    :func:`findings_spec`). A missing key, file or row makes its finding ``cannot be judged``, never an error."""
    spec = {"layers": [], "min_drop": DEFAULT_MIN_DROP, **spec}
    spec["layers"] = network_order(spec["layers"])  # trends run shallow to deep, whatever the config's order
    claims = _claims(spec)
    out = []
    for ident, judge in FINDINGS.items():
        try:
            verdict, statement = judge(spec)
        except CannotJudge as err:
            verdict, statement = UNJUDGED, f"{err}."
        out.append(Finding(ident, claims[ident], verdict, statement))
    return out


def _listed(findings: Sequence[Finding]) -> str:
    names = [SHORT.get(f.id, f.id) for f in findings]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def summary_paragraph(findings: Sequence[Finding]) -> str:
    """What the study says, in one paragraph made from the verdicts: how many of the paper's claims hold, do not
    hold or cannot be judged (each named), then the answer to the open question, with its numbers."""
    claims = [f for f in findings if f.id != OPEN_QUESTION]
    by = {v: [f for f in claims if f.verdict == v] for v in (HOLDS, FAILS, UNJUDGED)}
    parts = []
    if by[HOLDS]:
        parts.append(f"{len(by[HOLDS])} hold ({_listed(by[HOLDS])})")
    if by[FAILS]:
        parts.append(f"{len(by[FAILS])} do{'es' if len(by[FAILS]) == 1 else ''} not ({_listed(by[FAILS])})")
    if by[UNJUDGED]:
        parts.append(f"{len(by[UNJUDGED])} cannot be judged ({_listed(by[UNJUDGED])})")
    text = f"Of the paper's {len(claims)} claims checked on this study, " + "; ".join(parts) + "."
    question = next((f for f in findings if f.id == OPEN_QUESTION), None)
    if question is not None:
        answer = {
            HOLDS: "channels whose top-k sets changed more also have more changed optimised images",
            FAILS: "the study does not show that channels whose top-k sets changed more have more changed "
            "optimised images",
            UNJUDGED: "the study cannot answer whether channels whose top-k sets changed more have more changed "
            "optimised images",
        }[question.verdict]
        text += f" On the paper's open question (sec. 4.2), {answer}: {question.statement}"
        text += "" if text.endswith(".") else "."  # a statement ends with a full stop; a hand-made one may not
    return text


def to_markdown(findings: Sequence[Finding], title: str = TITLE) -> str:
    lines = [f"# {title}", "", f"**Summary.** {summary_paragraph(findings)}", "", *(f.markdown() for f in findings)]
    return "\n".join([*lines, "", DEFINITIONS]) + "\n"


def write_findings(
    spec: dict, out_md: str | Path, out_csv: str | Path | None = None, out_html: str | Path | None = None
) -> list[Finding]:
    """Judge the findings and write them as markdown (and CSV: id, verdict, claim, statement; and the report's
    HTML page), atomically."""
    findings = evaluate_findings(spec)
    if out_html:
        findings_page(findings, spec.get("title", TITLE), DEFINITIONS, out_html, summary_paragraph(findings))
    with atomic_path(out_md) as tmp:
        tmp.write_text(to_markdown(findings, spec.get("title", TITLE)), encoding="utf-8")
    if out_csv:
        with atomic_path(out_csv) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows({k: asdict(finding)[k] for k in CSV_COLUMNS} for finding in findings)
    return findings
