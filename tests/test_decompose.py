"""Tests of lrconv.decompose: CP by ALS, Tucker-2 by HOSVD/HOOI, per-slice SVD."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrconv.decompose import (
    ConvergenceWarning,
    CPFactors,
    SliceSVDFactors,
    Tucker2Factors,
    cp_als,
    cp_decompose,
    cp_to_kernel,
    khatri_rao,
    relative_error,
    slice_svd_decompose,
    slice_svd_to_kernel,
    tucker2_decompose,
    tucker2_to_kernel,
    unfold,
)

tl = pytest.importorskip("tensorly")
from tensorly.decomposition import parafac, partial_tucker  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402


@pytest.fixture
def one_blas_thread():
    """Run TensorLy with one BLAS thread, as cp_decompose runs: fair, and on a busy machine
    much faster than threads waiting for each other."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def planted_cp(shape, rank, seed=0):
    rng = np.random.default_rng(seed)
    return CPFactors(*(rng.standard_normal((n, rank)) for n in shape))


def loop_cp_kernel(f):
    """Plain sum of outer products, the reference for the einsum convention."""
    k = np.zeros((f.out.shape[0], f.inp.shape[0], f.vertical.shape[0], f.horizontal.shape[0]))
    for r in range(f.out.shape[1]):
        k += np.multiply.outer(
            np.multiply.outer(f.out[:, r], f.inp[:, r]),
            np.multiply.outer(f.vertical[:, r], f.horizontal[:, r]),
        )
    return k


# ---------------------------------------------------------------- conventions


def test_cp_to_kernel_convention():
    f = planted_cp((4, 3, 2, 5), 3)
    k = cp_to_kernel(f)
    assert k.shape == (4, 3, 2, 5)
    np.testing.assert_allclose(k, loop_cp_kernel(f), atol=1e-12)
    np.testing.assert_allclose(
        k, np.einsum("or,ir,hr,wr->oihw", f.out, f.inp, f.vertical, f.horizontal), atol=1e-12)


def test_tucker2_to_kernel_convention():
    rng = np.random.default_rng(1)
    f = Tucker2Factors(rng.standard_normal((2, 3, 3, 2)), rng.standard_normal((5, 2)),
                       rng.standard_normal((4, 3)))
    k = tucker2_to_kernel(f)
    ref = np.zeros((5, 4, 3, 2))
    for a in range(2):
        for b in range(3):
            ref += np.multiply.outer(np.outer(f.out[:, a], f.inp[:, b]), f.core[a, b])
    np.testing.assert_allclose(k, ref, atol=1e-12)


def test_slice_svd_convention_and_optimality():
    k = np.random.default_rng(2).standard_normal((3, 2, 4, 3))
    f = slice_svd_decompose(k, 2)
    assert f.columns.shape == (3, 2, 4, 2) and f.rows.shape == (3, 2, 2, 3)
    approx = slice_svd_to_kernel(f)
    for o in range(3):
        for i in range(2):
            np.testing.assert_allclose(approx[o, i], f.columns[o, i] @ f.rows[o, i], atol=1e-12)
            s = np.linalg.svd(k[o, i], compute_uv=False)  # Eckart-Young, slice by slice
            assert np.linalg.norm(k[o, i] - approx[o, i]) == pytest.approx(s[2], rel=1e-9)
    full = slice_svd_decompose(k, 3)
    np.testing.assert_allclose(slice_svd_to_kernel(full), k, atol=1e-12)


@pytest.mark.filterwarnings("ignore::lrconv.decompose.ConvergenceWarning")  # not the point here
def test_named_fields_and_ranks():
    f = cp_decompose(np.random.default_rng(0).standard_normal((4, 3, 3, 2)), 2)
    assert f.out.shape == (4, 2) and f.inp.shape == (3, 2)
    assert f.vertical.shape == (3, 2) and f.horizontal.shape == (2, 2) and f.rank == 2
    t = tucker2_decompose(np.ones((4, 3, 2, 2)), (2, 1))
    assert t.core.shape == (2, 1, 2, 2) and t.out.shape == (4, 2) and t.inp.shape == (3, 1)
    assert t.ranks == (2, 1)
    s = slice_svd_decompose(np.ones((2, 2, 3, 3)), 1)
    assert isinstance(s, SliceSVDFactors) and s.rank == 1


