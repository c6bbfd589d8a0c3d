"""Argument checks and small rules shared by every lrconv module.

Each check raises ``TypeError`` or ``ValueError`` whose message names the argument, says what
was received and what was expected, so that bad input never fails deep inside numpy.

The shared rules, one home each:

- :data:`Pair`: a stride or padding given as one int or as an ``(h, w)`` pair.
- :func:`output_size`: the length of a convolution's output along one axis,
  ``(size + 2 padding - k) // stride + 1``, validated.
- :func:`float_dtype`: the floating type of a result computed from several arrays.
- :func:`check_budget`: the memory budget (:data:`MAX_BYTES`, 2 GiB) that no single array of a
  result or an intermediate may exceed; requests beyond it are refused before anything is
  allocated.
- Zero-size arrays: functions that need data (an image, a kernel, a matrix) refuse an axis of
  length 0 with a ``ValueError`` naming the argument and its shape (:func:`check_nonempty`).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

__all__ = [
    "MAX_BYTES",
    "Pair",
    "as_array",
    "check_budget",
    "check_finite",
    "check_float",
    "check_int",
    "check_limit",
    "check_name",
    "check_ndim",
    "check_nonempty",
    "check_pair",
    "float_dtype",
    "output_size",
]

Pair = int | tuple[int, int]
"""A stride or padding: one int for both spatial axes, or ``(rows, columns)``."""

MAX_BYTES = 2 * 1024**3
"""The largest array (in bytes) lrconv agrees to allocate for one request: 2 GiB."""


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
    arr = np.asarray(arr)
    if arr.dtype.kind in "iuf":  # a finite sum rules them out without a temporary array
        with np.errstate(all="ignore"):
            if np.isfinite(np.sum(arr, dtype=np.float64)):
                return
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} must be finite; received {bad} NaN or infinite entries")


def check_name(value: object, name: str) -> str:
    """Return ``value`` if it is a non-empty string; ``TypeError`` otherwise."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty string; received {value!r:.60} "
                        f"(type {type(value).__name__})")
    return value


def check_nonempty(arr: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` if any axis of ``arr`` has length 0."""
    if arr.size == 0:
        raise ValueError(
            f"{name} must not be empty; received shape {arr.shape} (every axis must be at "
            f"least 1 long)"
        )


def check_float(
    value: object, name: str, *, minimum: float | None = None, strict: bool = False,
    maximum: float | None = None,
) -> float:
    """Return ``value`` as a finite Python float.

    ``TypeError`` if it is not a real number (bools, strings, None and complex numbers
    excluded); ``ValueError`` if it is NaN or infinite, below ``minimum`` (or equal to it when
    ``strict``) or above ``maximum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number; received {value!r} (type {type(value).__name__})"
        )
    result = float(value)
    if not np.isfinite(result):
        raise ValueError(f"{name} must be finite; received {value!r}")
    if minimum is not None and (result < minimum or (strict and result == minimum)):
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be {relation} {minimum}; received {value!r}")
    if maximum is not None and result > maximum:
        raise ValueError(f"{name} must be <= {maximum}; received {value!r}")
    return result


def output_size(
    size: int, k: int, stride: int = 1, padding: int = 0, *, name: str = "size"
) -> int:
    """The length of a convolution's output along one axis.

    ``(size + 2 padding - k) // stride + 1``: the number of positions a window of length ``k``
    takes, ``stride`` apart, on an axis of length ``size`` with ``padding`` zeros on each side.

    Parameters
    ----------
    size : int
        Input length, at least 1.
    k : int
        Kernel length, at least 1.
    stride : int, optional
        Step between windows, at least 1.
    padding : int, optional
        Zeros added on each side, at least 0.
    name : str, optional
        What ``size`` is called in the caller's terms (e.g. ``"x rows"``), used in messages.

    Returns
    -------
    int
        The output length, at least 1.

    Raises
    ------
    TypeError
        An argument that is not an integer (bools included).
    ValueError
        ``size < 1``, ``k < 1``, ``stride < 1``, ``padding < 0``, or a kernel longer than the
        padded input (no window fits).

    Examples
    --------
    >>> output_size(5, 3), output_size(5, 3, stride=2, padding=1)
    (3, 3)
    """
    name = check_name(name, "name")
    size = check_int(size, name, 1)
    k = check_int(k, "k", 1)
    stride = check_int(stride, "stride", 1)
    padding = check_int(padding, "padding", 0)
    padded = size + 2 * padding
    if k > padded:
        raise ValueError(
            f"kernel length k = {k} is larger than the padded input: {name} = {size} with "
            f"padding {padding} gives {padded}"
        )
    return (padded - k) // stride + 1


def float_dtype(*arrays: np.ndarray) -> np.dtype:
    """The floating type of a result computed from ``arrays``.

    The common type of the arguments under numpy's promotion (``np.result_type``) when that
    is a floating type: float32 arguments give float32, float32 mixed with float64 (or with
    int32/int64) gives float64. Arguments that are all integers give float64 (the seed's
    integer example convolves to ``-2.0``).
    """
    dtype = np.result_type(*arrays)
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def check_limit(n: int, limit: int, what: str, unit: str = "entries", hint: str = "") -> None:
    """Raise ``ValueError`` naming ``what`` if a request needs more than ``limit`` ``unit``."""
    if n > limit:
        raise ValueError(f"{what} would have {n:,} {unit}, above the limit of {limit:,}"
                         + (f" ({hint})" if hint else ""))


def check_budget(n_elements: int, itemsize: int, what: str) -> None:
    """Refuse, before allocating, an array of ``n_elements`` items of ``itemsize`` bytes that
    would exceed :data:`MAX_BYTES` (2 GiB).

    ``what`` names the request in the message (e.g. ``"padded input of conv2d"``). Sizes are
    Python ints, so a product of huge dimensions cannot overflow.
    """
    n_bytes = int(n_elements) * int(itemsize)
    if n_bytes > MAX_BYTES:
        raise ValueError(
            f"{what} would need {int(n_elements):,} elements ({n_bytes / 1024**3:.3g} GiB), "
            f"above the {MAX_BYTES // 1024**3} GiB budget; use smaller sizes"
        )
