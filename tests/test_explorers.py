"""Tests of lrconv.explorers: the plain functions behind the explorers of chapters 4 to 7, and
the wiring of the widgets."""

from __future__ import annotations

import numpy as np
import pytest
from factories import tiny_nets
from hypothesis import given, settings
from hypothesis import strategies as st

from lrconv.conv import conv2d
from lrconv.decompose import CPFactors, Tucker2Factors, cp_to_kernel, tucker2_to_kernel
from lrconv.explorers import (
    PLACEMENTS,
    accuracy_summary,
    als_explorer,
    als_histories,
    als_history,
    placement_stages,
    placement_summary,
    rank_accuracy,
    rank_accuracy_explorer,
    rank_time_explorer,
    rank_tradeoff,
    stage_placement,
    stage_placement_explorer,
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
    import lrconv.explorers.speed as E

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


# --------------------------------------------------------------------------- stage placement


def _cp(seed=0, shape=(2, 3, 3, 3), rank=2):
    rng = np.random.default_rng(seed)
    return CPFactors(*(rng.standard_normal((n, rank)) for n in shape))


def _loop_valid(x, kernel):
    """Plain-loop cross-correlation, stride 1, no padding: (C, H, W) by (O, C, kh, kw)."""
    o_n, _, kh, kw = kernel.shape
    h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    y = np.zeros((o_n, h, w))
    for o, i, j in np.ndindex(o_n, h, w):
        y[o, i, j] = np.sum(kernel[o] * x[:, i:i + kh, j:j + kw])
    return y


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 100), sh=st.integers(1, 3), sw=st.integers(1, 3),
       ph=st.integers(0, 2), pw=st.integers(0, 2))
def test_spatial_placement_is_exact_and_last_matches_a_loop(seed, sh, sw, ph, pw):
    f = _cp(seed)
    x = np.random.default_rng(seed + 1).standard_normal((3, 7, 8))
    right = stage_placement(x, f, stride=(sh, sw), padding=(ph, pw))
    assert right["same_shape"] and right["differ"] == 0
    # all on the last stage: the stride-1 unpadded map, padded with zeros, then subsampled
    late = stage_placement(x, f, stride=(sh, sw), padding=(ph, pw), placement="last")
    want = np.pad(_loop_valid(x, cp_to_kernel(f)), ((0, 0), (ph, ph), (pw, pw)))[:, ::sh, ::sw]
    np.testing.assert_allclose(late["output"], want, atol=1e-10)
    padded = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
    np.testing.assert_allclose(right["output"],
                               _loop_valid(padded, cp_to_kernel(f))[:, ::sh, ::sw], atol=1e-10)


def test_first_placement_subsamples_before_any_filter():
    f = _cp(3)
    x = np.random.default_rng(4).standard_normal((3, 9, 9))
    early = stage_placement(x, f, stride=2, padding=1, placement="first")
    # pad, keep every other pixel, then the 3 x 3 filter at stride 1: 11 -> 6 -> 4
    want = _loop_valid(np.pad(x, ((0, 0), (1, 1), (1, 1)))[:, ::2, ::2], cp_to_kernel(f))
    np.testing.assert_allclose(early["output"], want, atol=1e-10)
    assert early["expected"].shape == (2, 5, 5)
    assert not early["same_shape"] and early["differ"] is None and early["wrong"] is None
    assert "shapes differ" in placement_summary(early)
    # padding alone before a 1x1 stage without bias is harmless
    assert stage_placement(x, f, padding=1, placement="first")["differ"] == 0


