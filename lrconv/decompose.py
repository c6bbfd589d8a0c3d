"""Factorizations of a convolution kernel ``(C_out, C_in, kh, kw)``.

Introduced in chapter 5 (computing the factors); chapters 4 and 6 use its results.

- CP (canonical polyadic, rank ``R``): ``K[o, i, y, x] = sum_r out[o, r] inp[i, r] vertical[y, r]
  horizontal[x, r]``, computed by alternating least squares (:func:`cp_als`, :func:`cp_decompose`).
- Tucker-2 (ranks ``(R_out, R_in)``): ``K[o, i, y, x] = sum_{a, b} core[a, b, y, x] out[o, a]
  inp[i, b]``, computed by HOSVD and refined by HOOI (:func:`tucker2_decompose`).
- Per-slice SVD (rank ``r``): each 2-D filter ``K[o, i]`` is replaced by its best rank-``r``
  approximation ``columns[o, i] @ rows[o, i]`` (:func:`slice_svd_decompose`).

The factor types (:class:`CPFactors`, :class:`Tucker2Factors`, :class:`SliceSVDFactors`) live
in :mod:`lrconv.factors` and are re-exported here; this module holds the algorithms. Only numpy
is used (and threadpoolctl to keep BLAS to one thread during the ALS sweeps); every step is a
small function so that the book can show it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from lrconv._validate import (
    as_array,
    check_budget,
    check_finite,
    check_float,
    check_int,
    check_ndim,
    check_nonempty,
)
from lrconv.factors import (  # the factor types and their checks, re-exported
    CPFactors,
    SliceSVDFactors,
    Tucker2Factors,
    check_cp_factors,
    check_slice_svd_factors,
    check_tucker2_factors,
    cp_to_kernel,
    slice_svd_to_kernel,
    tucker2_to_kernel,
)

__all__ = [
    "CPFactors", "CPResult", "ConvergenceWarning", "SliceSVDFactors", "Tucker2Factors",
    "check_cp_factors", "check_slice_svd_factors", "check_tucker2_factors", "cp_als",
    "cp_decompose", "cp_to_kernel", "khatri_rao", "relative_error", "slice_svd_decompose",
    "slice_svd_to_kernel", "tucker2_decompose", "tucker2_to_kernel", "unfold",
]


class ConvergenceWarning(UserWarning):
    """An iterative decomposition stopped at ``max_iter`` before meeting its tolerance (ch. 5)."""


@dataclass(frozen=True)
class CPResult:
    """What :func:`cp_als` returns: the factors and the history of the iteration (chapter 5).

    Attributes
    ----------
    factors : CPFactors
        The fitted factors (see :func:`cp_decompose` for their normalisation).
    errors : ndarray, shape (n_iter,)
        Relative error ``||K - K_hat|| / ||K||`` after each sweep (0 for an all-zero kernel).
    weights : ndarray, shape (n_iter,)
        The largest component weight ``max_r |out[:, r]|`` after each sweep; it grows without
        bound when the fit degenerates.
    converged : bool
        Whether the change of the relative error fell below ``tol`` before ``max_iter``.
    """

    factors: CPFactors
    errors: np.ndarray
    weights: np.ndarray
    converged: bool

    @property
    def n_iter(self) -> int:
        """Number of sweeps run."""
        return int(self.errors.size)


def _check_kernel(kernel: object, name: str = "kernel") -> np.ndarray:
    arr = as_array(kernel, name)
    check_ndim(arr, name, (4,), "(C_out, C_in, kh, kw)")
    check_nonempty(arr, name)
    check_finite(arr, name)
    return arr.astype(np.float64)


def relative_error(kernel: object, approx: object) -> float:
    """``||kernel - approx||_F / ||kernel||_F``, or the absolute error for a zero kernel
    (chapter 5)."""
    k = np.asarray(as_array(kernel, "kernel"), dtype=np.float64)
    a = np.asarray(as_array(approx, "approx"), dtype=np.float64)
    if k.shape != a.shape:
        raise ValueError(f"approx must have the shape of kernel {k.shape}; received {a.shape}")
    norm = np.linalg.norm(k)
    diff = np.linalg.norm(k - a)
    return float(diff / norm) if norm > 0 else float(diff)


# --------------------------------------------------------------------------- CP by ALS


def _unfold(tensor: np.ndarray, mode: int) -> np.ndarray:
    return np.moveaxis(tensor, mode, 0).reshape(tensor.shape[mode], -1)


def unfold(tensor: object, mode: int) -> np.ndarray:
    """Mode-``mode`` unfolding (matricization) of a tensor (chapter 5).

    Row ``j`` holds every entry whose index along ``mode`` is ``j``; the other indices run
    along the columns in C order (the last one fastest). For a CP kernel,
    ``unfold(K, 0) == out @ khatri_rao(inp, vertical, horizontal).T``. Chapter 7 reads ranks
    from the singular values of ``unfold(K, 0)`` and ``unfold(K, 1)`` (as ``rank.unfold``,
    the same function).

    ``tensor`` is at least 1-D without an empty axis, ``0 <= mode < tensor.ndim``; the result
    has shape ``(tensor.shape[mode], size // tensor.shape[mode])`` and the tensor's dtype.
    """
    arr = as_array(tensor, "tensor")
    if arr.ndim < 1:
        raise ValueError("tensor must have at least 1 dimension; received a scalar")
    check_nonempty(arr, "tensor")
    mode = check_int(mode, "mode", 0)
    if mode >= arr.ndim:
        raise ValueError(f"mode must be below tensor.ndim = {arr.ndim}; received {mode}")
    return _unfold(arr, mode)


def _signs(u: np.ndarray) -> np.ndarray:
    """Per column, the sign (+1 or -1) of its entry of largest magnitude (+1 for zeros)."""
    signs = np.sign(u[np.argmax(np.abs(u), axis=0), np.arange(u.shape[1])])
    signs[signs == 0] = 1.0
    return signs


def _sign_fix(u: np.ndarray) -> np.ndarray:
    """Flip columns so that each column's entry of largest magnitude is positive."""
    return u * _signs(u)


def _leading_vectors(matrix: np.ndarray, count: int, complete: bool = True) -> np.ndarray:
    """The ``count`` leading left singular vectors of ``matrix`` (sign-fixed); at most as many
    as it has columns, unless ``complete``: then the full SVD's extra left singular vectors
    (orthogonal to the column space) make up ``min(count, rows)`` orthonormal columns."""
    u = np.linalg.svd(matrix, full_matrices=False)[0]
    if complete and count > u.shape[1]:
        rows = matrix.shape[0]
        check_budget(rows * rows, 8, f"the full SVD of a {rows} x {matrix.shape[1]} unfolding")
        u = np.linalg.svd(matrix, full_matrices=True)[0]
    return _sign_fix(u[:, :count])


# Singular values below this fraction of the largest are numerically zero: their singular
# vectors are round-off, which differs from one processor (and BLAS kernel) to another.
NULL_SINGULAR_VALUE = 1e-10


def _svd_init(kernel: np.ndarray, rank: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Leading left singular vectors of each unfolding; seeded random unit columns take the
    place of those beyond the mode's size or with a numerically zero singular value (whose
    direction is round-off), so the start is the same on every machine."""
    factors = []
    for mode, size in enumerate(kernel.shape):
        u, s, _ = np.linalg.svd(_unfold(kernel, mode), full_matrices=False)
        real = int(np.sum(s > NULL_SINGULAR_VALUE * s[0])) if s.size and s[0] > 0 else 0
        u = _sign_fix(u[:, :min(rank, real)])
        if rank > u.shape[1]:
            extra = rng.standard_normal((size, rank - u.shape[1]))
            extra /= np.linalg.norm(extra, axis=0)
            u = np.hstack([u, extra])
        factors.append(u)
    return factors


def _solve_gram(mttkrp: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """Solve ``X @ gram = mttkrp`` for ``X`` with a tiny ridge, so a singular (even zero) Gram
    matrix still gives a finite answer."""
    rank = gram.shape[0]
    scale = np.trace(gram) / rank
    ridge = 1e-12 * scale if scale > 0 else 1.0
    return np.linalg.solve(gram + ridge * np.eye(rank), mttkrp.T).T


def _normalise(factor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm columns and their norms; a zero column stays zero (its norm is 0)."""
    norms = np.linalg.norm(factor, axis=0)
    return factor / np.where(norms > 0, norms, 1.0), norms


def _khatri_rao(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a[:, None, :] * b[None, :, :]).reshape(-1, a.shape[1])


def khatri_rao(*matrices: object) -> np.ndarray:
    """Column-wise Kronecker product of matrices with the same number of columns (chapter 5).

    Row ``(i, j, ...)`` (C order, the last index fastest) is ``A[i] * B[j] * ...``: column ``r``
    is the flattened outer product of the ``r``-th columns. Its Gram matrix is the entrywise
    product of the Gram matrices, ``khatri_rao(A, B).T @ khatri_rao(A, B) == (A.T @ A) *
    (B.T @ B)``, which is what makes the ALS update cheap. Shape: (product of the row counts,
    R).
    """
    if not matrices:
        raise TypeError("khatri_rao needs at least one matrix")
    mats = []
    for k, m in enumerate(matrices):
        arr = as_array(m, f"matrices[{k}]")
        check_ndim(arr, f"matrices[{k}]", (2,), "(rows, R)")
        if mats and arr.shape[1] != mats[0].shape[1]:
            raise ValueError(f"matrices[{k}] must have {mats[0].shape[1]} columns like "
                             f"matrices[0]; received shape {arr.shape}")
        mats.append(arr)
    rows = int(np.prod([m.shape[0] for m in mats], dtype=object))
    check_budget(rows * mats[0].shape[1], np.result_type(*mats).itemsize,
                 "the Khatri-Rao product")
    result = mats[0]
    for m in mats[1:]:
        result = _khatri_rao(result, m)
    return result


def _canonical(weights: np.ndarray, factors: list[np.ndarray]) -> CPFactors:
    """Sort components by decreasing weight, make the largest entry of each ``inp``,
    ``vertical`` and ``horizontal`` column positive, and put the weights into ``out``."""
    order = np.argsort(-weights, kind="stable")
    weights = weights[order]
    out, inp, vertical, horizontal = (f[:, order] for f in factors)
    for f in (inp, vertical, horizontal):
        signs = _signs(f)
        f *= signs
        out *= signs
        dead = np.linalg.norm(f, axis=0) == 0  # a component that died: any unit vector will do
        f[0, dead] = 1.0
    return CPFactors(out * weights, inp, vertical, horizontal)


def cp_als(
    kernel: object,
    rank: int,
    *,
    max_iter: int = 500,
    tol: float = 1e-10,
    seed: int = 0,
) -> CPResult:
    """Rank-``rank`` CP decomposition by alternating least squares, with its history.

    Each sweep updates the four factors in turn. With the other three fixed, the best factor
    solves a linear least-squares problem whose normal equations are

    ``F_n @ (G_1 * G_2 * G_3) = K_(n) @ khatri_rao(others)``

    (``*`` the entrywise product of the other factors' Gram matrices ``G = F.T @ F``, all
    ``R x R``; ``K_(n)`` the mode-``n`` unfolding). For the two channel modes the Khatri-Rao
    product of the other three factors is small (``C_in kh kw x R`` for ``out``) and is formed;
    for the two spatial modes the kernel is first contracted with the channel factors, so the
    long ``C_out C_in kw x R`` product is never formed. Introduced in chapter 5.

    Parameters
    ----------
    kernel : array_like, shape (C_out, C_in, kh, kw)
        Finite real kernel.
    rank : int
        Number of rank-one components, ``>= 1`` (may exceed every mode size).
    max_iter : int
        Maximum number of sweeps.
    tol : float
        Stop when the relative error changes by less than ``tol`` in one sweep.
    seed : int
        Seeds the random columns that pad the SVD initialisation when ``rank`` exceeds a mode.

    Returns
    -------
    CPResult
        ``factors`` (as :func:`cp_decompose`), per-sweep ``errors`` and ``weights``, and
        ``converged``. Emits :class:`ConvergenceWarning` when ``max_iter`` is reached first.
    """
    return _cp_als(kernel, rank, max_iter, tol, seed)


def _cp_als(kernel: object, rank: int, max_iter: int, tol: float, seed: int) -> CPResult:
    """Checks, the zero-kernel case, then the sweeps (kept at the same call depth for both
    public entry points, so that the warning points at the caller's line)."""
    k = _check_kernel(kernel)
    rank = check_int(rank, "rank", 1)
    max_iter = check_int(max_iter, "max_iter", 1)
    seed = check_int(seed, "seed", 0)
    tol = check_float(tol, "tol", minimum=0.0)
    c_out, c_in, kh, kw = k.shape
    # the largest work arrays: R x R Gram matrices, Khatri-Rao products up to C_out C_in x R
    rows = max(rank, c_in * kh * kw, c_out * kh * kw, c_out * c_in)
    check_budget(rows * rank, 8, f"CP-ALS with rank={rank} on a kernel of shape {k.shape}")
    peak = float(np.max(np.abs(k)))
    if peak == 0.0:  # nothing to fit: all components zero
        rng = np.random.default_rng(seed)
        init = _svd_init(k, rank, rng)
        factors = _canonical(np.zeros(rank), [np.zeros((c_out, rank))] + init[1:])
        return CPResult(factors, np.zeros(1), np.zeros(1), True)
    # Work on a unit-norm kernel (dividing by the peak first, so that neither huge nor tiny
    # entries overflow); the scale goes back into `out` at the end.
    k = k / peak
    norm = float(np.linalg.norm(k))
    # One BLAS thread: a sweep multiplies small matrices, for which starting threads costs
    # more than it gives (on a busy machine, 10-20 times slower than one thread).
    with threadpool_limits(limits=1, user_api="blas"):
        return _cp_als_loop(k / norm, norm, peak, rank, max_iter, tol, seed)


def _cp_als_loop(
    k: np.ndarray, norm: float, peak: float, rank: int, max_iter: int, tol: float, seed: int
) -> CPResult:
    """The ALS sweeps of :func:`cp_als` on a unit-norm kernel ``k``; the original kernel is
    ``k * norm * peak``."""
    c_out, c_in, kh, kw = k.shape
    rng = np.random.default_rng(seed)
    a, b, c, d = _svd_init(k, rank, rng)
    k_o = k.reshape(c_out, -1)  # unfoldings, computed once
    k_i = _unfold(k, 1)
    k_oi_hw = k.reshape(c_out * c_in, kh * kw)

    errors, weights_hist = [], []
    converged = False
    weights = np.ones(rank)
    for _ in range(max_iter):
        # Modes 0 and 1: the Khatri-Rao product of the other modes is small (C_in kh kw x R).
        cd = _khatri_rao(c, d)
        gram_cd = (c.T @ c) * (d.T @ d)
        a, _ = _normalise(_solve_gram(k_o @ _khatri_rao(b, cd), gram_cd * (b.T @ b)))
        b, _ = _normalise(_solve_gram(k_i @ _khatri_rao(a, cd), gram_cd * (a.T @ a)))
        # Modes 2 and 3 share the contraction with the (out, inp) pair, then contract the other
        # small mode, so the long (C_out C_in kw x R) Khatri-Rao product is never formed.
        u = (_khatri_rao(a, b).T @ k_oi_hw).reshape(rank, kh, kw)
        gram_ab = (a.T @ a) * (b.T @ b)
        c, _ = _normalise(_solve_gram(np.einsum("rhw,wr->hr", u, d), gram_ab * (d.T @ d)))
        rhs_d = np.einsum("rhw,hr->wr", u, c)
        d_raw = _solve_gram(rhs_d, gram_ab * (c.T @ c))
        # ||K - K_hat||^2 = ||K||^2 - 2 <K, K_hat> + ||K_hat||^2, all from R x R quantities.
        inner = float(np.sum(rhs_d * d_raw))
        fit_sq = float(np.sum(gram_ab * (c.T @ c) * (d_raw.T @ d_raw)))
        err_sq = 1.0 - 2.0 * inner + fit_sq
        if err_sq < 1e-8:  # cancellation makes the cheap formula inaccurate near an exact fit
            err_sq = float(np.sum((k - np.einsum("or,ir,hr,wr->oihw", a, b, c, d_raw,
                                                 optimize=True)) ** 2))
        d, weights = _normalise(d_raw)
        errors.append(np.sqrt(max(err_sq, 0.0)))
        weights_hist.append(float(weights.max()) * norm * peak)
        if len(errors) > 1 and abs(errors[-2] - errors[-1]) < tol:
            converged = True
            break

    if not converged:
        change = abs(errors[-2] - errors[-1]) if len(errors) > 1 else float("nan")
        warnings.warn(
            f"CP-ALS stopped after max_iter={max_iter} sweeps without converging "
            f"(last change of the relative error {change:.2e} > tol={tol:.1e}; relative "
            f"error {errors[-1]:.3e}). Raise max_iter or tol to silence this.",
            ConvergenceWarning,
            stacklevel=4,
        )
    factors = _canonical(weights * norm * peak, [a, b, c, d])
    return CPResult(factors, np.asarray(errors), np.asarray(weights_hist), converged)


def cp_decompose(
    kernel: object,
    rank: int,
    *,
    max_iter: int = 500,
    tol: float = 1e-10,
    seed: int = 0,
) -> CPFactors:
    """Rank-``rank`` CP factors of a kernel by alternating least squares (chapter 5).

    ``cp_to_kernel(cp_decompose(K, R))`` approximates ``K`` with ``R`` rank-one terms
    ``out[:, r] ⊗ inp[:, r] ⊗ vertical[:, r] ⊗ horizontal[:, r]``. The start is the SVD of each
    unfolding (padded with random columns seeded by ``seed`` when the rank exceeds a mode), so
    the result is deterministic for a given seed.

    Parameters
    ----------
    kernel, rank, max_iter, tol, seed
        As for :func:`cp_als`.

    Returns
    -------
    CPFactors
        Normalised: the columns of ``inp``, ``vertical`` and ``horizontal`` have unit norm and
        their largest-magnitude entry positive; ``out`` carries the weights; components are
        sorted by decreasing weight. Never NaN for a finite kernel (zero kernels included).

    Warns
    -----
    ConvergenceWarning
        When ``max_iter`` sweeps end before the error settles to within ``tol``.
    """
    return _cp_als(kernel, rank, max_iter, tol, seed).factors


# --------------------------------------------------------------------------- Tucker-2


def _check_ranks(ranks: object, shape: tuple[int, ...]) -> tuple[int, int]:
    if not isinstance(ranks, (tuple, list)) or len(ranks) != 2:
        raise TypeError(f"ranks must be a pair (R_out, R_in) of ints; received {ranks!r} "
                        f"(type {type(ranks).__name__})")
    result = []
    for j, (label, size) in enumerate((("R_out", "C_out"), ("R_in", "C_in"))):
        r = check_int(ranks[j], f"ranks[{j}] ({label})", 1)
        if r > shape[j]:
            raise ValueError(f"ranks[{j}] ({label}) must be between 1 and {size} = "
                             f"{shape[j]}; received {r}")
        result.append(r)
    return result[0], result[1]


def _tucker2_core(kernel: np.ndarray, out: np.ndarray, inp: np.ndarray) -> np.ndarray:
    """Project the kernel on the channel subspaces: ``einsum('oihw,oa,ib->abhw')``."""
    return np.einsum("oihw,oa,ib->abhw", kernel, out, inp, optimize=True)


def tucker2_decompose(
    kernel: object,
    ranks: tuple[int, int],
    *,
    max_iter: int = 100,
    tol: float = 1e-12,
) -> Tucker2Factors:
    """Tucker-2 factors of a kernel: HOSVD start, HOOI refinement (chapter 5).

    ``out`` and ``inp`` have orthonormal columns: the HOSVD takes the leading left singular
    vectors of the mode-0 and mode-1 unfoldings; each HOOI sweep recomputes one of them from
    the kernel already projected on the other, which never increases the error. The core is
    the kernel projected on both. At full ranks ``(C_out, C_in)`` the factorization is exact.

    The shapes are always ``core (R_out, R_in, kh, kw)``, ``out (C_out, R_out)``, ``inp (C_in,
    R_in)``, even when a rank exceeds its unfolding's rank (say ``R_out > C_in kh kw``): an
    orthonormal basis of the rest of the space completes the factor, the core is zero there.

    Parameters
    ----------
    kernel : array_like, shape (C_out, C_in, kh, kw)
        Finite real kernel.
    ranks : (int, int)
        ``(R_out, R_in)`` with ``1 <= R_out <= C_out`` and ``1 <= R_in <= C_in``.
    max_iter : int
        Maximum number of HOOI sweeps (0 gives the plain truncated HOSVD).
    tol : float
        Stop when the squared relative error changes by less than ``tol`` in one sweep; a
        finite number ``>= 0``.

    Returns
    -------
    Tucker2Factors
    """
    k = _check_kernel(kernel)
    r_out, r_in = _check_ranks(ranks, k.shape)
    max_iter = check_int(max_iter, "max_iter", 0)
    tol = check_float(tol, "tol", minimum=0.0)
    out = _leading_vectors(_unfold(k, 0), r_out)
    inp = _leading_vectors(_unfold(k, 1), r_in)
    norm_sq = float(np.sum(k * k))
    captured = float(np.sum(_tucker2_core(k, out, inp) ** 2))
    for _ in range(max_iter):
        out = _leading_vectors(_unfold(np.einsum("oihw,ib->obhw", k, inp), 0), r_out)
        inp = _leading_vectors(_unfold(np.einsum("oihw,oa->aihw", k, out), 1), r_in)
        new = float(np.sum(_tucker2_core(k, out, inp) ** 2))
        done = norm_sq == 0 or abs(new - captured) <= tol * norm_sq
        captured = new
        if done:
            break
    return Tucker2Factors(_tucker2_core(k, out, inp), out, inp)


# --------------------------------------------------------------------------- per-slice SVD


def slice_svd_decompose(kernel: object, rank: int) -> SliceSVDFactors:
    """Best rank-``rank`` approximation of every 2-D filter ``K[o, i]`` by its SVD (chapter 5).

    Each filter becomes ``rank`` separable terms (a column filter times a row filter), so the
    layer runs as vertical then horizontal 1-D passes for every (output, input) pair.

    Parameters
    ----------
    kernel : array_like, shape (C_out, C_in, kh, kw)
    rank : int
        ``1 <= rank <= min(kh, kw)``.

    Returns
    -------
    SliceSVDFactors
        ``columns[o, i, :, j]`` is ``s_j u_j`` and ``rows[o, i, j, :]`` is ``v_j`` of the SVD of
        ``K[o, i]``.
    """
    k = _check_kernel(kernel)
    rank = check_int(rank, "rank", 1)
    limit = min(k.shape[2], k.shape[3])
    if rank > limit:
        raise ValueError(f"rank must be between 1 and min(kh, kw) = {limit} for a per-slice "
                         f"SVD; received {rank}")
    u, s, vt = np.linalg.svd(k, full_matrices=False)
    return SliceSVDFactors(u[..., :rank] * s[..., None, :rank], vt[..., :rank, :])
