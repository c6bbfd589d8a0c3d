"""Tests of lrconv.fused: the fused CP layer equals the numpy stages and the dense convolution."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import conv_geometry

import lrconv.fused as fused
from lrconv.conv import conv2d
from lrconv.factors import CPFactors, cp_to_kernel
from lrconv.fused import cp_conv2d_fused, fused_kernel_ready
from lrconv.layers import cp_conv2d
from tests.conftest import ROOT
from tests.reference import reference_conv2d

pairs = st.tuples(st.integers(1, 3), st.integers(1, 3))
TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=2e-4, atol=2e-4)}


def random_cp(rng, c_out, c_in, kh, kw, rank, dtype=np.float64):
    return CPFactors(*(rng.standard_normal((n, rank)).astype(dtype)
                       for n in (c_out, c_in, kh, kw)))


@st.composite
def layer_case(draw):
    """A random small CP layer and input: every stride, padding, batch and tile size."""
    c_in, c_out, rank = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kh, kw, stride, padding, h, w, batch = draw(
        conv_geometry(max_kernel=4, max_padding=3, max_extra=9, max_batch=3))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    # small tiles force blocks of a few output rows (with overlap) or of a few images
    tile = draw(st.sampled_from([1, 7, 40, 1 << 17]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    shape = (c_in, h, w) if batch is None else (batch, c_in, h, w)
    return dict(x=rng.standard_normal(shape).astype(dtype),
                f=random_cp(rng, c_out, c_in, kh, kw, rank, dtype),
                bias=draw(st.one_of(st.none(), st.just(rng.standard_normal(c_out).astype(dtype)))),
                stride=stride, padding=padding, dtype=dtype, tile=tile)


@given(case=layer_case())
@settings(max_examples=150, deadline=None)
def test_fused_equals_numpy_stages_and_dense_conv(case):
    kw = dict(stride=case["stride"], padding=case["padding"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fused, "_TILE_ELEMENTS", case["tile"])
        got = cp_conv2d_fused(case["x"], case["f"], bias=case["bias"], **kw)
    want = cp_conv2d(case["x"], case["f"], bias=case["bias"], **kw)
    assert got.shape == want.shape
    assert got.dtype == want.dtype == case["dtype"]
    np.testing.assert_allclose(got, want, **TOL[case["dtype"]])
    dense = conv2d(case["x"], cp_to_kernel(case["f"]), **kw)
    if case["bias"] is not None:
        dense = dense + case["bias"][:, None, None]
    np.testing.assert_allclose(got, dense, **TOL[case["dtype"]])


@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (1, 1), (2, 1), ((1, 2), (2, 0)),
                                                 ((3, 1), (0, 3))])
def test_fused_matches_the_plain_loop_reference(stride, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6))
    f = random_cp(rng, 2, 3, 3, 2, 2)
    np.testing.assert_allclose(cp_conv2d_fused(x, f, stride=stride, padding=padding),
                               reference_conv2d(x, cp_to_kernel(f), stride, padding), atol=1e-10)


def test_known_values_one_channel_rank_one():
    # rank 1, one channel: a 3x1 column [1, 2, 3] then a 1x2 row [1, -1] is the kernel
    # [[1, -1], [2, -2], [3, -3]]; on x = 0..11 (3 x 4) every window gives -(1 + 2 + 3) = -6
    x = np.arange(12.0).reshape(1, 3, 4)
    f = CPFactors([[1.0]], [[1.0]], [[1.0], [2.0], [3.0]], [[1.0], [-1.0]])
    np.testing.assert_array_equal(cp_conv2d_fused(x, f), [[[-6.0, -6.0, -6.0]]])


@pytest.mark.parametrize("tile", [1, 5, 1 << 17])
def test_a_batch_equals_its_images_one_by_one(tile, monkeypatch):
    monkeypatch.setattr(fused, "_TILE_ELEMENTS", tile)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 9, 8))
    f = random_cp(rng, 5, 4, 3, 3, 3)
    got = cp_conv2d_fused(x, f, stride=(2, 1), padding=1)
    for image, out in zip(x, got, strict=True):
        np.testing.assert_allclose(out, cp_conv2d_fused(image, f, stride=(2, 1), padding=1),
                                   rtol=1e-12, atol=1e-12)


def test_repeated_calls_are_bitwise_identical():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 20, 20)).astype(np.float32)
    f = random_cp(rng, 16, 16, 3, 3, 8, np.float32)
    first = cp_conv2d_fused(x, f, padding=1)
    assert all(np.array_equal(first, cp_conv2d_fused(x, f, padding=1)) for _ in range(3))


@pytest.mark.parametrize(("x_type", "f_type", "bias_type", "want"), [
    (np.float32, np.float32, None, np.float32),
    (np.float32, np.float32, np.float32, np.float32),
    (np.float64, np.float64, None, np.float64),
    (np.float32, np.float64, None, np.float64),
    (np.int64, np.float32, None, np.float64),
    (np.float32, np.float32, np.float64, np.float64),
])
def test_result_type_follows_the_numpy_reference(x_type, f_type, bias_type, want):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((2, 5, 5)) * 4).astype(x_type)
    f = random_cp(rng, 3, 2, 3, 3, 2, f_type)
    bias = None if bias_type is None else np.arange(3, dtype=bias_type)
    got = cp_conv2d_fused(x, f, padding=1, bias=bias)
    ref = cp_conv2d(x, f, padding=1, bias=bias)
    assert got.dtype == ref.dtype == want
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float16, np.longdouble])
def test_other_float_types_give_what_the_numpy_stages_give(dtype):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 6, 5)).astype(dtype)
    f = random_cp(rng, 3, 2, 3, 3, 2, dtype)
    got = cp_conv2d_fused(x, f, padding=1)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, cp_conv2d(x, f, padding=1))


def test_non_contiguous_inputs_and_factors():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 12, 11))[:, ::2, ::-1]
    f = CPFactors(*(np.asfortranarray(rng.standard_normal((n, 4))) for n in (2, 3, 3, 3)))
    np.testing.assert_allclose(cp_conv2d_fused(x, f, stride=(1, 2), padding=1),
                               cp_conv2d(x, f, stride=(1, 2), padding=1), rtol=1e-12,
                               atol=1e-12)


def _same_non_finite(got, want):
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-10, atol=1e-10)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_propagate_as_in_the_numpy_stages(value):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 9, 8))
    x[0, 1, 4, 3] = value
    x[1, 0, 0, 7] = value
    f = random_cp(rng, 2, 3, 3, 3, 2)
    for kw in (dict(padding=1), dict(stride=2, padding=(2, 0)), dict()):
        got = cp_conv2d_fused(x, f, **kw)
        assert not np.all(np.isfinite(got))
        _same_non_finite(got, cp_conv2d(x, f, **kw))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("field", ["vertical", "horizontal"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_non_finite_tap_on_the_padding_gives_nan_as_numpy_does(field, value):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 5, 6))
    parts = random_cp(rng, 2, 2, 3, 3, 2)._asdict()
    parts[field] = parts[field].copy()
    parts[field][0, 1] = value  # first tap of component 1: meets the zero padding at the edge
    f = CPFactors(**parts)
    got = cp_conv2d_fused(x, f, padding=1)
    want = cp_conv2d(x, f, padding=1)
    assert np.isnan(got).any()
    _same_non_finite(got, want)


F = CPFactors(np.ones((2, 2)), np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 2)))
X = np.ones((3, 5, 5))


@pytest.mark.parametrize(("args", "kwargs", "exc", "match"), [
    ((np.ones((5, 5)), F), {}, ValueError, "x must have 3 or 4 dimensions"),
    ((np.ones((1, 2, 3, 5, 5)), F), {}, ValueError, "x must have 3 or 4 dimensions"),
    ((np.ones((4, 5, 5)), F), {}, ValueError, "x has 4 channels"),
    ((X, F), dict(stride=0), ValueError, "stride must be >= 1"),
    ((X, F), dict(stride=1.5), TypeError, "stride must be an int"),
    ((X, F), dict(stride=(1, True)), TypeError, r"stride\[1\] must be an integer"),
    ((X, F), dict(padding=-1), ValueError, "padding must be >= 0"),
    ((X, F), dict(padding="1"), TypeError, "padding must be an int"),
    ((np.ones((3, 2, 5)), F), {}, ValueError, "larger than the padded input"),
    ((X, F), dict(bias=np.ones(3)), ValueError, r"bias must have shape \(2,\)"),
    ((X, F), dict(bias="a"), TypeError, "bias must be a real numeric array"),
    ((np.ones((3, 5, 5), dtype=complex), F), {}, TypeError, "x must be a real numeric array"),
    ((np.ones((3, 5, 5), dtype=bool), F), {}, TypeError, "x must be a real numeric array"),
    (([[[1, 2], [3]]], F), {}, TypeError, "x must be a numeric array"),
    ((np.ones((0, 3, 5, 5)), F), {}, ValueError, "x must not be empty"),
    ((X, "factors"), {}, TypeError, "factors must be CPFactors"),
    ((X, (np.ones((2, 2)), np.ones((3, 3)), np.ones((3, 2)), np.ones((3, 2)))), {},
     ValueError, "CPFactors.inp must have 2 columns"),
])
def test_bad_inputs_raise_the_same_clear_errors_as_the_numpy_layer(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        cp_conv2d_fused(*args, **kwargs)
    with pytest.raises(exc, match=match):
        cp_conv2d(*args, **kwargs)


def test_requests_above_the_memory_budget_are_refused_before_allocating():
    x = np.broadcast_to(np.float32(1), (1, 1, 100, 100))  # no memory behind it
    f = CPFactors(np.ones((60_000, 1), np.float32), *(np.ones((k, 1), np.float32)
                                                      for k in (1, 3, 3)))
    with pytest.raises(ValueError, match="the output of cp_conv2d_fused would need"):
        cp_conv2d_fused(x, f, padding=1)


def test_import_is_cheap_and_compilation_lazy():
    code = ("import sys, numpy as np\n"
            "import lrconv.fused as m\n"
            "assert 'numba' not in sys.modules, 'importing lrconv.fused imported numba'\n"
            "assert not m.fused_kernel_ready()\n"
            "f = m.CPFactors(*(np.ones((2, 1)),) * 4)\n"
            "m.cp_conv2d_fused(np.ones((2, 3, 3)), f)\n"
            "assert m.fused_kernel_ready()\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_kernel_ready_after_a_call():
    cp_conv2d_fused(X, F)
    assert fused_kernel_ready()
