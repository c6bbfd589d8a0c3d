"""Argument checks shared by every lrconv module.

Each check raises ``TypeError`` or ``ValueError`` whose message names the argument, says what
was received and what was expected, so that bad input never fails deep inside numpy.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np


def as_array(value: object, name: str) -> np.ndarray:
    """Return ``value`` as a numeric (bool excluded) numpy array, or raise ``TypeError``.

    Integer arrays are returned unchanged; callers decide whether to promote them.
    """
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} must be a numeric array; could not convert it ({exc})") from None
    if arr.dtype.kind not in "iuf":  # signed, unsigned, floating; not bool, complex, object
        raise TypeError(
            f"{name} must be a real numeric array; received dtype {arr.dtype} "
            f"(type {type(value).__name__})"
        )
    return arr


def check_ndim(arr: np.ndarray, name: str, allowed: Sequence[int], what: str = "") -> None:
    """Raise ``ValueError`` unless ``arr.ndim`` is one of ``allowed``."""
    if arr.ndim not in allowed:
        dims = " or ".join(str(d) for d in allowed)
        hint = f" {what}" if what else ""
        raise ValueError(
            f"{name} must have {dims} dimensions{hint}; received shape {arr.shape} "
            f"({arr.ndim} dimensions)"
        )


def check_int(value: object, name: str, minimum: int | None = None) -> int:
    """Return ``value`` as a Python int; ``TypeError`` if it is not an integer, ``ValueError``
    if it is below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer; received {value!r} (type {type(value).__name__})"
        )
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; received {value}")
    return value


def check_pair(value: object, name: str, minimum: int) -> tuple[int, int]:
    """Return an int or an (h, w) pair of ints as a pair, each at least ``minimum``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        v = check_int(value, name, minimum)
        return v, v
    if isinstance(value, (tuple, list)) and len(value) == 2:
        first = check_int(value[0], f"{name}[0]", minimum)
        return first, check_int(value[1], f"{name}[1]", minimum)
    raise TypeError(
        f"{name} must be an int or a pair (h, w) of ints; received {value!r} "
        f"(type {type(value).__name__})"
    )


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` if ``arr`` holds NaN or infinity."""
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} must be finite; received {bad} NaN or infinite entries")
