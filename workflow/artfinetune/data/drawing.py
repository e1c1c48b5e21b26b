"""Drawing the demo's images: painterly styles, scenes with one object, and shapes over a style (see
:mod:`artfinetune.data.demo` for what each stands in for). Every function draws from the generator it is given."""

from __future__ import annotations

import colorsys
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SOURCE_CLASSES = (
    "sun",
    "moon",
    "ball",
    "tyre",
    "starfish",
    "crate",
    "tent",
    "windmill",
    "kite",
    "house",
    "tree",
    "boat",
)
STYLE_CLASSES = (
    "pointillism",
    "hatching",
    "impasto",
    "watercolour",
    "cubism",
    "colour_field",
    "swirl",
    "mosaic",
    "drip",
)
OBJECT_CLASSES = ("circle", "square", "triangle", "star", "cross", "crescent", "ring")

OBJECT_HUE_JITTER = 0.07  # half-width of each object class's hue band (the bands are 1/7 apart)


# ---------------------------------------------------------------- colours


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0), 1), min(max(v, 0), 1))
    return int(r * 255), int(g * 255), int(b * 255)


# Each style owns a hue range, a saturation and a value range; palettes are drawn
# inside them, so two images of one style share a look without sharing colours.
STYLE_PALETTES = {
    "pointillism": (0.10, 0.35, 0.7, (0.7, 1.0)),
    "hatching": (0.05, 0.12, 0.3, (0.2, 0.8)),
    "impasto": (0.55, 0.75, 0.8, (0.4, 0.9)),
    "watercolour": (0.45, 0.65, 0.35, (0.75, 1.0)),
    "cubism": (0.05, 0.15, 0.5, (0.3, 0.7)),
    "colour_field": (0.9, 1.1, 0.8, (0.5, 0.9)),
    "swirl": (0.55, 0.70, 0.7, (0.3, 0.9)),
    "mosaic": (0.0, 1.0, 0.9, (0.6, 1.0)),
    "drip": (0.0, 1.0, 0.2, (0.1, 0.9)),
}


def _palette(rng, style: str, n: int = 5) -> list[tuple[int, int, int]]:
    h0, h1, sat, (v0, v1) = STYLE_PALETTES[style]
    return [_hsv(rng.uniform(h0, h1), sat * rng.uniform(0.7, 1.1), rng.uniform(v0, v1)) for _ in range(n)]


def _pick(rng, palette):
    return palette[rng.integers(len(palette))]


# ---------------------------------------------------------------- styles


def draw_style(rng, style: str, size: tuple[int, int]) -> Image.Image:
    """One painting of ``style`` at ``size`` (w, h): a family of strokes, palettes and densities."""
    w, h = size
    pal = _palette(rng, style)
    img = Image.new("RGB", size, _pick(rng, pal))
    d = ImageDraw.Draw(img)
    area = w * h
    if style == "pointillism":
        r = rng.uniform(1.0, 2.5) * w / 96
        for _ in range(int(area / (r * r) * rng.uniform(0.5, 0.9))):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            d.ellipse([x - r, y - r, x + r, y + r], fill=_pick(rng, pal))
    elif style == "hatching":
        angle = rng.uniform(0.6, 1.0) * math.pi / 2 * rng.choice([-1, 1])
        length = rng.uniform(6, 14) * w / 96
        for _ in range(int(area / 30 * rng.uniform(0.5, 1.0))):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            dx, dy = math.cos(angle) * length, math.sin(angle) * length
            d.line([x, y, x + dx, y + dy], fill=_pick(rng, pal), width=1)
    elif style == "impasto":
        for _ in range(int(rng.uniform(60, 120))):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            a = rng.uniform(0, math.pi)
            ln = rng.uniform(10, 25) * w / 96
            d.line(
                [x, y, x + math.cos(a) * ln, y + math.sin(a) * ln],
                fill=_pick(rng, pal),
                width=int(rng.uniform(4, 9) * w / 96),
            )
    elif style == "watercolour":
        for _ in range(int(rng.uniform(8, 16))):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            r = rng.uniform(10, 30) * w / 96
            d.ellipse([x - r, y - r * rng.uniform(0.5, 1.5), x + r, y + r], fill=_pick(rng, pal))
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(3, 6) * w / 96))
    elif style == "cubism":
        for _ in range(int(rng.uniform(15, 30))):
            pts = [(rng.uniform(-10, w + 10), rng.uniform(-10, h + 10)) for _ in range(rng.integers(3, 5))]
            d.polygon(pts, fill=_pick(rng, pal), outline=(30, 25, 20))
    elif style == "colour_field":
        bands = int(rng.integers(2, 4))
        edges = np.sort(rng.uniform(0.1, 0.9, bands - 1)) * h
        ys = [0, *edges, h]
        for i in range(bands):
            m = rng.uniform(4, 10) * w / 96
            top = ys[i] + m / 2
            d.rectangle([m, top, w - m, max(top, ys[i + 1] - m / 2)], fill=_pick(rng, pal))
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(1, 2.5) * w / 96))
    elif style == "swirl":
        for _ in range(int(rng.uniform(3, 6))):
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            t0, col = rng.uniform(0, 6), _pick(rng, pal)
            pts = [
                (cx + (2 + 1.6 * t) * math.cos(t + t0) * w / 96, cy + (2 + 1.6 * t) * math.sin(t + t0) * w / 96)
                for t in np.linspace(0, rng.uniform(12, 25), 120)
            ]
            d.line(pts, fill=col, width=int(rng.uniform(2, 4) * w / 96))
        for _ in range(int(area / 40)):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            d.arc([x - 4, y - 4, x + 4, y + 4], rng.uniform(0, 180), rng.uniform(180, 360), fill=_pick(rng, pal))
    elif style == "mosaic":
        cell = rng.uniform(6, 12) * w / 96
        for gy in np.arange(0, h, cell):
            for gx in np.arange(0, w, cell):
                d.rectangle([gx + 1, gy + 1, gx + cell - 1, gy + cell - 1], fill=_pick(rng, pal))
    elif style == "drip":
        for _ in range(int(rng.uniform(15, 30))):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            pts = [(x, y)]
            for _ in range(20):
                x, y = x + rng.normal(0, 6 * w / 96), y + rng.normal(0, 6 * w / 96)
                pts.append((x, y))
            d.line(pts, fill=_pick(rng, pal), width=int(rng.integers(1, 3)))
    else:
        raise ValueError(f"unknown style {style!r}; choose from {STYLE_CLASSES}")
    return _canvas_grain(rng, img)


