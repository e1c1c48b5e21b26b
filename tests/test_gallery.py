"""The channel gallery: its HTML as written, and the page as headless Chromium shows it from file://."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from artfinetune.errors import UserError
from artfinetune.render.gallery_html import IMAGE_KEYS, write_gallery
from tests.browser import chromium

RENDER_WIDTH, MOSAIC_WIDTH = 40, 60

# (tensor, layer_index, channel, overlap, entropy_a, entropy_b): 3 layers, distinct overlaps in no layer order.
CHANNELS = [
    ("mixed4d_3x3", 8, 52, 0.70, 0.40, 0.20),
    ("conv2d2", 2, 11, 0.50, 0.90, 0.80),
    ("mixed3b", 4, 7, 0.90, 0.60, 0.50),
    ("conv2d2", 2, 3, 0.10, 0.85, 0.70),
    ("mixed4d_3x3", 8, 5, 0.20, None, 0.30),
    ("mixed3b", 4, 1, 0.30, 0.55, 0.45),
]
BY_LAYER = [("conv2d2", 3), ("conv2d2", 11), ("mixed3b", 1), ("mixed3b", 7), ("mixed4d_3x3", 5), ("mixed4d_3x3", 52)]
BY_OVERLAP = [(t, c) for t, _, c, *_ in sorted(CHANNELS, key=lambda row: row[3])]
# A's entropies descending; the channel without one stays last in either order.
BY_ENTROPY_A_DESC = [
    ("conv2d2", 11),
    ("conv2d2", 3),
    ("mixed3b", 7),
    ("mixed3b", 1),
    ("mixed4d_3x3", 52),
    ("mixed4d_3x3", 5),
]


def png(path: Path, width: int, colour: tuple[int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, width), colour).save(path)
    return path


def entry(root: Path, tensor: str, layer_index: int, channel: int, overlap: float, entropy_a, entropy_b) -> dict:
    """One channel, its four images under root/images (outside the gallery folder, which copies them)."""
    images = root / "images" / tensor
    shade = (40 * layer_index % 256, 3 * channel % 256, 200)
    files = {
        f"{kind}_{side}": png(images / f"{kind}_{side}_{channel}.png", width, shade)
        for kind, width in (("render", RENDER_WIDTH), ("mosaic", MOSAIC_WIDTH))
        for side in ("a", "b")
    }
    return {
        "tensor": tensor,
        "channel": channel,
        "label": f"{tensor}_pre_relu:{channel}",
        "layer_index": layer_index,
        **files,
        "overlap": overlap,
        "entropy_a": entropy_a,
        "entropy_b": entropy_b,
        "composition_a": "Baroque 40 %, Rococo 20 %, Realism 10 %",
        "composition_b": "Cubism 50 %, Baroque 30 %, Ukiyo-e 10 %",
    }


@pytest.fixture(scope="module")
def gallery(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("results")
    return write_gallery([entry(root, *row) for row in CHANNELS], root / "site" / "gallery", "imagenet → rasta")


class Page(HTMLParser):
    """What a test reads off a page: the body's data, the cards in document order, and every image."""

    def __init__(self, text: str):
        super().__init__()
        self.body, self.cards, self.images, self.missing = {}, [], [], 0
        self.options, self.select = {}, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "body":
            self.body = attrs
        elif tag == "article":
            self.cards.append({**attrs, "images": []})
        elif tag == "img":
            self.images.append(attrs)
            self.cards[-1]["images"].append(attrs)
        elif tag == "div" and attrs.get("class") == "missing":
            self.missing += 1
        elif tag == "select":
            self.select = self.options.setdefault(attrs["name"], [])
        elif tag == "option":
            self.select.append(attrs["value"])

    def shown(self) -> list[tuple[str, int]]:
        return [(c["data-layer"], int(c["data-channel"])) for c in self.cards if "hidden" not in c]


# --- The HTML as written (no browser) ------------------------------------------------------------------------------


def test_the_folder_holds_a_copy_of_every_image_it_shows(gallery):
    page = Page(gallery.read_text())
    assert gallery.name == "index.html"
    assert len(page.images) == 4 * len(CHANNELS)
    for img in page.images:
        assert img["src"].startswith("images/"), img["src"]
        assert (gallery.parent / img["src"]).is_file()
    card = next(c for c in page.cards if c["data-layer"] == "conv2d2")
    sources = [gallery.parent / img["src"] for img in card["images"]]
    originals = [Path(entry(gallery.parents[2] / "again", "conv2d2", 2, 3, 0, 0, 0)[key]) for key in IMAGE_KEYS]
    assert [s.read_bytes() for s in sources] == [o.read_bytes() for o in originals]  # render A, mosaic A, ...


def test_the_folder_moves_on_its_own(gallery, tmp_path):
    moved = tmp_path / "elsewhere"
    shutil.copytree(gallery.parent, moved)
    page = Page((moved / "index.html").read_text())
    assert len(page.images) == 4 * len(CHANNELS)
    assert all((moved / img["src"]).is_file() for img in page.images)


