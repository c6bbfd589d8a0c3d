"""Choosing the rank of a factorized layer from its kernel.

Introduced in chapter 7 (a trained network). Two rules, both applied to the kernel's unfoldings
(the ``C_out x (C_in kh kw)`` and ``C_in x (C_out kh kw)`` matrices):

- the **energy rule** keeps the smallest rank whose singular values hold a given fraction of the
  squared Frobenius norm (:func:`energy_rank`);
- **EVBMF**, the analytic empirical variational Bayesian matrix factorization of Nakajima et al.
  (JMLR 2013), estimates the noise variance from the singular values themselves and keeps the
  components that stand above the noise (:func:`evbmf`). Kim et al. (ICLR 2016) used it to pick
  Tucker-2 ranks of trained layers.

For a CP layer a single rank is needed; :func:`cp_rank` takes the larger of the two channel ranks,
a common convention (a CP rank is never below either unfolding's rank).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lrconv._validate import (
    as_array,
    check_finite,
    check_float,
    check_int,
    check_ndim,
    check_nonempty,
)
from lrconv.decompose import _check_kernel, unfold  # one kernel check, one unfolding

__all__ = [
    "EVBMFResult",
    "cp_rank",
    "energy_rank",
    "evbmf",
    "evbmf_threshold_tau",
    "kernel_ranks_energy",
    "kernel_ranks_evbmf",
    "unfold",
]


def _check_matrix(matrix: object, name: str = "matrix") -> np.ndarray:
    arr = as_array(matrix, name)
    check_ndim(arr, name, (2,), "(rows, columns)")
    check_nonempty(arr, name)
    check_finite(arr, name)
    return arr.astype(np.float64)


# Matrices whose largest entry lies outside [2**-_SAFE_EXP, 2**_SAFE_EXP] are rescaled by a power
# of two before their singular values are squared, so that the squares neither underflow nor
# overflow; inside the range nothing is rescaled (power-of-two scaling is exact in any case).
_SAFE_EXP = 200


def _binary_scale(a: np.ndarray) -> int:
    """The exponent ``e`` such that ``a * 2**-e`` has entries of moderate size (0 if they
    already are, or if ``a`` is zero)."""
    peak = float(np.max(np.abs(a)))
    if peak == 0.0 or 2.0**-_SAFE_EXP <= peak <= 2.0**_SAFE_EXP:
        return 0
    return int(np.frexp(peak)[1])


def energy_rank(matrix: object, fraction: float) -> int:
    """Smallest rank whose singular values keep ``fraction`` of the squared Frobenius norm.

    Introduced in chapter 7. With singular values ``s_1 >= s_2 >= ...`` the result is the
    smallest ``r`` with ``s_1^2 + ... + s_r^2 >= fraction * sum_h s_h^2``; by Eckart-Young the
    best rank-``r`` approximation then has relative squared error at most ``1 - fraction``.

    Parameters
    ----------
    matrix : array_like, shape (L, M)
        Finite real matrix.
    fraction : float
        In ``(0, 1]``.

    Returns
    -------
    int
        Between 1 and ``min(L, M)``; 0 for an all-zero matrix. The same for ``c * matrix`` at
        any scale ``c != 0`` (very large or very small matrices are rescaled by a power of two
        before the singular values are squared).
    """
    a = _check_matrix(matrix)
    fraction = check_float(fraction, "fraction", minimum=0.0, strict=True, maximum=1.0)
    a = np.ldexp(a, -_binary_scale(a))  # the rank does not depend on the scale
    s2 = np.linalg.svd(a, compute_uv=False) ** 2
    total = float(s2.sum())
    if total == 0.0:
        return 0
    kept = np.cumsum(s2) / total
    # a relative slack of 1e-12 so that fraction=1 is met at the numerical rank, not beyond
    return int(min(np.searchsorted(kept, fraction - 1e-12) + 1, s2.size))


def evbmf_threshold_tau(alpha: float) -> float:
    """The constant ``tau`` of the EVB threshold for aspect ratio ``alpha = L / M`` (chapter 7).

    It is the positive zero of ``log(t + 1) + alpha * log(t / alpha + 1) - t`` (Nakajima et al.
    2013), found by bisection; ``2.5129 * sqrt(alpha)`` is a close approximation.
    """
    alpha = check_float(alpha, "alpha", minimum=0.0, strict=True, maximum=1.0)

    def xi(t: float) -> float:
        return math.log1p(t) + alpha * math.log1p(t / alpha) - t

    lo, hi = 1e-9, 10.0  # xi > 0 just above 0 and xi(10) < 0 for every alpha in (0, 1]
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if xi(mid) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class EVBMFResult:
    """What :func:`evbmf` returns (chapter 7).

    Attributes
    ----------
    rank : int
        Number of singular values above the EVB threshold.
    sigma2 : float
        The noise variance used (estimated unless given).
    threshold : float
        ``sqrt(M sigma2 (1 + tau)(1 + alpha / tau))``: singular values above it are kept.
    singular_values : ndarray
        All singular values of the matrix, decreasing.
    estimates : ndarray
        The EVB estimates of the kept singular values (each shrunk below the observed one).
    """

    rank: int
    sigma2: float
    threshold: float
    singular_values: np.ndarray
    estimates: np.ndarray


def _psi1(x: np.ndarray, alpha: float) -> np.ndarray:
    """``log(tau + 1) + alpha log(tau / alpha + 1) - tau`` with ``tau = tau(x; alpha)``."""
    b = x - (1.0 + alpha)
    t = 0.5 * (b + np.sqrt(np.maximum(b * b - 4.0 * alpha, 0.0)))
    return np.log1p(t) + alpha * np.log1p(t / alpha) - t


def _free_energy(sigma2: np.ndarray, s2: np.ndarray, m: int, alpha: float, xbar: float):
    """The EVB free energy as a function of the noise variance, up to terms free of it.

    ``sum_h [x_h + log sigma2 + theta(x_h > xbar) psi1(x_h)]`` with ``x_h = s_h^2 / (M sigma2)``
    (the ``-log s_h^2`` of ``psi0`` is constant and dropped, so zero singular values are fine).
    Vectorised over an array of ``sigma2``.
    """
    x = s2[None, :] / (m * sigma2[:, None])
    big = x > xbar
    extra = np.where(big, _psi1(np.where(big, x, xbar + 1.0), alpha), 0.0)
    return np.sum(x + extra, axis=1) + s2.size * np.log(sigma2)


def _minimise_sigma2(s2, m, alpha, xbar, lower, upper) -> float:
    """Global search on a log grid, then golden-section refinement around the best point."""
    grid = np.geomspace(lower, upper, 400)
    values = _free_energy(grid, s2, m, alpha, xbar)
    i = int(np.argmin(values))
    a, b = np.log(grid[max(i - 1, 0)]), np.log(grid[min(i + 1, grid.size - 1)])
    g = (math.sqrt(5.0) - 1.0) / 2.0

    def f(log_s: float) -> float:
        return float(_free_energy(np.array([math.exp(log_s)]), s2, m, alpha, xbar)[0])

    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(60):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    best = math.exp(0.5 * (a + b))
    return best if f(math.log(best)) <= values[i] else float(grid[i])


def evbmf(matrix: object, sigma2: float | None = None) -> EVBMFResult:
    """Analytic empirical variational Bayesian matrix factorization (Nakajima et al. 2013).

    Introduced in chapter 7. For an ``L x M`` matrix (transposed first if ``L > M``) with
    singular values ``s_h`` and ``alpha = L / M``, the EVB solution keeps component ``h`` when

    ``s_h > sqrt(M sigma2 (1 + tau)(1 + alpha / tau))``

    (``tau`` from :func:`evbmf_threshold_tau`) and shrinks it to
    ``s_h / 2 * (1 - (L + M) sigma2 / s_h^2 + sqrt((1 - (L + M) sigma2 / s_h^2)^2
    - 4 L M sigma2^2 / s_h^4))``. When ``sigma2`` is not given it is the minimiser of the EVB free
    energy over the interval the paper proves contains it, found by a log-grid search refined by
    golden sections (deterministic; numpy only).

    Parameters
    ----------
    matrix : array_like, shape (L, M)
        Finite real matrix.
    sigma2 : float, optional
        Known noise variance (> 0). Estimated when omitted.

    Returns
    -------
    EVBMFResult
        The rank is the same for ``c * matrix`` at any scale ``c != 0``: the work is done on the
        matrix rescaled by a power of two, and ``sigma2``, ``threshold``, ``singular_values``
        and ``estimates`` are reported in the matrix's own units (``sigma2`` becomes ``inf`` or
        0 when the squared scale lies outside the floating-point range).
    """
    a = _check_matrix(matrix)
    given = None if sigma2 is None else check_float(sigma2, "sigma2", minimum=0.0, strict=True)
    if a.shape[0] > a.shape[1]:
        a = a.T
    el, m = a.shape
    alpha = el / m
    e = _binary_scale(a)  # work on a * 2**-e; s scales by 2**e, sigma2 by 4**e
    s = np.linalg.svd(np.ldexp(a, -e), compute_uv=False)
    s2 = s**2
    tau = evbmf_threshold_tau(alpha)
    xbar = (1.0 + tau) * (1.0 + alpha / tau)
    if given is None:
        upper = float(s2.sum()) / (el * m)
        if upper == 0.0:  # an all-zero matrix: nothing to keep
            return EVBMFResult(0, 0.0, 0.0, s, np.zeros(0))
        h_bar = min(math.ceil(el / (1.0 + alpha)) - 1, el)
        lower = max(s2[h_bar] / (m * xbar) if h_bar < el else 0.0,
                    float(np.mean(s2[h_bar:])) / m if h_bar < el else 0.0)
        lower = min(max(lower, 1e-12 * upper), upper)
        sigma2 = _minimise_sigma2(s2, m, alpha, xbar, lower, upper) if lower < upper else upper
    else:
        with np.errstate(over="ignore", under="ignore"):
            sigma2 = float(np.ldexp(given, -2 * e))
    sigma2 = float(sigma2)
    threshold = math.sqrt(m * sigma2 * xbar)
    kept = s[s > threshold]
    t = sigma2 / kept**2  # below 1 / (M xbar) for every kept value, so nothing overflows
    q = 1.0 - (el + m) * t
    estimates = kept / 2.0 * (q + np.sqrt(np.maximum(q**2 - 4.0 * el * m * t**2, 0.0)))
    with np.errstate(over="ignore", under="ignore"):  # back to the matrix's own scale
        sigma2 = given if given is not None else float(np.ldexp(sigma2, 2 * e))
        return EVBMFResult(int(kept.size), sigma2, float(np.ldexp(threshold, e)),
                           np.ldexp(s, e), np.ldexp(estimates, e))


def kernel_ranks_energy(kernel: object, fraction: float) -> tuple[int, int]:
    """``(R_out, R_in)``: :func:`energy_rank` of the mode-0 and mode-1 unfoldings (chapter 7).

    Each is at least 1 (a zero kernel still gets a rank-1 layer).
    """
    k = _check_kernel(kernel)
    return (max(energy_rank(unfold(k, 0), fraction), 1),
            max(energy_rank(unfold(k, 1), fraction), 1))


def kernel_ranks_evbmf(kernel: object) -> tuple[int, int]:
    """``(R_out, R_in)``: EVBMF ranks of the mode-0 and mode-1 unfoldings (chapter 7).

    The rule Kim et al. (2016) use for Tucker-2 ranks. Each is at least 1.
    """
    k = _check_kernel(kernel)
    return max(evbmf(unfold(k, 0)).rank, 1), max(evbmf(unfold(k, 1)).rank, 1)


def cp_rank(ranks: tuple[int, int]) -> int:
    """One CP rank from a pair of channel ranks: their maximum (chapter 7).

    A rank-``R`` CP kernel has unfoldings of rank at most ``R``, so ``R`` must be at least both
    channel ranks for the CP form to keep what each unfolding keeps.
    """
    if not isinstance(ranks, (tuple, list)) or len(ranks) != 2:
        raise TypeError(f"ranks must be a pair (R_out, R_in) of ints; received {ranks!r}")
    return max(check_int(ranks[0], "ranks[0]", 1), check_int(ranks[1], "ranks[1]", 1))
