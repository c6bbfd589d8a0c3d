"""Checkers for the coding exercises of chapters 5 (ALS, degeneracy) and 6 (measuring).

Each checker calls the reader's function on a few inputs, compares it with an independent
reference and returns a :class:`lrconv.exercises.CheckResult` that says right or wrong and why.
A stub that still raises ``NotImplementedError`` is reported as such, so the executed book stays
green. The references here are deliberately written another way than the solutions in the book:
least squares by :func:`numpy.linalg.lstsq` on the mode's unfolding, cosines of explicitly formed
rank-one terms, plain loops for the filters.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lrconv.exercises import CheckResult, run_check

__all__ = [
    "check_als_vertical_update",
    "check_median_ratio",
    "check_term_cosines",
    "check_vertical_filter",
    "vertical_update_reference",
]


def _random_factors(rng: np.random.Generator, shape: tuple[int, int, int, int],
                    rank: int) -> tuple[np.ndarray, ...]:
    return tuple(rng.normal(size=(n, rank)) for n in shape)


def vertical_update_reference(kernel: np.ndarray, factors: tuple[np.ndarray, ...]) -> np.ndarray:
    """The least-squares ``vertical`` factor for fixed ``out``, ``inp`` and ``horizontal``.

    Solves ``min_C ||K - sum_r out_r o inp_r o C_r o horizontal_r||_F`` with
    :func:`numpy.linalg.lstsq`, one ``kh`` row at a time: row ``y`` of ``C`` is the
    least-squares solution of ``M @ c = K[:, :, y, :].ravel()``, where column ``r`` of ``M`` is
    the flattened outer product ``out_r o inp_r o horizontal_r``. Chapter 5, exercise on the ALS
    update; returns shape ``(kh, R)``.
    """
    out, inp, _, horizontal = (np.asarray(f, dtype=float) for f in factors)
    k = np.asarray(kernel, dtype=float)
    rank = out.shape[1]
    design = np.stack([np.einsum("o,i,w->oiw", out[:, r], inp[:, r], horizontal[:, r]).ravel()
                       for r in range(rank)], axis=1)
    rows = [np.linalg.lstsq(design, k[:, :, y, :].ravel(), rcond=None)[0]
            for y in range(k.shape[2])]
    return np.array(rows)


def check_als_vertical_update(func: Callable[..., object]) -> CheckResult:
    """Chapter 5: ``func(kernel, factors)`` must return the ALS update of the ``vertical`` factor.

    ``kernel`` has shape ``(C_out, C_in, kh, kw)`` and ``factors`` is a 4-tuple (or
    ``CPFactors``) ``(out, inp, vertical, horizontal)``; the answer is the ``(kh, R)`` matrix
    that minimises the Frobenius error with the other three factors fixed. Cases include
    ``kh != kw``, a rank above ``kh`` and a kernel that is not of low rank.
    """
    rng = np.random.default_rng(51)
    cases = []
    for shape, rank in [((4, 3, 3, 3), 2), ((5, 4, 2, 3), 3), ((3, 6, 4, 2), 5),
                        ((6, 5, 3, 3), 4)]:
        cases.append(((rng.normal(size=shape), _random_factors(rng, shape, rank)), {}))
    return run_check(func, cases, vertical_update_reference,
                     what="least-squares update of the vertical factor")


def _term_cosines_reference(factors: tuple[np.ndarray, ...]) -> np.ndarray:
    terms = [np.einsum("o,i,h,w->oihw", *(np.asarray(f, dtype=float)[:, r] for f in factors))
             .ravel() for r in range(np.shape(factors[0])[1])]
    rank = len(terms)
    cos = np.empty((rank, rank))
    for r in range(rank):
        for s in range(rank):
            cos[r, s] = terms[r] @ terms[s] / (np.linalg.norm(terms[r]) * np.linalg.norm(terms[s]))
    return cos


def check_term_cosines(func: Callable[..., object]) -> CheckResult:
    """Chapter 5: ``func(factors)`` must return the ``R x R`` matrix of cosines between the
    rank-one terms of a CP kernel, each term ``out_r o inp_r o vertical_r o horizontal_r`` taken
    as one long vector. ``factors`` is a 4-tuple (or ``CPFactors``); no column is zero."""
    rng = np.random.default_rng(52)
    a, b = np.array([1.0, 0.0]), np.array([1.0, 1.0])
    n = 50.0
    u = a + b / n
    near_cancelling = (np.stack([n * u, -n * a], 1), np.stack([u, a], 1), np.stack([u, a], 1),
                       np.ones((1, 2)))
    cases = [((_random_factors(rng, (4, 3, 3, 3), 3),), {}),
             ((_random_factors(rng, (2, 5, 1, 4), 4),), {}),
             ((near_cancelling,), {}),
             ((_random_factors(rng, (3, 3, 2, 2), 1),), {})]
    return run_check(func, cases, _term_cosines_reference,
                     what="cosines between the rank-one terms", atol=1e-9)


def _vertical_filter_reference(x: np.ndarray, filters: np.ndarray, padding: int) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    filters = np.asarray(filters, dtype=float)
    c, h, w = x.shape
    kh = filters.shape[1]
    padded = np.zeros((c, h + 2 * padding, w))
    padded[:, padding:padding + h] = x
    h_out = h + 2 * padding - kh + 1
    y = np.zeros((c, h_out, w))
    for ch in range(c):
        for i in range(h_out):
            for j in range(w):
                y[ch, i, j] = sum(filters[ch, t] * padded[ch, i + t, j] for t in range(kh))
    return y


def check_vertical_filter(func: Callable[..., object]) -> CheckResult:
    """Chapter 6: ``func(x, filters, padding)`` must filter every column of channel ``c`` of
    ``x`` (shape ``(C, H, W)``) with ``filters[c]`` (shape ``(C, kh)``), cross-correlation with
    ``padding`` zero rows above and below and stride 1: the vertical ``kh x 1`` stage of a CP
    layer, shape ``(C, H + 2 padding - kh + 1, W)``."""
    rng = np.random.default_rng(61)
    cases = [((rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 3)), 1), {}),
             ((rng.normal(size=(3, 6, 2)), rng.normal(size=(3, 2)), 0), {}),
             ((rng.normal(size=(1, 4, 3)), rng.normal(size=(1, 4)), 2), {}),
             ((rng.normal(size=(4, 3, 5)), rng.normal(size=(4, 1)), 0), {})]
    return run_check(func, cases, _vertical_filter_reference,
                     what="vertical filter per channel (kh x 1 depthwise stage)")


def _median_ratio_reference(baseline: np.ndarray, other: np.ndarray) -> float:
    ratios = sorted(float(a) / float(b) for a, b in zip(baseline, other, strict=True))
    mid = len(ratios) // 2
    return ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2


def check_median_ratio(func: Callable[..., object]) -> CheckResult:
    """Chapter 6: ``func(baseline, other)`` must return the median over rounds of
    ``baseline[i] / other[i]`` for two equal-length arrays of seconds from interleaved rounds
    (how many times faster ``other`` is). In the cases the ratio of the medians differs from the
    median of the ratios, so only the round-by-round ratio passes."""
    cases = [((np.array([2.0, 4.0, 3.0]), np.array([1.0, 1.0, 2.0])), {}),
             ((np.array([1.0, 9.0, 2.0, 3.0]), np.array([0.5, 3.0, 2.0, 1.0])), {}),
             ((np.array([5.0, 1.0, 1.0, 1.0, 8.0]), np.array([1.0, 1.0, 2.0, 0.5, 2.0])), {})]
    return run_check(func, cases, _median_ratio_reference,
                     what="median of the round-by-round ratios")
