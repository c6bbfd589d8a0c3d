"""Tests of lrconv.exercises: each checker passes a right answer, fails a wrong one and reports
a stub without raising."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import NON_NUMERIC, assert_rejected, bad_floats, not_callables

from lrconv import exercises as E

CHECKERS = [getattr(E, name) for name in E.__all__ if name.startswith("check_")]


def _stub(*args, **kwargs):
    raise NotImplementedError


def test_check_cross_correlation():
    def right(x, k):
        kh, kw = k.shape
        h, w = x.shape[0] - kh + 1, x.shape[1] - kw + 1
        return np.array([[np.sum(x[i:i + kh, j:j + kw] * k) for j in range(w)]
                         for i in range(h)])

    def flipped(x, k):  # true convolution: flips the kernel
        return right(x, k[::-1, ::-1])

    assert E.check_cross_correlation(right).passed
    bad = E.check_cross_correlation(flipped)
    assert not bad.passed and "off by" in bad.message
    stub = E.check_cross_correlation(_stub)
    assert not stub.passed and "still a stub" in repr(stub)


def test_check_two_passes():
    def right(x, a, b):
        kh, kw = len(a), len(b)
        v = sum(a[u] * x[u:x.shape[0] - kh + 1 + u, :] for u in range(kh))
        return sum(b[j] * v[:, j:v.shape[1] - kw + 1 + j] for j in range(kw))

    def swapped(x, a, b):  # b applied vertically: the wrong orientation
        return right(x, b, a) if len(a) == len(b) else right(x, a, b)[:-1]

    assert E.check_two_passes(right).passed
    assert not E.check_two_passes(swapped).passed
    stub = E.check_two_passes(_stub)
    assert not stub.passed and "still a stub" in repr(stub)


def test_check_rank_r_approximation():
    def right(kernel, rank):
        u, s, vt = np.linalg.svd(np.asarray(kernel, dtype=float), full_matrices=False)
        return (u[:, :rank] * s[:rank]) @ vt[:rank]

    def smallest(kernel, rank):  # keeps the smallest singular values instead
        u, s, vt = np.linalg.svd(np.asarray(kernel, dtype=float), full_matrices=False)
        return (u[:, -rank:] * s[-rank:]) @ vt[-rank:]

    def no_sigma(kernel, rank):  # forgets the singular values
        u, _, vt = np.linalg.svd(np.asarray(kernel, dtype=float), full_matrices=False)
        return u[:, :rank] @ vt[:rank]

    assert E.check_rank_r_approximation(right).passed
    assert not E.check_rank_r_approximation(smallest).passed
    assert not E.check_rank_r_approximation(no_sigma).passed
    stub = E.check_rank_r_approximation(_stub)
    assert not stub.passed and "still a stub" in repr(stub)


def test_check_cp_stages():
    def right(x, f):
        kh, kw = f.vertical.shape[0], f.horizontal.shape[0]
        z = np.einsum("ir,ihw->rhw", f.inp, x)
        h = z.shape[1] - kh + 1
        z = sum(f.vertical[u][:, None, None] * z[:, u:u + h] for u in range(kh))
        w = z.shape[2] - kw + 1
        z = sum(f.horizontal[v][:, None, None] * z[:, :, v:v + w] for v in range(kw))
        return np.einsum("or,rhw->ohw", f.out, z)

    def swapped(x, f):  # vertical and horizontal factors exchanged
        return right(x, f._replace(vertical=f.horizontal, horizontal=f.vertical))

    assert E.check_cp_stages(right).passed
    bad = E.check_cp_stages(swapped)
    assert not bad.passed
    stub = E.check_cp_stages(_stub)
    assert not stub.passed and "still a stub" in repr(stub)


def test_check_tucker2_hosvd():
    from lrconv.decompose import unfold

    def right(kernel, ranks):
        out = np.linalg.svd(unfold(kernel, 0))[0][:, :ranks[0]]
        inp = np.linalg.svd(unfold(kernel, 1))[0][:, :ranks[1]]
        return np.einsum("oihw,oa,ib->abhw", kernel, out, inp), out, inp

    def trailing(kernel, ranks):  # the smallest singular vectors instead of the leading ones
        out = np.linalg.svd(unfold(kernel, 0))[0][:, ::-1][:, :ranks[0]]
        inp = np.linalg.svd(unfold(kernel, 1))[0][:, ::-1][:, :ranks[1]]
        return np.einsum("oihw,oa,ib->abhw", kernel, out, inp), out, inp

    assert E.check_tucker2_hosvd(right).passed
    bad = E.check_tucker2_hosvd(trailing)
    assert not bad.passed and "off by" in bad.message
    stub = E.check_tucker2_hosvd(_stub)
    assert not stub.passed and "still a stub" in repr(stub)


def test_check_cp_inp_grad():
    def right(g, out, vertical, horizontal):
        return np.einsum("oihw,or,hr,wr->ir", g, out, vertical, horizontal)

    def swapped(g, out, vertical, horizontal):  # vertical and horizontal axes confused
        return np.einsum("oihw,or,wr,hr->ir", g, out, vertical, horizontal)

    assert E.check_cp_inp_grad(right).passed
    bad = E.check_cp_inp_grad(swapped)
    assert not bad.passed
    stub = E.check_cp_inp_grad(_stub)
    assert not stub.passed and "still a stub" in repr(stub)


def test_check_merge_locon():
    def right(kernel, down, up, scale):
        c_out, c_in, kh, kw = kernel.shape
        delta = up @ down.reshape(down.shape[0], -1)  # LoRA's B A on the reshaped kernel
        return kernel + scale * delta.reshape(c_out, c_in, kh, kw)

    def no_scale(kernel, down, up, scale):
        return right(kernel, down, up, 1.0)

    def update_only(kernel, down, up, scale):  # forgets the frozen kernel
        return right(np.zeros_like(kernel), down, up, scale)

    assert E.check_merge_locon(right).passed
    assert not E.check_merge_locon(no_scale).passed
    bad = E.check_merge_locon(update_only)
    assert not bad.passed and "off by" in bad.message
    stub = E.check_merge_locon(_stub)
    assert not stub.passed and "still a stub" in repr(stub)


def test_check_cp_break_even():
    from lrconv.cost import conv_cost, cp_cost

    def right(c_in, c_out, kh, kw, h, w, stride, padding):
        dense = conv_cost(c_in, c_out, kh, kw, h, w, stride=stride, padding=padding).macs
        rank = 0
        while cp_cost(c_in, c_out, kh, kw, h, w, rank + 1, stride=stride,
                      padding=padding).macs < dense:
            rank += 1
        return rank

    def padded_input(c_in, c_out, kh, kw, h, w, stride, padding):  # pads before the 1x1 stage
        hp, wp = h + 2 * padding, w + 2 * padding
        ho, wo = (hp - kh) // stride + 1, (wp - kw) // stride + 1
        per_rank = hp * wp * c_in + ho * wp * kh + ho * wo * kw + ho * wo * c_out
        return (ho * wo * c_out * c_in * kh * kw - 1) // per_rank

    assert E.check_cp_break_even(right).passed
    assert right(128, 128, 3, 3, 32, 32, 1, 1) == 562
    assert right(1, 1, 3, 3, 8, 8, 1, 0) == 0
    bad = E.check_cp_break_even(padded_input)
    assert not bad.passed and "off by" in bad.message
    stub = E.check_cp_break_even(_stub)
    assert not stub.passed and "still a stub" in repr(stub)


def test_every_checker_is_public():
    assert len(CHECKERS) == 8


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
@settings(max_examples=10, deadline=None)
@given(bad=not_callables())
def test_checkers_need_a_function(checker, bad):
    with pytest.raises(TypeError, match=r"^func must be callable"):
        checker(bad[0])


GARBAGE = st.one_of(st.sampled_from(NON_NUMERIC + [[[1, 2], [3]], np.ones(2, dtype=complex),
                                                   1j, "abc", np.array(["a"])]),
                    st.floats(allow_nan=True), st.integers(-3, 3))


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
@settings(max_examples=15, deadline=None)
@given(value=GARBAGE)
def test_a_function_returning_garbage_is_reported_not_raised(checker, value):
    result = checker(lambda *args, **kwargs: value)
    assert isinstance(result, E.CheckResult) and not result.passed
    assert result.message


def test_garbage_messages_say_what_was_returned():
    result = E.run_check(lambda x: "abc", [((1.0,), {})], lambda x: x, what="identity")
    assert not result and "returned str, not an array of real numbers" in result.message
    result = E.run_check(lambda x: [[1], [2, 3]], [((1.0,), {})], lambda x: x, what="identity")
    assert not result and "not an array of real numbers" in result.message


def test_run_check_against_known_outcomes():
    cases = [((1.0, 2.0), {}), ((np.arange(3.0), 1.0), {})]
    assert E.run_check(np.add, cases, lambda a, b: a + b, what="sum")
    off = E.run_check(lambda a, b: a + b + 0.5, cases, np.add, what="sum")
    assert not off and "case 1 is off by up to 0.5" in off.message
    shape = E.run_check(lambda a, b: np.zeros(7), cases, np.add, what="sum")
    assert not shape and "case 1 returned shape (7,), expected ()" in shape.message


ARGS = dict(func=np.add, cases=[((1.0, 2.0), {})], reference=np.add, what="sum", atol=1e-8)
BAD_CASES = st.one_of(
    st.sampled_from([None, 3, "ab", b"ab", {1: 2}]).map(lambda v: (v, TypeError)),
    st.just(([], ValueError)),
    st.sampled_from([[(1,)], [((1,), 3)], [(3, {})], [((1, 2), {3: 4})], [[(1, 2), {}]],
                     [((1, 2), {}, 3)]]).map(lambda v: (v, TypeError)),
    st.just(([((1, 2, 3, 4), {})], ValueError)),  # the reference fails on it
)


@pytest.mark.parametrize("name, bad", [
    ("func", not_callables()), ("reference", not_callables()), ("cases", BAD_CASES),
    ("what", st.sampled_from([None, 3, b"x", ["a"]]).map(lambda v: (v, TypeError))),
    ("atol", bad_floats(0.0)),
])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_run_check_rejects_bad_arguments_naming_them(name, bad, data):
    assert_rejected(E.run_check, ARGS, name, data.draw(bad))


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(passed=None, message="m"), r"^passed must be True or False"),
    (dict(passed=1, message="m"), r"^passed must be True or False"),
    (dict(passed=True, message=3), r"^message must be a string"),
])
def test_check_result_checks_its_fields(kwargs, pattern):
    with pytest.raises(TypeError, match=pattern):
        E.CheckResult(**kwargs)
    assert repr(E.CheckResult(np.bool_(True), "fine")) == "Correct: fine"
