"""Checkers for the book's coding exercises.

Every chapter's coding exercise gives a stub that raises ``NotImplementedError`` and a checker
from this module. A checker calls the reader's function on a few inputs, compares with a
reference, and returns a :class:`CheckResult` that says right or wrong (and why). A stub that is
not written yet is reported as such instead of raising, so the executed book stays green.

What the reader's function does (raise, return the wrong shape, return something that is not an
array of real numbers) is reported in the result, never raised. What the caller passes to a
checker is checked: a checker needs a callable (``TypeError`` otherwise), and
:func:`run_check` also checks its cases, reference, description and tolerance (``TypeError`` for
the wrong type, ``ValueError`` for the wrong value, each naming the argument).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lrconv._validate import check_float

__all__ = [
    "CheckResult",
    "check_cp_break_even",
    "check_cp_inp_grad",
    "check_cp_stages",
    "check_cross_correlation",
    "check_merge_locon",
    "check_rank_r_approximation",
    "check_tucker2_hosvd",
    "check_two_passes",
    "run_check",
]


@dataclass(frozen=True)
class CheckResult:
    """Outcome of an exercise check: ``passed`` and a message for the reader."""

    passed: bool
    message: str

    def __post_init__(self) -> None:
        if not isinstance(self.passed, (bool, np.bool_)):
            raise TypeError(f"passed must be True or False; received {self.passed!r} "
                            f"(type {type(self.passed).__name__})")
        if not isinstance(self.message, str):
            raise TypeError(f"message must be a string; received {self.message!r} "
                            f"(type {type(self.message).__name__})")
        object.__setattr__(self, "passed", bool(self.passed))

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return ("Correct: " if self.passed else "Not yet: ") + self.message

    def _repr_markdown_(self) -> str:
        mark = "**Correct.**" if self.passed else "**Not yet.**"
        return f"{mark} {self.message}"


def run_check(
    func: Callable[..., object],
    cases: list[tuple[tuple, dict]],
    reference: Callable[..., object],
    *,
    what: str,
    atol: float = 1e-8,
) -> CheckResult:
    """Compare ``func`` with ``reference`` on each ``(args, kwargs)`` case.

    Parameters
    ----------
    func : callable
        The reader's function.
    cases : list of (tuple, dict)
        Positional and keyword arguments for each trial.
    reference : callable
        The correct implementation.
    what : str
        A short description of what is checked, used in the messages.
    atol : float
        Absolute tolerance (relative tolerance 1e-6) of the comparison.

    Returns
    -------
    CheckResult
        What the reader's function did wrong (raised, wrong shape, not an array of real
        numbers, wrong values) is reported here, not raised.

    Raises
    ------
    TypeError
        ``func`` or ``reference`` not callable, ``cases`` not a list of ``(tuple, dict)``
        pairs, ``what`` not a string, ``atol`` not a real number.
    ValueError
        No cases, ``atol`` negative or not finite, a case on which ``reference`` itself fails.
    """
    _check_callable(func, "func")
    _check_callable(reference, "reference")
    checked = _check_cases(cases)
    if not isinstance(what, str):
        raise TypeError(f"what must be a string; received {what!r} (type {type(what).__name__})")
    atol = check_float(atol, "atol", minimum=0.0)
    for i, (args, kwargs) in enumerate(checked, start=1):
        try:
            want_arr = _real_array(reference(*args, **kwargs))
        except Exception as exc:
            raise ValueError(f"cases[{i - 1}]: the reference fails on this case "
                             f"({type(exc).__name__}: {exc})") from None
        try:
            got = func(*args, **kwargs)
        except NotImplementedError:
            return CheckResult(False, f"{what}: the function is still a stub; fill it in.")
        except Exception as exc:  # the reader's code failed: report, do not crash the notebook
            return CheckResult(False, f"{what}: case {i} raised {type(exc).__name__}: {exc}")
        try:
            got_arr = _real_array(got)
        except Exception:  # whatever the reader's function returned: report it
            return CheckResult(False, f"{what}: case {i} returned {type(got).__name__}, not an "
                                      f"array of real numbers.")
        if got_arr.shape != want_arr.shape:
            return CheckResult(
                False,
                f"{what}: case {i} returned shape {got_arr.shape}, expected {want_arr.shape}.",
            )
        if not np.allclose(got_arr, want_arr, rtol=1e-6, atol=atol):
            err = float(np.max(np.abs(got_arr - want_arr)))
            return CheckResult(False, f"{what}: case {i} is off by up to {err:.3g}.")
    return CheckResult(True, f"{what}: all {len(checked)} cases match.")


def _check_callable(fn: object, name: str) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be callable (a function); received {fn!r:.60} "
                        f"(type {type(fn).__name__})")


def _check_cases(cases: object) -> list[tuple[tuple, dict]]:
    """``cases`` as a list of ``(args, kwargs)``; ``TypeError``/``ValueError`` naming it."""
    if isinstance(cases, (str, bytes)) or not isinstance(cases, (list, tuple)):
        raise TypeError(f"cases must be a list of (args, kwargs) pairs; received "
                        f"{type(cases).__name__}")
    if not cases:
        raise ValueError("cases must hold at least one (args, kwargs) pair; received none")
    for i, case in enumerate(cases):
        if not (isinstance(case, tuple) and len(case) == 2 and isinstance(case[0], tuple)
                and isinstance(case[1], dict)
                and all(isinstance(key, str) for key in case[1])):
            raise TypeError(f"cases[{i}] must be a pair (tuple of arguments, dict of keyword "
                            f"arguments named by strings); received {case!r:.80}")
    return list(cases)


def _real_array(value: object) -> np.ndarray:
    """``value`` as an array of real numbers (bools count as 0 and 1), or ``TypeError``."""
    if isinstance(value, numbers.Number) and not isinstance(value, numbers.Real):
        raise TypeError("not real")
    arr = np.asarray(value)  # ValueError for ragged nesting
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"dtype {arr.dtype}")
    return arr.astype(np.float64)


def check_cross_correlation(func: Callable[..., object]) -> CheckResult:
    """Chapter 1: ``func(x, k)`` must return the valid cross-correlation of the 2-D arrays
    ``x`` (H, W) and ``k`` (kh, kw), stride 1, no padding, shape (H - kh + 1, W - kw + 1)."""
    from lrconv.conv import conv2d
    from lrconv.data import seed_example

    rng = np.random.default_rng(1)
    ex = seed_example()
    cases = [
        ((ex.X, ex.K), {}),
        ((rng.normal(size=(4, 6)), rng.normal(size=(2, 3))), {}),
        ((rng.normal(size=(5, 3)), rng.normal(size=(3, 1))), {}),
        ((rng.normal(size=(3, 3)), rng.normal(size=(3, 3))), {}),
    ]
    return run_check(func, cases, lambda x, k: conv2d(x, k),
                     what="cross-correlation (no kernel flip)")


def check_two_passes(func: Callable[..., object]) -> CheckResult:
    """Chapter 2: ``func(x, a, b)`` must filter the columns of the 2-D array ``x`` with ``a``
    (vertical pass), then the rows of the result with ``b`` (horizontal pass); the result
    equals the cross-correlation of ``x`` with the rank-one kernel ``outer(a, b)``."""
    from lrconv.conv import conv2d
    from lrconv.data import seed_example

    rng = np.random.default_rng(2)
    ex = seed_example()
    cases = [
        ((ex.X, ex.a1, ex.b1), {}),
        ((rng.normal(size=(6, 5)), rng.normal(size=3), rng.normal(size=2)), {}),
        ((rng.normal(size=(4, 7)), rng.normal(size=1), rng.normal(size=4)), {}),
    ]
    return run_check(func, cases, lambda x, a, b: conv2d(x, np.outer(a, b)),
                     what="vertical pass with a, then horizontal pass with b")


def check_rank_r_approximation(func: Callable[..., object]) -> CheckResult:
    """Chapter 3: ``func(kernel, rank)`` must return the best rank-``rank`` approximation of the
    2-D ``kernel`` (the sum of its ``rank`` leading SVD terms), with the kernel's shape."""
    from lrconv.kernels import classic_kernels
    from lrconv.separable import low_rank_kernel

    rng = np.random.default_rng(3)
    kernels = classic_kernels()
    cases = [
        ((kernels["Laplacian 8"], 1), {}),
        ((kernels["random"], 2), {}),
        ((kernels["disk"], 3), {}),
        ((rng.normal(size=(4, 6)), 2), {}),
        ((rng.normal(size=(5, 2)), 1), {}),
        ((rng.normal(size=(3, 3)), 3), {}),
    ]
    return run_check(func, cases, low_rank_kernel,
                     what="best rank-r approximation (leading singular values)")


