"""Top-k mosaics from a hand-made store and top-k files: what is drawn is read back from the pixels."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from PIL import Image

from artfinetune.data.store import ImageWriter
from artfinetune.errors import UserError
from artfinetune.render.mosaics import (
    GREEN,
    GUTTER,
    grid_columns,
    mosaic_image,
    tile_origin,
    write_mosaic,
    write_pair_mosaics,
)

STORE_SIZE, IMAGE_SIZE = 16, 12  # the centre 12 x 12 window of images 16 px on their shorter side
BLUE = (0, 0, 255)  # the stored images' border colour: it must never reach a mosaic
CLASSES = ["Ukiyo-e", "Baroque", "Cubism"]
N_STORE = 12


def centre_colour(i: int) -> tuple[int, int, int]:
    return (10 * i, 0, 0)


def stored_shape(i: int) -> tuple[int, int]:
    """Image i is 16 px on its shorter side and 16, 20, 24 or 28 on its longer one; wide if i is even, tall if odd."""
    long = STORE_SIZE + 4 * (i % 4)
    return (STORE_SIZE, long) if i % 2 == 0 else (long, STORE_SIZE)


def write_store(path, n=N_STORE, labels=None):
    """A store of n whole images (:func:`stored_shape`): image i is red 10 i in its centre 12 x 12 window (rows
    and columns counted by hand) and blue outside it."""
    with h5py.File(path, "w") as f:
        writer = ImageWriter(f)
        for i in range(n):
            h, w = stored_shape(i)
            image = np.empty((h, w, 3), np.uint8)
            image[:] = BLUE
            top, left = (h - IMAGE_SIZE) // 2, (w - IMAGE_SIZE) // 2  # 2, or 2 + 2, 4 or 6 along the long side
            image[top : top + IMAGE_SIZE, left : left + IMAGE_SIZE] = centre_colour(i)
            writer.add(image)
        writer.close()
        f.create_dataset("labels", data=np.zeros(n, np.int64) if labels is None else labels)
        f.create_dataset("split", data=np.zeros(n, np.uint8))
        f.create_dataset("ids", data=np.array([f"i{i}" for i in range(n)], dtype=object), dtype=h5py.string_dtype())
        f.attrs.update(dataset="toy", task="single_label", classes=json.dumps(CLASSES), splits='["train","val","test"]')
        f.attrs.update(format=2, store_size=STORE_SIZE)
    return path


def write_topk(path, model, sets: dict[str, list[list[int]]], labels, store_index, k_max):
    """A top-k file in metrics.topk_files.topk_file's layout: per tensor, (channels x k_max) rows padded with -1."""
    with h5py.File(path, "w") as f:
        for name, channels in sets.items():
            table = np.full((len(channels), k_max), -1, np.int32)
            for c, rows in enumerate(channels):
                table[c, : len(rows)] = rows
            f.create_dataset(f"topk/{name}", data=table)
        f.create_dataset("labels", data=np.asarray(labels))
        f.create_dataset("store_index", data=np.asarray(store_index))
        f.attrs.update(
            model=model,
            dataset="toy",
            split="train",
            task="single_label",
            classes=json.dumps(CLASSES),
            n=len(labels),
            k_max=k_max,
            ks=json.dumps([k_max]),
            tensors=json.dumps(list(sets)),
        )
    return path


# Eight train rows; row r is the store's image STORE_INDEX[r] (not r: the mapping is tested too).
STORE_INDEX = [11, 9, 7, 5, 3, 1, 0, 2]
LABELS = [0, 0, 1, 0, 2, 1, 0, 0]
SET_A = [0, 1, 2, 3, 4]  # channel 1 of mixed4d_3x3, rank order
SET_B = [4, 6, 2, 7, 5]  # in common with A: rows 2 and 4 (store images 7 and 3)


@pytest.fixture
def files(tmp_path):
    store = write_store(tmp_path / "store.h5")
    other = [[7, 6], [0]]  # channel 0 differs; channel 1 is the tested one
    a = write_topk(tmp_path / "a.h5", "imagenet", {"mixed4d_3x3": [other[0], SET_A]}, LABELS, STORE_INDEX, 5)
    b = write_topk(tmp_path / "b.h5", "styles_A/1", {"mixed4d_3x3": [other[1], SET_B]}, LABELS, STORE_INDEX, 5)
    return store, a, b