# ---------------------------------------------------------------- CP-ALS


@pytest.mark.parametrize(("shape", "rank", "seed"), [
    ((16, 8, 3, 3), 5, 0), ((6, 5, 3, 3), 3, 1), ((10, 10, 5, 5), 4, 2), ((8, 6, 3, 1), 2, 3),
])
def test_planted_rank_is_recovered(shape, rank, seed):
    k = cp_to_kernel(planted_cp(shape, rank, seed))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        f = cp_decompose(k, rank)
    assert relative_error(k, cp_to_kernel(f)) < 1e-6


@pytest.mark.filterwarnings("ignore::lrconv.decompose.ConvergenceWarning")  # not the point here
def test_factors_are_normalised_and_sorted():
    k = np.random.default_rng(3).standard_normal((6, 5, 3, 3))
    f = cp_decompose(k, 4, max_iter=50, tol=1e-6)
    for m in (f.inp, f.vertical, f.horizontal):
        np.testing.assert_allclose(np.linalg.norm(m, axis=0), 1.0, atol=1e-12)
        assert np.all(m[np.argmax(np.abs(m), axis=0), np.arange(4)] > 0)
    weights = np.linalg.norm(f.out, axis=0)
    assert np.all(np.diff(weights) <= 1e-12)


@pytest.mark.filterwarnings("ignore::lrconv.decompose.ConvergenceWarning")  # not the point here
def test_error_history_decreases_and_matches_the_result():
    k = np.random.default_rng(4).standard_normal((8, 6, 3, 3))
    res = cp_als(k, 5, max_iter=200, tol=1e-9)
    assert np.all(np.diff(res.errors) <= 1e-10)  # ALS never increases the error
    assert res.errors[-1] == pytest.approx(relative_error(k, cp_to_kernel(res.factors)),
                                           rel=1e-8)
    assert res.weights.shape == res.errors.shape and res.n_iter == res.errors.size


