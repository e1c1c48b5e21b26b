"""The channel gallery: its HTML as written, and the page as headless Chromium shows it from file://."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from artfinetune.errors import UserError
from artfinetune.render.gallery import patch_view
from artfinetune.render.gallery_html import IMAGE_KEYS, write_gallery
from tests.browser import chromium

RENDER_WIDTH, THUMB_WIDTH = 40, 30
SET_SIZE = 4  # each top-k set: 4 images; A's are store images c..c+3, B's c+2..c+5 (c+2 and c+3 in both)

# (tensor, layer_index, channel, overlap, entropy_a, entropy_b): 3 layers, distinct overlaps in no layer order.
CHANNELS = [
    ("mixed4d_3x3", 8, 52, 0.70, 0.40, 0.20),
    ("conv2d2", 2, 11, 0.50, 0.90, 0.80),
    ("mixed3b", 4, 7, 0.90, 0.60, 0.50),
    ("conv2d2", 2, 3, 0.10, 0.85, 0.70),
    ("mixed4d_3x3", 8, 5, 0.20, None, 0.30),
    ("mixed3b", 4, 1, 0.30, 0.55, 0.45),
]
# render change per channel, in an order of its own (neither layer, overlap nor entropy)
RENDER_CHANGE = {
    ("mixed4d_3x3", 52): 0.15,
    ("conv2d2", 11): 0.95,
    ("mixed3b", 7): 0.05,
    ("conv2d2", 3): 0.40,
    ("mixed4d_3x3", 5): 0.70,
    ("mixed3b", 1): 1.20,
}
BY_RENDER_CHANGE_DESC = sorted(RENDER_CHANGE, key=RENDER_CHANGE.get, reverse=True)
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


def set_of(images: Path, first: int, other_first: int) -> list[dict]:
    """A top-k set of SET_SIZE images starting at store index ``first``; those also in the other set are common."""
    other = set(range(other_first, other_first + SET_SIZE))
    return [
        {
            "src": str(png(images / "set" / f"{index}.jpg", THUMB_WIDTH, (5 * index % 256, 120, 60))),
            "index": index,
            "id": f"painting_{index}",
            "labels": ["Baroque", "Rococo"] if index % 2 else ["Cubism"],
            "common": index in other,
        }
        for index in range(first, first + SET_SIZE)
    ]


def entry(root: Path, tensor: str, layer_index: int, channel: int, overlap: float, entropy_a, entropy_b) -> dict:
    """One channel: its two renders and two top-k sets, as files under root/images (outside the gallery folder,
    which copies them)."""
    images = root / "images" / tensor
    shade = (40 * layer_index % 256, 3 * channel % 256, 200)
    renders = {f"render_{side}": png(images / f"render_{side}_{channel}.png", RENDER_WIDTH, shade) for side in "ab"}
    return {
        "tensor": tensor,
        "channel": channel,
        "label": f"{tensor}_pre_relu:{channel}",
        "layer_index": layer_index,
        "k": SET_SIZE,
        **renders,
        "set_a": set_of(root / "images", channel, channel + 2),
        "set_b": set_of(root / "images", channel + 2, channel),
        "overlap": overlap,
        "entropy_a": entropy_a,
        "entropy_b": entropy_b,
        "render_change": RENDER_CHANGE[(tensor, channel)],
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
        self.body, self.cards, self.images, self.missing, self.thumbs = {}, [], [], 0, []
        self.options, self.select = {}, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "body":
            self.body = attrs
        elif tag == "article":
            self.cards.append({**attrs, "images": []})
        elif tag == "img" and attrs.get("id") != "viewer-image":
            self.images.append(attrs)
            if attrs.get("loading") != "lazy":  # the renders; the thumbnails are under thumbs
                self.cards[-1]["images"].append(attrs)
        elif tag == "a" and "thumb" in attrs.get("class", ""):
            self.thumbs.append(attrs)
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
    assert len(page.images) == (2 + 2 * SET_SIZE) * len(CHANNELS)
    for img in page.images:
        assert img["src"].startswith("images/"), img["src"]
        assert (gallery.parent / img["src"]).is_file()
    card = next(c for c in page.cards if c["data-layer"] == "conv2d2")
    sources = [gallery.parent / img["src"] for img in card["images"]]
    originals = [Path(entry(gallery.parents[2] / "again", "conv2d2", 2, 3, 0, 0, 0)[key]) for key in IMAGE_KEYS]
    assert [s.read_bytes() for s in sources] == [o.read_bytes() for o in originals]  # render A, render B
    # A set's image is copied once, however many sets show it (channels 1, 3 and 5 share store images 3 to 8).
    indices = {i for _, _, c, *_ in CHANNELS for i in range(c, c + SET_SIZE + 2)}
    assert sorted(int(p.stem) for p in (gallery.parent / "images" / "set").iterdir()) == sorted(indices)


def test_a_set_is_a_near_square_grid_of_links_in_rank_order_with_the_common_images_framed(gallery):
    page = Page(gallery.read_text())
    assert len(page.thumbs) == 2 * SET_SIZE * len(CHANNELS)
    text = gallery.read_text()
    assert 'class="grid" style="--columns:2"' in text  # 4 images: 2 x 2
    # The cards are in network order: conv2d2 channel 3 first; its set A is store images 3, 4, 5, 6.
    first = page.thumbs[:SET_SIZE]
    assert [t["href"] for t in first] == [f"images/set/{i}.jpg" for i in (3, 4, 5, 6)]
    assert [("common" in t["class"]) for t in first] == [False, False, True, True]
    assert [t["data-id"] for t in first] == ["painting_3", "painting_4", "painting_5", "painting_6"]
    assert [t["data-labels"] for t in first] == ["Baroque, Rococo", "Cubism", "Baroque, Rococo", "Cubism"]
    assert first[2]["data-about"] == "rank 3 in the top-k of A; also in B's"
    assert [int(t["data-n"]) for t in page.thumbs] == list(range(len(page.thumbs)))


def test_the_folder_moves_on_its_own(gallery, tmp_path):
    moved = tmp_path / "elsewhere"
    shutil.copytree(gallery.parent, moved)
    page = Page((moved / "index.html").read_text())
    assert len(page.images) == (2 + 2 * SET_SIZE) * len(CHANNELS)
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
        "0000_render_a.png",
        "0000_render_b.png",
        "set",
    ]


def test_text_is_escaped(tmp_path):
    row = entry(tmp_path, *CHANNELS[0])
    row["label"] = '<script>alert("x")</script>'
    row["composition_a"] = "Art <b>Nouveau</b> & co 40 %"
    text = write_gallery([row], tmp_path / "g", title="<i>a</i> → b").read_text()
    assert "<script>alert" not in text and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "<b>Nouveau" not in text and "Art &lt;b&gt;Nouveau&lt;/b&gt; &amp; co 40" in text
    assert "<i>a</i>" not in text and "<title>&lt;i&gt;a&lt;/i&gt; → b</title>" in text


def test_missing_images_are_placeholders_and_an_empty_set_says_so(tmp_path):
    row = entry(tmp_path, *CHANNELS[0])
    row["render_b"] = None
    row["set_a"] = []
    row["set_b"][0]["src"] = str(tmp_path / "nowhere.jpg")
    text = write_gallery([row], tmp_path / "g").read_text()
    page = Page(text)
    assert page.missing == 2  # render B, and set A
    assert "no image fires this channel: the top-4 is empty" in text
    assert [img["alt"] for img in page.images if img.get("loading") != "lazy"] == ["render A"]
    assert len(page.thumbs) == SET_SIZE - 1 and text.count('class="thumb gone') == 1  # a "?" where it is missing


def test_no_entropy_and_layers_in_network_order(gallery):
    page = Page(gallery.read_text())
    assert [c["data-entropy-a"] for c in page.cards if c["data-channel"] == "5"] == [""]  # sorts last, shows a dash
    assert page.options["layer"] == ["", "conv2d2", "mixed3b", "mixed4d_3x3"]
    assert page.options["sort"] == ["layer", "overlap", "render_change", "entropy_a", "entropy_b"]


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
        ("?sort=render_change&order=desc", BY_RENDER_CHANGE_DESC),
    ],
    ids=["overlap-asc", "overlap-desc", "layer", "layer-filter", "entropy-desc", "render-change-desc"],
)
def test_page_sorts_filters_and_loads_images_from_file(gallery, tmp_path, query, expected):
    dom = shown_page(gallery, query, tmp_path / "profile")
    assert dom.shown() == expected
    widths = [[int(img["data-natural-width"]) for img in card["images"]] for card in dom.cards]
    assert widths == [[RENDER_WIDTH, RENDER_WIDTH]] * len(CHANNELS)  # hidden cards' images load too


def test_page_is_ready_when_an_image_is_gone(tmp_path):
    row = entry(tmp_path, *CHANNELS[0])
    page = write_gallery([row], tmp_path / "site" / "g")
    (page.parent / "images" / "0000_render_b.png").unlink()  # removed after the page was written: the load fails
    dom = shown_page(page, "", tmp_path / "profile")
    assert [int(img["data-natural-width"]) for img in dom.cards[0]["images"]] == [RENDER_WIDTH, 0]


def test_a_link_to_a_thumbnail_opens_the_image_with_its_id_and_labels(gallery, tmp_path):
    # Thumbnail 5 of the page: the first card (conv2d2 channel 3), set B's (5, 6, 7, 8) second image, store image
    # 6, which set A (3, 4, 5, 6) has too.
    text = chromium(gallery, "?sort=layer#view=5", tmp_path / "profile", "--dump-dom")
    import re

    dialog = re.search(r"<dialog id=\"viewer\"([^>]*)>(.*?)</dialog>", text, re.S)
    assert dialog and "open" in dialog.group(1), "the viewer did not open"
    assert re.search(r'<img id="viewer-image"[^>]* src="images/set/6.jpg"', dialog.group(2))
    assert '<b id="viewer-id">painting_6</b>' in dialog.group(2)
    assert '<span id="viewer-labels">(Cubism)</span>' in dialog.group(2)
    assert "rank 2 in the top-k of B; also in A's" in dialog.group(2)


def test_patches_are_drawn_from_each_images_own_file_at_one_scale():
    # boxes by hand (conv2d0 on a 12 px window: test_mosaics): clipped to (0,0,5,5), (2,4,9,11), (8,8,12,12); the
    # largest, 7 px, fills a thumbnail, so the image (12 px) is drawn 12/7 thumbnails wide and shifted by -left/7
    boxes = [[-2, -2, 5, 5], [2, 4, 9, 11], [8, 8, 15, 15]]
    got = patch_view({"boxes": boxes, "image_size": 12})
    expected = [(5, 5, 0, 0), (7, 7, 4, 2), (4, 4, 8, 8)]  # w, h, x, y in px; / 7 for thumbnails
    for view, (w, h, x, y) in zip(got, expected, strict=True):
        assert view == pytest.approx({"w": w / 7, "h": h / 7, "s": 12 / 7, "x": x / 7, "y": y / 7})


def test_a_gallery_with_patches_toggles_to_them(tmp_path):
    row = entry(tmp_path, *CHANNELS[0])
    for image in row["set_a"]:
        image["patch"] = {"w": 0.5, "h": 1.0, "s": 2.0, "x": 1.0, "y": 0.0}  # the right half of each image
    page = write_gallery([row], tmp_path / "site" / "g")
    text = page.read_text()
    assert Page(text).options["show"] == ["images", "patches"]
    assert text.count('class="patch"') == SET_SIZE and "--w:0.5;--h:1;--s:2;--x:1;--y:0" in text
    assert "url(&quot;images/set/52.jpg&quot;)" in text  # the image's own copy: no file per patch
    plain = write_gallery([entry(tmp_path, *CHANNELS[1])], tmp_path / "site" / "h").read_text()
    assert "show" not in Page(plain).options and 'class="patch"' not in plain  # nothing to toggle
    assert 'class="patches"' in chromium(page, "?show=patches", tmp_path / "profile", "--dump-dom")
    assert 'class="patches"' not in chromium(page, "", tmp_path / "profile2", "--dump-dom")


def test_screenshot(gallery, tmp_path):
    shot = tmp_path / "gallery.png"
    chromium(gallery, "?sort=overlap", tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,1000")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(shot) as image:
        assert image.size == (1400, 1000)
        assert any(low != high for low, high in image.getextrema())  # not a blank page