def _canvas_grain(rng, img: Image.Image) -> Image.Image:
    a = np.asarray(img, dtype=np.float32)
    a = a + rng.normal(0, rng.uniform(2, 8), a.shape[:2])[..., None]
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


# ---------------------------------------------------------------- shapes


def _shape_polygon(kind: str, cx, cy, r, rot) -> list[tuple[float, float]] | None:
    def ring(n, radii):
        return [
            (
                cx + radii[i % len(radii)] * math.cos(rot + 2 * math.pi * i / n),
                cy + radii[i % len(radii)] * math.sin(rot + 2 * math.pi * i / n),
            )
            for i in range(n)
        ]

    if kind == "square":
        return ring(4, [r])
    if kind == "triangle":
        return ring(3, [r])
    if kind == "star":
        return ring(10, [r, r * 0.45])
    if kind == "cross":
        t = r * 0.35
        pts = [
            (-t, -r),
            (t, -r),
            (t, -t),
            (r, -t),
            (r, t),
            (t, t),
            (t, r),
            (-t, r),
            (-t, t),
            (-r, t),
            (-r, -t),
            (-t, -t),
        ]
        c, s = math.cos(rot), math.sin(rot)
        return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts]
    return None


def draw_shape(d: ImageDraw.ImageDraw, kind: str, cx, cy, r, rot, fill, outline) -> None:
    """Draw one object shape centred at (cx, cy) with radius r (crescents: see draw_objects)."""
    poly = _shape_polygon(kind, cx, cy, r, rot)
    if poly is not None:
        d.polygon(poly, fill=fill, outline=outline)
    elif kind == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill, outline=outline)
    elif kind == "ring":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=fill, width=max(2, int(r * 0.3)))
    else:
        raise ValueError(f"unknown shape {kind!r}; choose from {OBJECT_CLASSES}")


def draw_objects(rng, size, classes) -> tuple[Image.Image, list[str]]:
    """A style background with 1-3 labelled shapes drawn over it, each in its class's hue band.

    Returns the image and its labels.
    """
    w, h = size
    style = STYLE_CLASSES[rng.integers(len(STYLE_CLASSES))]
    img = draw_style(rng, style, size)
    present = [c for c in classes if rng.random() < 1.6 / len(classes)]
    if not present:
        present = [classes[rng.integers(len(classes))]]
    present = [present[i] for i in rng.permutation(len(present))][:3]  # no class favoured by its position
    d = ImageDraw.Draw(img)
    for kind in present:
        r = rng.uniform(0.22, 0.35) * min(w, h)  # a main motif, as IconArt's figures are
        cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
        # each class keeps to its own hue band, as iconography has its colours (Mary's blue, a saint's red)
        hue = OBJECT_CLASSES.index(kind) / len(OBJECT_CLASSES) + rng.uniform(-OBJECT_HUE_JITTER, OBJECT_HUE_JITTER)
        fill = _hsv(hue, rng.uniform(0.6, 1), rng.uniform(0.6, 1))
        outline = (0, 0, 0) if rng.random() < 0.5 else (255, 255, 255)
        rot = rng.uniform(0, 2 * math.pi)
        if kind == "crescent":
            _crescent(d, img, cx, cy, r, rot, fill, outline)
        else:
            draw_shape(d, kind, cx, cy, r, rot, fill, outline)
    return img, present


