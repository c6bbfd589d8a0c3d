"""Tests of lrconv.widgets: the pure function behind the rank explorer, and its wiring."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lrconv.kernels import classic_kernels
from lrconv.widgets import kernel_rank_explorer, rank_exploration, rank_summary


def _loop_conv(img, k):
    kh, kw = k.shape
    h, w = img.shape[0] - kh + 1, img.shape[1] - kw + 1
    return np.array([[np.sum(img[i:i + kh, j:j + kw] * k) for j in range(w)] for i in range(h)])


def _image(seed=0, shape=(12, 10)):
    return np.random.default_rng(seed).random(shape)


def test_full_rank_is_exact():
    k = classic_kernels()["random"]
    res = rank_exploration(k, 3, _image())
    assert res["kernel_error"] < 1e-12
    assert res["output_error"] < 1e-12
    np.testing.assert_allclose(res["approx"], k, atol=1e-12)


def test_rank_one_kernels_lose_nothing_at_rank_one():
    for name in ("box", "Gaussian", "Sobel x", "Prewitt x", "Scharr x"):
        res = rank_exploration(classic_kernels()[name], 1, _image())
        assert res["output_error"] < 1e-10, name


def test_laplacian_at_rank_one_differs():
    lap = classic_kernels()["Laplacian 4"]
    res = rank_exploration(lap, 1, _image())
    s = np.linalg.svd(lap, compute_uv=False)
    assert res["kernel_error"] == pytest.approx(s[1])
    assert res["output_error"] > 0.1
    assert res["output_error"] <= res["bound"]


def test_outputs_match_a_loop():
    img, k = _image(1), classic_kernels()["sharpen"]
    res = rank_exploration(k, 1, img)
    np.testing.assert_allclose(res["reference"], _loop_conv(img, k), atol=1e-12)
    np.testing.assert_allclose(res["output"], _loop_conv(img, res["approx"]), atol=1e-12)
    norms = np.sqrt(_loop_conv(img**2, np.ones(k.shape)))
    np.testing.assert_allclose(res["patch_norms"], norms, atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(
    kernel=arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 4)),
                  elements=st.floats(-5, 5, allow_subnormal=False)),
    data=st.data(),
)
def test_eckart_young_and_the_bound(kernel, data):
    rank = data.draw(st.integers(1, min(kernel.shape)))
    img = _image(data.draw(st.integers(0, 5)), (6, 7)) * 2 - 1
    res = rank_exploration(kernel, rank, img)
    assert res["kernel_error"] == pytest.approx(res["dropped"], abs=1e-9)
    diff = np.abs(res["output"] - res["reference"])
    assert np.all(diff <= res["kernel_error"] * res["patch_norms"] + 1e-9)
    assert res["output_error"] <= res["bound"] + 1e-9
    if rank < min(kernel.shape):  # keeping more never hurts
        more = rank_exploration(kernel, rank + 1, img)
        assert more["kernel_error"] <= res["kernel_error"] + 1e-9


def test_relative_error_of_a_zero_reference():
    res = rank_exploration(np.zeros((3, 3)), 1, _image())
    assert res["relative_output_error"] == 0.0


def test_summary_mentions_the_numbers():
    res = rank_exploration(classic_kernels()["Laplacian 8"], 1, _image())
    text = rank_summary(res, 1)
    assert text.startswith("rank 1:")
    assert f"{res['kernel_error']:.4f}" in text and f"{res['bound']:.4f}" in text


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((np.ones(3), 1, np.ones((4, 4))), ValueError, "kernel"),
        ((np.ones((3, 3)), 4, np.ones((4, 4))), ValueError, "rank"),
        ((np.ones((3, 3)), 0, np.ones((4, 4))), ValueError, "rank"),
        ((np.ones((3, 3)), 1.0, np.ones((4, 4))), TypeError, "rank"),
        ((np.ones((3, 3)), 1, np.ones((2, 4))), ValueError, "image"),
        ((np.ones((3, 3)), 1, np.ones((3, 4, 4))), ValueError, "image"),
        ((np.full((3, 3), np.nan), 1, np.ones((4, 4))), ValueError, "kernel"),
        ((np.ones((3, 3)), 1, "abc"), TypeError, "image"),
    ],
)
def test_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        rank_exploration(*args)


def test_explorer_wires_controls_to_the_numbers():
    kernels = {"Laplacian 4": classic_kernels()["Laplacian 4"],
               "Gaussian": classic_kernels()["Gaussian"]}
    img = _image(2, (9, 9))
    box = kernel_rank_explorer(kernels, img)
    menu, slider = box.children[0].children
    numbers = box.children[1]
    assert numbers.value.startswith("rank 1:")
    assert slider.max == 3
    first = numbers.value
    slider.value = 3
    assert numbers.value.startswith("rank 3:") and numbers.value != first
    menu.value = "Gaussian"
    assert slider.max == 5
    expected = rank_summary(rank_exploration(kernels["Gaussian"], slider.value, img),
                            slider.value)
    assert numbers.value == expected.replace("<", "&lt;")


def test_explorer_rejects_bad_input():
    with pytest.raises(TypeError):
        kernel_rank_explorer({}, _image())
    with pytest.raises(ValueError):
        kernel_rank_explorer({"a": np.ones(3)}, _image())
