"""A static HTML gallery of one model pair (A -> B): per channel, both renders, both top-k sets as near-square
grids of thumbnails (the images in both sets framed), the overlap, the entropies and the compositions, side by side.
A click on a thumbnail opens the image with its id, labels and rank (without scripts, the link opens the file).

A gallery is one self-contained folder: ``index.html`` (inline CSS and vanilla JS, nothing fetched) and ``images/``,
a copy of every image it shows, linked by relative paths. It opens from the file system, can be moved or sent on
its own, and is what the report embeds (Snakemake's ``htmlindex``).

Shareable links: the controls' state lives in the address, e.g. ``index.html?sort=overlap&order=asc&layer=mixed4d``
(``sort``: layer, overlap, render_change, entropy_a or entropy_b; ``order``: asc or desc; ``layer``: a tensor name,
absent for all; ``show``: images or patches, when the sets have patches: the receptive field of the unit where the
channel peaks on each image, drawn from the image's own file).
The page applies it on load and rewrites it whenever a control changes. An opened image is in the address too
(``#view=<n>``, the n-th thumbnail of the page in its first order), so a link can show one image.

Test hook: once every ``<img>`` but the lazily loaded thumbnails has loaded or failed, ``<body>`` gets
``data-ready="1"``, and each such image carries its ``data-natural-width`` (0 for an image that failed).
"""

from __future__ import annotations

import html
import itertools
import math
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from artfinetune.errors import UserError
from artfinetune.io import atomic_dir

REQUIRED = ("tensor", "channel", "label", "layer_index", "overlap")
SORTS = {
    "layer": "layer",
    "overlap": "overlap",
    "render_change": "render change",
    "entropy_a": "entropy of A",
    "entropy_b": "entropy of B",
}


IMAGE_KEYS = ("render_a", "render_b")
SET_KEYS = ("set_a", "set_b")


def write_gallery(entries: Sequence[dict], out_dir: str | Path, title: str = "", models=("A", "B")) -> Path:
    """Write the gallery folder of ``entries`` (one dict per rendered channel): ``out_dir/index.html`` and a copy of
    each image under ``out_dir/images/`` (the top-k sets' images once each, under ``images/set/``). The folder
    appears complete or not at all; returns the page's path."""
    out_dir = Path(out_dir)
    for entry in entries:
        check_entry(entry)
    with atomic_dir(out_dir) as tmp:
        (tmp / "images" / "set").mkdir(parents=True)
        copied: dict[str, str | None] = {}
        local = [copy_images(entry, tmp / "images", n, copied) for n, entry in enumerate(entries)]
        (tmp / "index.html").write_text(gallery_html(local, title, models), encoding="utf-8")
    return out_dir / "index.html"


def copy_images(entry: dict, images: Path, number: int, copied: dict) -> dict:
    """``entry`` with each existing image copied under ``images`` and its path set relative to the page (None where
    the file is missing: the page shows a placeholder). Renders go to ``<number>_<kind>_<side><ext>``; a set's
    images to ``set/<store index><ext>``, once however many sets show them (``copied`` remembers)."""
    local = dict(entry)
    for key in IMAGE_KEYS:
        source = entry.get(key)
        if source and Path(source).is_file():
            name = f"{number:04d}_{key}{Path(source).suffix.lower() or '.png'}"
            shutil.copyfile(source, images / name)
            local[key] = f"images/{name}"
        else:
            local[key] = None
    for key in SET_KEYS:
        shown = []
        for image in entry.get(key) or []:
            source = str(image["src"])
            if source not in copied:
                target = f"set/{int(image['index'])}{Path(source).suffix.lower() or '.jpg'}"
                copied[source] = f"images/{target}" if Path(source).is_file() else None
                if copied[source]:
                    shutil.copyfile(source, images / target)
            shown.append({**image, "src": copied[source]})
        local[key] = shown
    return local


def check_entry(entry: dict) -> None:
    """A wrong entry is a bug in the caller's table: say which key is missing for which channel."""
    missing = [key for key in REQUIRED if key not in entry]
    if missing:
        raise UserError(f"gallery entry {entry.get('label', entry)!r} lacks {', '.join(missing)}")


def gallery_html(entries: Sequence[dict], title: str, models=("A", "B")) -> str:
    """The whole page; cards start in network order, so the page reads well even with scripts off."""
    entries = sorted(entries, key=lambda e: (e["layer_index"], e["channel"]))
    title = title or "Channel gallery"
    counter = itertools.count()  # thumbnails are numbered in page order: #view=<n> opens the n-th
    cards = "\n".join(card_html(entry, counter, models) for entry in entries) or '<p class="empty">No channels.</p>'
    return PAGE.format(
        title=esc(title),
        summary=esc(f"{len(entries)} channels in {len(layers_in_order(entries))} layers"),
        model_a=esc(models[0]),
        model_b=esc(models[1]),
        controls=controls_html(entries),
        cards=cards,
        css=CSS,
        js=JS,
    )


