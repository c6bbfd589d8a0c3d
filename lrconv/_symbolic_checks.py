"""Argument checks of :mod:`lrconv.symbolic`: arrays read as sympy matrices, and size limits.

sympy computes entry by entry, so a matrix holds at most 10,000 entries (a Toeplitz matrix
100,000) and a correlation at most 100,000 products; larger requests are refused before any
work.
"""

from __future__ import annotations

import numbers

import numpy as np
import sympy as sp

from lrconv._validate import check_limit, check_name

MAX_ENTRIES, MAX_PRODUCTS = 10_000, 100_000  # per matrix, per correlation


def check_entries(n: int, what: str, limit: int = MAX_ENTRIES, unit: str = "entries") -> None:
    check_limit(n, limit, what, unit, "sympy works entry by entry; use lrconv.conv for more")


def as_matrix(value: object, name: str = "value") -> sp.Matrix:
    """Return ``value`` (sympy Matrix, numpy array or nested list) as a 2-D sympy Matrix.

    A 1-D sequence becomes a column vector. Introduced in chapter 1.

    Raises
    ------
    TypeError
        If ``value`` cannot be read as a matrix of numbers or sympy expressions.
    ValueError
        If it has more than 2 dimensions, no entries, or more than 10,000 entries.
    """
    name = check_name(name, "name")
    if isinstance(value, sp.MatrixBase):
        if value.rows == 0 or value.cols == 0:
            raise ValueError(f"{name} must not be empty; received shape {value.shape}")
        check_entries(value.rows * value.cols, name)
        mat = sp.Matrix(value)
    else:
        try:
            arr = np.asarray(value, dtype=object)
        except Exception as exc:  # ragged nested lists and the like
            raise TypeError(f"{name} could not be read as a matrix ({exc})") from None
        if arr.ndim == 0 and (isinstance(value, (bool, np.bool_))
                              or not isinstance(value, (numbers.Real, sp.Basic))):
            raise TypeError(f"{name} must be an array or sympy Matrix; received "
                            f"{type(value).__name__}")
        if arr.ndim not in (1, 2):
            raise ValueError(f"{name} must be a 1-D or 2-D array or sympy Matrix; received "
                             f"shape {arr.shape}")
        if arr.size == 0:
            raise ValueError(f"{name} must not be empty; received shape {arr.shape}")
        check_entries(arr.size, f"{name} of shape {arr.shape}")
        for v in arr.flat:
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, sp.Basic)):
                raise TypeError(f"{name} must be a rectangular array of real numbers or sympy "
                                f"expressions; found an entry {v!r} (type {type(v).__name__})")
        mat = sp.Matrix(arr.tolist())
    for entry in mat:
        if not isinstance(entry, sp.Expr):
            raise TypeError(f"{name} must hold numbers or sympy expressions; found {entry!r} "
                            f"(type {type(entry).__name__})")
    return mat


def dtype_kind(dtype: object) -> str:
    """numpy's kind letter of ``dtype`` ("f", "i", ...), or "" if it is no data type."""
    try:
        return np.dtype(dtype).kind
    except TypeError:
        return ""


def as_vector(value: object, name: str) -> sp.Matrix:
    """``value`` (a row, a column or a 1-D sequence) as a column vector."""
    mat = as_matrix(value, name)
    if mat.cols != 1 and mat.rows != 1:
        raise ValueError(f"{name} must be a vector; received shape {mat.shape}")
    return mat.reshape(len(mat), 1)


def channel_stack(x: object, name: str) -> list[sp.Matrix]:
    """A list of matrices of one shape, one per channel."""
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"{name} must be a list of matrices, one per channel; received "
                        f"{type(x).__name__}")
    if not x:
        raise ValueError(f"{name} must hold at least one channel; received an empty list")
    mats = [as_matrix(m, f"{name}[{c}]") for c, m in enumerate(x)]
    if len({m.shape for m in mats}) != 1:
        raise ValueError(f"every channel of {name} must have the same shape; received "
                         f"{[m.shape for m in mats]}")
    return mats


def cp_factor_matrices(out: object, inp: object, vertical: object,
                       horizontal: object) -> list[sp.Matrix]:
    """The four CP factors as matrices with one column per rank-one term each."""
    mats = [as_matrix(m, n) for m, n in ((out, "out"), (inp, "inp"), (vertical, "vertical"),
                                         (horizontal, "horizontal"))]
    rank = mats[0].cols
    for m, n in zip(mats[1:], ("inp", "vertical", "horizontal"), strict=True):
        if m.cols != rank:
            raise ValueError(f"{n} must have {rank} columns (the rank of out); "
                             f"received shape {m.shape}")
    return mats
