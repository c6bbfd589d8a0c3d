"""Shared hypothesis strategies for bad input, and a helper that checks the error contract.

Each strategy draws a bad value together with the exception it must cause: ``(value, exc)``.
:func:`assert_rejected` calls a function with it and checks that lrconv's own check answered:
exactly that exception type (never one from deep inside numpy), with a message that names the
argument.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import strategies as st

# Values that are no kind of number or array of numbers.
NON_NUMERIC = [None, "abc", b"x", object(), {1: 2}, {1, 2}, print]


def assert_rejected(func, args: dict, bad_name: str, bad: tuple, *, match: str | None = None):
    """Call ``func(**args)`` with ``args[bad_name]`` replaced by the drawn bad value.

    ``bad`` is ``(value, exc)``; the call must raise ``exc`` (TypeError or ValueError) with a
    message naming ``bad_name`` (or matching ``match`` when given).
    """
    value, exc = bad
    kwargs = dict(args, **{bad_name: value})
    with pytest.raises(exc, match=match or re.escape(bad_name)):
        func(**kwargs)


def bad_arrays(ndims: tuple[int, ...]) -> st.SearchStrategy:
    """Bad array arguments for a function accepting arrays of ``ndims`` dimensions.

    Non-numeric objects, bool, complex, string, object and datetime arrays, ragged lists
    (TypeError); numeric arrays with another number of dimensions, or with an axis of length 0
    (ValueError).
    """
    size = st.integers(1, 3)
    types = st.one_of(
        st.sampled_from(NON_NUMERIC),
        st.just(True),
        st.builds(lambda n: np.ones((n,) * max(ndims), dtype=bool), size),
        st.builds(lambda n: np.ones((n,) * max(ndims), dtype=complex), size),
        st.builds(lambda n: np.full((n,) * max(ndims), "a"), size),
        st.builds(lambda n: np.array([[1, "a"]] * n, dtype=object), size),
        st.builds(lambda n: np.ones((n,) * max(ndims)).astype("datetime64[s]"), size),
        st.sampled_from([[[1, 2], [3]], [[1.0], [2.0, [3.0]]], [[[1], [2]], [3]]]),
    ).map(lambda v: (v, TypeError))
    wrong = [d for d in range(6) if d not in ndims]
    wrong_ndim = st.builds(
        lambda d, n, seed: np.random.default_rng(seed).standard_normal((n,) * d),
        st.sampled_from(wrong), size, st.integers(0, 2**16),
    ).map(lambda v: (v, ValueError))
    empty = st.builds(
        lambda d, shape, axis: np.ones(tuple(0 if i == axis % d else s
                                             for i, s in enumerate(shape[:d]))),
        st.sampled_from([d for d in ndims if d > 0]),
        st.lists(st.integers(1, 4), min_size=5, max_size=5),
        st.integers(0, 4),
    ).map(lambda v: (v, ValueError))
    return st.one_of(types, wrong_ndim, empty)


def bad_ints(minimum: int | None = None) -> st.SearchStrategy:
    """Bad integer arguments: non-integers (TypeError) and, given ``minimum``, values below it
    (ValueError)."""
    types = st.one_of(
        st.sampled_from(NON_NUMERIC + [True, False, 1 + 2j, "3", [3], np.array([1, 2])]),
        st.floats(allow_nan=True, allow_infinity=True),
    ).map(lambda v: (v, TypeError))
    if minimum is None:
        return types
    low = st.integers(max_value=minimum - 1).map(lambda v: (v, ValueError))
    return st.one_of(types, low)


def bad_floats(minimum: float | None = None, *, strict: bool = False) -> st.SearchStrategy:
    """Bad real-number arguments: non-numbers (TypeError), NaN and infinities (ValueError) and,
    given ``minimum``, values below it (or equal to it when ``strict``) (ValueError)."""
    types = st.sampled_from(NON_NUMERIC + [True, 1 + 2j, "1.0", [1.0], np.ones(2)]).map(
        lambda v: (v, TypeError))
    non_finite = st.sampled_from([np.nan, np.inf, -np.inf, float("nan")]).map(
        lambda v: (v, ValueError))
    if minimum is None:
        return st.one_of(types, non_finite)
    low = st.floats(max_value=minimum, exclude_max=not strict, allow_nan=False,
                    allow_infinity=False)
    return st.one_of(types, non_finite, low.map(lambda v: (v, ValueError)))


def bad_pairs(minimum: int) -> st.SearchStrategy:
    """Bad stride or padding arguments (an int or an ``(h, w)`` pair of ints, each at least
    ``minimum``)."""
    shapes = st.sampled_from([(1,), (1, 2, 3), (1, "a"), (1, None), (1.5, 1), (True, 1),
                              (1, 2.0)]).map(lambda v: (v, TypeError))
    low = st.integers(max_value=minimum - 1)
    low_pair = st.one_of(st.tuples(low, st.integers(minimum, 3)),
                         st.tuples(st.integers(minimum, 3), low)).map(lambda v: (v, ValueError))
    return st.one_of(bad_ints(minimum), shapes, low_pair)


def not_callables() -> st.SearchStrategy:
    """Arguments that should be callables but are not (TypeError)."""
    return st.sampled_from([None, 3, "f", np.ones(2), [print], 1.5]).map(lambda v: (v, TypeError))


@st.composite
def conv_geometry(draw, *, max_kernel: int = 3, max_padding: int = 2, max_extra: int = 4,
                  max_batch: int = 2) -> tuple:
    """A valid convolution geometry: ``(kh, kw, stride, padding, h, w, batch)``, the kernel
    no larger than the padded input; stride and padding an int or an (h, w) pair; ``batch``
    None (an unbatched input) or the number of images."""
    kh, kw = draw(st.tuples(st.integers(1, max_kernel), st.integers(1, max_kernel)))
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    pad = st.integers(0, max_padding)
    padding = draw(st.one_of(pad, st.tuples(pad, pad)))
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    h = draw(st.integers(max(1, kh - 2 * ph), kh + max_extra))
    w = draw(st.integers(max(1, kw - 2 * pw), kw + max_extra))
    batch = draw(st.one_of(st.none(), st.integers(1, max_batch)))
    return kh, kw, stride, padding, h, w, batch