def layers_in_order(entries: Sequence[dict]) -> list[str]:
    """The tensors present, in network order (by layer_index)."""
    first = {}
    for entry in entries:
        first.setdefault(entry["tensor"], entry["layer_index"])
    return sorted(first, key=lambda tensor: first[tensor])


def has_patches(entries: Sequence[dict]) -> bool:
    return any(image.get("patch") for e in entries for side in SET_KEYS for image in e.get(side) or [])


def controls_html(entries: Sequence[dict]) -> str:
    """Sort key, order, layer filter and, when the sets have patches, whole images or patches; their names are the
    link's query keys."""
    counts = {tensor: sum(e["tensor"] == tensor for e in entries) for tensor in layers_in_order(entries)}
    show = (
        '<label>Show <select id="show" name="show"><option value="images">whole images</option>'
        '<option value="patches">patches that fire the channel</option></select></label>'
        if has_patches(entries)
        else ""
    )
    layers = "".join(f'<option value="{esc(t)}">{esc(t)} ({n})</option>' for t, n in counts.items())
    sorts = "".join(f'<option value="{key}">{esc(name)}</option>' for key, name in SORTS.items())
    return (
        f'<label>Sort by <select id="sort" name="sort">{sorts}</select></label>'
        '<label>Order <select id="order" name="order"><option value="asc">ascending</option>'
        '<option value="desc">descending</option></select></label>'
        f'<label>Layer <select id="layer" name="layer"><option value="">all layers</option>{layers}</select></label>'
        f'{show}<span id="shown" class="shown"></span>'
    )


def card_html(entry: dict, counter: Iterator[int], models: Sequence[str]) -> str:
    """One channel: its name and overlap, then a panel per model."""
    overlap = number(entry["overlap"])
    attrs = {
        "layer": entry["tensor"],
        "layer-index": entry["layer_index"],
        "channel": entry["channel"],
        "overlap": overlap,
        "entropy-a": number(entry.get("entropy_a")),
        "entropy-b": number(entry.get("entropy_b")),
        "render-change": number(entry.get("render_change")),
    }
    data = " ".join(f'data-{key}="{esc(data_value(value))}"' for key, value in attrs.items())
    width = 0 if overlap is None else round(100 * min(max(overlap, 0.0), 1.0))
    return (
        f'<article class="card" {data}>'
        f'<header class="info"><h2>{esc(entry["label"])}</h2>'
        f'<p class="layer">{esc(entry["tensor"])} · channel {esc(entry["channel"])}</p>'
        f'<p class="overlap">overlap <b>{keep_percent(esc(percent(overlap)))}</b></p>'
        f'<div class="bar" title="overlap"><span style="width:{width}%"></span></div>'
        f"{change_html(entry.get('render_change'))}</header>"
        f"{panel_html(entry, 'a', counter, models)}{panel_html(entry, 'b', counter, models)}</article>"
    )


def change_html(value) -> str:
    """The render-change score under the overlap (nothing when the gallery has none)."""
    value = number(value)
    if value is None:
        return ""
    return f'<p class="change" title="1 - correlation of the two renders\' pixels">render change <b>{value:.2f}</b></p>'


def panel_html(entry: dict, side: str, counter: Iterator[int], models: Sequence[str]) -> str:
    """Model ``side``'s render and top-k set, with the set's entropy and composition below."""
    name = side.upper()
    model, other = (models[0], models[1]) if side == "a" else (models[1], models[0])
    entropy = number(entry.get(f"entropy_{side}"))
    composition = entry.get(f"composition_{side}") or "—"
    return (
        f'<section class="panel panel-{side}"><h3>model {name} <span class="model">{esc(model)}</span></h3>'
        f'<div class="pics">{figure_html(entry.get(f"render_{side}"), f"render {name}")}'
        f"{set_html(entry.get(f'set_{side}') or [], entry.get('k'), name, model, other, counter)}</div>"
        f'<p class="stat">entropy <b>{esc("—" if entropy is None else f"{entropy:.2f}")}</b></p>'
        f'<p class="stat composition">{keep_percent(esc(composition))}</p></section>'
    )


