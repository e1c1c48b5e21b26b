"""How much a channel's render changed between two models: the render-change score.

Both models' renders of a channel start from the same image and go through the same random transforms (the seeds
are the channel's own, :mod:`artfinetune.render.renders`), so where the two networks want the same pattern the
two images agree pixel by pixel. The score is one minus the Pearson correlation of the two images' pixels (all
three colours, each image centred on its own mean):

- identical renders score 0, and so do renders that differ only in brightness or contrast (a channel that fires
  more strongly after fine-tuning draws the same pattern with more contrast: the pattern did not change);
- unrelated renders (independent noise, or patterns that share nothing) score about 1; a pattern turned into its
  negative scores 2;
- it needs no model of perception and no training data, is bounded, and compares across layers and image sizes.

A mean absolute pixel difference would count a change of contrast as a change of pattern, and a structural
similarity index (SSIM) weighs local luminance and contrast as well as structure; the correlation keeps to
structure alone, which is what the paper's "more modified" optimised images look like.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from artfinetune.errors import UserError
from artfinetune.metrics.table import write_csv


def render_change(a, b) -> float:
    """1 - Pearson correlation of two renders' pixels (arrays of the same shape, any range); NaN when either image
    is flat (a constant image has no pattern to compare)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"the two renders differ in shape: {a.shape} and {b.shape}")
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    norm = np.sqrt((a @ a) * (b @ b))
    if norm == 0:
        return float("nan")
    return float(1.0 - (a @ b) / norm)


def render_change_of_files(path_a: str | Path, path_b: str | Path) -> float:
    """The score of two rendered PNGs."""
    from PIL import Image

    with Image.open(path_a) as image_a, Image.open(path_b) as image_b:
        return render_change(np.asarray(image_a.convert("RGB")), np.asarray(image_b.convert("RGB")))


COLUMNS = ("layer", "channel", "label", "sampled", "overlap", "render_change")


def render_change_table(spec: dict, out) -> pd.DataFrame:
    """A gallery pair's channels (:func:`artfinetune.render.gallery.gallery_spec`), each with its top-k overlap at
    the gallery's k and its render-change score, and whether it is one of the random sample (``sampled``: the
    channels the render-change finding correlates, drawn without looking at their overlap). Written to ``out``
    (CSV, atomically); a render missing from either model's folder is an error naming it."""
    from artfinetune.render.channels import pair_channels, topk_channel
    from artfinetune.study.paths import channel_file

    channels = pair_channels(spec["channels"], spec.get("changed"))
    named, sample = set(spec["channels"]), set(spec.get("sample") or [])
    table = pd.read_csv(spec["overlap_csv"])
    overlap = table[(table["k"] == spec["k"]) & (table["metric"] == "overlap")].set_index(["layer", "channel"])
    rows = []
    for channel in channels:
        tensor, index = topk_channel(channel)
        folders = [spec[f"renders_{side}"][0 if channel in named else 1] for side in ("a", "b")]
        files = [Path(folder) / channel_file(channel) for folder in folders]
        for path in files:
            if not path.is_file():
                raise UserError(f"the render {path} of {channel} does not exist; render the pair's channels first")
        if (tensor, index) not in overlap.index:
            raise UserError(f"{spec['overlap_csv']} has no overlap of {tensor} channel {index} at k = {spec['k']}")
        rows.append(
            {
                "layer": tensor,
                "channel": index,
                "label": channel,
                "sampled": channel in sample,
                "overlap": float(overlap.loc[(tensor, index), "value"]),
                "render_change": render_change_of_files(*files),
            }
        )
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    write_csv(frame, out)
    return frame
