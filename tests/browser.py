"""Headless Chromium for the tests of pages opened from file:// (the gallery, the report)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from html import escape
from pathlib import Path

import pytest

NO_BROWSER = "needs Debian's chromium package (apt-get install chromium)"
# The background-networking flags keep Chromium from dialling out: this machine refuses those connections.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=10000",
]


def browser() -> str:
    """Debian's chromium; skipped without it, except in CI (ARTFT_REQUIRE_BROWSER=1) where it must be there."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("ARTFT_REQUIRE_BROWSER") == "1":
        pytest.fail(NO_BROWSER)
    pytest.skip(NO_BROWSER)


def chromium(page: Path, query: str, profile: Path, *args: str) -> str:
    """Open file:///page?query in a fresh profile; return what Chromium printed (the DOM with --dump-dom)."""
    command = [browser(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri() + query]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


HARNESS = """<!doctype html><html><body data-ready="0">{images}
<script>
const images = [...document.images];
let left = images.length;
function done(img) {{
  img.dataset.naturalWidth = img.naturalWidth;
  if (--left === 0) document.body.dataset.ready = "1";
}}
images.forEach(img => img.complete ? done(img) : (img.onload = img.onerror = () => done(img)));
if (images.length === 0) document.body.dataset.ready = "1";
</script></body></html>
"""


def report_results(report_html: Path) -> tuple[dict, dict]:
    """The results (path -> entry with mime_type and data_uri) and categories a Snakemake report embeds."""
    text = report_html.read_text(encoding="utf-8")
    results = json.loads(re.search(r"^\s*var results = (\{.*\});\s*$", text, re.M).group(1))
    categories = json.loads(re.search(r"^\s*var categories = (\{.*\});\s*$", text, re.M).group(1))
    return results, categories


def open_report(report_zip: Path, where: Path) -> dict:
    """Unzip a `snakemake --report x.zip` and open it in Chromium: the app must render its categories (returned in
    the order its menu shows them), every image
    result must load (naturalWidth > 0) from the paths the report uses, and every HTML result must open, a gallery
    with every one of its images loaded. Returns what was seen, per kind."""
    zipfile.ZipFile(report_zip).extractall(where)
    report_html = next(where.rglob("report.html"))
    results, categories = report_results(report_html)
    app = chromium(report_html, "", where / "profile-app", "--dump-dom")
    missing = [name for name in categories if escape(name, quote=False) not in app]
    assert not missing, f"the report's menu lacks the categories {missing}"
    images = {path: entry["data_uri"] for path, entry in results.items() if entry["mime_type"].startswith("image/")}
    harness = report_html.parent / "harness.html"
    tags = "\n".join(f'<img src="{escape(uri)}" data-result="{escape(path)}">' for path, uri in images.items())
    harness.write_text(HARNESS.format(images=tags), encoding="utf-8")
    dom = chromium(harness, "", where / "profile-images", "--dump-dom")
    assert 'data-ready="1"' in dom, "the images never finished loading"
    widths = dict(re.findall(r'data-result="([^"]+)" data-natural-width="(\d+)"', dom))
    menu = sorted(categories, key=lambda name: app.index(escape(name, quote=False)))  # as the menu lists them
    seen = {"categories": menu, "images": {p: int(widths.get(escape(p), 0)) for p in images}}
    seen["pages"] = {}
    for path, entry in results.items():
        if entry["mime_type"] == "text/html":
            page = report_html.parent / entry["data_uri"]
            seen["pages"][path] = chromium(page, "", where / "profile-pages", "--dump-dom")
    return seen