def test_odd_file_names_are_copied_to_plain_names(tmp_path):
    row = entry(tmp_path, *CHANNELS[0])
    row["render_a"] = png(tmp_path / "my renders" / "ch #52?.png", RENDER_WIDTH, (0, 0, 0))
    page = Page(write_gallery([row], tmp_path / "g").read_text())
    assert page.images[0]["src"] == "images/0000_render_a.png"


def test_a_rebuild_replaces_the_folder(tmp_path):
    rows = [entry(tmp_path, *row) for row in CHANNELS]
    write_gallery(rows, tmp_path / "g")
    (tmp_path / "g" / "images" / "stale.png").write_bytes(b"old")
    page = Page(write_gallery(rows[:1], tmp_path / "g").read_text())
    assert len(page.cards) == 1
    assert sorted(p.name for p in (tmp_path / "g" / "images").iterdir()) == [
        "0000_mosaic_a.png",
        "0000_mosaic_b.png",
        "0000_render_a.png",
        "0000_render_b.png",
    ]


def test_text_is_escaped(tmp_path):
    row = entry(tmp_path, *CHANNELS[0])
    row["label"] = '<script>alert("x")</script>'
    row["composition_a"] = "Art <b>Nouveau</b> & co 40 %"
    text = write_gallery([row], tmp_path / "g", title="<i>a</i> → b").read_text()
    assert "<script>alert" not in text and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "<b>Nouveau" not in text and "Art &lt;b&gt;Nouveau&lt;/b&gt; &amp; co 40" in text
    assert "<i>a</i>" not in text and "<title>&lt;i&gt;a&lt;/i&gt; → b</title>" in text


def test_missing_images_are_placeholders(tmp_path):
    row = entry(tmp_path, *CHANNELS[0])
    row["render_b"] = None
    row["mosaic_a"] = tmp_path / "nowhere.png"
    page = Page(write_gallery([row], tmp_path / "g").read_text())
    assert page.missing == 2
    assert sorted(img["alt"] for img in page.images) == ["render A", "top-k mosaic B"]


def test_no_entropy_and_layers_in_network_order(gallery):
    page = Page(gallery.read_text())
    assert [c["data-entropy-a"] for c in page.cards if c["data-channel"] == "5"] == [""]  # sorts last, shows a dash
    assert page.options["layer"] == ["", "conv2d2", "mixed3b", "mixed4d_3x3"]
    assert page.options["sort"] == ["layer", "overlap", "entropy_a", "entropy_b"]


def test_bad_entry_is_one_sentence_and_no_file(tmp_path):
    row = entry(tmp_path, *CHANNELS[0])
    del row["overlap"]
    with pytest.raises(UserError, match="mixed4d_3x3_pre_relu:52.*lacks overlap"):
        write_gallery([row], tmp_path / "g")
    assert not (tmp_path / "g").exists() and list(tmp_path.glob(".*tmp*")) == []


# --- The page in headless Chromium -----------------------------------------------------------------------------------


def shown_page(page: Path, query: str, profile: Path) -> Page:
    dom = Page(chromium(page, query, profile, "--dump-dom"))
    assert dom.body.get("data-ready") == "1", "the page never flagged every image as loaded or failed"
    return dom


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?sort=overlap&order=asc", BY_OVERLAP),
        ("?sort=overlap&order=desc", BY_OVERLAP[::-1]),
        ("?sort=layer&order=asc", BY_LAYER),
        ("?sort=overlap&order=asc&layer=mixed4d_3x3", [("mixed4d_3x3", 5), ("mixed4d_3x3", 52)]),
        ("?sort=entropy_a&order=desc", BY_ENTROPY_A_DESC),
    ],
    ids=["overlap-asc", "overlap-desc", "layer", "layer-filter", "entropy-desc"],
)
def test_page_sorts_filters_and_loads_images_from_file(gallery, tmp_path, query, expected):
    dom = shown_page(gallery, query, tmp_path / "profile")
    assert dom.shown() == expected
    widths = [[int(img["data-natural-width"]) for img in card["images"]] for card in dom.cards]
    assert widths == [[RENDER_WIDTH, MOSAIC_WIDTH] * 2] * len(CHANNELS)  # hidden cards' images load too


def test_page_is_ready_when_an_image_is_gone(tmp_path):
    row = entry(tmp_path, *CHANNELS[0])
    page = write_gallery([row], tmp_path / "site" / "g")
    (page.parent / "images" / "0000_mosaic_b.png").unlink()  # removed after the page was written: the load fails
    dom = shown_page(page, "", tmp_path / "profile")
    assert [int(img["data-natural-width"]) for img in dom.images] == [RENDER_WIDTH, MOSAIC_WIDTH, RENDER_WIDTH, 0]


def test_screenshot(gallery, tmp_path):
    shot = tmp_path / "gallery.png"
    chromium(gallery, "?sort=overlap", tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,1000")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(shot) as image:
        assert image.size == (1400, 1000)
        assert any(low != high for low, high in image.getextrema())  # not a blank page
