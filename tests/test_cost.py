"""Tests of lrconv.cost: parameters and MACs of the dense and factorized forms.

That the MAC counts match what lrconv.layers really runs is checked in tests/test_layers.py by
instrumenting the stages; tests/test_factors.py checks the counts of every form's stage plan
against hand formulas.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrconv import lora
from lrconv.conv import conv2d
from lrconv.cost import (
    UPDATE_FORMS,
    Cost,
    Ratio,
    StageCost,
    arithmetic_intensity,
    conv_cost,
    conv_output_size,
    cp_cost,
    cp_stage_costs,
    ratio,
    slice_svd_cost,
    stage_costs,
    tucker2_cost,
    update_param_count,
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
    (lambda: ratio(Cost(1, 1), (0, 1)), ValueError, r"other.params must be a finite number > 0"),
    (lambda: ratio(3, Cost(1, 1)), TypeError, "dense must be a Cost"),
    (lambda: ratio(("a", 5), Cost(1, 1)), TypeError, "dense.params must be a real number"),
    (lambda: ratio(Cost(1, 1), (5, float("nan"))), ValueError, "other.macs must be a finite"),
    (lambda: ratio(Cost(1, 1), (5, True)), TypeError, "other.macs must be a real number"),
    (lambda: stage_costs([], (3, 5, 5)), TypeError, "stages must be a non-empty sequence"),
    (lambda: arithmetic_intensity(10, 0), ValueError, "values must be >= 1"),
    (lambda: arithmetic_intensity(10, 5, itemsize=2.0), TypeError, "itemsize must be an int"),
    (lambda: update_param_count(3, 4, 3, 3, 2, "svd"), ValueError, "form must be one of"),
    (lambda: update_param_count(3, 4, 3, 3, 0, "cp"), ValueError, "rank must be >= 1"),
    (lambda: slice_svd_cost(10**10, 10**10, 3, 3, 5, 5, 1), ValueError,
     "more than an array can hold"),
])
def test_bad_inputs_raise_clear_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_huge_layers_are_counted_without_allocating():
    c = cp_cost(10**9, 10**9, 3, 3, 10**5, 10**5, 10**6)
    assert c.params == 10**6 * (2 * 10**9 + 6)
    big = slice_svd_cost(10**6, 10**6, 3, 3, 10**4, 10**4, 3)
    assert big.params == 10**12 * 3 * 6


# --------------------------------------------------------------------------- output size

@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 30), k=st.integers(1, 30), stride=st.integers(1, 4),
       padding=st.integers(0, 4))
def test_conv_output_size_counts_the_windows(size, k, stride, padding):
    starts = [s for s in range(0, size + 2 * padding, stride) if s + k <= size + 2 * padding]
    if starts:
        assert conv_output_size(size, k, stride, padding) == len(starts)
    else:
        with pytest.raises(ValueError, match="larger than the padded input"):
            conv_output_size(size, k, stride, padding)


@settings(max_examples=60, deadline=None)
@given(arg=st.sampled_from(["size", "k", "stride", "padding"]),
       bad=st.one_of(st.integers(-5, 0), st.floats(), st.text(max_size=2), st.none()))
def test_conv_output_size_rejects_generated_bad_arguments(arg, bad):
    args = dict(size=5, k=3, stride=1, padding=0)
    if arg == "padding" and isinstance(bad, int) and bad == 0:
        bad = -1
    args[arg] = bad
    exc = ValueError if isinstance(bad, int) else TypeError
    name = arg if arg != "size" else "size"
    with pytest.raises(exc, match=name):
        conv_output_size(**args)


# --------------------------------------------------------------------------- ratio, intensity

@settings(max_examples=60, deadline=None)
@given(which=st.sampled_from(["dense", "other"]), field=st.integers(0, 1),
       bad=st.one_of(st.floats(max_value=0), st.just(float("inf")), st.just(float("nan")),
                     st.integers(max_value=0), st.text(max_size=2), st.none(), st.booleans()))
def test_ratio_rejects_generated_bad_costs(which, field, bad):
    costs = {"dense": [10, 100], "other": [2, 5]}
    costs[which][field] = bad
    exc = TypeError if bad is None or isinstance(bad, (str, bool)) else ValueError
    with pytest.raises(exc, match=rf"{which}\.{Cost._fields[field]} must be"):
        ratio(tuple(costs["dense"]), tuple(costs["other"]))


def test_arithmetic_intensity_of_the_chapter_6_layer():
    # 128 -> 128 channels, 3x3, 32x32 input with padding 1, float32
    dense = conv_cost(128, 128, 3, 3, 32, 32, padding=1)
    values = 128 * 32 * 32 * 2 + 128 * 128 * 9
    assert arithmetic_intensity(dense.macs, values) == pytest.approx(92.16)
    stages = cp_stage_costs(128, 128, 3, 3, 32, 32, 32, padding=1)
    first = stages[0]
    assert isinstance(first, StageCost)
    assert first.values == 128 * 32 * 32 + 32 * 32 * 32 + 128 * 32
    assert arithmetic_intensity(first.macs, first.values) == pytest.approx(
        128 * 32 * 32 * 32 / (4 * first.values))
    assert arithmetic_intensity(first.macs, first.values, itemsize=8) == pytest.approx(
        arithmetic_intensity(first.macs, first.values) / 2)


# --------------------------------------------------------------------------- update counts

@settings(max_examples=40, deadline=None)
@given(c_in=st.integers(1, 64), c_out=st.integers(1, 64), kh=st.integers(1, 5),
       kw=st.integers(1, 5), rank=st.integers(1, 8), form=st.sampled_from(UPDATE_FORMS))
def test_update_param_count_by_hand_and_as_lora_counts(c_in, c_out, kh, kw, rank, form):
    hand = {"full": c_out * c_in * kh * kw, "locon": rank * c_in * kh * kw + rank * c_out,
            "cp": rank * c_out + rank * c_in + rank * kh + rank * kw}[form]
    assert update_param_count(c_in, c_out, kh, kw, rank, form) == hand
    assert lora.update_param_count(c_in, c_out, kh, kw, rank, form) == hand