def tile(grid: np.ndarray, rank: int, size: int, columns: int) -> np.ndarray:
    top, left = tile_origin(rank, size, columns)
    return grid[top : top + size, left : left + size]


def is_framed(pixels: np.ndarray, frame: int) -> bool:
    edge = np.concatenate([pixels[:frame].reshape(-1, 3), pixels[-frame:].reshape(-1, 3)])
    edge = np.concatenate([edge, pixels[:, :frame].reshape(-1, 3), pixels[:, -frame:].reshape(-1, 3)])
    return bool((edge == GREEN).all())


def test_mosaic_frames_exactly_the_common_images_in_rank_order_and_shows_the_centre_crop(files):
    store, _, _ = files
    order = [5, 3, 8, 0, 11, 2, 7]  # store indices, rank order: 7 images in rows of 3
    common = {3, 0, 7}
    grid = np.asarray(mosaic_image(store, order, IMAGE_SIZE, highlight=common, columns=3, frame=3))
    assert grid.shape == (GUTTER + 3 * (IMAGE_SIZE + GUTTER), GUTTER + 3 * (IMAGE_SIZE + GUTTER), 3)
    assert not (grid == BLUE).all(axis=2).any()  # no pixel of any stored border: the centre window was cut
    for rank, index in enumerate(order):
        pixels = tile(grid, rank, IMAGE_SIZE, 3)
        inside = pixels[3:-3, 3:-3]
        assert (inside == centre_colour(index)).all(), f"rank {rank} should show store image {index}"
        if index in common:
            assert is_framed(pixels, 3), f"store image {index} is in both sets and must be framed"
        else:
            assert (pixels == centre_colour(index)).all(), f"store image {index} is in one set only: no frame"


def test_mosaic_tiles_are_downscaled_and_the_grid_keeps_its_width_for_a_short_set(files):
    store, _, _ = files
    grid = np.asarray(mosaic_image(store, [4, 6], IMAGE_SIZE, highlight={6}, columns=4, tile=8, frame=2))
    assert grid.shape == (GUTTER + 8 + GUTTER, GUTTER + 4 * (8 + GUTTER), 3)
    assert (tile(grid, 0, 8, 4) == centre_colour(4)).all()
    assert is_framed(tile(grid, 1, 8, 4), 2) and (tile(grid, 1, 8, 4)[2:-2, 2:-2] == centre_colour(6)).all()
    assert (tile(grid, 2, 8, 4) == 255).all()  # empty slots are background


def test_write_mosaic_json_gives_the_overlap_and_composition_by_hand(files, tmp_path):
    store, a, b = files
    summary = write_mosaic(
        a, b, "mixed4d_3x3_pre_relu", 1, 5, store, IMAGE_SIZE, tmp_path / "m.png", tmp_path / "m.json"
    )
    written = json.loads((tmp_path / "m.json").read_text())
    assert written == summary
    assert written["overlap"] == pytest.approx(2 / 5)  # rows 2 and 4 are in both sets
    assert written["common_store_indices"] == [7, 3]  # A's rank order
    assert written["store_indices"] == [11, 9, 7, 5, 3]
    # A's rows 0..4 have labels 0, 0, 1, 0, 2: Ukiyo-e 3 of 5, then Baroque and Cubism 1 each (lower index first).
    assert written["composition"] == [
        {"class": "Ukiyo-e", "percent": 60.0},
        {"class": "Baroque", "percent": 20.0},
        {"class": "Cubism", "percent": 20.0},
    ]
    assert (written["model"], written["other_model"], written["k"], written["channel"]) == (
        "imagenet",
        "styles_A/1",
        5,
        1,
    )
    assert written["ids"] == ["i11", "i9", "i7", "i5", "i3"]  # the store's ids of those images, in rank order
    assert written["labels"] == [["Ukiyo-e"], ["Ukiyo-e"], ["Baroque"], ["Ukiyo-e"], ["Cubism"]]
    # The PNG is the grid alone (its text goes beside it in panels and galleries): 5 images, 3 x 2 near-square.
    image = np.asarray(Image.open(tmp_path / "m.png"))
    assert image.shape == (GUTTER + 2 * (IMAGE_SIZE + GUTTER), GUTTER + 3 * (IMAGE_SIZE + GUTTER), 3)