def test_counts_of_wrong_outputs_are_the_border_ones():
    f = _cp(5)
    x = np.random.default_rng(6).uniform(1, 2, (3, 8, 8))
    late = stage_placement(x, f, padding=1, placement="last")
    # every output that reads the padding is wrong: the 28 border pixels of each 8 x 8 map
    assert (late["differ"], late["total"]) == (2 * 28, 2 * 64)
    border = np.ones((8, 8), bool)
    border[1:-1, 1:-1] = False
    np.testing.assert_array_equal(late["wrong"], np.stack([border, border]))
    # stride 2 keeps rows and columns 0, 2, 4, 6: only the first row and column are border
    late2 = stage_placement(x, f, stride=2, padding=1, placement="last")
    assert (late2["differ"], late2["total"]) == (2 * 7, 2 * 16)
    assert placement_summary(late2) == "shape (2, 4, 4) as expected; 14 of 32 outputs differ"
    # with a stride but no padding, striding at the end is exact (only wasteful)
    assert stage_placement(x, f, stride=2, placement="last")["differ"] == 0


def test_swapped_placement_moves_each_axis_to_the_other_stage():
    f = _cp(7)
    plan = placement_stages(f, stride=(2, 3), padding=(1, 0), placement="swapped")
    assert [(s.stride, s.padding) for s in plan] == [((1, 1), (0, 0)), ((1, 3), (0, 0)),
                                                    ((2, 1), (1, 0)), ((1, 1), (0, 0))]
    assert [s.kind for s in placement_stages(f, stride=2, placement="first")] == [
        "dense", "depthwise", "depthwise", "pointwise"]
    x = np.random.default_rng(8).standard_normal((3, 9, 9))
    # columns subsampled 9 -> 3 before the 1 x 3 filter reads them: 1 column, not 3
    swapped = stage_placement(x, f, stride=(2, 3), placement="swapped")
    assert swapped["output"].shape == (2, 4, 1) and swapped["expected"].shape == (2, 4, 3)
    # a square stride and padding 0 on a square kernel: only stride 1 survives the swap
    assert stage_placement(x, f, placement="swapped")["differ"] == 0


def test_a_filter_that_no_longer_fits_is_reported():
    f = _cp(0)
    x = np.ones((3, 5, 5))
    result = stage_placement(x, f, stride=3, placement="first")  # 5 -> 2 rows, kernel 3
    assert result["output"] is None and not result["same_shape"]
    assert "no longer fits" in placement_summary(result)


def test_stage_placement_rejects_bad_arguments():
    f = _cp(0)
    x = np.ones((3, 6, 6))
    with pytest.raises(ValueError, match="placement must be one of"):
        stage_placement(x, f, placement="middle")
    with pytest.raises(TypeError, match="factors must be CPFactors"):
        stage_placement(x, np.ones((2, 3, 3, 3)))
    with pytest.raises(ValueError, match="channels"):
        stage_placement(x[:2], f)
    with pytest.raises(ValueError, match="stride"):
        stage_placement(x, f, stride=0)
    with pytest.raises(ValueError, match="padding"):
        stage_placement(x, f, padding=-1)
    with pytest.raises(ValueError, match="x"):
        stage_placement(x[0], f)


def test_stage_placement_explorer_updates():
    f = _cp(1)
    x = np.random.default_rng(2).standard_normal((3, 8, 8))
    box = stage_placement_explorer(x, f, max_stride=2, max_padding=1)
    controls, numbers = box.children
    where, sliders = controls.children
    sh, sw, ph, pw = sliders.children
    assert numbers.value.startswith("spatial: shape (2, 8, 8) as expected; 0 of 128")
    where.value = "last"
    assert "56 of 128 outputs differ" in numbers.value
    sh.value = 2
    assert numbers.value.startswith("last: shape (2, 4, 8)")
    where.value = "first"
    assert "shapes differ" in numbers.value
    assert set(where.options) == set(PLACEMENTS)
    with pytest.raises(ValueError, match="channels"):
        stage_placement_explorer(x[:1], f)
    with pytest.raises(ValueError, match="max_stride"):
        stage_placement_explorer(x, f, max_stride=0)


# --------------------------------------------------------------------------- rank and accuracy


