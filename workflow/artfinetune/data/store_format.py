"""The image store's format: its version, its splits, and the centre window through which a stored image is seen.

Free of h5py and Pillow, so that the Snakefile can read the format version at start-up for the cost of a few
lines (the image_store rule passes it as a param: a new format rebuilds the stores).
"""

from __future__ import annotations

from artfinetune.errors import UserError

# 1: every image's centre store_size x store_size square (up to artfinetune's store-layout change).
# 2: every image whole, shorter side resized to store_size, aspect ratio kept (one flat pixel array + offsets).
STORE_FORMAT = 2
SPLITS = ("train", "val", "test")


def centre_window(shape, size: int) -> tuple[slice, slice]:
    """Rows and columns of the centre ``size`` x ``size`` window of an image of ``shape`` (height, width, ...).

    The evaluation view of a stored image: what evaluation, activation extraction, mosaics and a training mode
    without a random crop see. An odd margin leaves its extra pixel after the window (below, right).
    """
    height, width = int(shape[0]), int(shape[1])
    if size > min(height, width):
        raise UserError(
            f"a {size} px centre window does not fit in a {height} x {width} px stored image; "
            "use an image size of at most the store's store_size"
        )
    top, left = (height - size) // 2, (width - size) // 2
    return slice(top, top + size), slice(left, left + size)
