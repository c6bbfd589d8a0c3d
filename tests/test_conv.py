"""Tests of lrconv.conv against the plain-loop reference in tests/reference.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import (
    reference_conv2d,
    reference_depthwise_conv2d,
    reference_pointwise_conv2d,
)
from strategies import assert_rejected, bad_arrays, bad_ints, bad_pairs

import lrconv.conv as conv_module
from lrconv._validate import MAX_BYTES, check_budget, float_dtype
from lrconv.conv import conv2d, conv_output_size, depthwise_conv2d, pointwise_conv2d

SEED_X = np.array([
    [1, 2, 3, 0, 1],
    [0, 1, 2, 3, 0],
    [3, 0, 1, 2, 3],
    [2, 3, 0, 1, 2],
    [1, 2, 3, 0, 1],
])
SEED_K = np.array([[1, 0, -1]] * 3)
SEED_MAP = np.array([[-2, -2, 2], [2, -2, -2], [2, 2, -2]])

FAST = settings(max_examples=50, deadline=None)

pairs = st.one_of(
    st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))
)
paddings = st.one_of(
    st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2))
)


def _pair(value):
    return (value, value) if isinstance(value, int) else value


@st.composite
def problems(draw, layout: str = "full", stride=pairs):
    """A random input, kernel, stride and padding whose kernel fits the padded input."""
    stride, padding = draw(stride), draw(paddings)
    ph, pw = _pair(padding)
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    kh = draw(st.integers(1, min(4, h + 2 * ph)))
    kw = draw(st.integers(1, min(4, w + 2 * pw)))
    n, c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    rank = draw(st.sampled_from([2, 3, 4]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x_shape = {2: (h, w), 3: (c_in, h, w), 4: (n, c_in, h, w)}[rank]
    x = rng.standard_normal(x_shape)
    if layout == "depthwise":
        x = x.reshape((1, 1) + x.shape) if rank == 2 else x
        kernel = rng.standard_normal((x.shape[-3], kh, kw))
    elif rank == 2:
        kernel = rng.standard_normal((kh, kw))
    else:
        kernel = rng.standard_normal((c_out, c_in, kh, kw))
    return x, kernel, stride, padding


# ---------------------------------------------------------------- values against the reference

@FAST
@given(problems())
def test_conv2d_matches_reference(problem):
    x, kernel, stride, padding = problem
    got = conv2d(x, kernel, stride=stride, padding=padding)
    want = reference_conv2d(x, kernel, stride, padding)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@FAST
@given(problems(stride=st.just(1)), st.sampled_from([-1.0, np.inf]))
def test_conv2d_stride_one_matches_reference(problem, max_waste):
    # both stride-1 paths, forced: the general one with a strided view per tap (-1) and the
    # flattened padded image, wrap-around columns computed and dropped (inf)
    x, kernel, stride, padding = problem
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(conv_module, "_FLAT_MAX_WASTE", max_waste)
        got = conv2d(x, kernel, stride=stride, padding=padding)
    np.testing.assert_allclose(got, reference_conv2d(x, kernel, stride, padding),
                               rtol=1e-10, atol=1e-10)


@st.composite
def one_d_filters(draw):
    """A vertical (kh x 1) or horizontal (1 x kw) depthwise problem, as in the CP stages."""
    vertical = draw(st.booleans())
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    pad, step = draw(st.integers(0, 2)), draw(st.integers(1, 3))
    length = h if vertical else w
    k = draw(st.integers(1, length + 2 * pad))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((n, c, h, w))
    kernel = rng.standard_normal((c, k, 1) if vertical else (c, 1, k))
    stride, padding = ((step, 1), (pad, 0)) if vertical else ((1, step), (0, pad))
    return x, kernel, stride, padding


@FAST
@given(one_d_filters())
def test_one_dimensional_depthwise_filters_match_reference(problem):
    # these run as products with banded (Toeplitz) matrices, one per channel
    x, kernel, stride, padding = problem
    got = depthwise_conv2d(x, kernel, stride=stride, padding=padding)
    np.testing.assert_allclose(got, reference_depthwise_conv2d(x, kernel, stride, padding),
                               rtol=1e-10, atol=1e-10)


def test_banded_and_elementwise_depthwise_paths_agree(monkeypatch):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 5, 9, 7)).astype(np.float32)
    kv, kh = rng.standard_normal((5, 3, 1)), rng.standard_normal((5, 1, 3))
    banded = [depthwise_conv2d(x, kv, stride=(2, 1), padding=(1, 0)),
              depthwise_conv2d(x, kh, padding=(0, 2))]
    monkeypatch.setattr(conv_module, "_BANDED_MAX_ROWS", 0)
    monkeypatch.setattr(conv_module, "_BANDED_MAX_COLS", 0)
    elementwise = [depthwise_conv2d(x, kv, stride=(2, 1), padding=(1, 0)),
                   depthwise_conv2d(x, kh, padding=(0, 2))]
    for a, b in zip(banded, elementwise, strict=True):
        assert a.dtype == b.dtype == np.float64  # float32 x with a float64 kernel
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@FAST
@given(problems("depthwise"))
def test_depthwise_matches_reference(problem):
    x, kernel, stride, padding = problem
    got = depthwise_conv2d(x, kernel, stride=stride, padding=padding)
    want = reference_depthwise_conv2d(x, kernel, stride, padding)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@FAST
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 6),
       st.integers(1, 6), st.booleans(), st.booleans(), st.integers(0, 2**32 - 1))
def test_pointwise_matches_reference(n, c_in, c_out, h, w, batched, four_d, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c_in, h, w) if batched else (c_in, h, w))
    weight = rng.standard_normal((c_out, c_in))
    given_weight = weight[:, :, None, None] if four_d else weight
    got = pointwise_conv2d(x, given_weight)
    np.testing.assert_allclose(got, reference_pointwise_conv2d(x, weight), rtol=1e-10,
                               atol=1e-10)


@FAST
@given(problems())
def test_output_shape_formula(problem):
    x, kernel, stride, padding = problem
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    kh, kw = kernel.shape[-2:]
    h, w = x.shape[-2:]
    out = conv2d(x, kernel, stride=stride, padding=padding)
    assert out.shape[-2:] == ((h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)
    assert out.ndim == x.ndim


def test_seed_example_full_map():
    out = conv2d(SEED_X, SEED_K)
    assert out[0, 0] == -2
    np.testing.assert_array_equal(out, SEED_MAP)


def test_seed_example_with_stride_and_padding():
    np.testing.assert_array_equal(conv2d(SEED_X, SEED_K, stride=2), SEED_MAP[::2, ::2])
    padded = conv2d(SEED_X, SEED_K, padding=1)
    assert padded.shape == (5, 5)
    np.testing.assert_array_equal(padded[1:-1, 1:-1], SEED_MAP)
    # Top-left window of the padded input: zeros, then X[0:2, 0:2] under the kernel's
    # middle and right columns.
    assert padded[0, 0] == -(SEED_X[0, 1] + SEED_X[1, 1])


def test_one_channel_layouts_agree():
    x = np.random.default_rng(0).standard_normal((6, 7))
    k = np.random.default_rng(1).standard_normal((3, 2))
    single = conv2d(x, k, stride=(2, 1), padding=(1, 0))
    np.testing.assert_allclose(conv2d(x[None], k[None, None], stride=(2, 1), padding=(1, 0))[0],
                               single)
    np.testing.assert_allclose(
        conv2d(x[None, None], k[None, None], stride=(2, 1), padding=(1, 0))[0, 0], single)


def test_batch_items_are_independent():
    rng = np.random.default_rng(2)
    x, k = rng.standard_normal((3, 2, 5, 6)), rng.standard_normal((4, 2, 3, 3))
    out = conv2d(x, k, stride=2, padding=1)
    for n in range(3):
        np.testing.assert_allclose(out[n], conv2d(x[n], k, stride=2, padding=1))


def test_chunked_im2col_gives_the_same_result(monkeypatch):
    rng = np.random.default_rng(3)
    x, k = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((2, 3, 3, 2))
    monkeypatch.setattr(conv_module, "_FLAT_MAX_WASTE", np.inf)  # stride 1: flattened path
    for stride in ((1, 2), 1):
        whole = conv2d(x, k, stride=stride, padding=(2, 1))
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(conv_module, "_CHUNK_ELEMENTS", 40)
            np.testing.assert_allclose(conv2d(x, k, stride=stride, padding=(2, 1)), whole)
        np.testing.assert_allclose(whole, reference_conv2d(x, k, stride, (2, 1)))


def test_non_contiguous_and_list_inputs():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 5, 2)).transpose(2, 0, 1)  # (2, 6, 5), not C-contiguous
    k = rng.standard_normal((3, 2, 2, 2))
    np.testing.assert_allclose(conv2d(x, k), reference_conv2d(x, k))
    np.testing.assert_allclose(conv2d(x.tolist(), k.tolist()), reference_conv2d(x, k))
    kd = rng.standard_normal((2, 3, 1))
    np.testing.assert_allclose(depthwise_conv2d(x, kd), reference_depthwise_conv2d(x, kd))


def test_kernel_is_not_flipped():
    x = np.arange(9.0).reshape(3, 3)
    k = np.zeros((2, 2))
    k[0, 0] = 1.0  # picks the top-left pixel of each window
    np.testing.assert_array_equal(conv2d(x, k), x[:2, :2])


def test_linearity_in_the_kernel():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 6))
    a, b = rng.standard_normal((2, 3, 2, 2, 3))
    np.testing.assert_allclose(conv2d(x, 2 * a - b), 2 * conv2d(x, a) - conv2d(x, b))


# ---------------------------------------------------------------- data types

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_dtype_is_preserved(dtype):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 6, 5)).astype(dtype)
    k = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
    kd = rng.standard_normal((3, 2, 3)).astype(dtype)
    w = rng.standard_normal((4, 3)).astype(dtype)
    assert conv2d(x, k, stride=2, padding=1).dtype == dtype
    assert conv2d(x[0, 0], k[0, 0]).dtype == dtype
    assert depthwise_conv2d(x, kd, padding=(1, 0)).dtype == dtype
    assert pointwise_conv2d(x, w).dtype == dtype
    assert pointwise_conv2d(x, w[:, :, None, None]).dtype == dtype


def test_float32_result_is_accurate():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 8, 7))
    k = rng.standard_normal((4, 3, 3, 3))
    got = conv2d(x.astype(np.float32), k.astype(np.float32), stride=(2, 1), padding=1)
    np.testing.assert_allclose(got, reference_conv2d(x, k, (2, 1), 1), rtol=1e-4, atol=1e-5)


def test_integers_promote_to_float64_exactly():
    out = conv2d(SEED_X, SEED_K)
    assert out.dtype == np.float64
    out = depthwise_conv2d(SEED_X[None].astype(np.int32), SEED_K[None])
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out[0], SEED_MAP)
    assert pointwise_conv2d(SEED_X[None], [[2]]).dtype == np.float64


def test_mixed_precision_gives_the_wider_type():
    x = np.ones((1, 4, 4), dtype=np.float32)
    assert conv2d(x, np.ones((1, 1, 2, 2))).dtype == np.float64
    assert conv2d(x, np.ones((1, 1, 2, 2), dtype=np.int8)).dtype == np.float32
    assert conv2d(x.astype(int), np.ones((1, 1, 2, 2), dtype=np.float32)).dtype == np.float64


def test_nan_and_inf_propagate_only_where_they_are_read():
    x = np.zeros((1, 5, 5))
    x[0, 0, 0] = np.nan
    x[0, 4, 4] = np.inf
    out = conv2d(x, np.ones((1, 1, 2, 2)))
    assert np.isnan(out[0, 0, 0]) and np.isinf(out[0, 3, 3])
    assert np.isfinite(out[0, 1:3, 1:3]).all()
    with np.errstate(invalid="ignore"):  # inf * 0 is NaN (numpy warns), as in numpy
        assert np.isnan(conv2d(x, np.zeros((1, 1, 2, 2)))[0, 3, 3])
    dw = depthwise_conv2d(x, np.ones((1, 2, 2)))
    assert np.isnan(dw[0, 0, 0]) and np.isinf(dw[0, 3, 3]) and np.isfinite(dw[0, 1, 1])
    for k in (np.ones((1, 3, 1)), np.ones((1, 1, 3))):  # 1-D filters (the CP stages) too
        dw = depthwise_conv2d(x, k, padding=(1, 0) if k.shape[1] == 3 else (0, 1))
        assert np.isnan(dw[0, 0, 0]) and np.isinf(dw[0, 4, 4])
        assert np.isfinite(dw).sum() == 21  # two outputs read the NaN, two the inf
    pw = pointwise_conv2d(x, [[1.0]])
    assert np.isnan(pw[0, 0, 0]) and np.isinf(pw[0, 4, 4]) and np.isfinite(pw[0, 1, 1])


# ---------------------------------------------------------------- bad input

X3 = np.zeros((2, 5, 5))
K4 = np.zeros((3, 2, 3, 3))
KD = np.zeros((2, 3, 3))
W2 = np.zeros((3, 2))


@pytest.mark.parametrize("func, args", [
    (conv2d, (X3, K4)),
    (depthwise_conv2d, (X3, KD)),
])
class TestStrideAndPadding:
    def test_stride_below_one(self, func, args):
        with pytest.raises(ValueError, match=r"stride must be >= 1; received 0"):
            func(*args, stride=0)

    def test_stride_pair_entry_below_one(self, func, args):
        with pytest.raises(ValueError, match=r"stride\[1\] must be >= 1; received -1"):
            func(*args, stride=(1, -1))

    @pytest.mark.parametrize("stride", [1.5, "2", True, None, (1, 2, 3), (1.0, 1)])
    def test_stride_not_integer(self, func, args, stride):
        with pytest.raises(TypeError, match=r"stride"):
            func(*args, stride=stride)

    def test_padding_negative(self, func, args):
        with pytest.raises(ValueError, match=r"padding must be >= 0; received -1"):
            func(*args, padding=-1)

    def test_padding_pair_entry_negative(self, func, args):
        with pytest.raises(ValueError, match=r"padding\[0\] must be >= 0; received -2"):
            func(*args, padding=(-2, 0))

    @pytest.mark.parametrize("padding", [0.5, "1", False, [1]])
    def test_padding_not_integer(self, func, args, padding):
        with pytest.raises(TypeError, match=r"padding"):
            func(*args, padding=padding)

    def test_kernel_larger_than_padded_input(self, func, args):
        x = args[0][:, :2, :]
        with pytest.raises(ValueError, match=r"larger than the padded input \(2 x 5\)"):
            func(x, args[1])
        with pytest.raises(ValueError, match=r"larger than the padded input \(2 x 5\).*"
                                             r"x of shape \(2, 2, 5\)"):
            func(x, args[1], stride=2)
        assert func(x, args[1], padding=(1, 0)).shape[-2:] == (2, 3)


ALL = [
    (conv2d, "x", lambda v: (v, K4)),
    (conv2d, "kernel", lambda v: (X3, v)),
    (depthwise_conv2d, "x", lambda v: (v, KD)),
    (depthwise_conv2d, "kernel", lambda v: (X3, v)),
    (pointwise_conv2d, "x", lambda v: (v, W2)),
    (pointwise_conv2d, "weight", lambda v: (X3, v)),
]


@pytest.mark.parametrize("func, name, build", ALL)
@pytest.mark.parametrize("bad, what", [
    (np.ones((2, 3, 3), dtype=bool), "bool"),
    (np.ones((2, 3, 3), dtype=complex), "complex"),
    (np.full((2, 3, 3), "a"), "<U1"),
    ([[1, 2], [3]], "could not convert"),
    ("abc", "<U3"),
    (None, "object"),
])
def test_non_numeric_arrays_are_rejected(func, name, build, bad, what):
    with pytest.raises(TypeError, match=rf"^{name} must be a (real )?numeric array.*{what}"):
        func(*build(bad))


@pytest.mark.parametrize("func, name, build, shape, expected", [
    (conv2d, "x", lambda v: (v, K4), (5,), "2 or 3 or 4"),
    (conv2d, "x", lambda v: (v, K4), (1, 1, 2, 5, 5), "2 or 3 or 4"),
    (conv2d, "kernel", lambda v: (X3, v), (2, 3, 3), "2 or 4"),
    (conv2d, "kernel", lambda v: (X3, v), (3,), "2 or 4"),
    (depthwise_conv2d, "x", lambda v: (v, KD), (5, 5), "3 or 4"),
    (depthwise_conv2d, "kernel", lambda v: (X3, v), (2, 2, 3, 3), "3"),
    (pointwise_conv2d, "x", lambda v: (v, W2), (5, 5), "3 or 4"),
    (pointwise_conv2d, "weight", lambda v: (X3, v), (3, 2, 1), "2 or 4"),
])
def test_wrong_number_of_dimensions(func, name, build, shape, expected):
    with pytest.raises(ValueError, match=rf"^{name} must have {expected} dimensions.*"
                                         rf"received shape \({shape[0]},"):
        func(*build(np.zeros(shape)))


def test_conv2d_two_d_kernel_needs_two_d_input():
    with pytest.raises(ValueError, match=r"2-D kernel.*x of shape \(2, 5, 5\) and kernel of "
                                         r"shape \(3, 3\)"):
        conv2d(X3, np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"2-D x.*x of shape \(5, 5\) and kernel of shape "
                                         r"\(3, 2, 3, 3\)"):
        conv2d(np.ones((5, 5)), K4)


def test_conv2d_channel_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"x has 2 channels but kernel expects C_in = 3; "
                                         r"received x of shape \(2, 5, 5\) and kernel of shape "
                                         r"\(3, 3, 3, 3\)"):
        conv2d(X3, np.zeros((3, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"x of shape \(4, 2, 5, 5\)"):
        conv2d(np.zeros((4, 2, 5, 5)), np.zeros((3, 1, 3, 3)))


def test_depthwise_channel_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"x has 2 channels but kernel has 3 filters.*"
                                         r"x of shape \(2, 5, 5\) and kernel of shape "
                                         r"\(3, 3, 3\)"):
        depthwise_conv2d(X3, np.zeros((3, 3, 3)))


def test_pointwise_channel_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"x has 2 channels but weight expects C_in = 4; "
                                         r"received x of shape \(2, 5, 5\) and weight of shape "
                                         r"\(3, 4, 1, 1\)"):
        pointwise_conv2d(X3, np.zeros((3, 4, 1, 1)))


def test_pointwise_four_d_weight_must_be_one_by_one():
    with pytest.raises(ValueError, match=r"weight must have shape \(C_out, C_in, 1, 1\); "
                                         r"received weight of shape \(3, 2, 3, 3\)"):
        pointwise_conv2d(X3, K4)


@pytest.mark.parametrize("func, kernel", [
    (conv2d, np.zeros((3, 2, 0, 3))),
    (depthwise_conv2d, np.zeros((2, 3, 0))),
])
def test_empty_kernel_window_is_rejected(func, kernel):
    with pytest.raises(ValueError, match=r"^kernel must not be empty; received shape \("):
        func(X3, kernel)


# ---------------------------------------------------------------- NaN and inf on every path


def test_depthwise_nan_tap_on_the_zero_padding_gives_nan():
    # regression: the banded path left out the taps that fall on the padding, so NaN * 0 was lost
    kernel = np.array([[[np.nan], [1.0], [1.0]]])
    got = depthwise_conv2d(np.ones((1, 1, 1)), kernel, padding=(1, 0))
    assert got.shape == (1, 1, 1) and np.isnan(got[0, 0, 0])
    assert np.isnan(conv2d(np.ones((1, 1, 1)), kernel[:, None], padding=(1, 0))[0, 0, 0])
    with np.errstate(invalid="ignore"):
        assert np.isnan(depthwise_conv2d(np.ones((1, 3, 1)), np.array([[[1.0, 1.0, np.inf]]]),
                                         padding=(0, 1))[0, 0, 0])


SPECIAL = st.sampled_from([np.nan, np.inf, -np.inf])


@st.composite
def non_finite_one_d_filters(draw):
    """A 1-D depthwise problem (the banded path's shapes) with NaN or inf in x or the kernel."""
    x, kernel, stride, padding = draw(one_d_filters())
    for arr in (x, kernel):
        for _ in range(draw(st.integers(0, 2))):
            index = tuple(draw(st.integers(0, s - 1)) for s in arr.shape)
            arr[index] = draw(SPECIAL)
    return x, kernel, stride, padding


@FAST
@given(non_finite_one_d_filters())
def test_non_finite_values_propagate_as_in_the_reference_and_in_conv2d(problem):
    x, kernel, stride, padding = problem
    with np.errstate(invalid="ignore"):
        got = depthwise_conv2d(x, kernel, stride=stride, padding=padding)
        want = reference_depthwise_conv2d(x, kernel, stride, padding)
        channels = [conv2d(x[:, c:c + 1], kernel[c][None, None], stride=stride,
                           padding=padding)[:, 0] for c in range(kernel.shape[0])]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)  # NaN and inf where they are
    np.testing.assert_allclose(got, np.stack(channels, axis=1), rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- the shared small rules


@given(st.integers(1, 30), st.integers(1, 30), st.integers(1, 5), st.integers(0, 5))
@FAST
def test_conv_output_size_counts_the_windows_that_fit(size, k, stride, padding):
    fits = [s for s in range(0, size + 2 * padding, stride) if s + k <= size + 2 * padding]
    if fits:
        assert conv_output_size(size, k, stride, padding) == len(fits)
        out = conv2d(np.ones((1, size)), np.ones((1, k)), stride=(1, stride),
                     padding=(0, padding))
        assert out.shape == (1, len(fits))
    else:
        with pytest.raises(ValueError, match=r"kernel length k = .* larger than the padded"):
            conv_output_size(size, k, stride, padding)


@pytest.mark.parametrize("name, minimum", [("size", 1), ("k", 1), ("stride", 1),
                                           ("padding", 0)])
@given(bad=st.data())
@FAST
def test_conv_output_size_rejects_bad_arguments(name, minimum, bad):
    args = dict(size=5, k=3, stride=1, padding=0)
    assert_rejected(conv_output_size, args, name, bad.draw(bad_ints(minimum)))


def test_conv_output_size_names_the_axis():
    with pytest.raises(TypeError, match=r"^name must be a non-empty string"):
        conv_output_size(5, 3, name=None)
    with pytest.raises(ValueError, match=r"x rows must be >= 1; received 0"):
        conv_output_size(0, 3, name="x rows")
    with pytest.raises(ValueError, match=r"x rows = 2 with padding 0 gives 2"):
        conv_output_size(2, 3, name="x rows")


@pytest.mark.parametrize("dtypes, expected", [
    ((np.float32, np.float32), np.float32),
    ((np.float32, np.float64), np.float64),
    ((np.float32, np.int64), np.float64),
    ((np.int64, np.int64), np.float64),
    ((np.uint8,), np.float64),
    ((np.float64,), np.float64),
])
def test_float_dtype_is_the_rule_conv2d_follows(dtypes, expected):
    arrays = [np.ones((1, 1, 3, 3), dtype=d) for d in dtypes]
    assert float_dtype(*arrays) == expected
    if len(arrays) == 2:
        assert conv2d(arrays[0][0], arrays[1]).dtype == expected


def test_budget_is_checked_before_allocating():
    check_budget(MAX_BYTES // 8, 8, "just within")
    with pytest.raises(ValueError, match=r"the big thing would need 268,435,457 elements"):
        check_budget(MAX_BYTES // 8 + 1, 8, "the big thing")
    with pytest.raises(ValueError, match=r"padded input of conv2d .*padding \(100000, 100000\)"
                                         r".*above the 2 GiB budget"):
        conv2d(np.ones((1, 3, 3)), np.ones((1, 1, 3, 3)), padding=10**5)
    with pytest.raises(ValueError, match=r"depthwise_conv2d.*above the 2 GiB budget"):
        depthwise_conv2d(np.ones((1, 3, 3)), np.ones((1, 1, 1)), padding=(10**30, 0))
    with pytest.raises(ValueError, match=r"output of pointwise_conv2d.*2 GiB"):
        pointwise_conv2d(np.broadcast_to(1.0, (1, 1, 2**15, 2**15)), np.ones((2, 1)))


# ---------------------------------------------------------------- generated bad input

CONV_ARGS = {
    conv2d: dict(x=X3, kernel=K4),
    depthwise_conv2d: dict(x=X3, kernel=KD),
    pointwise_conv2d: dict(x=X3, weight=W2),
}
NDIMS = {(conv2d, "x"): (2, 3, 4), (conv2d, "kernel"): (2, 4), (depthwise_conv2d, "x"): (3, 4),
         (depthwise_conv2d, "kernel"): (3,), (pointwise_conv2d, "x"): (3, 4),
         (pointwise_conv2d, "weight"): (2, 4)}


@pytest.mark.parametrize("func, name", list(NDIMS))
@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_generated_bad_arrays_are_rejected_naming_the_argument(func, name, data):
    assert_rejected(func, CONV_ARGS[func], name, data.draw(bad_arrays(NDIMS[func, name])))


@pytest.mark.parametrize("func", [conv2d, depthwise_conv2d])
@pytest.mark.parametrize("name, minimum", [("stride", 1), ("padding", 0)])
@given(data=st.data())
@FAST
def test_generated_bad_stride_and_padding_are_rejected(func, name, minimum, data):
    assert_rejected(func, CONV_ARGS[func], name, data.draw(bad_pairs(minimum)))


@pytest.mark.parametrize("func, args", [
    (conv2d, (np.ones((0, 5, 5)), np.ones((2, 0, 3, 3)))),
    (conv2d, (np.ones((2, 5, 0)), np.ones((1, 2, 1, 1)))),
    (depthwise_conv2d, (np.ones((0, 2, 5, 5)), np.ones((2, 3, 3)))),
    (pointwise_conv2d, (np.ones((2, 5, 5)), np.ones((0, 2)))),
])
def test_zero_size_arrays_are_refused(func, args):
    with pytest.raises(ValueError, match=r"must not be empty.*received shape \("):
        func(*args)


def test_broadcast_views_larger_than_the_budget_are_refused_before_copying():
    huge_weight = np.broadcast_to(1.0, (10**5, 10**4))  # 8 GB if copied, no memory as a view
    with pytest.raises(ValueError, match=r"^a copy of weight of pointwise_conv2d.*2 GiB"):
        pointwise_conv2d(np.ones((10**4, 1, 1)), huge_weight)
    huge_kernel = np.broadcast_to(1.0, (10**5, 10**4, 1, 1))
    with pytest.raises(ValueError, match=r"^a copy of the kernel of conv2d .*2 GiB"):
        conv2d(np.ones((10**4, 1, 1)), huge_kernel)
