"""Tests of lrconv.cost: parameters and MACs of the dense and factorized forms.

That the MAC counts match what lrconv.layers really runs is checked in tests/test_layers.py by
instrumenting the stages.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrconv.conv import conv2d
from lrconv.cost import (
    Cost,
    Ratio,
    conv_cost,
    conv_output_size,
    cp_cost,
    cp_stage_costs,
    ratio,
    slice_svd_cost,
    tucker2_cost,
)

# A 3 -> 4 channel 3x3 layer on a 5x5 input, counted by hand.
LAYER = (3, 4, 3, 3, 5, 5)


def test_dense_by_hand():
    assert conv_cost(*LAYER) == Cost(108, 4 * 3 * 3 * 27)  # 3x3 output, 27 taps each
    assert conv_cost(*LAYER, padding=1) == Cost(108, 4 * 5 * 5 * 27)
    assert conv_cost(*LAYER, stride=2, padding=1) == Cost(108, 4 * 3 * 3 * 27)


def test_cp_by_hand():
    # params 2 * (3 + 3 + 3 + 4); stages 3*2*25 + 2*3*(3*5) + 2*3*(3*3) + 2*4*9
    assert cp_cost(*LAYER, 2) == Cost(26, 150 + 90 + 54 + 72)
    # padding 1: the 1x1 stage still reads 5x5; vertical 5x5 out; horizontal 5x5 out
    assert cp_cost(*LAYER, 2, padding=1) == Cost(26, 150 + 150 + 150 + 200)
    stages = cp_stage_costs(*LAYER, 2, stride=(2, 1), padding=(1, 0))
    assert [s.shape_out for s in stages] == [(2, 5, 5), (2, 3, 5), (2, 3, 3), (4, 3, 3)]
    assert [s.shape_in for s in stages] == [(3, 5, 5), (2, 5, 5), (2, 3, 5), (2, 3, 3)]
    assert [s.taps for s in stages] == [3, 3, 3, 2]


def test_tucker2_by_hand():
    # params 2*1*9 + 4*2 + 3*1; stages 3*1*25 + 2*9*(1*9) + 4*9*2
    assert tucker2_cost(*LAYER, (2, 1)) == Cost(29, 75 + 162 + 72)


def test_slice_svd_by_hand():
    # params 4*3*1*(3+3); 12 channel copies: 12*(3*5)*3, then 4*9*(3*1*3)
    assert slice_svd_cost(*LAYER, 1) == Cost(72, 540 + 324)


@given(c_in=st.integers(1, 6), c_out=st.integers(1, 6), kh=st.integers(1, 4),
       kw=st.integers(1, 4), extra=st.integers(0, 5), stride=st.integers(1, 3),
       padding=st.integers(0, 2), rank=st.integers(1, 5))
@settings(max_examples=50, deadline=None)
def test_closed_forms(c_in, c_out, kh, kw, extra, stride, padding, rank):
    h, w = kh + extra, kw + 1
    dense = conv_cost(c_in, c_out, kh, kw, h, w, stride=stride, padding=padding)
    y = conv2d(np.zeros((c_in, h, w)), np.zeros((c_out, c_in, kh, kw)), stride=stride,
               padding=padding)
    assert dense.macs == y.size * c_in * kh * kw
    assert y.shape[1] == conv_output_size(h, kh, stride, padding)
    cp = cp_cost(c_in, c_out, kh, kw, h, w, rank, stride=stride, padding=padding)
    assert cp.params == rank * (c_in + kh + kw + c_out)
    sl = slice_svd_cost(c_in, c_out, kh, kw, h, w, min(rank, kh, kw), stride=stride,
                        padding=padding)
    assert sl.params == c_out * c_in * min(rank, kh, kw) * (kh + kw)
    r_out = min(rank, c_out)
    tk = tucker2_cost(c_in, c_out, kh, kw, h, w, (r_out, 1), stride=stride, padding=padding)
    assert tk.params == r_out * kh * kw + c_out * r_out + c_in


def test_cp_of_a_wide_layer_is_much_cheaper():
    dense = conv_cost(64, 64, 3, 3, 32, 32, padding=1)
    cp = cp_cost(64, 64, 3, 3, 32, 32, 16, padding=1)
    r = ratio(dense, cp)
    assert isinstance(r, Ratio)
    assert r.params == pytest.approx(64 * 64 * 9 / (16 * 134))
    assert r.macs == pytest.approx(dense.macs / cp.macs)
    assert r.macs > 10


@pytest.mark.parametrize(("call", "exc", "match"), [
    (lambda: conv_cost(0, 4, 3, 3, 5, 5), ValueError, "c_in must be >= 1"),
    (lambda: conv_cost(3, 4, 3, 3, 5, 5.0), TypeError, "w must be an integer"),
    (lambda: conv_cost(3, 4, 7, 3, 5, 5), ValueError, "larger than the padded input"),
    (lambda: conv_cost(3, 4, 3, 3, 5, 5, stride=0), ValueError, "stride"),
    (lambda: cp_cost(3, 4, 3, 3, 5, 5, 0), ValueError, "rank must be >= 1"),
    (lambda: tucker2_cost(3, 4, 3, 3, 5, 5, 2), TypeError, "ranks must be a pair"),
    (lambda: tucker2_cost(3, 4, 3, 3, 5, 5, (2, 0)), ValueError, r"ranks\[1\]"),
    (lambda: tucker2_cost(3, 4, 3, 3, 5, 5, (5, 1)), ValueError, r"at most \(c_out, c_in\)"),
    (lambda: slice_svd_cost(3, 4, 3, 3, 5, 5, 1.0), TypeError, "rank must be an integer"),
    (lambda: slice_svd_cost(3, 4, 3, 2, 5, 5, 3), ValueError, r"min\(kh, kw\) = 2"),
    (lambda: ratio(Cost(1, 1), (0, 1)), ValueError, "other must have positive"),
    (lambda: ratio(3, Cost(1, 1)), TypeError, "dense must be a Cost"),
])
def test_bad_inputs_raise_clear_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