def test_write_mosaic_of_side_b_shows_b_s_set_with_b_s_composition(files, tmp_path):
    store, a, b = files
    summary = write_mosaic(a, b, "mixed4d_3x3", 1, 3, store, IMAGE_SIZE, tmp_path / "b.png", side="b")
    # B's first 3 rows 4, 6, 2 against A's first 3 rows 0, 1, 2: only row 2 (store image 7) in common.
    assert summary["store_indices"] == [3, 0, 7] and summary["common_store_indices"] == [7]
    assert summary["overlap"] == pytest.approx(1 / 3) and summary["model"] == "styles_A/1"
    # B's rows 4, 6, 2 have labels 2, 0, 1: one image each, listed by class index.
    assert [(c["class"], c["percent"]) for c in summary["composition"]] == [
        ("Ukiyo-e", pytest.approx(100 / 3)),
        ("Baroque", pytest.approx(100 / 3)),
        ("Cubism", pytest.approx(100 / 3)),
    ]
    grid = np.asarray(Image.open(tmp_path / "b.png"))
    assert is_framed(tile(grid, 2, IMAGE_SIZE, 2), 3) and not is_framed(tile(grid, 0, IMAGE_SIZE, 2), 3)


@pytest.mark.parametrize(("k", "columns"), [(100, 10), (1000, 32), (10, 4), (3, 2), (1, 1)])
def test_a_set_of_k_images_is_a_near_square_grid(k, columns):
    assert grid_columns(k) == columns


def test_a_gallery_pairs_mosaics_write_each_image_shown_on_its_own(files, tmp_path):
    store, a, b = files
    out = tmp_path / "mosaics"
    channels, written = write_pair_mosaics(a, b, store, IMAGE_SIZE, 5, ["mixed4d_3x3_pre_relu:1"], out, images=True)
    assert channels == ["mixed4d_3x3_pre_relu:1"] and [p.name for p in written] == [
        "a_mixed4d_3x3_pre_relu_1.png",
        "b_mixed4d_3x3_pre_relu_1.png",
    ]
    # A's set is rows 0-4 (store 11, 9, 7, 5, 3), B's rows 4, 6, 2, 7, 5 (store 3, 0, 7, 2, 1): 8 images in all.
    shown = sorted(int(p.stem) for p in (out / "images").glob("*.jpg"))
    assert shown == [0, 1, 2, 3, 5, 7, 9, 11]
    with Image.open(out / "images" / "9.jpg") as image:  # the centre window, as the network saw it
        assert image.size == (IMAGE_SIZE, IMAGE_SIZE)
        assert np.abs(np.asarray(image).astype(int) - centre_colour(9)).max() <= 8  # JPEG keeps a flat colour
    write_pair_mosaics(a, b, store, IMAGE_SIZE, 5, ["mixed4d_3x3_pre_relu:1"], tmp_path / "plain")
    assert not (tmp_path / "plain" / "images").exists()  # only a gallery's pair needs them


@pytest.mark.parametrize(
    ("tensor", "channel", "k", "image_size", "named"),
    [
        ("mixed5b", 1, 5, IMAGE_SIZE, "tensor 'mixed5b' is not in the top-k file"),
        ("mixed4d_3x3", 2, 5, IMAGE_SIZE, "channel 2 is out of range for mixed4d_3x3"),
        ("mixed4d_3x3", 1, 6, IMAGE_SIZE, "k = 6 is not in 1..5"),
        ("mixed4d_3x3", 1, 5, 20, "image size 20 is larger than the 16 px shorter side of images of the store"),
    ],
)
def test_write_mosaic_errors_name_the_thing(files, tmp_path, tensor, channel, k, image_size, named):
    store, a, b = files
    with pytest.raises(UserError, match=named):
        write_mosaic(a, b, tensor, channel, k, store, image_size, tmp_path / "x.png", tmp_path / "x.json")
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.json").exists()


