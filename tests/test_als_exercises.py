"""Tests of lrconv.als_exercises: each checker passes a right answer written another way, fails
a plausible wrong one, and reports a stub without raising."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrconv import als_exercises as A
from lrconv.conv import depthwise_conv2d
from lrconv.decompose import CPFactors, cp_to_kernel, khatri_rao, unfold


def _stub(*args, **kwargs):
    raise NotImplementedError


# ------------------------------------------------------------------ the ALS update (chapter 5)


def _normal_equations(kernel, factors):
    out, inp, _, horizontal = factors
    gram = (out.T @ out) * (inp.T @ inp) * (horizontal.T @ horizontal)
    rhs = np.einsum("oihw,or,ir,wr->hr", kernel, out, inp, horizontal)
    return np.linalg.solve(gram, rhs.T).T


def test_check_als_vertical_update():
    def by_unfolding(kernel, factors):
        out, inp, _, horizontal = factors
        w = khatri_rao(out, inp, horizontal)
        return np.linalg.lstsq(w, unfold(kernel, 2).T, rcond=None)[0].T

    def forgot_the_gram(kernel, factors):  # the right-hand side only
        out, inp, _, horizontal = factors
        return np.einsum("oihw,or,ir,wr->hr", kernel, out, inp, horizontal)

    assert A.check_als_vertical_update(_normal_equations).passed
    assert A.check_als_vertical_update(by_unfolding).passed
    bad = A.check_als_vertical_update(forgot_the_gram)
    assert not bad.passed and "off by" in bad.message
    transposed = A.check_als_vertical_update(lambda k, f: _normal_equations(k, f).T)
    assert not transposed.passed and "shape" in transposed.message
    stub = A.check_als_vertical_update(_stub)
    assert not stub.passed and "still a stub" in stub.message


def test_check_als_vertical_update_reports_an_error_of_the_readers_code():
    res = A.check_als_vertical_update(lambda k, f: k["no"])
    assert not res.passed and "raised" in res.message


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), rank=st.integers(1, 3))
def test_reference_update_recovers_the_planted_vertical_factor(seed, rank):
    # For an exact CP kernel the least-squares vertical factor, given the true other three
    # factors, is the true vertical factor (the design has full column rank generically).
    rng = np.random.default_rng(seed)
    f = [rng.normal(size=(n, rank)) for n in (4, 3, 3, 2)]
    kernel = cp_to_kernel(CPFactors(*f))
    got = A.vertical_update_reference(kernel, f)
    np.testing.assert_allclose(got, f[2], atol=1e-8)


def test_reference_update_never_increases_the_error():
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(5, 4, 3, 3))
    f = [rng.normal(size=(n, 3)) for n in kernel.shape]
    before = np.linalg.norm(kernel - cp_to_kernel(CPFactors(*f)))
    f[2] = A.vertical_update_reference(kernel, f)
    after = np.linalg.norm(kernel - cp_to_kernel(CPFactors(*f)))
    assert after <= before
    # and it is a minimum: small changes of the new factor only increase the error
    for _ in range(5):
        g = list(f)
        g[2] = f[2] + 1e-3 * rng.normal(size=f[2].shape)
        assert np.linalg.norm(kernel - cp_to_kernel(CPFactors(*g))) >= after


# ------------------------------------------------------------------ term cosines (chapter 5)


def test_check_term_cosines():
    def from_grams(factors):
        g = np.prod([np.asarray(m).T @ np.asarray(m) for m in factors], axis=0)
        d = np.sqrt(np.diag(g))
        return g / np.outer(d, d)

    def without_normalising(factors):
        return np.prod([np.asarray(m).T @ np.asarray(m) for m in factors], axis=0)

    def only_out(factors):  # cosines of one factor's columns, not of the whole terms
        out = np.asarray(factors[0])
        d = np.linalg.norm(out, axis=0)
        return out.T @ out / np.outer(d, d)

    assert A.check_term_cosines(from_grams).passed
    assert not A.check_term_cosines(without_normalising).passed
    assert not A.check_term_cosines(only_out).passed
    assert "still a stub" in A.check_term_cosines(_stub).message


def test_term_cosines_reference_of_known_terms():
    e = np.eye(2)
    orthogonal = (e, e, e, e)  # two terms on different entries
    np.testing.assert_allclose(A._term_cosines_reference(orthogonal), np.eye(2))
    opposite = (np.array([[1.0, -2.0]]), np.ones((1, 2)), np.ones((1, 2)), np.ones((1, 2)))
    np.testing.assert_allclose(A._term_cosines_reference(opposite), [[1, -1], [-1, 1]])


# ------------------------------------------------------------------ measuring (chapter 6)


def test_check_vertical_filter():
    def by_shifts(x, filters, padding):
        kh = filters.shape[1]
        p = np.pad(x, ((0, 0), (padding, padding), (0, 0)))
        h_out = p.shape[1] - kh + 1
        return sum(filters[:, t, None, None] * p[:, t:t + h_out] for t in range(kh))

    def with_lrconv(x, filters, padding):
        return depthwise_conv2d(x, filters[:, :, None], padding=(padding, 0))

    def flipped(x, filters, padding):  # true convolution: the filter reversed
        return by_shifts(x, filters[:, ::-1], padding)

    assert A.check_vertical_filter(by_shifts).passed
    assert A.check_vertical_filter(with_lrconv).passed
    bad = A.check_vertical_filter(flipped)
    assert not bad.passed and "off by" in bad.message
    no_pad = A.check_vertical_filter(lambda x, f, p: by_shifts(x, f, 0))
    assert not no_pad.passed and "shape" in no_pad.message
    assert "still a stub" in A.check_vertical_filter(_stub).message


def test_check_median_ratio():
    assert A.check_median_ratio(lambda a, b: float(np.median(a / b))).passed
    ratio_of_medians = A.check_median_ratio(lambda a, b: np.median(a) / np.median(b))
    assert not ratio_of_medians.passed and "off by" in ratio_of_medians.message
    assert not A.check_median_ratio(lambda a, b: float(np.mean(a / b))).passed
    assert not A.check_median_ratio(lambda a, b: float(np.median(b / a))).passed
    assert "still a stub" in A.check_median_ratio(_stub).message


@pytest.mark.parametrize("n", [1, 2, 5, 6])
def test_median_ratio_reference_is_the_median(n):
    rng = np.random.default_rng(n)
    a, b = rng.random(n) + 0.1, rng.random(n) + 0.1
    assert A._median_ratio_reference(a, b) == pytest.approx(float(np.median(a / b)))


def test_median_ratio_reference_rejects_unequal_lengths():
    with pytest.raises(ValueError, match="zip"):
        A._median_ratio_reference(np.ones(3), np.ones(2))
