"""Checkers for the book's coding exercises.

Every chapter's coding exercise gives a stub that raises ``NotImplementedError`` and a checker
from this module. A checker calls the reader's function on a few inputs, compares with a
reference, and returns a :class:`CheckResult` that says right or wrong (and why). A stub that is
not written yet is reported as such instead of raising, so the executed book stays green.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CheckResult:
    """Outcome of an exercise check: ``passed`` and a message for the reader."""

    passed: bool
    message: str

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
    """
    for i, (args, kwargs) in enumerate(cases, start=1):
        try:
            got = func(*args, **kwargs)
        except NotImplementedError:
            return CheckResult(False, f"{what}: the function is still a stub; fill it in.")
        except Exception as exc:  # the reader's code failed: report, do not crash the notebook
            return CheckResult(False, f"{what}: case {i} raised {type(exc).__name__}: {exc}")
        want = reference(*args, **kwargs)
        got_arr, want_arr = np.asarray(got), np.asarray(want)
        if got_arr.shape != want_arr.shape:
            return CheckResult(
                False,
                f"{what}: case {i} returned shape {got_arr.shape}, expected {want_arr.shape}.",
            )
        if not np.allclose(got_arr, want_arr, rtol=1e-6, atol=atol):
            err = float(np.max(np.abs(got_arr - want_arr)))
            return CheckResult(False, f"{what}: case {i} is off by up to {err:.3g}.")
    return CheckResult(True, f"{what}: all {len(cases)} cases match.")
