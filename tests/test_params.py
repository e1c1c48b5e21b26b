"""Rule params follow the config's content, not its formatting: lists built from the config's mappings do not
follow the order of their keys."""

import numpy as np

from artfinetune.data.demo import assign_splits, split_counts
from artfinetune.render.channels import named_channels
from artfinetune.study.names import analysis_tensors


def test_lists_built_from_config_mappings_do_not_follow_their_key_order():
    def config(panels_order):
        panels = {
            "zeta": {"channels": ["mixed4b_3x3_bottleneck_pre_relu:1"], "pairs": [["a", "b"]]},
            "alpha": {"channels": ["mixed3a_5x5:2", "mixed4d_3x3_pre_relu:52"], "pairs": [["a", "b"]]},
        }
        return {
            "layers": ["conv2d0", "mixed4a"],
            "tensors": ["mixed5b"],
            "render": {"channels": ["mixed4d_3x3_pre_relu:52"]},
            "panels": {name: panels[name] for name in panels_order},
            "galleries": [["a", "b"]],
        }

    for order in (["zeta", "alpha"], ["alpha", "zeta"]):
        # the layers and tensors as listed, then render.channels', then the panels' in the order of their names
        assert analysis_tensors(config(order)) == [
            "conv2d0",
            "mixed4a",
            "mixed5b",
            "mixed4d_3x3",
            "mixed3a_5x5",
            "mixed4b_3x3_bottleneck",
        ]
        assert named_channels(config(order), ["a", "b"]) == [
            "mixed4d_3x3_pre_relu:52",
            "mixed3a_5x5:2",
            "mixed4b_3x3_bottleneck_pre_relu:1",
        ]


def test_demo_splits_do_not_follow_the_order_of_their_fractions():
    # 7 items at 0.6 / 0.2 / 0.2: 4.2, 1.4, 1.4 round to 4, 1, 1; the one left goes to train, the first split
    forward, backward = {"train": 0.6, "val": 0.2, "test": 0.2}, {"test": 0.2, "val": 0.2, "train": 0.6}
    assert split_counts(7, forward) == split_counts(7, backward) == {"train": 5, "val": 1, "test": 1}
    one, other = (assign_splits(7, f, np.random.default_rng(3)) for f in (forward, backward))
    assert one == other
