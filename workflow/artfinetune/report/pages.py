"""The findings as the report's first page: one line per claim with its verdict (coloured) and its numbers."""

from __future__ import annotations

import html
from pathlib import Path

from artfinetune.io import atomic_path


def findings_page(findings, title: str, definitions: str, out_html: str | Path, summary: str = "") -> Path:
    """The findings as a standalone HTML page for the report, the summary paragraph first, written atomically."""
    rows = "\n".join(
        f'<tr class="{html.escape(f.verdict.replace(" ", "-"))}"><td class="verdict">{html.escape(f.verdict)}</td>'
        f"<td><b>{html.escape(f.claim)}</b><br>{html.escape(f.statement)}</td><td><code>{html.escape(f.id)}</code>"
        "</td></tr>"
        for f in findings
    )
    summary = f'<p class="summary"><b>Summary.</b> {html.escape(summary)}</p>' if summary else ""
    page = FINDINGS_PAGE.format(
        title=html.escape(title), summary=summary, rows=rows, definitions=html.escape(definitions)
    )
    with atomic_path(out_html) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return Path(out_html)


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
p.summary {{ font-size: 15px; max-width: 60em; }}
</style></head>
<body><h1>{title}</h1>
{summary}
<table>
{rows}
</table>
<p>{definitions}</p>
</body></html>
"""
