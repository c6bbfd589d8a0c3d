"""Tests of lrconv.widgets: the pure function behind the rank explorer, and its wiring."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from strategies import NON_NUMERIC, assert_rejected, bad_arrays, bad_ints

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
    with pytest.raises(ValueError, match=r"^kernels must hold at least one kernel"):
        kernel_rank_explorer({}, _image())
    with pytest.raises(ValueError, match=r"^kernels\['a'\] must have 2 dimensions"):
        kernel_rank_explorer({"a": np.ones(3)}, _image())


K3 = classic_kernels()["Laplacian 8"]
RESULT = rank_exploration(K3, 1, _image())


def test_summary_of_a_result_without_its_numbers_is_refused():
    with pytest.raises(ValueError, match=r"^result must hold the numbers of rank_exploration; "
                                         r"received a mapping without 'kernel_error'"):
        rank_summary({}, 1)
    with pytest.raises(TypeError, match=r"^result\['bound'\] must be a real number"):
        rank_summary({**RESULT, "bound": None}, 1)


@pytest.mark.parametrize("func, args, name, bad", [
    (rank_exploration, dict(kernel=K3, rank=1, image=_image()), "kernel", bad_arrays((2,))),
    (rank_exploration, dict(kernel=K3, rank=1, image=_image()), "rank", bad_ints(1)),
    (rank_exploration, dict(kernel=K3, rank=1, image=_image()), "image", bad_arrays((2,))),
    (rank_summary, dict(result=RESULT, rank=1), "rank", bad_ints(1)),
    (rank_summary, dict(result=RESULT, rank=1), "result",
     st.sampled_from(NON_NUMERIC[:3] + [3, [], "abc"]).map(lambda v: (v, TypeError))),
    (rank_summary, dict(result=RESULT, rank=1), "result",
     st.builds(lambda key, v: ({**RESULT, key: v}, TypeError),
               st.sampled_from(["kernel_error", "dropped", "output_error", "bound"]),
               st.sampled_from([None, "0.1", True, np.ones(2), 1j]))),
    (kernel_rank_explorer, dict(kernels={"a": K3}, image=_image()), "image", bad_arrays((2,))),
    (kernel_rank_explorer, dict(kernels={"a": K3}, image=_image()), "kernels",
     st.one_of(st.sampled_from([None, 3, "ab", [K3]]).map(lambda v: (v, TypeError)),
               st.just(({3: K3}, TypeError)),
               bad_arrays((2,)).map(lambda b: ({"a": b[0]}, b[1])))),
], ids=["exploration-kernel", "exploration-rank", "exploration-image", "summary-rank",
        "summary-result", "summary-entries", "explorer-image", "explorer-kernels"])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_generated_bad_input_is_rejected_naming_the_argument(func, args, name, bad, data):
    assert_rejected(func, args, name, data.draw(bad))


def test_image_must_be_finite():
    img = _image()
    img[3, 4] = np.nan
    with pytest.raises(ValueError, match=r"^image must be finite; received 1 NaN"):
        rank_exploration(K3, 1, img)


def test_images_beyond_the_budget_are_refused_before_copying():
    with pytest.raises(ValueError, match=r"^a copy of image of shape \(100000, 100000\)"):
        rank_exploration(K3, 1, np.broadcast_to(1.0, (10**5, 10**5)))
