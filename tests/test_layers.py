"""Tests of lrconv.layers: each factorized layer equals the convolution with its kernel."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import conv_geometry

import lrconv.layers as layers
from lrconv import cost
from lrconv.conv import conv2d
from lrconv.decompose import (
    CPFactors,
    SliceSVDFactors,
    Tucker2Factors,
    cp_to_kernel,
    slice_svd_to_kernel,
    tucker2_to_kernel,
)
from lrconv.layers import (
    cp_conv2d,
    cp_stages,
    slice_svd_conv2d,
    slice_svd_stages,
    tucker2_conv2d,
    tucker2_stages,
)
from tests.reference import reference_conv2d

pairs = st.tuples(st.integers(1, 3), st.integers(1, 3))


@st.composite
def layer_case(draw):
    """Random small layer: channels, kernel, input, stride, padding, batch and seed."""
    c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw, stride, padding, h, w, batch = draw(conv_geometry())
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    shape = (c_in, h, w) if batch is None else (batch, c_in, h, w)
    return dict(c_in=c_in, c_out=c_out, kh=kh, kw=kw, stride=stride, padding=padding,
                x=rng.standard_normal(shape), rng=rng)


def random_cp(rng, c_out, c_in, kh, kw, rank):
    return CPFactors(*(rng.standard_normal((n, rank)) for n in (c_out, c_in, kh, kw)))


def random_tucker2(rng, c_out, c_in, kh, kw, r_out, r_in):
    return Tucker2Factors(rng.standard_normal((r_out, r_in, kh, kw)),
                          rng.standard_normal((c_out, r_out)), rng.standard_normal((c_in, r_in)))


def random_slice(rng, c_out, c_in, kh, kw, rank):
    return SliceSVDFactors(rng.standard_normal((c_out, c_in, kh, rank)),
                           rng.standard_normal((c_out, c_in, rank, kw)))


@given(case=layer_case(), rank=st.integers(1, 4))
@settings(max_examples=50, deadline=None)
def test_cp_layer_equals_conv_with_its_kernel(case, rank):
    f = random_cp(case["rng"], case["c_out"], case["c_in"], case["kh"], case["kw"], rank)
    kw = dict(stride=case["stride"], padding=case["padding"])
    got = cp_conv2d(case["x"], f, **kw)
    want = conv2d(case["x"], cp_to_kernel(f), **kw)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@given(case=layer_case(), r_out=st.integers(1, 3), r_in=st.integers(1, 3))
@settings(max_examples=50, deadline=None)
def test_tucker2_layer_equals_conv_with_its_kernel(case, r_out, r_in):
    f = random_tucker2(case["rng"], case["c_out"], case["c_in"], case["kh"], case["kw"],
                       r_out, r_in)
    kw = dict(stride=case["stride"], padding=case["padding"])
    got = tucker2_conv2d(case["x"], f, **kw)
    want = conv2d(case["x"], tucker2_to_kernel(f), **kw)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@given(case=layer_case(), rank=st.integers(1, 3))
@settings(max_examples=50, deadline=None)
def test_slice_svd_layer_equals_conv_with_its_kernel(case, rank):
    f = random_slice(case["rng"], case["c_out"], case["c_in"], case["kh"], case["kw"], rank)
    kw = dict(stride=case["stride"], padding=case["padding"])
    got = slice_svd_conv2d(case["x"], f, **kw)
    want = conv2d(case["x"], slice_svd_to_kernel(f), **kw)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (2, 1), ((1, 2), (2, 0))])
def test_layers_match_the_plain_loop_reference(stride, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 5))
    kw = dict(stride=stride, padding=padding)
    for layer, f, rebuild in [
        (cp_conv2d, random_cp(rng, 2, 3, 3, 2, 2), cp_to_kernel),
        (tucker2_conv2d, random_tucker2(rng, 2, 3, 3, 2, 2, 1), tucker2_to_kernel),
        (slice_svd_conv2d, random_slice(rng, 2, 3, 3, 2, 1), slice_svd_to_kernel),
    ]:
        np.testing.assert_allclose(layer(x, f, **kw),
                                   reference_conv2d(x, rebuild(f), stride, padding), atol=1e-10)


def test_bias_is_added_once_at_the_end():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 5))
    bias = np.array([1.0, -2.0])
    f = random_cp(rng, 2, 3, 3, 3, 2)
    stages = cp_stages(x, f, padding=1, bias=bias)
    plain = cp_stages(x, f, padding=1)
    for with_bias, without in zip(stages[:-1], plain[:-1], strict=True):
        np.testing.assert_array_equal(with_bias, without)
    np.testing.assert_allclose(stages[-1], plain[-1] + bias[:, None, None])
    t = random_tucker2(rng, 2, 3, 3, 3, 2, 2)
    np.testing.assert_allclose(tucker2_conv2d(x, t, bias=bias),
                               conv2d(x, tucker2_to_kernel(t)) + bias[:, None, None])
    s = random_slice(rng, 2, 3, 3, 3, 1)
    np.testing.assert_allclose(slice_svd_conv2d(x, s, bias=bias),
                               conv2d(x, slice_svd_to_kernel(s)) + bias[:, None, None])


def test_stage_shapes_and_what_each_stage_does():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 7, 6))
    f = random_cp(rng, 4, 3, 3, 2, 2)
    s1, s2, s3, s4 = cp_stages(x, f, stride=(2, 1), padding=(1, 0))
    assert [s.shape for s in (s1, s2, s3, s4)] == [(2, 7, 6), (2, 4, 6), (2, 4, 5), (4, 4, 5)]
    np.testing.assert_allclose(s1, np.einsum("ir,ihw->rhw", f.inp, x))
    np.testing.assert_allclose(s4, np.einsum("or,rhw->ohw", f.out, s3))
    t = tucker2_stages(x, random_tucker2(rng, 4, 3, 3, 3, 2, 1), padding=1)
    assert [s.shape for s in t] == [(1, 7, 6), (2, 7, 6), (4, 7, 6)]
    sl = slice_svd_stages(x[None], random_slice(rng, 4, 3, 3, 3, 2), stride=2)
    assert [s.shape for s in sl] == [(1, 24, 3, 6), (1, 4, 3, 2)]


def test_float32_stays_float32():
    rng = np.random.default_rng(3)
    f = CPFactors(*(m.astype(np.float32) for m in random_cp(rng, 2, 2, 3, 3, 2)))
    assert cp_conv2d(rng.standard_normal((2, 5, 5)).astype(np.float32), f).dtype == np.float32


# ------------------------------------------------------------- MACs counted from the stages


def _instrument(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Wrap the convolutions the layers call; record MACs = output values x taps each."""
    counted = []

    def pointwise(x, weight):
        y = layers.pointwise_conv2d.__wrapped__(x, weight)
        counted.append(y[0].size * np.shape(weight)[1])
        return y

    def depthwise(x, kernel, *, stride=1, padding=0):
        y = layers.depthwise_conv2d.__wrapped__(x, kernel, stride=stride, padding=padding)
        counted.append(y[0].size * np.shape(kernel)[1] * np.shape(kernel)[2])
        return y

    def dense(x, kernel, *, stride=1, padding=0):
        y = layers.conv2d.__wrapped__(x, kernel, stride=stride, padding=padding)
        counted.append(y[0].size * int(np.prod(np.shape(kernel)[1:])))
        return y

    for name, fn in (("pointwise_conv2d", pointwise), ("depthwise_conv2d", depthwise),
                     ("conv2d", dense)):
        fn.__wrapped__ = getattr(layers, name)
        monkeypatch.setattr(layers, name, fn)
    return counted