# ---------------------------------------------------------------- natural scenes


def _crescent(d: ImageDraw.ImageDraw, img: Image.Image, cx, cy, r, rot, fill, outline) -> None:
    """A disc with a bite of the background taken out of it (the bite's colour is read under its centre)."""
    w, h = img.size
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill, outline=outline)
    ox, oy = cx + 0.55 * r * math.cos(rot), cy + 0.55 * r * math.sin(rot)
    bg = tuple(int(v) for v in np.asarray(img)[int(min(max(oy, 0), h - 1)), int(min(max(ox, 0), w - 1))])
    d.ellipse([ox - 0.8 * r, oy - 0.8 * r, ox + 0.8 * r, oy + 0.8 * r], fill=bg)


def _backdrop(rng, size, horizon: float, water: bool) -> Image.Image:
    """Sky over ground (or water), shaded, with grain, clouds, grass or ripples, pebbles and shrubs."""
    w, h = size
    sky = np.array(_hsv(rng.uniform(0.52, 0.66), rng.uniform(0.2, 0.7), rng.uniform(0.6, 1.0)), np.float32)
    ground = np.array(_hsv(rng.uniform(0.05, 0.4), rng.uniform(0.3, 0.8), rng.uniform(0.3, 0.7)), np.float32)
    if water:
        ground = np.array(_hsv(rng.uniform(0.5, 0.62), rng.uniform(0.5, 0.9), rng.uniform(0.3, 0.7)), np.float32)
    ys = np.arange(h, dtype=np.float32)[:, None, None]
    t = np.clip((ys - horizon) / 4 + 0.5, 0, 1)
    shade = 1 - 0.3 * ys / h
    a = (sky * (1 - t) + ground * t) * shade
    a = np.broadcast_to(a, (h, w, 3)).copy()
    a += rng.normal(0, 6, (h, w, 1))
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(0, 4))):  # clouds
        x, y = rng.uniform(0, w), rng.uniform(0, horizon)
        r = rng.uniform(5, 12) * w / 96
        d.ellipse([x - r, y - r / 3, x + r, y + r / 3], fill=_hsv(0.6, rng.uniform(0, 0.1), rng.uniform(0.85, 1)))
    base = ground * 0.8
    for _ in range(int(rng.uniform(20, 80))):  # grass blades or ripples
        x, y = rng.uniform(0, w), rng.uniform(horizon, h)
        ln = rng.uniform(2, 5) * w / 96
        tone = tuple(int(v) for v in np.clip(base * rng.uniform(0.6, 1.5), 0, 255))
        if water:
            d.line([x - ln, y, x + ln, y], fill=tone, width=1)
        else:
            d.line([x, y, x + rng.uniform(-1, 1) * ln / 2, y - ln], fill=tone, width=1)
    for _ in range(int(rng.integers(2, 8))):  # pebbles, shrubs
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(2, 6) * w / 96
        d.ellipse([x - r, y - r / 2, x + r, y + r / 2], fill=_hsv(rng.uniform(0, 1), 0.2, rng.uniform(0.4, 0.9)))
    return img