def check_cp_stages(func: Callable[..., object]) -> CheckResult:
    """Chapter 4: ``func(x, factors)`` must run the four CP stages (1x1 ``C_in -> R``, vertical
    ``kh x 1`` per channel, horizontal ``1 x kw`` per channel, 1x1 ``R -> C_out``) on one image
    ``x`` of shape ``(C_in, H, W)``, stride 1 and no padding; the result equals the valid
    convolution with ``cp_to_kernel(factors)``, shape ``(C_out, H - kh + 1, W - kw + 1)``."""
    from lrconv.conv import conv2d
    from lrconv.decompose import CPFactors, cp_to_kernel

    rng = np.random.default_rng(4)

    def factors(c_out: int, c_in: int, kh: int, kw: int, rank: int) -> CPFactors:
        return CPFactors(rng.normal(size=(c_out, rank)), rng.normal(size=(c_in, rank)),
                         rng.normal(size=(kh, rank)), rng.normal(size=(kw, rank)))

    cases = [
        ((rng.normal(size=(2, 5, 5)), factors(2, 2, 3, 3, 2)), {}),
        ((rng.normal(size=(3, 6, 7)), factors(4, 3, 3, 2, 3)), {}),  # kh != kw
        ((rng.normal(size=(1, 4, 6)), factors(2, 1, 1, 4, 1)), {}),
        ((rng.normal(size=(4, 5, 4)), factors(1, 4, 2, 3, 5)), {}),  # R above every mode size
    ]
    return run_check(func, cases, lambda x, f: conv2d(x, cp_to_kernel(f)),
                     what="four CP stages equal the convolution with the CP kernel")