def test_rank_accuracy_scores_each_network_and_summarises():
    from lrconv import nn

    nets, data = tiny_nets()
    als = {"tol": 1e-5, "max_iter": 2000}
    result = rank_accuracy(nets, data, 2, epochs=1, **als)
    assert [len(result[k]) for k in ("error", "before", "after")] == [2, 2, 2]
    for s, net in nets.items():  # straight after the swap: count the right answers by hand
        model = net.replace(3, nn.FactorizedConv2d.from_conv(net[3], "cp", 2, seed=s, **als))
        assert result["before"][s] == nn.correct(model, data[1], data[3]) / 10
    assert all(v in {k / 10 for k in range(11)} for v in result["before"] + result["after"])
    b = result["before_spread"]
    assert b.n == 2 and b.mean == pytest.approx(np.mean(result["before"]))
    assert b.std == pytest.approx(abs(result["before"][0] - result["before"][1]) / np.sqrt(2))
    line = accuracy_summary(result, 2, 1)
    assert line.startswith("rank 2: kernel error") and "over 2 networks" in line
    # layer 3 maps 2 channels to 4: Tucker-2 at ranks (4, 2) keeps everything
    full = rank_accuracy(nets, data, (4, 2), form="tucker2", epochs=0)
    assert max(full["error"]) < 1e-10 and full["before"] == full["after"]
    with pytest.raises(ValueError, match="epochs"):
        rank_accuracy(nets, data, 2, epochs=-1)
    with pytest.raises(TypeError, match="rank_accuracy"):
        accuracy_summary({"error_spread": 1, "before_spread": 2, "after_spread": 3}, 2, 1)


def test_rank_accuracy_explorer_runs_each_rank_once(monkeypatch):
    import lrconv.explorers.accuracy as E

    nets, data = tiny_nets()
    calls = []
    real = E.rank_accuracy

    def spy(*a, **k):
        calls.append(a[2])
        return real(*a, **k)

    monkeypatch.setattr(E, "rank_accuracy", spy)
    box = rank_accuracy_explorer(nets, data, [1, 2], epochs=0, tol=1e-5, max_iter=2000)
    slider, numbers = box.children
    assert numbers.value.startswith("rank 1: kernel error")
    slider.value = 2
    assert numbers.value.startswith("rank 2:")
    slider.value = 1
    assert calls == [1, 2]
    with pytest.raises(TypeError, match="ranks"):
        rank_accuracy_explorer(nets, data, [])


def test_rank_accuracy_explorer_shows_known_results_without_running(monkeypatch):
    import lrconv.explorers.accuracy as E

    def refuse(*a, **k):
        raise AssertionError("rank_accuracy must not run for a known rank")

    monkeypatch.setattr(E, "rank_accuracy", refuse)
    known = {3: {"error": [0.5, 0.7], "before": [0.25, 0.75], "after": [0.875, 0.875],
                 "models": [None, None]}}
    box = rank_accuracy_explorer({}, (), [1, 3], epochs=2, known=known)
    assert box.children[0].value == 3  # starts where nothing has to run
    assert box.children[1].value == ("rank 3: kernel error 0.600 ± 0.141; test accuracy "
                                     "straight after the swap 0.500 ± 0.354, after 2 epochs of "
                                     "fine-tuning 0.875 ± 0.000 (mean ± standard deviation over "
                                     "2 networks)")
    with pytest.raises(TypeError, match="known must be a mapping"):
        rank_accuracy_explorer({}, (), [3], known=[1])
    with pytest.raises(TypeError, match="'error', 'before' and 'after'"):
        rank_accuracy_explorer({}, (), [3], known={3: {"error": [0.5]}})


@pytest.mark.parametrize("bad", [None, {}, [], np.ones((2, 2)), {"expected": 1}])
def test_summaries_refuse_what_is_not_a_result(bad):
    with pytest.raises(TypeError, match="result must be what stage_placement returns"):
        placement_summary(bad)
    with pytest.raises(TypeError, match="result must be what rank_accuracy returns"):
        accuracy_summary(bad, 4, 2)