@given(case=layer_case(), r1=st.integers(1, 3), r2=st.integers(1, 3))
@settings(max_examples=30, deadline=None)
def test_cost_counts_the_macs_the_stages_run(case, r1, r2):
    rng, x = case["rng"], case["x"]
    xb = x if x.ndim == 4 else x[None]  # the instrument counts the first image only
    c_in, c_out, kh, kw = case["c_in"], case["c_out"], case["kh"], case["kw"]
    size = (c_in, c_out, kh, kw, xb.shape[2], xb.shape[3])
    opts = dict(stride=case["stride"], padding=case["padding"])
    r_out, r_in, r_slice = min(r1, c_out), min(r2, c_in), min(r1, kh, kw)
    forms = [
        (cp_stages, random_cp(rng, c_out, c_in, kh, kw, r1), cost.cp_stage_costs, r1),
        (tucker2_stages, random_tucker2(rng, c_out, c_in, kh, kw, r_out, r_in),
         cost.tucker2_stage_costs, (r_out, r_in)),
        (slice_svd_stages, random_slice(rng, c_out, c_in, kh, kw, r_slice),
         cost.slice_svd_stage_costs, r_slice),
    ]
    with pytest.MonkeyPatch.context() as mp:
        counted = _instrument(mp)
        for run, f, plan, ranks in forms:
            counted.clear()
            outputs = run(xb, f, **opts)
            stages = plan(*size, ranks, **opts)
            assert [o.shape[1:] for o in outputs] == [s.shape_out for s in stages]
            assert sum(counted) == sum(s.macs for s in stages)