def draw_scene(rng, kind: str, size) -> Image.Image:
    """A natural-looking scene: sky/ground or water backdrop, clutter, and one ``kind`` object.

    Several objects are simple silhouettes (a ball is a disc, a tyre a ring, a moon a crescent, a starfish a
    star, a crate a square, a tent a triangle, a windmill's sails a cross) in any colour and orientation:
    the ImageNet stand-in learns the shapes that demo_objects labels, as ImageNet holds Paintings' objects.
    """
    w, h = size
    horizon = rng.uniform(0.45, 0.75) * h
    img = _backdrop(rng, size, horizon, water=kind in ("boat", "starfish") and rng.random() < 0.5)
    d = ImageDraw.Draw(img)
    s = rng.uniform(0.7, 1.3) * min(w, h) / 96
    r = rng.uniform(0.12, 0.2) * min(w, h)  # silhouettes: the size range of demo_objects' shapes
    cx = rng.uniform(0.3, 0.7) * w
    col = _hsv(rng.uniform(0, 1), rng.uniform(0.5, 1), rng.uniform(0.5, 1))
    outline = [None, (0, 0, 0), (255, 255, 255), (40, 30, 25)][rng.integers(4)]
    rot = rng.uniform(0, 2 * math.pi)
    dark = (40, 30, 25)
    gy = horizon
    if kind == "sun":
        cy = rng.uniform(0.2, 0.35) * h
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=_hsv(rng.uniform(0.08, 0.16), 0.9, 1), outline=outline)
        for i in range(12):
            a2 = i * math.pi / 6
            d.line(
                [
                    cx + 1.25 * r * math.cos(a2),
                    cy + 1.25 * r * math.sin(a2),
                    cx + 1.7 * r * math.cos(a2),
                    cy + 1.7 * r * math.sin(a2),
                ],
                fill=(255, 220, 60),
                width=2,
            )
    elif kind == "moon":
        _crescent(d, img, cx, rng.uniform(0.2, 0.4) * h, r, rot, col, outline)
    elif kind == "ball":
        cy = gy + rng.uniform(-0.5, 0.8) * r
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=col, outline=outline)
        if rng.random() < 0.5:
            d.line([cx - r, cy, cx + r, cy], fill=(250, 250, 250), width=2)
    elif kind == "tyre":
        cy = gy + rng.uniform(-0.5, 0.8) * r
        draw_shape(d, "ring", cx, cy, r, rot, col if rng.random() < 0.5 else dark, outline)
    elif kind == "starfish":
        draw_shape(d, "star", cx, rng.uniform(gy + 0.5 * r, max(gy + 0.5 * r, h - r)), r, rot, col, outline)
    elif kind == "crate":
        cy = gy + rng.uniform(-0.5, 0.8) * r
        draw_shape(d, "square", cx, cy, r, math.pi / 4 + rng.uniform(-0.4, 0.4), col, outline)
        d.line([cx - 0.5 * r, cy - 0.5 * r, cx + 0.5 * r, cy + 0.5 * r], fill=dark, width=1)
    elif kind == "tent":
        cy = gy - rng.uniform(0, 0.5) * r
        draw_shape(d, "triangle", cx, cy, r, -math.pi / 2 + rng.uniform(-0.3, 0.3), col, outline)
        d.line([cx, cy - 0.3 * r, cx, cy + 0.5 * r], fill=dark, width=2)
    elif kind == "windmill":
        cy = rng.uniform(0.25, 0.45) * h
        d.polygon(
            [(cx - 0.25 * r, cy), (cx + 0.25 * r, cy), (cx + 0.4 * r, gy + 4 * s), (cx - 0.4 * r, gy + 4 * s)],
            fill=dark,
        )
        draw_shape(d, "cross", cx, cy, r, rot, col, outline)
    elif kind == "kite":
        cy = rng.uniform(0.2, 0.35) * h
        d.polygon([(cx, cy - 12 * s), (cx + 8 * s, cy), (cx, cy + 16 * s), (cx - 8 * s, cy)], fill=col)
        d.line([(cx, cy + 16 * s), (cx - 10 * s, gy)], fill=dark, width=1)
    elif kind == "house":
        d.rectangle([cx - 16 * s, gy - 22 * s, cx + 16 * s, gy + 4 * s], fill=col)
        d.polygon([(cx - 20 * s, gy - 22 * s), (cx + 20 * s, gy - 22 * s), (cx, gy - 40 * s)], fill=(150, 40, 30))
        d.rectangle([cx - 4 * s, gy - 10 * s, cx + 4 * s, gy + 4 * s], fill=dark)
    elif kind == "tree":
        d.rectangle([cx - 3 * s, gy - 25 * s, cx + 3 * s, gy + 5 * s], fill=(90, 60, 30))
        d.ellipse([cx - 16 * s, gy - 50 * s, cx + 16 * s, gy - 18 * s], fill=_hsv(rng.uniform(0.22, 0.38), 0.8, 0.6))
    elif kind == "boat":
        d.polygon(
            [(cx - 20 * s, gy), (cx + 20 * s, gy), (cx + 14 * s, gy + 8 * s), (cx - 14 * s, gy + 8 * s)], fill=col
        )
        d.line([cx, gy, cx, gy - 30 * s], fill=dark, width=2)
        d.polygon([(cx + 1, gy - 30 * s), (cx + 1, gy - 4 * s), (cx + 16 * s, gy - 6 * s)], fill=(240, 240, 230))
    else:
        raise ValueError(f"unknown scene {kind!r}; choose from {SOURCE_CLASSES}")
    return img