def test_deterministic_for_a_seed():
    k = np.random.default_rng(5).standard_normal((4, 3, 2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        f1 = cp_decompose(k, 6, seed=7, max_iter=30)
        f2 = cp_decompose(k, 6, seed=7, max_iter=30)
        f3 = cp_decompose(k, 6, seed=8, max_iter=30)
    for a, b in zip(f1, f2, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(f1, f3, strict=True))


@pytest.mark.parametrize("shape", [(2, 3, 3, 3), (1, 1, 1, 1), (4, 2, 3, 1)])
@pytest.mark.parametrize("rank", [1, 7])
def test_zero_kernel_gives_finite_zero_factors(shape, rank):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = cp_decompose(np.zeros(shape), rank)
    assert all(np.all(np.isfinite(m)) for m in f)
    assert f.out.shape == (shape[0], rank)
    np.testing.assert_array_equal(cp_to_kernel(f), 0.0)


@given(seed=st.integers(0, 10_000), extra=st.integers(1, 6))
@settings(max_examples=25, deadline=None)
def test_rank_above_every_mode_is_finite_and_accurate(seed, extra):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(1, 4, size=4))
    k = rng.standard_normal(shape)
    # the CP rank is at most the product of the three smallest mode sizes
    bound = int(np.prod(sorted(shape)[:3]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small = cp_decompose(k, max(shape) + extra, max_iter=100)
        big = cp_decompose(k, bound + extra, max_iter=500)
    assert all(np.all(np.isfinite(m)) for m in (*small, *big))
    assert relative_error(k, cp_to_kernel(big)) < 1e-4


def test_tiny_and_huge_scales_give_the_same_relative_fit():
    k = np.random.default_rng(6).standard_normal((5, 4, 3, 3))
    base = cp_decompose(k, 3, max_iter=100, tol=1e-8)
    for s in (1e-300, 1e-150, 1e150, 1e300):
        f = cp_decompose(k * s, 3, max_iter=100, tol=1e-8)
        assert all(np.all(np.isfinite(m)) for m in f)
        np.testing.assert_allclose(f.out / s, base.out, rtol=1e-6, atol=1e-9)


def test_warns_when_not_converged_and_not_otherwise():
    k = np.random.default_rng(7).standard_normal((6, 5, 3, 3))
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        res = cp_als(k, 4, max_iter=3)
    assert not res.converged and res.n_iter == 3
    assert issubclass(ConvergenceWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cp_als(k, 4, max_iter=2000, tol=1e-6).converged


@pytest.mark.filterwarnings("ignore::lrconv.decompose.ConvergenceWarning")  # not the point here
@pytest.mark.parametrize(("shape", "rank"), [((8, 8, 4, 4), 4), ((16, 12, 5, 5), 5),
                                             ((10, 9, 3, 3), 3)])
def test_as_accurate_as_tensorly_from_the_same_svd_start(shape, rank, one_blas_thread):
    # rank <= every mode: both start from the same SVD factors, no random columns involved
    k = np.random.default_rng(1).standard_normal(shape)
    ours = relative_error(k, cp_to_kernel(cp_decompose(k, rank)))
    ref = parafac(tl.tensor(k), rank, init="svd", random_state=0)
    assert ours <= relative_error(k, tl.cp_to_tensor(ref)) + 1e-9


@pytest.mark.parametrize(("seed", "shape", "rank"), [(1, (6, 6, 3, 3), 8),
                                                      (2, (16, 8, 3, 3), 10)])
def test_as_accurate_as_tensorly_with_random_padding(seed, shape, rank, one_blas_thread):
    # rank > kh, kw: both pad the start with random columns, so compare medians over seeds
    k = np.random.default_rng(seed).standard_normal(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = [relative_error(k, cp_to_kernel(cp_decompose(k, rank, seed=s))) for s in range(5)]
        theirs = [relative_error(k, tl.cp_to_tensor(
            parafac(tl.tensor(k), rank, init="svd", random_state=s))) for s in range(5)]
    assert np.median(ours) <= np.median(theirs) + 1e-9


def test_accuracy_on_a_layer_sized_kernel(one_blas_thread):
    k = np.random.default_rng(0).standard_normal((64, 64, 3, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = cp_decompose(k, 32)
        ref = parafac(tl.tensor(k), 32, init="svd", random_state=0)
    assert relative_error(k, cp_to_kernel(f)) <= relative_error(k, tl.cp_to_tensor(ref))


# ---------------------------------------------------------------- Tucker-2


def test_tucker2_is_exact_at_full_ranks():
    k = np.random.default_rng(8).standard_normal((5, 4, 3, 2))
    f = tucker2_decompose(k, (5, 4))
    assert relative_error(k, tucker2_to_kernel(f)) < 1e-12
    np.testing.assert_allclose(f.out.T @ f.out, np.eye(5), atol=1e-12)


@given(seed=st.integers(0, 10_000))
@settings(max_examples=30, deadline=None)
def test_tucker2_never_worse_at_a_higher_rank(seed):
    rng = np.random.default_rng(seed)
    c_out, c_in = (int(n) for n in rng.integers(2, 7, size=2))
    k = rng.standard_normal((c_out, c_in, 3, 3))
    errors = {}
    for r_out in range(1, c_out + 1):
        for r_in in range(1, c_in + 1):
            f = tucker2_decompose(k, (r_out, r_in))
            np.testing.assert_allclose(f.inp.T @ f.inp, np.eye(r_in), atol=1e-10)
            errors[r_out, r_in] = relative_error(k, tucker2_to_kernel(f))
    for (a, b), e in errors.items():
        if a < c_out:
            assert errors[a + 1, b] <= e + 1e-10
        if b < c_in:
            assert errors[a, b + 1] <= e + 1e-10


@pytest.mark.parametrize("ranks", [(1, 1), (2, 3), (4, 2)])
def test_tucker2_as_accurate_as_tensorly(ranks, one_blas_thread):
    k = np.random.default_rng(9).standard_normal((6, 5, 3, 3))
    ours = relative_error(k, tucker2_to_kernel(tucker2_decompose(k, ranks)))
    (core, (u_out, u_in)), _ = partial_tucker(tl.tensor(k), rank=list(ranks), modes=[0, 1],
                                              init="svd")
    theirs = relative_error(k, np.einsum("abhw,oa,ib->oihw", core, u_out, u_in))
    assert ours <= theirs + 1e-9


def test_tucker2_hooi_improves_on_hosvd():
    k = np.random.default_rng(10).standard_normal((8, 8, 3, 3))
    hosvd = relative_error(k, tucker2_to_kernel(tucker2_decompose(k, (2, 2), max_iter=0)))
    hooi = relative_error(k, tucker2_to_kernel(tucker2_decompose(k, (2, 2))))
    assert hooi < hosvd


def test_tucker2_zero_kernel_is_finite():
    f = tucker2_decompose(np.zeros((3, 2, 2, 2)), (2, 2))
    assert all(np.all(np.isfinite(m)) for m in f)
    np.testing.assert_array_equal(tucker2_to_kernel(f), 0.0)


# ---------------------------------------------------------------- bad inputs

GOOD = np.ones((3, 2, 3, 3))


@pytest.mark.parametrize(("call", "exc", "match"), [
    (lambda: cp_decompose(np.ones((3, 3, 3)), 2), ValueError, "kernel must have 4"),
    (lambda: cp_decompose(GOOD, 0), ValueError, "rank must be >= 1"),
    (lambda: cp_decompose(GOOD, 2.0), TypeError, "rank must be an integer"),
    (lambda: cp_decompose(GOOD, True), TypeError, "rank must be an integer"),
    (lambda: cp_decompose(np.full((2, 2, 2, 2), np.nan), 1), ValueError, "kernel must be finite"),
    (lambda: cp_decompose(np.array([[[[1, np.inf]]]]), 1), ValueError, "kernel must be finite"),
    (lambda: cp_decompose(np.zeros((0, 2, 3, 3)), 1), ValueError, "kernel must not be empty"),
    (lambda: cp_decompose(np.array([[[["a"]]]]), 1), TypeError, "kernel must be a real"),
    (lambda: cp_decompose(GOOD, 2, max_iter=0), ValueError, "max_iter"),
    (lambda: cp_decompose(GOOD, 2, tol=-1.0), ValueError, "tol"),
    (lambda: cp_decompose(GOOD, 2, seed=-1), ValueError, "seed"),
    (lambda: tucker2_decompose(GOOD, 2), TypeError, "ranks must be a pair"),
    (lambda: tucker2_decompose(GOOD, (4, 1)), ValueError, r"ranks\[0\] \(R_out\) must be between"),
    (lambda: tucker2_decompose(GOOD, (1, 3)), ValueError, r"ranks\[1\] \(R_in\) must be between"),
    (lambda: tucker2_decompose(GOOD, (0, 1)), ValueError, r"ranks\[0\]"),
    (lambda: tucker2_decompose(GOOD, (1, 1.5)), TypeError, r"ranks\[1\]"),
    (lambda: tucker2_decompose(np.ones((2, 2)), (1, 1)), ValueError, "kernel must have 4"),
    (lambda: tucker2_decompose(np.full(GOOD.shape, np.nan), (1, 1)), ValueError, "finite"),
    (lambda: slice_svd_decompose(GOOD, 4), ValueError, r"min\(kh, kw\) = 3"),
    (lambda: slice_svd_decompose(GOOD, 0), ValueError, "rank must be >= 1"),
    (lambda: cp_to_kernel((np.ones((3, 2)), np.ones((2, 3)), np.ones((3, 2)), np.ones((3, 2)))),
     ValueError, "CPFactors.inp must have 2 columns"),
    (lambda: cp_to_kernel((np.ones((3, 2)), np.ones((2, 2)))), TypeError, "CPFactors"),
    (lambda: cp_to_kernel((np.ones(3), np.ones((2, 1)), np.ones((3, 1)), np.ones((3, 1)))),
     ValueError, "CPFactors.out must have 2"),
    (lambda: tucker2_to_kernel((np.ones((2, 2, 3, 3)), np.ones((4, 3)), np.ones((3, 2)))),
     ValueError, "Tucker2Factors.out must have 2 columns"),
    (lambda: slice_svd_to_kernel((np.ones((2, 2, 3, 1)), np.ones((2, 3, 1, 3)))), ValueError,
     "SliceSVDFactors.rows must have shape"),
])
def test_bad_inputs_raise_clear_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("tol", [None, "a", float("nan"), float("inf"), -1e-3, True])
def test_tol_must_be_a_finite_number(tol):
    exc = TypeError if tol is None or isinstance(tol, (str, bool)) else ValueError
    with pytest.raises(exc, match="tol must be"):
        cp_decompose(GOOD, 2, tol=tol)
    with pytest.raises(exc, match="tol must be"):
        tucker2_decompose(GOOD, (1, 1), tol=tol)


def test_impossible_sizes_are_refused_before_allocating():
    with pytest.raises(ValueError, match=r"CP-ALS with rank=1000000000 .* above the 2 GiB"):
        cp_decompose(GOOD, 10**9)
    with pytest.raises(ValueError, match="Khatri-Rao product .* above the 2 GiB"):
        khatri_rao(np.broadcast_to(np.ones(()), (10**5, 2)), np.broadcast_to(np.ones(()),
                                                                            (10**5, 2)))


# ---------------------------------------------------------------- Tucker-2 shapes


def test_tucker2_ranks_above_the_other_modes_keep_their_shapes():
    t = tucker2_decompose(np.ones((2, 1, 1, 1)), (2, 1))  # R_out = 2 > C_in kh kw = 1
    assert t.core.shape == (2, 1, 1, 1) and t.out.shape == (2, 2) and t.inp.shape == (1, 1)
    np.testing.assert_allclose(t.out.T @ t.out, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(tucker2_to_kernel(t), np.ones((2, 1, 1, 1)), atol=1e-12)


@given(seed=st.integers(0, 10_000), c_out=st.integers(1, 7), c_in=st.integers(1, 7),
       kh=st.integers(1, 2), kw=st.integers(1, 2), iters=st.sampled_from([0, 3, 100]),
       data=st.data())
@settings(max_examples=40, deadline=None)
def test_tucker2_shapes_and_orthonormal_factors_for_every_rank(seed, c_out, c_in, kh, kw,
                                                               iters, data):
    r_out, r_in = data.draw(st.integers(1, c_out)), data.draw(st.integers(1, c_in))
    k = np.random.default_rng(seed).standard_normal((c_out, c_in, kh, kw))
    t = tucker2_decompose(k, (r_out, r_in), max_iter=iters)
    assert t.core.shape == (r_out, r_in, kh, kw)
    assert t.out.shape == (c_out, r_out) and t.inp.shape == (c_in, r_in)
    np.testing.assert_allclose(t.out.T @ t.out, np.eye(r_out), atol=1e-10)
    np.testing.assert_allclose(t.inp.T @ t.inp, np.eye(r_in), atol=1e-10)
    # orthonormal factors: ||K - K_hat||^2 = ||K||^2 - ||core||^2
    err_sq = np.sum((k - tucker2_to_kernel(t)) ** 2)
    assert err_sq == pytest.approx(np.sum(k**2) - np.sum(t.core**2), abs=1e-9)


# ---------------------------------------------------------------- unfold, khatri_rao


def test_unfold_and_khatri_rao_give_the_cp_identity():
    f = planted_cp((4, 3, 2, 5), 3, seed=11)
    k = cp_to_kernel(f)
    for mode, (first, *others) in enumerate([
        (f.out, f.inp, f.vertical, f.horizontal), (f.inp, f.out, f.vertical, f.horizontal),
        (f.vertical, f.out, f.inp, f.horizontal), (f.horizontal, f.out, f.inp, f.vertical),
    ]):
        np.testing.assert_allclose(unfold(k, mode), first @ khatri_rao(*others).T, atol=1e-12)
    kr = khatri_rao(f.inp, f.vertical)
    assert kr.shape == (6, 3)
    np.testing.assert_allclose(kr[1 * 2 + 1], f.inp[1] * f.vertical[1])
    np.testing.assert_allclose(kr.T @ kr, (f.inp.T @ f.inp) * (f.vertical.T @ f.vertical))


@pytest.mark.parametrize(("call", "exc", "match"), [
    (lambda: unfold(np.ones((2, 3)), 2), ValueError, "mode must be below"),
    (lambda: unfold(np.ones((2, 3)), -1), ValueError, "mode must be >= 0"),
    (lambda: khatri_rao(np.ones((2, 3)), np.ones((2, 2))), ValueError, "must have 3 columns"),
    (lambda: khatri_rao(np.ones(3)), ValueError, "matrices"),
    (lambda: khatri_rao(), TypeError, "at least one"),
])
def test_unfold_khatri_rao_bad_inputs(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---------------------------------------------------------------- generated bad inputs

DECOMPOSITIONS = [lambda k: cp_decompose(k, 1), lambda k: tucker2_decompose(k, (1, 1)),
                  lambda k: slice_svd_decompose(k, 1)]


@given(which=st.integers(0, 2), shape=st.lists(st.integers(0, 3), max_size=6),
       fill=st.sampled_from([1.0, np.nan, np.inf, -np.inf]), dtype=st.sampled_from(
           [np.float64, np.int64, np.complex128, np.bool_, object]))
@settings(max_examples=80, deadline=None)
def test_decompositions_refuse_generated_bad_kernels(which, shape, fill, dtype):
    if dtype in (np.int64, np.bool_) and not np.isfinite(fill):
        fill = 1.0
    kernel = np.full(shape, fill).astype(dtype) if dtype is not object else \
        np.full(shape, None, dtype=object)
    if dtype in (np.complex128, np.bool_, object):
        exc, match = TypeError, "kernel must be a real numeric array"
    elif len(shape) != 4:
        exc, match = ValueError, "kernel must have 4 dimensions"
    elif 0 in shape:
        exc, match = ValueError, "kernel must not be empty"
    elif not np.isfinite(fill):
        exc, match = ValueError, "kernel must be finite"
    else:
        return  # a valid kernel
    with pytest.raises(exc, match=match):
        DECOMPOSITIONS[which](kernel)


@given(rank=st.one_of(st.integers(max_value=0), st.floats(), st.text(max_size=2), st.none(),
                      st.booleans()))
@settings(max_examples=60, deadline=None)
def test_decompositions_refuse_generated_bad_ranks(rank):
    exc = ValueError if isinstance(rank, int) and not isinstance(rank, bool) else TypeError
    for call in (lambda: cp_decompose(GOOD, rank), lambda: slice_svd_decompose(GOOD, rank),
                 lambda: tucker2_decompose(GOOD, (1, rank))):
        with pytest.raises(exc, match="rank"):
            call()
