"""The render-change score on known cases: identical, rescaled, unrelated and negated renders."""

import numpy as np
import pytest
from PIL import Image

from artfinetune.render.change import render_change, render_change_of_files


def pattern(seed: int, size: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (size, size, 3))


def test_identical_renders_score_zero_and_so_do_brighter_or_stronger_ones():
    a = pattern(0)
    assert render_change(a, a) == pytest.approx(0.0, abs=1e-12)
    assert render_change(a, 0.5 * a + 60) == pytest.approx(0.0, abs=1e-12)  # the same pattern, less contrast


def test_unrelated_renders_score_about_one_and_a_negative_two():
    a, b = pattern(0), pattern(1)
    # independent uniform pixels: the correlation of 3,072 pairs has standard deviation 1 / sqrt(3072) = 0.018
    assert render_change(a, b) == pytest.approx(1.0, abs=4 * 0.018)
    assert render_change(a, 255 - a) == pytest.approx(2.0, abs=1e-12)


def test_a_small_change_scores_little_and_more_change_scores_more():
    a, noise = pattern(0), pattern(2) - 127.5
    scores = [render_change(a, a + w * noise) for w in (0.1, 0.5, 1.0, 10.0)]
    assert scores == sorted(scores) and scores[0] < 0.01 and scores[-1] > 0.8
    # by hand: corr(a, a + w n) = 1 / sqrt(1 + w^2) for independent a, n of equal variance
    assert scores[2] == pytest.approx(1 - 1 / np.sqrt(2), abs=0.03)


def test_flat_or_mismatched_renders(tmp_path):
    a = pattern(0)
    assert np.isnan(render_change(a, np.full_like(a, 128.0)))
    with pytest.raises(ValueError, match="differ in shape"):
        render_change(a, a[:16])
    for name, image in (("a.png", a), ("b.png", 255 - a)):
        Image.fromarray(np.uint8(image)).save(tmp_path / name)
    assert render_change_of_files(tmp_path / "a.png", tmp_path / "b.png") == pytest.approx(2.0, abs=1e-3)


def test_a_gallery_pairs_table_gives_each_channels_overlap_and_score(tmp_path):
    import pandas as pd

    from artfinetune.errors import UserError
    from artfinetune.render.change import render_change_table

    def save(folder, name, pixels):
        (tmp_path / folder).mkdir(exist_ok=True)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(tmp_path / folder / name)

    a, b = pattern(0), pattern(1)
    save("named_a", "mixed4a_10.png", a)
    save("named_b", "mixed4a_10.png", a)  # the same render: 0
    save("named_a", "conv2d0_3.png", a)
    save("named_b", "conv2d0_3.png", b)  # unrelated: about 1
    rows = [
        {"layer": layer, "channel": c, "metric": "overlap", "value": v, "k": 5}
        for layer, c, v in (("mixed4a", 10, 0.8), ("conv2d0", 3, 0.2), ("conv2d0", 4, 0.6))
    ] + [{"layer": "mixed4a", "channel": 10, "metric": "overlap", "value": 0.1, "k": 50}]
    pd.DataFrame(rows).to_csv(tmp_path / "overlap.csv", index=False)
    spec = {
        "channels": ["mixed4a:10", "conv2d0:3"],
        "sample": ["conv2d0:3"],
        "changed": None,
        "renders_a": [str(tmp_path / "named_a"), None],
        "renders_b": [str(tmp_path / "named_b"), None],
        "overlap_csv": str(tmp_path / "overlap.csv"),
        "k": 5,
    }
    table = render_change_table(spec, tmp_path / "change.csv").set_index("label")
    assert table.loc["mixed4a:10", "render_change"] == pytest.approx(0.0, abs=1e-12)
    assert table.loc["conv2d0:3", "render_change"] == pytest.approx(1.0, abs=4 * 0.018)
    assert table["overlap"].tolist() == [0.8, 0.2]  # at k = 5, not 50
    assert table["sampled"].tolist() == [False, True]
    assert pd.read_csv(tmp_path / "change.csv")["label"].tolist() == ["mixed4a:10", "conv2d0:3"]
    spec["channels"].append("conv2d0:4")  # rendered by neither model
    with pytest.raises(UserError, match=r"conv2d0_4\.png of conv2d0:4 does not exist"):
        render_change_table(spec, tmp_path / "other.csv")
    assert not (tmp_path / "other.csv").exists()
