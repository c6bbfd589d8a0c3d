"""Tests of lrconv.kernels: the classic kernels and their ranks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import assert_rejected, bad_floats, bad_ints

from lrconv.kernels import (
    box_kernel,
    classic_kernels,
    disk_kernel,
    gaussian_kernel,
    random_kernel,
)

EXPECTED_RANKS = {
    "box": 1, "Gaussian": 1, "Sobel x": 1, "Sobel y": 1, "Prewitt x": 1, "Scharr x": 1,
    "Laplacian 4": 2, "Laplacian 8": 2, "sharpen": 2, "disk": 3, "random": 3,
}


def test_names_and_order():
    assert list(classic_kernels()) == list(EXPECTED_RANKS)


@pytest.mark.parametrize("name", list(EXPECTED_RANKS))
def test_rank(name):
    kernel = classic_kernels()[name]
    assert kernel.dtype == np.float64
    assert np.linalg.matrix_rank(kernel, tol=1e-10) == EXPECTED_RANKS[name]


def test_known_values():
    k = classic_kernels()
    np.testing.assert_array_equal(k["Sobel x"], [[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    np.testing.assert_array_equal(k["Sobel y"], np.transpose(k["Sobel x"]))
    np.testing.assert_array_equal(k["Scharr x"][:, 0], [3, 10, 3])
    np.testing.assert_array_equal(k["Prewitt x"], [[1, 0, -1]] * 3)
    assert k["Laplacian 8"].sum() == 0 and k["Laplacian 4"].sum() == 0
    assert k["sharpen"].sum() == 1


def test_kernels_are_fresh_copies():
    a = classic_kernels()
    a["Sobel x"][0, 0] = 99
    assert classic_kernels()["Sobel x"][0, 0] == 1


@settings(max_examples=30, deadline=None)
@given(size=st.sampled_from([1, 3, 5, 7]), sigma=st.floats(0.3, 4.0))
def test_blurs_sum_to_one_and_are_symmetric(size, sigma):
    for k in (box_kernel(size), gaussian_kernel(size, sigma)):
        assert k.shape == (size, size)
        assert np.isclose(k.sum(), 1.0)
        np.testing.assert_allclose(k, k.T)
        np.testing.assert_allclose(k, k[::-1, ::-1])
        assert np.linalg.matrix_rank(k) == 1


def test_gaussian_peak_in_the_centre():
    g = gaussian_kernel(5, 1.0)
    assert np.unravel_index(np.argmax(g), g.shape) == (2, 2)
    assert g[2, 2] / g[2, 3] == pytest.approx(np.exp(0.5))


def test_disk_shape():
    d = disk_kernel(2)
    assert d.shape == (5, 5)
    assert np.count_nonzero(d) == 13
    assert d[0, 0] == 0 and d[0, 2] > 0


def test_random_kernel_is_seeded():
    np.testing.assert_array_equal(random_kernel(3, 5), random_kernel(3, 5))
    assert not np.array_equal(random_kernel(3, 5), random_kernel(3, 6))
    np.testing.assert_array_equal(classic_kernels(seed=4)["random"], random_kernel(3, 4))


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: box_kernel(4), ValueError),
        (lambda: box_kernel(0), ValueError),
        (lambda: box_kernel(2.5), TypeError),
        (lambda: gaussian_kernel(5, 0.0), ValueError),
        (lambda: gaussian_kernel(5, float("nan")), ValueError),
        (lambda: disk_kernel(0), ValueError),
        (lambda: random_kernel(3, -1), ValueError),
    ],
)
def test_bad_arguments(call, error):
    with pytest.raises(error, match=r"^(size|sigma|radius|seed) must"):
        call()


@settings(max_examples=40, deadline=None)
@given(size=st.sampled_from([1, 3, 5, 9]), sigma=st.floats(0.05, 50.0))
def test_gaussian_against_a_loop(size, sigma):
    import math

    g = [math.exp(-((i - size // 2) ** 2) / (2 * sigma**2)) for i in range(size)]
    total = sum(a * b for a in g for b in g)
    want = [[a * b / total for b in g] for a in g]
    np.testing.assert_allclose(gaussian_kernel(size, sigma), want, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("sigma, expected", [
    (1e300, np.full((3, 3), 1 / 9)),  # so wide that it is a box
    (1e-300, [[0, 0, 0], [0, 1, 0], [0, 0, 0]]),  # so narrow that it is a point
])
def test_gaussian_extreme_widths_are_finite_limits(sigma, expected):
    np.testing.assert_allclose(gaussian_kernel(3, sigma), expected, atol=1e-15)


@pytest.mark.parametrize("call, pattern", [
    (lambda: box_kernel(10**9 + 1), r"1000000001 x 1000000001 kernel \(size = 1000000001\)"),
    (lambda: gaussian_kernel(10**9 + 1), r"kernel \(size = 1000000001\).*2 GiB"),
    (lambda: disk_kernel(10**9), r"disk \(radius = 1000000000\).*2 GiB"),
    (lambda: random_kernel(10**5), r"kernel \(size = 100000\).*2 GiB"),
])
def test_sizes_above_the_memory_budget_are_refused(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


CASES = [
    (box_kernel, dict(size=3), "size", bad_ints(1)),
    (gaussian_kernel, dict(size=3, sigma=1.0), "size", bad_ints(1)),
    (gaussian_kernel, dict(size=3, sigma=1.0), "sigma", bad_floats(0.0, strict=True)),
    (disk_kernel, dict(radius=2), "radius", bad_ints(1)),
    (random_kernel, dict(size=3, seed=0), "size", bad_ints(1)),
    (random_kernel, dict(size=3, seed=0), "seed", bad_ints(0)),
    (classic_kernels, dict(seed=0), "seed", bad_ints(0)),
]


@pytest.mark.parametrize("func, args, name, bad", CASES,
                         ids=[f"{c[0].__name__}-{c[2]}" for c in CASES])
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_generated_bad_arguments_are_rejected_naming_them(func, args, name, bad, data):
    assert_rejected(func, args, name, data.draw(bad))