# ------------------------------------------------------------- bad inputs

F = CPFactors(np.ones((2, 1)), np.ones((3, 1)), np.ones((3, 1)), np.ones((3, 1)))
X = np.ones((3, 5, 5))


@pytest.mark.parametrize(("call", "exc", "match"), [
    (lambda: cp_conv2d(np.ones((5, 5)), F), ValueError, "x must have 3 or 4 dimensions"),
    (lambda: cp_conv2d(np.ones((2, 5, 5)), F), ValueError, "x has 2 channels"),
    (lambda: cp_conv2d(np.ones((3, 2, 2)), F), ValueError, "larger than the padded input"),
    (lambda: cp_conv2d(X, F, stride=0), ValueError, "stride must be >= 1"),
    (lambda: cp_conv2d(X, F, stride=1.5), TypeError, "stride"),
    (lambda: cp_conv2d(X, F, padding=-1), ValueError, "padding must be >= 0"),
    (lambda: cp_conv2d(X, F, bias=np.ones(3)), ValueError, r"bias must have shape \(2,\)"),
    (lambda: cp_conv2d(X, F._replace(inp=np.ones((3, 2)))), ValueError,
     "CPFactors.inp must have 1 columns"),
    (lambda: cp_conv2d(X, F[:3]), TypeError, "CPFactors"),
    (lambda: cp_conv2d(X, "abc"), TypeError, "CPFactors"),
    (lambda: tucker2_conv2d(X, Tucker2Factors(np.ones((1, 2, 3, 3)), np.ones((2, 1)),
                                              np.ones((3, 1)))), ValueError,
     "Tucker2Factors.inp must have 2 columns"),
    (lambda: tucker2_conv2d(np.ones((4, 5, 5)), Tucker2Factors(
        np.ones((1, 1, 3, 3)), np.ones((2, 1)), np.ones((3, 1)))), ValueError, "x has 4 channels"),
    (lambda: slice_svd_conv2d(X, SliceSVDFactors(np.ones((2, 3, 3, 1)), np.ones((2, 3, 2, 3)))),
     ValueError, "SliceSVDFactors.rows must have shape"),
    (lambda: slice_svd_conv2d(X, SliceSVDFactors(np.ones((2, 3, 9, 1)), np.ones((2, 3, 1, 3)))),
     ValueError, "larger than the padded input"),
])
def test_bad_inputs_raise_clear_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ------------------------------------------------------------- the generic runner


def test_run_stages_runs_any_plan_and_adds_the_bias():
    rng = np.random.default_rng(2)
    f = random_cp(rng, 3, 2, 3, 3, 2)
    x = rng.standard_normal((2, 6, 5))
    bias = np.array([1.0, -2.0, 0.5])
    outputs = layers.run_stages(x, f.stage_plan(2, 1), bias=bias)
    want = reference_conv2d(x, cp_to_kernel(f), stride=2, padding=1) + bias[:, None, None]
    np.testing.assert_allclose(outputs[-1], want, atol=1e-12)
    assert [o.shape for o in outputs] == [(2, 6, 5), (2, 3, 5), (2, 3, 3), (3, 3, 3)]


@pytest.mark.parametrize(("call", "exc", "match"), [
    (lambda: layers.run_stages(X, []), TypeError, "stages must be a non-empty sequence"),
    (lambda: layers.run_stages(X, "abc"), TypeError, "stages must be a non-empty sequence"),
    (lambda: layers.run_stages(np.ones((5, 5)), F.stage_plan()), ValueError,
     "x must have 3 or 4 dimensions"),
    (lambda: layers.run_stages(np.ones((2, 5, 5)), F.stage_plan()), ValueError,
     "reads 3 channels"),
    (lambda: layers.run_stages(X, F.stage_plan(), bias=np.ones(5)), ValueError,
     r"bias must have shape \(2,\)"),
    (lambda: layers.run_stage("abc", X[None]), TypeError, "stage must be a lrconv.factors.Stage"),
    (lambda: cp_conv2d(np.ones((3, 0, 5)), F, padding=2), ValueError, "x must not be empty"),
    (lambda: layers.run_stages(np.ones((3, 5, 0)), F.stage_plan()), ValueError,
     "x must not be empty"),
    (lambda: layers.run_stage(F.stage_plan()[0], X), ValueError, "x must have 4 dimensions"),
    (lambda: layers.run_stage(F.stage_plan()[1], np.ones((1, 1, 2, 5))), ValueError,
     "larger than the padded input"),
])
def test_runner_bad_inputs_raise_clear_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
