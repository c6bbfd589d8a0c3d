"""Tests of lrconv.explorers: the plain functions behind the explorers of chapters 5 and 6, and
the wiring of the widgets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrconv.conv import conv2d
from lrconv.decompose import CPFactors, Tucker2Factors, cp_to_kernel, tucker2_to_kernel
from lrconv.explorers import (
    als_explorer,
    als_histories,
    als_history,
    rank_time_explorer,
    rank_tradeoff,
    time_against_dense,
    time_stages,
)
from lrconv.timing import Timing


def _planted(rank=3, shape=(6, 5, 3, 3), seed=0):
    rng = np.random.default_rng(seed)
    return cp_to_kernel(CPFactors(*(rng.standard_normal((n, rank)) for n in shape)))


def _loop_relative_error(kernel, factors):
    total = 0.0
    approx = np.zeros_like(kernel)
    for o, i, h, w in np.ndindex(kernel.shape):
        approx[o, i, h, w] = sum(factors[0][o, r] * factors[1][i, r] * factors[2][h, r]
                                 * factors[3][w, r] for r in range(factors[0].shape[1]))
        total += (kernel[o, i, h, w] - approx[o, i, h, w]) ** 2
    return np.sqrt(total) / np.linalg.norm(kernel)


# --------------------------------------------------------------------------- ALS histories


@pytest.mark.parametrize("start", ["svd", "random"])
def test_planted_rank_is_recovered_from_either_start(start):
    errors = als_history(_planted(), 3, start=start, sweeps=150)
    assert errors.shape == (150,)
    assert errors[0] > 1e-3 and errors[-1] < 1e-8


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 1000), rank=st.integers(1, 5),
       start=st.sampled_from(["svd", "random"]))
def test_error_never_increases_and_is_bounded(seed, rank, start):
    kernel = np.random.default_rng(seed).standard_normal((4, 3, 2, 3))
    errors = als_history(kernel, rank, start=start, seed=seed, sweeps=15)
    assert np.all(np.diff(errors) <= 1e-10)
    # ALS's first update is already a least-squares fit, never worse than the zero kernel
    assert np.all(errors <= 1 + 1e-12) and np.all(errors >= 0)


def test_random_start_history_matches_an_independent_error():
    # Re-run the same plain ALS by hand for one sweep and compare its error with a loop.
    kernel = np.random.default_rng(7).standard_normal((3, 2, 2, 2))
    rng = np.random.default_rng((5, 0))  # the stream the random start documents
    f = [rng.standard_normal((n, 2)) for n in kernel.shape]
    specs = ["oihw,ir,hr,wr->or", "oihw,or,hr,wr->ir", "oihw,or,ir,wr->hr", "oihw,or,ir,hr->wr"]
    for mode in range(4):
        others = [m for j, m in enumerate(f) if j != mode]
        gram = np.prod([m.T @ m for m in others], axis=0)
        f[mode] = np.linalg.solve(gram, np.einsum(specs[mode], kernel, *others).T).T
    assert als_history(kernel, 2, start="random", sweeps=1)[0] == pytest.approx(
        _loop_relative_error(kernel, f), rel=1e-6)


def test_histories_are_deterministic_and_depend_on_the_seed():
    kernel = np.random.default_rng(1).standard_normal((5, 4, 3, 3))
    a = als_history(kernel, 5, start="random", seed=2, sweeps=20)
    np.testing.assert_array_equal(a, als_history(kernel, 5, start="random", seed=2, sweeps=20))
    assert not np.allclose(a, als_history(kernel, 5, start="random", seed=3, sweeps=20))
    # the SVD start uses random columns only above the mode sizes: rank 2 ignores the seed
    np.testing.assert_array_equal(als_history(kernel, 2, seed=0, sweeps=5),
                                  als_history(kernel, 2, seed=9, sweeps=5))


def test_zero_kernel_gives_a_flat_zero_history():
    for start in ("svd", "random"):
        errors = als_history(np.zeros((2, 2, 2, 2)), 2, start=start, sweeps=4)
        np.testing.assert_array_equal(errors, np.zeros(4))


def test_als_histories_labels_every_run():
    runs = als_histories(_planted(), [1, 3], [("svd", 0), ("random", 1)], sweeps=5)
    assert list(runs) == ["R = 1, svd start, seed 0", "R = 1, random start, seed 1",
                          "R = 3, svd start, seed 0", "R = 3, random start, seed 1"]
    assert all(v.shape == (5,) for v in runs.values())


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    (dict(kernel=np.ones((2, 2, 2)), rank=1), ValueError, "kernel"),
    (dict(kernel=np.full((2, 2, 2, 2), np.nan), rank=1), ValueError, "kernel"),
    (dict(kernel=np.ones((2, 2, 2, 2)), rank=0), ValueError, "rank"),
    (dict(kernel=np.ones((2, 2, 2, 2)), rank=1, start="hosvd"), ValueError, "start"),
    (dict(kernel=np.ones((2, 2, 2, 2)), rank=1, sweeps=0), ValueError, "sweeps"),
    (dict(kernel=np.ones((2, 2, 2, 2)), rank=1.5), TypeError, "rank"),
])
def test_als_history_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        als_history(**kwargs)


def test_als_histories_rejects_bad_arguments():
    k = _planted()
    with pytest.raises(TypeError, match="ranks"):
        als_histories(k, 3, [("svd", 0)])
    with pytest.raises(TypeError, match="starts"):
        als_histories(k, [3], "svd")
    with pytest.raises(TypeError, match="pair"):
        als_histories(k, [3], ["svd"])


# --------------------------------------------------------------------------- rank trade-off


def _layer(seed=0, c_out=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((c_out, 3, 3, 3)), rng.standard_normal((3, 7, 6))


def test_full_tucker2_ranks_are_exact_and_cost_more():
    kernel, x = _layer(c_out=3)
    point = rank_tradeoff(kernel, x, 3, form="tucker2", padding=1)
    assert isinstance(point["factors"], Tucker2Factors)
    assert point["output_error"] < 1e-10
    # 3x3x3x3 dense: 81 weights; Tucker-2 (3, 3): 3*3*9 + 3*3 + 3*3 = 99
    assert point["param_ratio"] == pytest.approx(81 / 99)
    assert point["mac_ratio"] == pytest.approx(81 / 99)  # stride 1, padding 1: same ratio
    # below the channel counts, something is lost
    assert rank_tradeoff(kernel, x, 2, form="tucker2", padding=1)["output_error"] > 1e-3


def test_cp_output_error_matches_a_direct_computation():
    kernel, x = _layer(1)
    point = rank_tradeoff(kernel, x, 2, padding=(1, 0))
    f = point["factors"]
    assert isinstance(f, CPFactors)
    y = conv2d(x, kernel, padding=(1, 0))
    y_hat = conv2d(x, cp_to_kernel(f), padding=(1, 0))
    assert point["output_error"] == pytest.approx(np.linalg.norm(y_hat - y) / np.linalg.norm(y))
    # MACs: dense 4*3*9 per output pixel; CP per rank: 3 + 3 + 3 + 4 per pixel of each stage
    h, w = 7, 4  # padding (1, 0): H' = 7, W' = 4
    dense = h * w * 4 * 3 * 9
    cp = 2 * (7 * 6 * 3 + h * 6 * 3 + h * w * 3 + h * w * 4)
    assert point["mac_ratio"] == pytest.approx(dense / cp)


def test_planted_cp_kernel_is_exact_at_its_rank():
    kernel = _planted(2, (4, 3, 3, 3))
    x = np.random.default_rng(2).standard_normal((3, 6, 6))
    assert rank_tradeoff(kernel, x, 2)["output_error"] < 1e-7
    assert rank_tradeoff(kernel, x, 1)["output_error"] > 1e-3


def test_rank_tradeoff_rejects_bad_arguments():
    kernel, x = _layer()
    with pytest.raises(ValueError, match="form"):
        rank_tradeoff(kernel, x, 2, form="svd")
    with pytest.raises(ValueError, match="channels"):
        rank_tradeoff(kernel, x[:2], 2)
    with pytest.raises(ValueError, match="x"):
        rank_tradeoff(kernel, x[0], 2)
    with pytest.raises(ValueError, match="Tucker-2"):
        rank_tradeoff(kernel, x, 4, form="tucker2")
    with pytest.raises(ValueError, match="padding"):
        rank_tradeoff(kernel, x, 2, padding=-1)


def test_time_against_dense_returns_timings_not_numbers_to_trust():
    kernel, x = _layer()
    factors = rank_tradeoff(kernel, x, 2)["factors"]
    timed = time_against_dense(x, kernel, factors, padding=1, repeat=3, number=1)
    assert isinstance(timed["dense"], Timing) and isinstance(timed["factorized"], Timing)
    assert timed["dense"].times.shape == (3,) and timed["speedup"] > 0
    t2 = Tucker2Factors(*(np.ones(s) for s in [(2, 2, 3, 3), (4, 2), (3, 2)]))
    assert time_against_dense(x, tucker2_to_kernel(t2), t2, repeat=2)["speedup"] > 0


def test_time_against_dense_rejects_bad_arguments():
    kernel, x = _layer()
    with pytest.raises(TypeError, match="factors"):
        time_against_dense(x, kernel, (1, 2, 3))
    wrong = CPFactors(*(np.ones((n, 2)) for n in (5, 3, 3, 3)))
    with pytest.raises(ValueError, match="shape"):
        time_against_dense(x, kernel, wrong)


# --------------------------------------------------------------------------- widgets


def test_als_explorer_updates_on_every_control(monkeypatch):
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: None)  # no kernel here
    box = als_explorer({"planted": _planted(), "random": _layer()[0]}, max_rank=5, sweeps=10)
    controls, numbers, figure = box.children
    menu, rank, start, seed = controls.children
    first = numbers.value
    assert "after 10 sweeps" in first and figure is not None
    rank.value = 1
    assert numbers.value != first
    second = numbers.value
    menu.value = "random"
    assert numbers.value != second
    start.value = "random"
    seed.value = 3
    assert "relative error" in numbers.value


def test_rank_time_explorer_updates():
    kernel, x = _layer(c_out=3)
    box = rank_time_explorer(kernel, x, padding=1, max_rank=3)
    controls, numbers = box.children
    form, rank = controls.children
    assert "cp rank 3" in numbers.value
    form.value = "tucker2"
    assert "tucker2 rank 3" in numbers.value and "output error 0.000" in numbers.value
    rank.value = 1
    assert "tucker2 rank 1" in numbers.value


def test_explorers_reject_bad_arguments():
    with pytest.raises(TypeError, match="kernels"):
        als_explorer({})
    with pytest.raises(ValueError, match="kernel"):
        als_explorer({"flat": np.ones((2, 2))})
    kernel, x = _layer()
    with pytest.raises(ValueError, match="channels"):
        rank_time_explorer(kernel, x[:1])


# --------------------------------------------------------------------------- stage timings


def test_time_stages_times_every_stage_with_the_extras_first():
    kernel, x = _layer()
    f = rank_tradeoff(kernel, x, 2)["factors"]
    plan = f.stage_plan(padding=1)
    t = time_stages(x, plan, extra={"dense": lambda: conv2d(x, kernel, padding=1)},
                    repeat=3, number=1)
    assert list(t) == ["dense"] + [st.name for st in plan]
    assert all(isinstance(v, Timing) and v.times.shape == (3,) for v in t.values())


def test_time_stages_feeds_each_stage_the_previous_output(monkeypatch):
    # Record the shapes the timed calls receive: each stage must see its own input.
    import lrconv.explorers as E

    seen = []
    real = E.depthwise_conv2d

    def spy(v, *a, **k):
        seen.append(v.shape)
        return real(v, *a, **k)

    monkeypatch.setattr(E, "depthwise_conv2d", spy)
    f = CPFactors(*(np.ones((n, 2)) for n in (4, 3, 3, 3)))
    x = np.ones((3, 6, 5))
    time_stages(x, f.stage_plan(padding=1), repeat=1, number=1)
    # vertical stage reads (2, 6, 5); horizontal reads (2, 6, 5) after padding rows by 1
    assert set(seen) == {(2, 6, 5)}


def test_time_stages_rejects_bad_arguments():
    kernel, x = _layer()
    plan = rank_tradeoff(kernel, x, 2)["factors"].stage_plan()
    with pytest.raises(TypeError, match="stages"):
        time_stages(x, [])
    with pytest.raises(TypeError, match="Stage"):
        time_stages(x, [1, 2])
    with pytest.raises(ValueError, match="distinct"):
        time_stages(x, [plan[0], plan[0]])
    with pytest.raises(ValueError, match="reuse"):
        time_stages(x, plan, extra={plan[0].name: lambda: None})
    with pytest.raises(ValueError, match="channels"):
        time_stages(x[:2], plan)
