"""Wall-clock timing that is fair to the things it compares.

Introduced in chapter 6 (cost and speed); the scripts under ``benchmarks/`` use it too.

Two habits make timings on a shared machine worth comparing:

- **Repeat and take the median.** One run can be slowed by anything else on the machine; the
  median of several runs is not moved by a few slow ones.
- **Interleave.** When ``a`` and ``b`` are compared, each round runs both, one right after the
  other, so that a slow minute of the machine slows both. Ratios are taken round by round and
  their median reported, which cancels much of the drift that separate timings would keep.

Timings are never deterministic: the book shows them and never asserts them.

Bad input: functions must be callables and a mapping of them must be non-empty and named by
strings; counts (``repeat``, ``number``, ``warmup``, ``max_number``) are integers (bools
excluded) of at least 1 (0 for ``warmup``); ``min_time`` is a finite real number >= 0. No
request calls a function more than ten million times (:data:`MAX_CALLS`), so that a typo cannot
start a run that never ends. A :class:`Timing` checks its fields when it is made. Wrong types
raise ``TypeError``, wrong values ``ValueError``, each naming the argument.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

from lrconv._validate import (
    as_array,
    check_budget,
    check_finite,
    check_float,
    check_int,
    check_ndim,
    check_nonempty,
)

__all__ = ["MAX_CALLS", "Timing", "calls_per_round", "compare", "median_time", "speedup"]

MAX_CALLS = 10**7
"""The most calls of one function that one timing request may make."""


class _TimingFields(NamedTuple):
    times: np.ndarray
    number: int


class Timing(_TimingFields):
    """Seconds per call of one function over several rounds.

    Attributes
    ----------
    times : ndarray, shape (repeat,)
        Seconds per call in each round (the mean over the ``number`` calls of that round):
        finite and >= 0, at least one round.
    number : int
        Calls per round, at least 1.
    """

    __slots__ = ()

    def __new__(cls, times: object, number: int) -> Timing:
        arr = as_array(times, "times")
        check_ndim(arr, "times", (1,), "(repeat,): seconds per call in each round")
        check_nonempty(arr, "times")
        check_finite(arr, "times")
        if np.any(arr < 0):
            raise ValueError(f"times must be >= 0 (seconds); received a smallest entry of "
                             f"{float(arr.min())!r}")
        return super().__new__(cls, arr.astype(np.float64, copy=False),
                               check_int(number, "number", 1))

    @property
    def median(self) -> float:
        """Median seconds per call over the rounds."""
        return float(np.median(self.times))

    @property
    def spread(self) -> float:
        """Interquartile range of the rounds divided by their median (0 when stable)."""
        q1, q3 = np.percentile(self.times, [25, 75])
        return float((q3 - q1) / self.median) if self.median > 0 else 0.0


def _check_callable(fn: object, name: str) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be callable; received {type(fn).__name__}")


def _one_round(fn: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def calls_per_round(fn: Callable[[], object], *, min_time: float = 0.02,
                    max_number: int = 1000) -> int:
    """Smallest power of two of calls of ``fn`` that together take at least ``min_time`` s.

    Very short calls are run several times per round so that the clock's resolution and the
    loop's overhead do not dominate. Introduced in chapter 6.

    Parameters
    ----------
    fn : callable
        Called without arguments.
    min_time : float
        Target duration of one round in seconds.
    max_number : int
        Upper bound on the answer.
    """
    _check_callable(fn, "fn")
    max_number = check_int(max_number, "max_number", 1)
    if max_number > MAX_CALLS // 2:  # the doubling search calls fn about 2 max_number times
        raise ValueError(f"max_number must be at most {MAX_CALLS // 2:,} (MAX_CALLS / 2); "
                         f"received {max_number:,}")
    min_time = check_float(min_time, "min_time", minimum=0.0)
    number = 1
    while number < max_number and _one_round(fn, number) * number < min_time:
        number *= 2
    return min(number, max_number)


def compare(
    fns: Mapping[str, Callable[[], object]],
    *,
    repeat: int = 7,
    number: int = 1,
    warmup: int = 1,
) -> dict[str, Timing]:
    """Time several functions in interleaved rounds.

    Each round calls every function ``number`` times, one function after the other; the order
    rotates from round to round so that none of them always runs first (right after a
    cache-cold or cache-warm neighbour). Introduced in chapter 6.

    Parameters
    ----------
    fns : mapping of str to callable
        Functions called without arguments, by name.
    repeat : int
        Number of rounds (the median is taken over them).
    number : int
        Calls of each function per round.
    warmup : int
        Untimed calls of each function before the first round (first-call allocations,
        lazy initialisation).

    Returns
    -------
    dict of str to Timing
        In the order of ``fns``.
    """
    if not isinstance(fns, Mapping):
        raise TypeError(f"fns must be a mapping of names to callables; received "
                        f"{type(fns).__name__}")
    if not fns:
        raise ValueError("fns must hold at least one function; received an empty mapping")
    for name, fn in fns.items():
        if not isinstance(name, str):
            raise TypeError(f"fns must be named by strings; received the key {name!r} "
                            f"(type {type(name).__name__})")
        _check_callable(fn, f"fns[{name!r}]")
    repeat = check_int(repeat, "repeat", 1)
    number = check_int(number, "number", 1)
    warmup = check_int(warmup, "warmup", 0)
    calls = warmup + repeat * number
    if calls > MAX_CALLS:
        raise ValueError(f"warmup + repeat * number must be at most {MAX_CALLS:,} calls of each "
                         f"function (MAX_CALLS); received warmup = {warmup}, repeat = {repeat}, "
                         f"number = {number}")
    check_budget(repeat * len(fns), 8, f"the timings of {len(fns)} functions (repeat = {repeat})")
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    times = {name: np.empty(repeat) for name in names}
    for r in range(repeat):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            times[name][r] = _one_round(fns[name], number)
    return {name: Timing(times[name], number) for name in names}


def median_time(fn: Callable[[], object], repeat: int = 7, number: int = 1, *,
                warmup: int = 1) -> float:
    """Median seconds per call of ``fn`` over ``repeat`` rounds of ``number`` calls (chapter 6).

    Parameters
    ----------
    fn : callable
        Called without arguments.
    repeat, number, warmup
        As in :func:`compare`.
    """
    return compare({"fn": fn}, repeat=repeat, number=number, warmup=warmup)["fn"].median


def speedup(baseline: Timing, other: Timing) -> float:
    """Median over rounds of ``baseline / other``: how many times faster ``other`` is.

    Both timings must come from the same :func:`compare` call, so that round ``i`` of each ran
    at the same moment. Introduced in chapter 6.
    """
    for name, t in (("baseline", baseline), ("other", other)):
        if not isinstance(t, Timing):
            raise TypeError(f"{name} must be a Timing; received {type(t).__name__}")
    if baseline.times.shape != other.times.shape:
        raise ValueError(f"baseline and other must have the same number of rounds; received "
                         f"{baseline.times.size} and {other.times.size}")
    if np.any(other.times <= 0):
        raise ValueError("other has a round that took no measurable time; raise number")
    return float(np.median(baseline.times / other.times))
