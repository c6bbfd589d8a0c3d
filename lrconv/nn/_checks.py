"""Argument checks shared by the modules of :mod:`lrconv.nn` (and :mod:`lrconv.lora`).

Public entry points (a layer's ``forward``, ``train``, ``predict``, ...) check and convert their
arguments once with these helpers; the passes they run inside never check again.
"""

from __future__ import annotations

import numbers

import numpy as np

from lrconv._validate import as_array, check_budget, check_ndim

Seed = int | np.random.Generator | None
"""A seed for :func:`numpy.random.default_rng`, or a Generator used as it is."""

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype: object, name: str = "dtype") -> np.dtype:
    """``dtype`` as float32 or float64, or a ``TypeError``/``ValueError`` naming it."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be a numpy float type (float32 or float64); received "
                        f"{dtype!r}") from None
    if dt not in DTYPES:
        raise ValueError(f"{name} must be float32 or float64; received {dt}")
    return dt


def as_generator(rng: object, name: str = "rng") -> np.random.Generator:
    """A Generator from a seed (a non-negative int or None, as :func:`numpy.random.default_rng`
    takes) or a Generator, returned as it is."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, bool) or not isinstance(rng, numbers.Integral):
        raise TypeError(f"{name} must be an int seed or a numpy Generator; received {rng!r} "
                        f"(type {type(rng).__name__})")
    if rng < 0:
        raise ValueError(f"{name} must be a non-negative seed; received {rng}")
    return np.random.default_rng(int(rng))


def as_float(value: object, name: str, dtype: np.dtype | None = None) -> np.ndarray:
    """``value`` as a floating array: in ``dtype`` if given, else float32/float64 kept and
    integers as float64. No copy when it already is one."""
    arr = as_array(value, name)
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    return arr if arr.dtype in DTYPES else arr.astype(np.float64)


def as_batch(value: object, name: str = "x", dtype: np.dtype | None = None,
             ndim: int = 4, layout: str = "(N, C, H, W)") -> np.ndarray:
    """A non-empty floating array of ``ndim`` dimensions (see :func:`as_float`)."""
    arr = as_float(value, name, dtype)
    check_ndim(arr, name, (ndim,), layout)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty (every axis at least 1 long); received "
                         f"shape {arr.shape}")
    return arr


def as_labels(value: object, n: int, name: str = "y") -> np.ndarray:
    """``n`` non-negative integer labels (one per image), or a clear error."""
    y = np.asarray(value)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} must hold {n} integer labels (one per image of X); received "
                         f"shape {y.shape}, dtype {y.dtype}")
    if n and y.min() < 0:
        raise ValueError(f"{name} must hold labels >= 0; received a minimum of {y.min()}")
    return y


def check_type(value: object, cls: type | tuple[type, ...], name: str, what: str) -> None:
    """``TypeError`` unless ``value`` is an instance of ``cls``."""
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be {what}; received {type(value).__name__}")


def check_size(shape: tuple[int, ...], what: str, itemsize: int = 8) -> None:
    """Refuse, before allocating, an array of ``shape`` beyond lrconv's memory budget."""
    n = 1
    for s in shape:
        n *= int(s)
    check_budget(n, itemsize, what)
