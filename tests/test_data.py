"""Tests of lrconv.data: the seed example and the bundled photo."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import NON_NUMERIC, assert_rejected, bad_ints

from lrconv.conv import conv2d
from lrconv.data import SeedExample, sample_gray, sample_photo, seed_example


def test_seed_example_values():
    ex = seed_example()
    assert isinstance(ex, SeedExample)
    assert ex.X.shape == (5, 5) and ex.K.shape == (3, 3)
    assert np.issubdtype(ex.X.dtype, np.integer)
    np.testing.assert_array_equal(ex.X[0], [1, 2, 3, 0, 1])
    np.testing.assert_array_equal(ex.X[:, 0], [1, 0, 3, 2, 1])
    np.testing.assert_array_equal(ex.K, [[1, 0, -1]] * 3)
    np.testing.assert_array_equal(ex.a1, [1, 1, 1])
    np.testing.assert_array_equal(ex.b1, [1, 0, -1])


def test_seed_example_facts():
    ex = seed_example()
    np.testing.assert_array_equal(np.outer(ex.a1, ex.b1), ex.K)
    assert ex.a1 @ ex.b1 == 0
    assert conv2d(ex.X, ex.K)[0, 0] == -2


def test_seed_example_returns_fresh_copies():
    ex = seed_example()
    ex.X[0, 0] = 99
    assert seed_example().X[0, 0] == 1


def test_sample_photo_full():
    photo = sample_photo()
    assert photo.shape == (3, 600, 512)
    assert photo.dtype == np.float64
    assert 0.0 <= photo.min() and photo.max() <= 1.0
    assert photo.std() > 0.1  # a real picture, not a constant
    # the channels differ (a colour photo, not grey)
    assert np.abs(photo[0] - photo[2]).mean() > 0.02


@pytest.mark.parametrize(("size", "shape"), [(60, (3, 60, 51)), ((30, 40), (3, 30, 40))])
def test_sample_photo_downscaled(size, shape):
    small = sample_photo(size)
    assert small.shape == shape
    assert 0.0 <= small.min() and small.max() <= 1.0
    # box downscaling keeps the mean brightness
    assert abs(small.mean() - sample_photo().mean()) < 0.02


def test_sample_gray():
    gray = sample_gray(50)
    photo = sample_photo(50)
    assert gray.shape == photo.shape[1:]
    np.testing.assert_allclose(gray, 0.299 * photo[0] + 0.587 * photo[1] + 0.114 * photo[2])


@pytest.mark.parametrize(
    ("size", "error"),
    [(0, ValueError), (1000, ValueError), ((10,), ValueError), (2.5, TypeError),
     ((10, "a"), TypeError)],
)
def test_sample_photo_bad_size(size, error):
    with pytest.raises(error, match="size"):
        sample_photo(size)


BAD_SIZES = st.one_of(
    bad_ints(1).filter(lambda b: b[0] is not None and not isinstance(b[0], list)),  # None: full
    st.sampled_from([(8,), (8, 8, 8), []]).map(lambda v: (v, ValueError)),
    st.tuples(st.sampled_from(NON_NUMERIC[1:] + [1.5, True]), st.just(8)).map(
        lambda v: (v, TypeError)),
    st.tuples(st.just(8), st.integers(max_value=0)).map(lambda v: (v, ValueError)),
    st.one_of(st.integers(601, 10**30), st.tuples(st.integers(1, 600), st.integers(513, 10**9)))
    .map(lambda v: (v, ValueError)),
)


@pytest.mark.parametrize("func", [sample_photo, sample_gray])
@settings(max_examples=40, deadline=None)
@given(bad=BAD_SIZES)
def test_generated_bad_sizes_are_rejected_naming_size(func, bad):
    assert_rejected(func, dict(size=8), "size", bad)
