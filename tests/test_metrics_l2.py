"""l2 distance between kernels: hand-made kernels with norms computed by hand."""

import math

import numpy as np
import pytest

from artfinetune.errors import UserError
from artfinetune.metrics.l2 import l2_distances, mean_l2, relative_changes


def test_zeros_against_ones():
    a = {"conv2d0": np.zeros((3, 3, 2, 4))}
    b = {"conv2d0": np.ones((3, 3, 2, 4))}
    assert l2_distances(a, b) == {"conv2d0": pytest.approx(math.sqrt(72))}  # 3*3*2*4 = 72 unit differences
    assert l2_distances(b, a) == l2_distances(a, b)
    assert relative_changes(b, a) == {"conv2d0": pytest.approx(1.0)}  # back to zero: the whole kernel changed
    assert relative_changes(a, b) == {"conv2d0": math.inf}  # from a zero kernel: no scale to relate to
    assert math.isnan(relative_changes(a, a)["conv2d0"])


def test_relative_change_and_mean_over_convolutions():
    a = {"c1": np.full((1, 1, 1, 4), 2.0), "c2": np.array([[3.0, 4.0]])}  # ||c1|| = 4, ||c2|| = 5
    b = {"c1": np.full((1, 1, 1, 4), 2.5), "c2": np.array([[3.0, 4.0]])}  # c1 moves by 0.5 in 4 entries: 1.0
    assert l2_distances(a, b) == {"c1": pytest.approx(1.0), "c2": 0.0}
    assert relative_changes(a, b) == {"c1": pytest.approx(0.25), "c2": 0.0}
    assert mean_l2(a, b) == pytest.approx(0.5)  # (1.0 + 0.0) / 2
    assert mean_l2(a, b, convs=["c1"]) == pytest.approx(1.0)


def test_convs_picks_and_orders_and_ignores_the_rest():
    a = {"c1": np.zeros(2), "c2": np.zeros(2), "head": np.zeros(3)}
    b = {"c2": np.ones(2), "c1": np.ones(2), "head": np.zeros(5)}  # the head differs in shape but is not asked for
    assert list(l2_distances(a, b, convs=["c2", "c1"])) == ["c2", "c1"]


def test_mismatches_name_the_convolution():
    a = {"conv2d0": np.zeros((7, 7, 3, 64)), "mixed3a_1x1": np.zeros((1, 1, 192, 64))}
    b = {"conv2d0": np.zeros((7, 7, 3, 64)), "mixed3a_3x3": np.zeros((3, 3, 96, 128))}
    with pytest.raises(UserError, match=r"only in the first \['mixed3a_1x1'\], only in the second \['mixed3a_3x3'\]"):
        mean_l2(a, b)
    with pytest.raises(UserError, match="'mixed3a_3x3' is missing from the first model"):
        mean_l2(a, b, convs=["conv2d0", "mixed3a_3x3"])
    with pytest.raises(
        UserError, match=r"'conv2d0' has kernel shape \(7, 7, 3, 64\) in the first model and \(7, 7, 3, 32\)"
    ):
        l2_distances({"conv2d0": np.zeros((7, 7, 3, 64))}, {"conv2d0": np.zeros((7, 7, 3, 32))})
    with pytest.raises(UserError, match="no convolution"):
        mean_l2({}, {})
