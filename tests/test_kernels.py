"""Tests of lrconv.kernels: the classic kernels and their ranks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    with pytest.raises(error):
        call()