def check_tucker2_hosvd(func: Callable[..., object]) -> CheckResult:
    """Chapter 5: ``func(kernel, ranks)`` must return the truncated HOSVD of a 4-D ``kernel`` as
    ``Tucker2Factors(core, out, inp)`` (or a ``(core, out, inp)`` tuple): ``out`` the ``R_out``
    leading left singular vectors of ``unfold(kernel, 0)``, ``inp`` the ``R_in`` leading ones of
    ``unfold(kernel, 1)``, ``core = einsum('oihw,oa,ib->abhw', kernel, out, inp)``. Checked
    through the kernel it rebuilds, which does not depend on the signs of singular vectors."""
    _check_callable(func, "func")
    from lrconv.decompose import tucker2_decompose, tucker2_to_kernel

    rng = np.random.default_rng(5)
    cases = [
        ((rng.normal(size=(4, 3, 3, 3)), (2, 2)), {}),
        ((rng.normal(size=(5, 4, 3, 2)), (1, 3)), {}),
        ((rng.normal(size=(6, 2, 1, 3)), (4, 1)), {}),
        ((rng.normal(size=(3, 5, 2, 2)), (3, 5)), {}),  # full ranks: exact
    ]

    def rebuilt(kernel: np.ndarray, ranks: tuple[int, int]) -> np.ndarray:
        return tucker2_to_kernel(tuple(func(kernel, ranks)))

    def reference(kernel: np.ndarray, ranks: tuple[int, int]) -> np.ndarray:
        return tucker2_to_kernel(tucker2_decompose(kernel, ranks, max_iter=0))

    return run_check(rebuilt, cases, reference,
                     what="Tucker-2 by truncated HOSVD (kernel rebuilt from your factors)")


