"""Tests of lrconv.separable: SVD of kernels, Eckart-Young, separable convolution."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import correlate_single
from strategies import assert_rejected, bad_arrays, bad_ints, bad_pairs

from lrconv.conv import conv2d
from lrconv.separable import kernel_svd, low_rank_kernel, separable_conv2d, separable_factors

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

kernels = st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**32 - 1)).map(
    lambda t: np.random.default_rng(t[2]).standard_normal(t[:2])
)
pairs = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))
paddings = st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)))


def _pair(value):
    return (value, value) if isinstance(value, int) else value


# ---------------------------------------------------------------- SVD and Eckart-Young

@FAST
@given(kernels)
def test_kernel_svd_reconstructs_with_orthonormal_factors(k):
    u, s, vt = kernel_svd(k)
    m = min(k.shape)
    assert u.shape == (k.shape[0], m) and s.shape == (m,) and vt.shape == (m, k.shape[1])
    np.testing.assert_allclose((u * s) @ vt, k, atol=1e-12)
    np.testing.assert_allclose(u.T @ u, np.eye(m), atol=1e-12)
    np.testing.assert_allclose(vt @ vt.T, np.eye(m), atol=1e-12)
    assert np.all(s >= 0) and np.all(np.diff(s) <= 0)


@FAST
@given(kernels)
def test_sign_convention_largest_entry_of_each_column_vector_is_positive(k):
    u, _, _ = kernel_svd(k)
    largest = u[np.argmax(np.abs(u), axis=0), np.arange(u.shape[1])]
    assert np.all(largest > 0)


@FAST
@given(kernels, st.integers(1, 5))
def test_eckart_young_error(k, rank):
    rank = min(rank, min(k.shape))
    approx = low_rank_kernel(k, rank)
    s = np.linalg.svd(k, compute_uv=False)
    assert np.linalg.matrix_rank(approx, tol=1e-9) <= rank
    np.testing.assert_allclose(np.linalg.norm(k - approx), np.sqrt(np.sum(s[rank:] ** 2)),
                               atol=1e-12)


@FAST
@given(kernels, st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_no_other_rank_r_kernel_is_closer(k, rank, seed):
    rank = min(rank, min(k.shape))
    rng = np.random.default_rng(seed)
    best = np.linalg.norm(k - low_rank_kernel(k, rank))
    for _ in range(5):
        other = low_rank_kernel(k, rank) + 0.1 * rng.standard_normal((k.shape[0], rank)) @ (
            rng.standard_normal((rank, k.shape[1])))
        assert np.linalg.norm(k - low_rank_kernel(other, rank)) >= best - 1e-12


def test_full_rank_and_rank_one_kernels_are_kept():
    k = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_allclose(low_rank_kernel(k, 3), k, atol=1e-12)
    np.testing.assert_allclose(low_rank_kernel(SEED_K, 1), SEED_K, atol=1e-12)
    assert np.linalg.norm(low_rank_kernel(k, 1) - k) > 0.1


def test_known_singular_values():
    k = np.diag([3.0, 2.0, 0.5])
    _, s, _ = kernel_svd(k)
    np.testing.assert_allclose(s, [3, 2, 0.5])
    np.testing.assert_allclose(low_rank_kernel(k, 2), np.diag([3.0, 2.0, 0.0]), atol=1e-15)


# ---------------------------------------------------------------- separable factors

@FAST
@given(kernels, st.integers(1, 5))
def test_factors_multiply_to_the_low_rank_kernel(k, rank):
    rank = min(rank, min(k.shape))
    columns, rows = separable_factors(k, rank)
    assert columns.shape == (k.shape[0], rank) and rows.shape == (rank, k.shape[1])
    np.testing.assert_allclose(columns @ rows, low_rank_kernel(k, rank), atol=1e-12)
    # sqrt(s) on both sides: each column filter and its row filter have the same norm.
    _, s, _ = kernel_svd(k)
    np.testing.assert_allclose(np.linalg.norm(columns, axis=0), np.sqrt(s[:rank]), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), np.sqrt(s[:rank]), atol=1e-12)


def test_seed_kernel_factors_have_the_book_signs():
    columns, rows = separable_factors(SEED_K, 1)
    assert np.all(columns > 0)
    np.testing.assert_allclose(columns[:, 0] / columns[0, 0], [1, 1, 1])
    np.testing.assert_allclose(rows[0] / rows[0, 0], [1, 0, -1], atol=1e-12)
    assert rows[0, 0] > 0
    np.testing.assert_allclose(columns @ rows, SEED_K, atol=1e-12)
    assert not np.signbit(rows[0, 1])  # printed as 0., not -0.
    # Every row of the seed kernel is the same, so the left vector has three equal entries.
    negated = separable_factors(-SEED_K, 1)
    assert np.all(negated[0] > 0) and negated[1][0, 0] < 0


@pytest.mark.parametrize("dtype, expected", [
    (np.float32, np.float32), (np.float64, np.float64), (np.int64, np.float64),
    (np.float16, np.float64), (np.uint8, np.float64),
])
def test_svd_dtypes(dtype, expected):
    k = np.array([[1, 2], [3, 4], [5, 7]], dtype=dtype)
    u, s, vt = kernel_svd(k)
    assert u.dtype == s.dtype == vt.dtype == expected
    columns, rows = separable_factors(k, 1)
    assert columns.dtype == rows.dtype == low_rank_kernel(k, 1).dtype == expected


# ---------------------------------------------------------------- separable convolution

@st.composite
def separable_problems(draw):
    stride, padding = draw(pairs), draw(paddings)
    ph, pw = _pair(padding)
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    kh = draw(st.integers(1, min(4, h + 2 * ph)))
    kw = draw(st.integers(1, min(4, w + 2 * pw)))
    rank = draw(st.integers(1, 3))
    lead = draw(st.sampled_from([(), (3,), (2, 2)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(lead + (h, w))
    return x, rng.standard_normal((kh, rank)), rng.standard_normal((rank, kw)), stride, padding


@FAST
@given(separable_problems())
def test_separable_conv2d_equals_conv2d_with_the_product_kernel(problem):
    x, columns, rows, stride, padding = problem
    got = separable_conv2d(x, columns, rows, stride=stride, padding=padding)
    images = x.reshape(-1, *x.shape[-2:])
    want = np.stack([conv2d(im, columns @ rows, stride=stride, padding=padding)
                     for im in images])
    assert got.shape == x.shape[:-2] + want.shape[-2:]
    np.testing.assert_allclose(got.reshape(want.shape), want, atol=1e-10)
    # ... and with the plain-loop reference, image by image.
    np.testing.assert_allclose(
        got.reshape(want.shape)[0],
        correlate_single(images[0], columns @ rows, stride, padding), atol=1e-10)


@FAST
@given(kernels, st.integers(1, 5), st.integers(0, 2**32 - 1), pairs, paddings)
def test_separable_conv2d_with_svd_factors_equals_low_rank_conv(k, rank, seed, stride,
                                                                padding):
    rank = min(rank, min(k.shape))
    x = np.random.default_rng(seed).standard_normal((k.shape[0] + 2, k.shape[1] + 3))
    columns, rows = separable_factors(k, rank)
    np.testing.assert_allclose(
        separable_conv2d(x, columns, rows, stride=stride, padding=padding),
        conv2d(x, low_rank_kernel(k, rank), stride=stride, padding=padding), atol=1e-10)


def test_seed_example_separable():
    columns, rows = separable_factors(SEED_K, 1)
    np.testing.assert_allclose(separable_conv2d(SEED_X, columns, rows), SEED_MAP, atol=1e-12)
    out = separable_conv2d(SEED_X, [1, 1, 1], [1, 0, -1])  # 1-D filters, integer input
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, SEED_MAP)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_separable_conv2d_keeps_the_float_dtype(dtype):
    x = np.ones((2, 5, 5), dtype=dtype)
    assert separable_conv2d(x, np.ones((3, 2), dtype), np.ones((2, 3), dtype)).dtype == dtype


def test_separable_nan_propagates_locally():
    x = np.zeros((6, 6))
    x[0, 0] = np.nan
    out = separable_conv2d(x, np.ones(2), np.ones(2))
    assert np.isnan(out[0, 0]) and np.isfinite(out[1:, :]).all() and np.isfinite(out[:, 1:]).all()


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("func", [kernel_svd, lambda k: low_rank_kernel(k, 1),
                                  lambda k: separable_factors(k, 1)])
class TestBadKernels:
    @pytest.mark.parametrize("shape", [(3,), (2, 3, 3)])
    def test_not_two_d(self, func, shape):
        with pytest.raises(ValueError, match=r"^kernel must have 2 dimensions.*received shape"):
            func(np.ones(shape))

    @pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
    def test_not_finite(self, func, bad):
        k = np.ones((3, 3))
        k[1, 2] = bad
        with pytest.raises(ValueError, match=r"^kernel must be finite; received 1 NaN"):
            func(k)

    def test_empty(self, func):
        with pytest.raises(ValueError, match=r"^kernel must not be empty; received shape \(0, 3\)"):
            func(np.ones((0, 3)))

    @pytest.mark.parametrize("bad, what", [
        (np.ones((2, 2), dtype=bool), "bool"), (np.ones((2, 2), dtype=complex), "complex"),
        ([["a", "b"]], "<U1"), ([[1, 2], [3]], "could not convert"),
    ])
    def test_non_numeric(self, func, bad, what):
        with pytest.raises(TypeError, match=rf"^kernel must be a (real )?numeric array.*{what}"):
            func(bad)


@pytest.mark.parametrize("func", [low_rank_kernel, separable_factors])
class TestBadRank:
    def test_rank_below_one(self, func):
        with pytest.raises(ValueError, match=r"^rank must be >= 1; received 0"):
            func(np.ones((3, 3)), 0)

    def test_rank_above_the_maximum_names_it(self, func):
        with pytest.raises(ValueError, match=r"^rank must be at most min\(kh, kw\) = 2 for a "
                                             r"kernel of shape \(2, 4\); received rank 3"):
            func(np.ones((2, 4)), 3)

    @pytest.mark.parametrize("rank", [1.0, "1", True, None])
    def test_rank_not_integer(self, func, rank):
        with pytest.raises(TypeError, match=r"^rank must be an integer"):
            func(np.ones((3, 3)), rank)


X = np.zeros((5, 5))


def test_separable_filters_that_do_not_fit():
    with pytest.raises(ValueError, match=r"columns and rows must hold the same number r.*"
                                         r"columns of shape \(3, 2\) and rows of shape \(1, 3\)"):
        separable_conv2d(X, np.ones((3, 2)), np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"^columns must have 1 or 2 dimensions.*\(3, 1, 1\)"):
        separable_conv2d(X, np.ones((3, 1, 1)), np.ones(3))
    with pytest.raises(ValueError, match=r"^rows must have 1 or 2 dimensions.*received shape"):
        separable_conv2d(X, np.ones(3), np.ones((1, 1, 3)))
    with pytest.raises(ValueError, match=r"^columns must not be empty; received shape \(3, 0\)"):
        separable_conv2d(X, np.ones((3, 0)), np.ones((0, 3)))


def test_separable_x_with_wrong_dimensions():
    with pytest.raises(ValueError, match=r"^x must have 2 or 3 or 4 dimensions.*\(5,\)"):
        separable_conv2d(np.ones(5), np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match=r"^x must have 2 or 3 or 4 dimensions"):
        separable_conv2d(np.ones((1, 1, 1, 5, 5)), np.ones(3), np.ones(3))


def test_separable_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"fit the padded input \(5 x 5\); received x of shape "
                                         r"\(5, 5\), columns of shape \(6,\)"):
        separable_conv2d(X, np.ones(6), np.ones(3))
    assert separable_conv2d(X, np.ones(6), np.ones(3), padding=(1, 0)).shape == (2, 3)
    with pytest.raises(ValueError, match=r"^columns must not be empty; received shape \(0,\)"):
        separable_conv2d(X, np.ones(0), np.ones(3))


@pytest.mark.parametrize("kwargs, exc, pattern", [
    ({"stride": 0}, ValueError, r"^stride must be >= 1; received 0"),
    ({"stride": (1, 0)}, ValueError, r"^stride\[1\] must be >= 1"),
    ({"stride": 1.5}, TypeError, r"^stride must be an int or a pair"),
    ({"padding": -1}, ValueError, r"^padding must be >= 0; received -1"),
    ({"padding": (0, "1")}, TypeError, r"^padding\[1\] must be an integer"),
])
def test_separable_stride_and_padding(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        separable_conv2d(X, np.ones(3), np.ones(3), **kwargs)


@pytest.mark.parametrize("name, args", [
    ("x", (np.ones((3, 3), dtype=bool), np.ones(2), np.ones(2))),
    ("columns", (X, np.ones(2, dtype=complex), np.ones(2))),
    ("rows", (X, np.ones(2), ["a", "b"])),
])
def test_separable_non_numeric(name, args):
    with pytest.raises(TypeError, match=rf"^{name} must be a real numeric array"):
        separable_conv2d(*args)


# ---------------------------------------------------------------- generated bad input

K3 = np.arange(9.0).reshape(3, 3)
CASES = [
    (kernel_svd, dict(kernel=K3), "kernel", bad_arrays((2,))),
    (low_rank_kernel, dict(kernel=K3, rank=1), "kernel", bad_arrays((2,))),
    (low_rank_kernel, dict(kernel=K3, rank=1), "rank", bad_ints(1)),
    (separable_factors, dict(kernel=K3, rank=1), "kernel", bad_arrays((2,))),
    (separable_factors, dict(kernel=K3, rank=1), "rank", bad_ints(1)),
    (separable_conv2d, dict(x=X, columns=np.ones(3), rows=np.ones(3)), "x", bad_arrays((2, 3, 4))),
    (separable_conv2d, dict(x=X, columns=np.ones(3), rows=np.ones(3)), "columns",
     bad_arrays((1, 2))),
    (separable_conv2d, dict(x=X, columns=np.ones(3), rows=np.ones(3)), "rows", bad_arrays((1, 2))),
    (separable_conv2d, dict(x=X, columns=np.ones(3), rows=np.ones(3)), "stride", bad_pairs(1)),
    (separable_conv2d, dict(x=X, columns=np.ones(3), rows=np.ones(3)), "padding", bad_pairs(0)),
]


@pytest.mark.parametrize("func, args, name, bad", CASES,
                         ids=[f"{c[0].__name__}-{c[2]}" for c in CASES])
@given(data=st.data())
@FAST
def test_generated_bad_input_is_rejected_naming_the_argument(func, args, name, bad, data):
    assert_rejected(func, args, name, data.draw(bad))


def test_zero_size_x_is_refused():
    with pytest.raises(ValueError, match=r"^x must not be empty; received shape \(0, 3, 3\)"):
        separable_conv2d(np.ones((0, 3, 3)), np.ones(3), np.ones(3))


def test_requests_above_the_memory_budget_are_refused_before_allocating():
    with pytest.raises(ValueError, match=r"padded input of separable_conv2d .*padding "
                                         r"\(1000000000, 0\).*2 GiB budget"):
        separable_conv2d(np.ones((2, 3, 3)), np.ones(3), np.ones(3), padding=(10**9, 0))
    with pytest.raises(ValueError, match=r"column pass of separable_conv2d.*2 GiB budget"):
        separable_conv2d(np.ones((3, 3)), np.ones((3, 2)), np.ones((2, 3)), padding=(0, 10**9))


def test_svd_of_a_kernel_beyond_the_budget_is_refused():
    with pytest.raises(ValueError, match=r"^the SVD of a kernel of shape \(100000, 100000\)"):
        kernel_svd(np.broadcast_to(1.0, (10**5, 10**5)))