def set_html(images: Sequence[dict], k: int | None, name: str, model: str, other: str, counter) -> str:
    """A top-k set as a near-square grid of linked thumbnails in rank order, those in both sets framed."""
    k = k or len(images)
    if not images:
        body = f'<div class="missing" role="img">no image fires this channel: the top-{k} is empty</div>'
    else:
        columns = max(1, math.ceil(math.sqrt(k)))
        thumbs = "".join(thumb_html(image, rank, model, other, next(counter)) for rank, image in enumerate(images, 1))
        body = f'<div class="grid" style="--columns:{columns}">{thumbs}</div>'
    fired = "" if len(images) in (0, k) else f", {len(images)} fire"
    caption = f"top-{k} {name}{fired}; framed: also in {other}'s"
    return f'<figure class="set">{body}<figcaption>{esc(caption)}</figcaption></figure>'


def thumb_html(image: dict, rank: int, model: str, other: str, number: int) -> str:
    """One image of a set: a link to the image file, with what the viewer shows in its data attributes."""
    labels = ", ".join(image.get("labels") or []) or "no label"
    title = f"#{rank} {image.get('id', '')} ({labels})"
    about = f"rank {rank} in the top-k of {model}" + (f"; also in {other}'s" if image.get("common") else "")
    data = {"n": number, "id": image.get("id", ""), "labels": labels, "about": about}
    attrs = " ".join(f'data-{key}="{esc(value)}"' for key, value in data.items())
    frame = " common" if image.get("common") else ""
    if image.get("src") is None:
        return f'<span class="thumb gone{frame}" title="{esc(title)}" {attrs}>?</span>'
    return (
        f'<a class="thumb{frame}" href="{esc(image["src"])}" title="{esc(title)}" {attrs}>'
        f'<img src="{esc(image["src"])}" alt="{esc(title)}" loading="lazy" decoding="async">'
        f"{patch_html(image)}</a>"
    )


def patch_html(image: dict) -> str:
    """The patch of an image that fires the channel, drawn from the image file itself (no file of its own): a box
    of the patch's size showing the image scaled and shifted so that the patch fills it. Hidden until the page
    shows patches; a background image loads only then."""
    patch = image.get("patch")
    if not patch:
        return ""
    style = ";".join(f"--{key}:{float(patch[key]):.6g}" for key in ("w", "h", "s", "x", "y"))
    return f'<span class="patch" style="{style};background-image:url(&quot;{esc(image["src"])}&quot;)"></span>'


def figure_html(src: str | None, caption: str) -> str:
    """An image linked relative to the page, or a visible placeholder when there is no file to show."""
    if src is None:
        body = f'<div class="missing" role="img" aria-label="{esc(caption)} missing">no image</div>'
    else:
        body = f'<img src="{esc(src)}" alt="{esc(caption)}" decoding="async">'
    return f"<figure>{body}<figcaption>{esc(caption)}</figcaption></figure>"


def number(value) -> float | None:
    """A metric as a float, or None when absent (None or NaN: an empty top-k set has no entropy)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def data_value(value) -> str:
    """A data attribute's text: floats in full (repr keeps every digit for the sort); '' means no value."""
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f} %"


def keep_percent(text: str) -> str:
    """Glue '40 %' together so that a wrapped line never starts with a lone '%'."""
    return text.replace(" %", "&nbsp;%")


