"""Tests of lrconv.rank: energy thresholds and EVBMF on matrices with a planted rank."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrconv import decompose
from lrconv.rank import (
    _free_energy,
    cp_rank,
    energy_rank,
    evbmf,
    evbmf_threshold_tau,
    kernel_ranks_energy,
    kernel_ranks_evbmf,
    unfold,
)


def planted(rows: int, cols: int, rank: int, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal((rows, rank)) @ rng.standard_normal((rank, cols))
    return signal + noise * rng.standard_normal((rows, cols))


# --------------------------------------------------------------------------- energy rule


def test_energy_rank_counts_squared_singular_values():
    a = np.diag([3.0, 2.0, 1.0, 0.0])  # energies 9, 4, 1 of 14
    assert energy_rank(a, 9 / 14) == 1
    assert energy_rank(a, 9 / 14 + 1e-6) == 2
    assert energy_rank(a, 13 / 14) == 2
    assert energy_rank(a, 0.99) == 3
    assert energy_rank(a, 1.0) == 3  # the numerical rank, not the matrix size
    assert energy_rank(a, 1e-9) == 1


def test_energy_rank_is_orthogonally_invariant_and_monotone():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((6, 9))
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    ranks = [energy_rank(a, f) for f in (0.2, 0.5, 0.8, 0.95, 1.0)]
    assert ranks == sorted(ranks) and ranks[-1] == 6
    assert [energy_rank(q @ a, f) for f in (0.2, 0.5, 0.8, 0.95, 1.0)] == ranks


def test_energy_rank_of_zero_matrix_is_zero_and_bad_input_is_rejected():
    assert energy_rank(np.zeros((3, 4)), 0.9) == 0
    with pytest.raises(ValueError, match="fraction"):
        energy_rank(np.eye(3), 0.0)
    with pytest.raises(ValueError, match="fraction"):
        energy_rank(np.eye(3), 1.5)
    with pytest.raises(ValueError, match="dimensions"):
        energy_rank(np.ones(3), 0.5)
    with pytest.raises(ValueError, match="finite"):
        energy_rank(np.array([[1.0, np.nan]]), 0.5)
    with pytest.raises(TypeError, match="matrix must be a real numeric array"):
        energy_rank([["a"]], 0.5)


# --------------------------------------------------------------------------- EVBMF


def test_threshold_constant_solves_its_equation():
    for alpha in (0.05, 0.25, 0.5, 1.0):
        t = evbmf_threshold_tau(alpha)
        assert abs(math.log1p(t) + alpha * math.log1p(t / alpha) - t) < 1e-10
        # the usual closed-form stand-in is close for square-ish matrices only
        assert t == pytest.approx(2.5129 * math.sqrt(alpha), rel=0.03 if alpha >= 0.25 else 0.1)
    assert evbmf_threshold_tau(1.0) == pytest.approx(2.5129, abs=1e-4)
    with pytest.raises(ValueError, match="alpha"):
        evbmf_threshold_tau(1.5)


@pytest.mark.parametrize(
    ("rows", "cols", "rank", "noise", "seed"),
    [(20, 50, 5, 0.1, 0), (50, 20, 3, 0.5, 1), (30, 30, 6, 0.05, 2), (16, 144, 4, 0.1, 3),
     (64, 144, 10, 0.2, 4), (8, 100, 2, 0.3, 5), (40, 60, 1, 1.0, 6)],
)
def test_evbmf_recovers_a_planted_rank(rows, cols, rank, noise, seed):
    res = evbmf(planted(rows, cols, rank, noise, seed))
    assert res.rank == rank
    assert res.sigma2 == pytest.approx(noise**2, rel=0.25)
    assert res.singular_values[rank - 1] > res.threshold > res.singular_values[rank]


def test_evbmf_finds_nothing_in_pure_noise_and_in_zeros():
    assert evbmf(np.random.default_rng(7).standard_normal((30, 50))).rank == 0
    zero = evbmf(np.zeros((4, 6)))
    assert zero.rank == 0 and zero.estimates.size == 0


def test_evbmf_with_known_variance_uses_the_paper_threshold_and_shrinkage():
    a = planted(12, 40, 3, 0.2, 8)
    res = evbmf(a, sigma2=0.04)
    el, m = 12, 40
    tau = evbmf_threshold_tau(el / m)
    assert res.threshold == pytest.approx(math.sqrt(m * 0.04 * (1 + tau) * (1 + el / m / tau)))
    s = res.singular_values[: res.rank]
    q = 1 - (el + m) * 0.04 / s**2
    want = s / 2 * (q + np.sqrt(q**2 - 4 * el * m * 0.04**2 / s**4))
    np.testing.assert_allclose(res.estimates, want)
    assert np.all(res.estimates < s) and np.all(res.estimates > 0)
    with pytest.raises(ValueError, match="sigma2"):
        evbmf(a, sigma2=-1.0)


def test_evbmf_noise_variance_minimises_the_free_energy():
    a = planted(25, 70, 4, 0.3, 9)
    res = evbmf(a)
    s2 = res.singular_values**2
    alpha = 25 / 70
    tau = evbmf_threshold_tau(alpha)
    xbar = (1 + tau) * (1 + alpha / tau)
    grid = np.geomspace(res.sigma2 / 50, res.sigma2 * 50, 5000)
    best = _free_energy(np.array([res.sigma2]), s2, 70, alpha, xbar)[0]
    assert best <= _free_energy(grid, s2, 70, alpha, xbar).min() + 1e-9


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 12), cols=st.integers(1, 12), seed=st.integers(0, 1000))
def test_evbmf_properties(rows, cols, seed):
    a = np.random.default_rng(seed).standard_normal((rows, cols))
    res = evbmf(a)
    assert 0 <= res.rank <= min(rows, cols)
    assert res.sigma2 > 0 and np.isfinite(res.threshold)
    assert evbmf(a.T).rank == res.rank
    assert evbmf(3.0 * a).rank == res.rank  # scale invariant
    kept = res.singular_values[: res.rank]
    assert np.all((res.estimates > 0) & (res.estimates <= kept))


# --------------------------------------------------------------------------- kernels


def tucker_kernel(ranks: tuple[int, int], noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    core = rng.standard_normal((ranks[0], ranks[1], 3, 3))
    out, inp = rng.standard_normal((32, ranks[0])), rng.standard_normal((24, ranks[1]))
    k = np.einsum("abhw,oa,ib->oihw", core, out, inp)
    return k + noise * rng.standard_normal(k.shape)


def test_unfold_is_the_one_unfolding_of_the_package():
    assert unfold is decompose.unfold
    k = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5)
    assert unfold(k, 0).shape == (2, 60)
    assert unfold(k, 1).shape == (3, 40)
    for o, i, y, x in np.ndindex(*k.shape):  # C order over the remaining axes
        assert unfold(k, 1)[i, (o * 4 + y) * 5 + x] == k[o, i, y, x]
    with pytest.raises(ValueError, match="mode must be below tensor.ndim = 4"):
        unfold(k, 4)
    with pytest.raises(ValueError, match="tensor must not be empty"):
        unfold(np.ones((3, 0, 2, 2)), 0)


def test_kernel_ranks_from_a_planted_tucker_kernel():
    k = tucker_kernel((5, 3), 0.05, 10)
    assert kernel_ranks_evbmf(k) == (5, 3)
    assert kernel_ranks_energy(k, 0.999) == (5, 3)
    r_out, r_in = kernel_ranks_energy(k, 0.5)
    assert r_out < 5 or r_in < 3
    assert cp_rank(kernel_ranks_evbmf(k)) == 5
    assert kernel_ranks_evbmf(np.zeros((4, 3, 3, 3))) == (1, 1)


def test_cp_rank_checks_its_argument():
    assert cp_rank((3, 7)) == 7
    with pytest.raises(TypeError, match="ranks must be a pair"):
        cp_rank(5)
    with pytest.raises(ValueError, match=r"ranks\[0\] must be >= 1"):
        cp_rank((0, 2))


# --------------------------------------------------------------------------- scale invariance

SCALES = [1e-200, 1.0, 1e100, 1e200]


@pytest.mark.parametrize("scale", SCALES)
def test_energy_rank_does_not_depend_on_the_scale(scale):
    assert energy_rank(np.eye(3) * scale, 0.9) == 3
    assert energy_rank(np.eye(2) * scale, 0.9) == 2
    assert energy_rank(np.diag([3.0, 2.0, 1.0, 0.0]) * scale, 13 / 14) == 2
    a = planted(10, 14, 3, 0.01, 12)
    assert [energy_rank(a * scale, f) for f in (0.5, 0.9, 0.999)] == \
        [energy_rank(a, f) for f in (0.5, 0.9, 0.999)]


@pytest.mark.parametrize("scale", SCALES)
def test_evbmf_does_not_depend_on_the_scale(scale):
    res = evbmf(np.diag([10.0, 0.1, 0.1, 0.1]) * scale)
    assert res.rank == 1
    a = planted(20, 50, 5, 0.1, 0)
    scaled = evbmf(a * scale)
    assert scaled.rank == 5
    np.testing.assert_allclose(scaled.singular_values / scale,
                               evbmf(a).singular_values, rtol=1e-12)
    assert scaled.threshold / scale == pytest.approx(evbmf(a).threshold, rel=1e-6)


def test_evbmf_with_known_variance_at_large_scale():
    a = planted(12, 40, 3, 0.2, 8)
    assert evbmf(a * 1e150, sigma2=0.04 * 1e300).rank == evbmf(a, sigma2=0.04).rank == 3
    assert evbmf(np.ones((2, 2)), sigma2=1e300).rank == 0  # no overflow, nothing kept
    tiny = evbmf(a, sigma2=1e-300)  # everything kept, barely shrunk
    assert tiny.rank == 12
    np.testing.assert_allclose(tiny.estimates, tiny.singular_values, rtol=1e-12)


# --------------------------------------------------------------------------- generated bad input

not_numbers = st.one_of(st.none(), st.text(max_size=3), st.booleans(), st.lists(st.none(),
                                                                                 max_size=2))


@settings(max_examples=40, deadline=None)
@given(fraction=st.one_of(st.floats(allow_nan=True, allow_infinity=True).filter(
    lambda f: not 0 < f <= 1), not_numbers))
def test_energy_rank_rejects_every_bad_fraction(fraction):
    exc = ValueError if isinstance(fraction, float) else TypeError
    with pytest.raises(exc, match="fraction must be"):
        energy_rank(np.eye(3), fraction)


@settings(max_examples=40, deadline=None)
@given(sigma2=st.one_of(st.floats().filter(lambda f: not (f > 0 and math.isfinite(f))),
                        st.text(max_size=3), st.booleans()))
def test_evbmf_rejects_every_bad_sigma2(sigma2):
    exc = ValueError if isinstance(sigma2, float) else TypeError
    with pytest.raises(exc, match="sigma2 must be"):
        evbmf(np.eye(3), sigma2)


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(0, 3), min_size=0, max_size=4),
       bad=st.sampled_from(["ndim", "empty", "nan", "dtype"]))
def test_matrix_functions_reject_generated_bad_matrices(shape, bad):
    if bad == "ndim":
        if len(shape) == 2:
            shape = [*shape, 1]
        arr, match = np.ones([max(n, 1) for n in shape]), "matrix must have 2 dimensions"
    elif bad == "empty":
        arr, match = np.ones((shape[0] if shape else 0, 0)), "matrix must not be empty"
    elif bad == "nan":
        arr, match = np.full((2, 3), np.nan), "matrix must be finite"
    else:
        arr, match = np.array([["a", "b"]]), "matrix must be a real numeric array"
    exc = TypeError if bad == "dtype" else ValueError
    for call in (lambda: energy_rank(arr, 0.5), lambda: evbmf(arr)):
        with pytest.raises(exc, match=match):
            call()