def check_cp_inp_grad(func: Callable[..., object]) -> CheckResult:
    """Chapter 7: ``func(grad_kernel, out, vertical, horizontal)`` must return ``dL/d inp`` of a
    CP layer, shape ``(C_in, R)``, given ``grad_kernel = dL/dK`` of shape ``(C_out, C_in, kh, kw)``
    and the other three factors: ``sum_{o, h, w} G[o, i, h, w] out[o, r] vertical[h, r]
    horizontal[w, r]`` (the chain rule through ``K = cp_to_kernel(factors)``)."""
    rng = np.random.default_rng(7)

    def case(c_out: int, c_in: int, kh: int, kw: int, rank: int) -> tuple[tuple, dict]:
        return (rng.normal(size=(c_out, c_in, kh, kw)), rng.normal(size=(c_out, rank)),
                rng.normal(size=(kh, rank)), rng.normal(size=(kw, rank))), {}

    def reference(g, out, vertical, horizontal):
        return np.einsum("oihw,or,hr,wr->ir", g, out, vertical, horizontal)

    cases = [case(4, 3, 3, 3, 2), case(5, 2, 3, 1, 3), case(2, 6, 2, 4, 1), case(3, 3, 3, 3, 7)]
    return run_check(func, cases, reference, what="gradient of the loss with respect to inp")


def check_merge_locon(func: Callable[..., object]) -> CheckResult:
    """Chapter 8: ``func(kernel, down, up, scale)`` must return the merged kernel
    ``kernel + scale * einsum('or,rihw->oihw', up, down)`` of a LoCon update: ``kernel`` of shape
    ``(C_out, C_in, kh, kw)``, ``down`` ``(r, C_in, kh, kw)`` (a ``kh x kw`` convolution to ``r``
    channels), ``up`` ``(C_out, r)`` (a 1x1 convolution back to ``C_out``)."""
    rng = np.random.default_rng(8)

    def case(c_out: int, c_in: int, kh: int, kw: int, rank: int, scale: float) -> tuple:
        return (rng.normal(size=(c_out, c_in, kh, kw)), rng.normal(size=(rank, c_in, kh, kw)),
                rng.normal(size=(c_out, rank)), scale), {}

    def reference(kernel, down, up, scale):
        return kernel + scale * np.einsum("or,rihw->oihw", up, down)

    zero_up = case(3, 2, 3, 3, 2, 1.0)
    zero_up[0][2][...] = 0.0  # the update at the start of training: nothing changes
    cases = [case(4, 3, 3, 3, 2, 1.0), case(5, 2, 3, 1, 1, 0.5), case(2, 4, 2, 3, 3, 2.0),
             case(6, 1, 3, 3, 4, 0.25), zero_up]
    return run_check(func, cases, reference, what="merged LoCon kernel K + scale * up @ down")


def check_cp_break_even(func: Callable[..., object]) -> CheckResult:
    """Chapter 6: ``func(c_in, c_out, kh, kw, h, w, stride, padding)`` must return the largest
    CP rank ``R`` whose layer needs strictly fewer MACs than the dense layer, counted as in
    :mod:`lrconv.cost` (0 when no rank is cheaper)."""
    from lrconv.cost import conv_cost, cp_cost

    def reference(c_in, c_out, kh, kw, h, w, stride, padding):
        dense = conv_cost(c_in, c_out, kh, kw, h, w, stride=stride, padding=padding).macs
        per_rank = cp_cost(c_in, c_out, kh, kw, h, w, 1, stride=stride, padding=padding).macs
        return (dense - 1) // per_rank  # CP MACs grow exactly linearly in the rank

    cases = [((128, 128, 3, 3, 32, 32, 1, 1), {}), ((3, 64, 3, 3, 32, 32, 1, 1), {}),
             ((16, 32, 5, 5, 20, 20, 2, 2), {}), ((64, 64, 3, 3, 56, 56, 1, 1), {}),
             ((1, 1, 3, 3, 8, 8, 1, 0), {}), ((8, 8, 3, 3, 10, 10, 1, 1), {})]
    return run_check(func, cases, reference, what="CP break-even rank", atol=0.0)
