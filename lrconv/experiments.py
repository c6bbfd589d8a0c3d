"""Results over several seeds: a mean, its spread, and when two results differ (chapters 7, 8).

One training run is one draw: another seed for the initial weights or the order of the images
gives another accuracy. The chapters therefore repeat every experiment over a few seeds and
report the mean with the sample standard deviation, and call two results different only when
their means are further apart than their spreads added together (:func:`differ`). With three
seeds this is a rule of thumb for reading a table, not a significance test; the chapters say so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple, TypeVar

import numpy as np

from lrconv._validate import check_int

__all__ = ["Spread", "differ", "over_seeds", "spread"]

T = TypeVar("T")


class Spread(NamedTuple):
    """Mean and spread of one quantity over ``n`` runs (chapter 7).

    Attributes
    ----------
    mean : float
    std : float
        Sample standard deviation (``ddof=1``); 0 for a single run.
    low, high : float
        Smallest and largest value.
    n : int
        Number of runs.
    """

    mean: float
    std: float
    low: float
    high: float
    n: int

    def __format__(self, spec: str) -> str:
        """``format(s, ".3f")`` gives ``"0.984 ± 0.003"``."""
        spec = spec or ".3f"
        return f"{self.mean:{spec}} ± {self.std:{spec}}"

    def __str__(self) -> str:
        return format(self)


def spread(values: Iterable[float]) -> Spread:
    """The :class:`Spread` of a non-empty sequence of finite numbers (chapter 7).

    Raises
    ------
    TypeError
        If ``values`` is not a sequence of real numbers.
    ValueError
        If it is empty or holds NaN or infinity.
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"values must be a sequence of numbers; received {type(values).__name__}")
    items = list(values)
    arr = np.asarray(items, dtype=object)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence; received shape {arr.shape}")
    for i, v in enumerate(items):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"values[{i}] must be a real number; received {v!r}")
        if not math.isfinite(float(v)):
            raise ValueError(f"values[{i}] must be finite; received {v!r}")
    x = np.asarray(items, dtype=np.float64)
    std = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
    return Spread(float(np.mean(x)), std, float(np.min(x)), float(np.max(x)), int(x.size))


def differ(a: Spread, b: Spread) -> bool:
    """Whether two results differ by more than their spreads: ``|mean_a - mean_b| > std_a +
    std_b`` (chapter 7). Results within that band are ones the runs cannot tell apart."""
    for name, s in (("a", a), ("b", b)):
        if not isinstance(s, Spread):
            raise TypeError(f"{name} must be a Spread; received {type(s).__name__}")
    return abs(a.mean - b.mean) > a.std + b.std


def over_seeds(run: Callable[[int], T], seeds: Sequence[int]) -> list[T]:
    """``[run(seed) for seed in seeds]``, with the seeds checked (chapter 7)."""
    if not callable(run):
        raise TypeError(f"run must be callable; received {type(run).__name__}")
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"seeds must be a non-empty sequence of integers; received {seeds!r}")
    checked = [check_int(s, f"seeds[{i}]", 0) for i, s in enumerate(seeds)]
    if len(set(checked)) != len(checked):
        raise ValueError(f"seeds must be distinct; received {list(seeds)}")
    return [run(s) for s in checked]