def test_patches_are_the_receptive_fields_of_each_images_peak(tmp_path):
    """conv2d0 on a 12 px window (by hand: kernel 7, stride 2, SAME padding of 5, 2 before): the unit (y, x) sees
    rows -2 + 2y .. 4 + 2y and the same columns. Each window pixel (r, c) of image i is coloured (10 i, 20 r, 20 c),
    so a tile's colours say which image and which pixels it shows."""
    with h5py.File(tmp_path / "store.h5", "w") as f:
        writer = ImageWriter(f)
        for i in range(3):
            h, w = stored_shape(i)
            image = np.zeros((h, w, 3), np.uint8)
            top, left = (h - IMAGE_SIZE) // 2, (w - IMAGE_SIZE) // 2
            r, c = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE]
            image[top : top + IMAGE_SIZE, left : left + IMAGE_SIZE] = np.stack(
                [np.full_like(r, 10 * i), 20 * r, 20 * c], -1
            )
            writer.add(image)
        writer.close()
        f.create_dataset("labels", data=np.zeros(3, np.int64))
        f.create_dataset("split", data=np.zeros(3, np.uint8))
        f.create_dataset("ids", data=np.array(["i0", "i1", "i2"], dtype=object), dtype=h5py.string_dtype())
        f.attrs.update(dataset="toy", task="single_label", classes=json.dumps(CLASSES), splits='["train","val","test"]')
        f.attrs.update(format=2, store_size=STORE_SIZE)
    topk = {}
    for name, rows in (("a", [0, 1, 2]), ("b", [])):  # nothing in common: no frame over the patches
        path = write_topk(tmp_path / f"{name}.h5", name, {"conv2d0": [rows]}, [0, 0, 0], [0, 1, 2], 3)
        with h5py.File(path, "a") as f:
            f.create_dataset("peaks/conv2d0", data=np.array([[0 * 6 + 0, 2 * 6 + 3, 5 * 6 + 5]], np.int32))
            f.attrs["map_shapes"] = json.dumps({"conv2d0": [6, 6]})
        topk[name] = path
    summary = write_mosaic(topk["a"], topk["b"], "conv2d0", 0, 3, tmp_path / "store.h5", IMAGE_SIZE, tmp_path / "m.png")
    assert summary["patches"]["png"] == "patches_m.png"
    assert summary["patches"]["boxes"] == [[-2, -2, 5, 5], [2, 4, 9, 11], [8, 8, 15, 15]]
    grid = np.asarray(Image.open(tmp_path / "patches_m.png").convert("RGB"))
    whole = np.asarray(Image.open(tmp_path / "m.png").convert("RGB"))
    assert grid.shape == whole.shape  # the same grid: patches sit where their images do
    clipped = [(0, 5, 0, 5), (2, 9, 4, 11), (8, 12, 8, 12)]  # rows, then columns, inside the 12 px window
    for rank, (r0, r1, c0, c1) in enumerate(clipped):
        pixels = tile(grid, rank, IMAGE_SIZE, grid_columns(3)).reshape(-1, 3)
        shown = {tuple(p) for p in pixels if tuple(p) != (255, 255, 255)}
        expected = {(10 * rank, 20 * r, 20 * c) for r in range(r0, r1) for c in range(c0, c1)}
        assert shown == expected, rank  # exactly the field's pixels, enlarged pixel by pixel (7 px -> 12 px tile)
    # the whole patch of rank 1 fills its tile (the largest, 7 px); rank 2's, clipped to 4 x 4, is smaller
    assert (tile(grid, 1, IMAGE_SIZE, 2) != 255).all(axis=-1).sum() == IMAGE_SIZE**2
    assert (tile(grid, 2, IMAGE_SIZE, 2) != 255).all(axis=-1).sum() < IMAGE_SIZE**2 / 2


def test_a_set_whose_every_patch_is_the_whole_image_gets_no_mosaic_of_patches(tmp_path):
    """mixed5b on a 12 px window: a 1 x 1 map whose one unit sees far more than the image."""
    store = write_store(tmp_path / "store.h5")
    topk = {}
    for name, rows in (("a", [0, 1]), ("b", [])):
        path = write_topk(tmp_path / f"{name}.h5", name, {"mixed5b": [rows]}, LABELS, STORE_INDEX, 2)
        with h5py.File(path, "a") as f:
            f.create_dataset("peaks/mixed5b", data=np.array([[0, 0]], np.int32))
            f.attrs["map_shapes"] = json.dumps({"mixed5b": [1, 1]})
        topk[name] = path
    summary = write_mosaic(topk["a"], topk["b"], "mixed5b", 0, 2, store, IMAGE_SIZE, tmp_path / "m.png")
    assert "patches" not in summary and not (tmp_path / "patches_m.png").exists()
    assert (tmp_path / "m.png").exists()