def esc(text) -> str:
    return html.escape(str(text), quote=True)


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header class="top">
<h1>{title}</h1>
<p class="summary">{summary}</p>
<dl class="legend">
<dt>models</dt><dd>A = {model_a}, B = {model_b}</dd>
<dt>render</dt><dd>the input image optimised to excite the channel, in model A and in model B</dd>
<dt>top-k</dt><dd>the channel's top-k maximal activation images in each model, in rank order; framed in green: also
in the other model's set; click one to open it with its id and labels</dd>
<dt>overlap</dt><dd>|top-k(A) &cap; top-k(B)| / k: the share of top-k images the two models agree on</dd>
<dt>render change</dt><dd>1 &minus; the correlation of the two renders' pixels: 0 = the same pattern (contrast
aside), about 1 = unrelated patterns</dd>
<dt>entropy</dt><dd>class entropy of the top-k set, normalised: 0 = one class, 1 = all classes alike;
&mdash; for a set with no labelled image</dd>
<dt>composition</dt><dd>the three most frequent classes, each with the percentage of the set having it</dd>
<dt>link</dt><dd>the address keeps the view (e.g. <code>?sort=overlap&amp;order=asc&amp;layer=mixed4d</code>):
copy it to share what you see</dd>
</dl>
<nav class="controls">{controls}</nav>
</header>
<main id="cards">
{cards}
</main>
<dialog id="viewer"><figure><img id="viewer-image" alt=""><figcaption>
<b id="viewer-id"></b> <span id="viewer-labels"></span><br><span id="viewer-about"></span></figcaption></figure>
<form method="dialog"><button>close</button></form></dialog>
<script>{js}</script>
</body>
</html>
"""

CSS = """
:root { --ink: #1d1f21; --muted: #5f6368; --line: #d9d9d4; --paper: #f5f4f0; --a: #1f5fa8; --b: #b0502a; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  background: var(--paper); }
.top { padding: 16px 24px 0; }
h1 { margin: 0; font-size: 22px; }
.summary { margin: 2px 0 8px; color: var(--muted); }
.legend { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 12px; max-width: 1000px;
  font-size: 13px; }
.legend dt { font-weight: 600; }
.legend dd { margin: 0; color: var(--muted); }
.controls { position: sticky; top: 0; z-index: 1; display: flex; flex-wrap: wrap; gap: 16px; align-items: center;
  padding: 8px 0; background: var(--paper); border-bottom: 1px solid var(--line); }
.controls select { font: inherit; margin-left: 4px; padding: 2px 4px; }
.shown { color: var(--muted); }
main { display: grid; gap: 12px; padding: 12px 24px 24px; }
.card { display: grid; grid-template-columns: 200px max-content max-content; gap: 24px; width: fit-content;
  padding: 12px 16px; background: #fff; border: 1px solid var(--line); border-radius: 6px; }
.card[hidden] { display: none; }
.info h2 { margin: 0 0 4px; font-size: 14px; word-break: break-all; }
.info p { margin: 0 0 4px; color: var(--muted); }
.overlap b { color: var(--ink); font-size: 20px; }
.bar { height: 8px; background: #e7e6e1; border-radius: 4px; overflow: hidden; }
.bar span { display: block; height: 100%; background: #3a7d44; }
.panel h3 { margin: 0 0 6px; font-size: 13px; text-transform: uppercase; letter-spacing: .04em; }
.panel-a h3 { color: var(--a); }
.panel-b h3 { color: var(--b); }
.panel-b { border-left: 1px solid var(--line); padding-left: 24px; }
.model { text-transform: none; letter-spacing: 0; color: var(--muted); font-weight: 400; }
.pics { display: flex; gap: 8px; align-items: flex-start; }
.pics > figure:first-child { width: 190px; }
.grid { display: grid; grid-template-columns: repeat(var(--columns), 34px); gap: 2px; }
.thumb { display: block; width: 34px; height: 34px; border: 2px solid transparent; background: #ecebe6; }
.thumb.common { border-color: #00c000; }
.thumb img { display: block; width: 100%; height: 100%; object-fit: cover; }
.thumb.gone { color: var(--muted); text-align: center; font-size: 11px; line-height: 28px; }
.thumb { --tile: 30px; }
.patch { display: none; }
body.patches .thumb { display: flex; align-items: center; justify-content: center; background: #fff; }
body.patches .thumb img { display: none; }
body.patches .patch { display: block; width: calc(var(--w) * var(--tile)); height: calc(var(--h) * var(--tile));
  background-repeat: no-repeat; background-size: calc(var(--s) * var(--tile)) auto;
  background-position: calc(var(--x) * -1 * var(--tile)) calc(var(--y) * -1 * var(--tile));
  image-rendering: pixelated; }
#viewer { border: 1px solid var(--line); border-radius: 6px; padding: 12px; max-width: 90vw; }
#viewer img { display: block; width: min(448px, 80vw); height: auto; image-rendering: auto; background: #ecebe6; }
#viewer figcaption { margin-top: 6px; font-size: 13px; }
#viewer form { text-align: right; margin-top: 6px; }
figure { margin: 0; }
figure.failed img { display: none; }
figure.failed::before { content: "image not found"; }
.pics > figure:first-child img, .missing, figure.failed::before { display: block; width: 100%; aspect-ratio: 1;
  object-fit: contain;
  background: #ecebe6; border-radius: 3px; }
.missing, figure.failed::before { display: flex; align-items: center; justify-content: center; color: var(--muted);
  font-style: italic; border: 1px dashed #b9b8b2; }
figcaption { font-size: 12px; color: var(--muted); margin-top: 2px; }
.stat { margin: 6px 0 0; }
.composition { color: var(--muted); }
.empty { color: var(--muted); }
@media (max-width: 1100px) { .card { grid-template-columns: max-content; width: auto; }
  .panel-b { border-left: 0; padding-left: 0; } }
"""

JS = """
(function () {
  "use strict";
  const list = document.getElementById("cards");
  const cards = Array.from(list.querySelectorAll(".card"));
  const controls = ["sort", "order", "layer", "show"].map((id) => document.getElementById(id)).filter(Boolean);
  const [sort, order, layer] = controls;
  const show = document.getElementById("show");
  const KEYS = { layer: "layerIndex", overlap: "overlap", render_change: "renderChange", entropy_a: "entropyA",
    entropy_b: "entropyB" };

  function value(card, key) {
    const text = card.dataset[key];
    return text === "" ? NaN : Number(text);
  }

  // Descending is the exact reverse of ascending, except that channels without a value stay last in both.
  function compare(key, sign) {
    return function (a, b) {
      const x = value(a, key), y = value(b, key);
      if (isNaN(x) !== isNaN(y)) return isNaN(x) ? 1 : -1;
      const byLayer = value(a, "layerIndex") - value(b, "layerIndex") || value(a, "channel") - value(b, "channel");
      return sign * ((x - y) || byLayer);
    };
  }

  function apply() {
    cards.sort(compare(KEYS[sort.value], order.value === "desc" ? -1 : 1));
    let shown = 0;
    for (const card of cards) {
      card.hidden = layer.value !== "" && card.dataset.layer !== layer.value;
      shown += card.hidden ? 0 : 1;
      list.appendChild(card);
    }
    document.getElementById("shown").textContent = shown + " of " + cards.length + " channels shown";
    document.body.classList.toggle("patches", show !== null && show.value === "patches");
  }

  // Values the page does not offer are ignored, so an old or hand-edited link still opens.
  function readLink() {
    const query = new URLSearchParams(location.search);
    for (const control of controls) {
      const wanted = query.get(control.name);
      if (Array.from(control.options).some((o) => o.value === wanted)) control.value = wanted;
    }
  }

  function writeLink() {
    const query = new URLSearchParams(location.search);
    for (const control of controls) {
      if (control.value === "") query.delete(control.name); else query.set(control.name, control.value);
    }
    try { history.replaceState(null, "", "?" + query.toString()); } catch (e) { /* some browsers lock file:// */ }
  }

  // A click on a thumbnail opens it in the viewer, with its id, labels and rank; the address keeps it (#view=n).
  const viewer = document.getElementById("viewer");
  function openThumb(thumb) {
    document.getElementById("viewer-image").src = thumb.getAttribute("href");
    document.getElementById("viewer-image").alt = thumb.title;
    document.getElementById("viewer-id").textContent = thumb.dataset.id;
    document.getElementById("viewer-labels").textContent = "(" + thumb.dataset.labels + ")";
    document.getElementById("viewer-about").textContent = thumb.dataset.about;
    if (!viewer.open) viewer.showModal();
    try { history.replaceState(null, "", location.search + "#view=" + thumb.dataset.n); } catch (e) { /* file:// */ }
  }
  list.addEventListener("click", function (event) {
    const thumb = event.target.closest("a.thumb");
    if (!thumb) return;
    event.preventDefault();
    openThumb(thumb);
  });
  viewer.addEventListener("close", function () {
    try { history.replaceState(null, "", location.search); } catch (e) { /* file:// */ }
  });
  function openFromLink() {
    const wanted = /^#view=([0-9]+)$/.exec(location.hash);
    const thumb = wanted && list.querySelector('a.thumb[data-n="' + wanted[1] + '"]');
    if (thumb) openThumb(thumb);
  }

  // The test hook: record what each image loaded as, and flag the body once none is pending (the thumbnails load
  // lazily, as they scroll into view, so they are not waited for, nor is the viewer's image, empty until opened).
  function watchImages() {
    const images = Array.from(document.images).filter((img) => img.loading !== "lazy" && img.id !== "viewer-image");
    let pending = images.length;
    const settle = function (img) {
      img.dataset.naturalWidth = String(img.naturalWidth);
      if (img.naturalWidth === 0) img.parentNode.classList.add("failed");
      pending -= 1;
      if (pending === 0) document.body.dataset.ready = "1";
    };
    if (pending === 0) document.body.dataset.ready = "1";
    for (const img of images) {
      if (img.complete) { settle(img); continue; }
      img.addEventListener("load", () => settle(img), { once: true });
      img.addEventListener("error", () => settle(img), { once: true });
    }
  }

  readLink();
  apply();
  for (const control of controls) control.addEventListener("change", () => { apply(); writeLink(); });
  openFromLink();
  watchImages();
})();
"""
