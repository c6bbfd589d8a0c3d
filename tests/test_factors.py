"""Tests of lrconv.factors: the factor types, their kernels, gradients and stage plans.

Every per-form test is parametrised over ``FORMS`` below; a fourth form is one more entry there
(its builder, its plain-loop kernel and its hand-counted cost).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrconv import cost, factors
from lrconv.conv import conv2d
from lrconv.factors import CPFactors, SliceSVDFactors, Stage, Tucker2Factors
from lrconv.layers import run_stages

# --------------------------------------------------------------------------- references


def loop_cp(f):
    out, inp, ver, hor = f
    k = np.zeros((out.shape[0], inp.shape[0], ver.shape[0], hor.shape[0]))
    for o, i, y, x, r in np.ndindex(*k.shape, out.shape[1]):
        k[o, i, y, x] += out[o, r] * inp[i, r] * ver[y, r] * hor[x, r]
    return k


def loop_tucker2(f):
    core, out, inp = f
    k = np.zeros((out.shape[0], inp.shape[0], *core.shape[2:]))
    for o, i, y, x, a, b in np.ndindex(*k.shape, *core.shape[:2]):
        k[o, i, y, x] += core[a, b, y, x] * out[o, a] * inp[i, b]
    return k


def loop_slice_svd(f):
    cols, rows = f
    k = np.zeros((*cols.shape[:3], rows.shape[-1]))
    for o, i, y, x, j in np.ndindex(*k.shape, cols.shape[-1]):
        k[o, i, y, x] += cols[o, i, y, j] * rows[o, i, j, x]
    return k


def hand_cp_cost(c_in, c_out, kh, kw, h, w, h_out, w_out, r):
    params = r * (c_in + kh + kw + c_out)
    # 1x1 on h x w; kh taps on h_out x w; kw taps on h_out x w_out; r taps into c_out channels
    macs = r * h * w * c_in + r * h_out * w * kh + r * h_out * w_out * kw \
        + c_out * h_out * w_out * r
    return params, macs


def hand_tucker2_cost(c_in, c_out, kh, kw, h, w, h_out, w_out, r):
    params = r * r * kh * kw + c_out * r + c_in * r
    macs = r * h * w * c_in + r * h_out * w_out * r * kh * kw + c_out * h_out * w_out * r
    return params, macs


def hand_slice_svd_cost(c_in, c_out, kh, kw, h, w, h_out, w_out, r):
    params = c_out * c_in * r * (kh + kw)
    macs = c_out * c_in * r * h_out * w * kh + c_out * h_out * w_out * c_in * r * kw
    return params, macs


@dataclass(frozen=True)
class Form:
    name: str
    cls: type
    build: Callable  # (rng, c_out, c_in, kh, kw, rank) -> factors
    loop: Callable
    hand_cost: Callable
    max_rank: Callable  # (c_out, c_in, kh, kw) -> the largest rank the form takes


def _cp(rng, c_out, c_in, kh, kw, r):
    return CPFactors(*(rng.standard_normal((n, r)) for n in (c_out, c_in, kh, kw)))


def _tucker2(rng, c_out, c_in, kh, kw, r):
    return Tucker2Factors(rng.standard_normal((r, r, kh, kw)), rng.standard_normal((c_out, r)),
                          rng.standard_normal((c_in, r)))


def _slice(rng, c_out, c_in, kh, kw, r):
    return SliceSVDFactors(rng.standard_normal((c_out, c_in, kh, r)),
                           rng.standard_normal((c_out, c_in, r, kw)))


FORMS = [
    Form("cp", CPFactors, _cp, loop_cp, hand_cp_cost, lambda co, ci, kh, kw: 4),
    Form("tucker2", Tucker2Factors, _tucker2, loop_tucker2, hand_tucker2_cost,
         lambda co, ci, kh, kw: min(co, ci)),
    Form("slice_svd", SliceSVDFactors, _slice, loop_slice_svd, hand_slice_svd_cost,
         lambda co, ci, kh, kw: min(kh, kw)),
]
by_form = pytest.mark.parametrize("form", FORMS, ids=[f.name for f in FORMS])
COST = {"cp": cost.cp_cost, "tucker2": cost.tucker2_cost, "slice_svd": cost.slice_svd_cost}


def example(form, seed=0, shape=(3, 2, 3, 2), rank=2):
    return form.build(np.random.default_rng(seed), *shape, rank)


def test_forms_table_names_every_type():
    assert factors.FORMS == {f.name: f.cls for f in FORMS}


# --------------------------------------------------------------------------- named-tuple behaviour


@by_form
def test_behaves_as_the_named_tuple_it_replaces(form):
    f = example(form)
    assert isinstance(f, tuple) and len(f) == len(form.cls._fields)
    assert list(f._asdict()) == list(form.cls._fields)
    same = form.cls(**f._asdict())
    assert all(np.array_equal(a, b) for a, b in zip(same, f, strict=True))
    first, *rest = f  # unpacking
    assert first is f[0] and len(rest) == len(f) - 1
    assert type(f._replace(**{f._fields[0]: f[0] * 2})) is form.cls
    back = pickle.loads(pickle.dumps(f))
    assert type(back) is form.cls and all(np.array_equal(a, b) for a, b in zip(back, f,
                                                                                strict=True))
    assert repr(f).startswith(f"{form.cls.__name__}(")


def test_rank_and_ranks():
    rng = np.random.default_rng(1)
    assert _cp(rng, 3, 2, 3, 2, 4).rank == 4
    assert _tucker2(rng, 3, 2, 3, 2, 2).ranks == (2, 2)
    assert Tucker2Factors(np.ones((3, 1, 2, 2)), np.ones((4, 3)), np.ones((5, 1))).ranks == (3, 1)
    assert _slice(rng, 3, 2, 3, 2, 2).rank == 2


@by_form
def test_arrays_are_stored_as_floats(form):
    f = example(form)
    ints = form.cls(*(np.round(a * 3).astype(np.int32) for a in f))
    assert all(a.dtype == np.float64 for a in ints)
    singles = form.cls(*(a.astype(np.float32) for a in f))
    assert all(a.dtype == np.float32 for a in singles)
    nested = form.cls(*(a.tolist() for a in f))
    assert all(isinstance(a, np.ndarray) and a.dtype == np.float64 for a in nested)


@by_form
def test_non_finite_entries_are_stored_and_propagate(form):
    f = example(form)
    bad = f._replace(**{f._fields[0]: np.full_like(f[0], np.nan)})
    assert np.isnan(bad.to_kernel()).all()


# --------------------------------------------------------------------------- validation

BAD_VALUES = st.sampled_from([None, "abc", 3 + 1j, [[True]], [[1 + 2j]], {"a": 1}, object()])


def _mismatch(form, f, field_index, extra):
    """``f`` with field ``field_index`` (not the first) one size off along a shared axis."""
    arr = f[field_index]
    axis = {"cp": 1, "tucker2": 1, "slice_svd": int(extra % 3)}[form.name]
    shape = list(arr.shape)
    shape[axis] += 1 + extra
    return f._replace(**{f._fields[field_index]: np.ones(shape)})


@settings(max_examples=60, deadline=None)
@given(form=st.sampled_from(FORMS), field=st.integers(0, 3), bad=BAD_VALUES)
def test_non_numeric_fields_are_refused(form, field, bad):
    f = example(form)
    field %= len(f)
    name = f"{form.cls.__name__}.{f._fields[field]}"
    args = list(f)
    args[field] = bad
    with pytest.raises(TypeError, match=rf"{name} must be a (real )?numeric array"):
        form.cls(*args)


@settings(max_examples=60, deadline=None)
@given(form=st.sampled_from(FORMS), field=st.integers(0, 3), ndim=st.integers(0, 5))
def test_wrong_dimensions_are_refused(form, field, ndim):
    f = example(form)
    field %= len(f)
    if ndim == f[field].ndim:
        ndim += 1
    args = list(f)
    args[field] = np.ones((2,) * ndim)
    name = f"{form.cls.__name__}.{f._fields[field]}"
    with pytest.raises(ValueError, match=rf"{name} must have {f[field].ndim} dimensions"):
        form.cls(*args)


@settings(max_examples=60, deadline=None)
@given(form=st.sampled_from(FORMS), field=st.integers(0, 3), axis=st.integers(0, 3))
def test_empty_fields_are_refused(form, field, axis):
    f = example(form)
    field %= len(f)
    shape = list(f[field].shape)
    shape[axis % len(shape)] = 0
    args = list(f)
    args[field] = np.ones(shape)
    with pytest.raises(ValueError, match=rf"{form.cls.__name__}\.\w+ must not be empty|"
                                         rf"{form.cls.__name__}\.\w+ must have"):
        form.cls(*args)


@settings(max_examples=60, deadline=None)
@given(form=st.sampled_from(FORMS), field=st.integers(1, 3), extra=st.integers(0, 5))
def test_factors_that_do_not_fit_are_refused(form, field, extra):
    f = example(form)
    field = 1 + (field - 1) % (len(f) - 1)
    name = f"{form.cls.__name__}.{f._fields[field]}"
    with pytest.raises(ValueError, match=rf"{name} must have .*received shape"):
        _mismatch(form, f, field, extra)


def test_one_sided_size_one_factors_are_not_broadcast():
    with pytest.raises(ValueError, match=r"Tucker2Factors.inp must have 1 columns"):
        Tucker2Factors(np.ones((1, 1, 1, 1)), np.ones((1, 1)), np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"CPFactors.vertical must have 1 columns"):
        CPFactors(np.ones((2, 1)), np.ones((2, 1)), np.ones((2, 2)), np.ones((2, 1)))
    f = CPFactors(np.ones((2, 1)), np.ones((3, 1)), np.ones((3, 1)), np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"CPFactors.out must have 2 dimensions"):
        f._replace(out=np.ones(2))


def test_check_functions_accept_tuples_and_name_the_argument():
    from lrconv.decompose import check_cp_factors, check_slice_svd_factors, check_tucker2_factors

    f = CPFactors(np.ones((2, 1)), np.ones((3, 1)), np.ones((3, 1)), np.ones((3, 1)))
    assert check_cp_factors(f) is f
    assert type(check_cp_factors(tuple(f))) is CPFactors
    with pytest.raises(TypeError, match=r"weights must be CPFactors\(out, inp, vertical, "):
        check_cp_factors(tuple(f)[:3], "weights")
    with pytest.raises(TypeError, match=r"factors must be Tucker2Factors\(core, out, inp\)"):
        check_tucker2_factors("abc")
    with pytest.raises(TypeError, match=r"factors must be SliceSVDFactors\(columns, rows\)"):
        check_slice_svd_factors(None)


# --------------------------------------------------------------------------- kernels


@by_form
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), dims=st.tuples(*(st.integers(1, 3),) * 4),
       rank=st.integers(1, 3))
def test_to_kernel_matches_a_plain_loop(form, seed, dims, rank):
    f = form.build(np.random.default_rng(seed), *dims, min(rank, form.max_rank(*dims)))
    k = f.to_kernel()
    assert k.shape == f.shape == dims
    np.testing.assert_allclose(k, form.loop(f), rtol=1e-12, atol=1e-12)


def test_to_kernel_wrappers_are_the_methods():
    from lrconv.decompose import cp_to_kernel, slice_svd_to_kernel, tucker2_to_kernel

    for form, wrapper in zip(FORMS, (cp_to_kernel, tucker2_to_kernel, slice_svd_to_kernel),
                             strict=True):
        f = example(form, seed=3)
        np.testing.assert_array_equal(wrapper(f), f.to_kernel())
        np.testing.assert_array_equal(wrapper(tuple(f)), f.to_kernel())


def test_to_kernel_refuses_a_kernel_beyond_the_memory_budget():
    big = np.broadcast_to(np.zeros(()), (10**5, 1))
    f = CPFactors(big, big, np.ones((3, 1)), np.ones((3, 1)))
    assert f.shape == (10**5, 10**5, 3, 3)
    with pytest.raises(ValueError, match="above the 2 GiB budget"):
        f.to_kernel()


# --------------------------------------------------------------------------- gradients


@by_form
@pytest.mark.parametrize("seed", [0, 1])
def test_kernel_grads_match_finite_differences(form, seed):
    """L = <G, K(f)> is linear in each factor, so central differences are exact up to
    round-off: they check the chain rule independently of its einsum."""
    rng = np.random.default_rng(seed)
    f = form.build(rng, 3, 2, 3, 2, 2)
    g = rng.standard_normal(f.shape)
    grads = f.kernel_grads(g)
    assert type(grads) is form.cls
    step = 1e-3
    for field, (value, grad) in enumerate(zip(f, grads, strict=True)):
        assert grad.shape == value.shape
        numeric = np.zeros_like(value)
        for idx in np.ndindex(*value.shape):
            bump = np.zeros_like(value)
            bump[idx] = step
            up = f._replace(**{f._fields[field]: value + bump}).to_kernel()
            down = f._replace(**{f._fields[field]: value - bump}).to_kernel()
            numeric[idx] = np.sum(g * (up - down)) / (2 * step)
        np.testing.assert_allclose(grad, numeric, rtol=1e-7, atol=1e-9)


@by_form
def test_kernel_grads_check_the_gradient_shape(form):
    f = example(form)
    with pytest.raises(ValueError,
                       match=r"grad_kernel must have the kernel's shape \(3, 2, 3, 2\)"):
        f.kernel_grads(np.ones((3, 2, 3)))
    with pytest.raises(TypeError, match="grad_kernel must be a real numeric array"):
        f.kernel_grads("abc")


# --------------------------------------------------------------------------- CP normalisation


def test_balanced_keeps_the_kernel_and_equalises_column_norms():
    rng = np.random.default_rng(4)
    f = _cp(rng, 4, 3, 3, 2, 3)
    f = f._replace(out=f.out * np.array([100.0, 1.0, 0.01]))
    b = f.balanced()
    np.testing.assert_allclose(b.to_kernel(), f.to_kernel(), rtol=1e-12, atol=1e-14)
    norms = np.stack([np.linalg.norm(a, axis=0) for a in b])
    np.testing.assert_allclose(norms, np.broadcast_to(norms[0], norms.shape), rtol=1e-12)
    for a, c in zip(f, b, strict=True):  # signs kept: every column only rescaled by > 0
        assert np.all(np.sum(a * c, axis=0) > 0)


def test_normalized_gives_unit_columns_and_weights():
    rng = np.random.default_rng(5)
    f = _cp(rng, 4, 3, 3, 2, 3)
    f = f._replace(inp=f.inp * np.array([1.0, 0.0, 2.0]))  # component 1 is zero
    weights, unit = f.normalized()
    assert weights.shape == (3,) and weights[1] == 0
    for a in unit:
        n = np.linalg.norm(a, axis=0)
        np.testing.assert_allclose(n[[0, 2]], 1.0)
    want = np.einsum("r,or,ir,hr,wr->oihw", weights, *unit)
    np.testing.assert_allclose(want, loop_cp(f), atol=1e-12)


# --------------------------------------------------------------------------- stage plans


@by_form
def test_stage_plan_layout(form):
    f = example(form)  # kernel 3 x 2
    stages = f.stage_plan(stride=(2, 3), padding=(1, 2))
    assert all(isinstance(s, Stage) for s in stages)
    for s in stages:
        kh, kw = s.kernel_size
        if s.kind == "pointwise":
            assert s.stride == (1, 1) and s.padding == (0, 0)
        # the stage that pads or strides an axis is the one with the kernel's extent along it
        if s.padding[0] or s.stride[0] > 1:
            assert (kh, s.padding[0], s.stride[0]) == (3, 1, 2)
        if s.padding[1] or s.stride[1] > 1:
            assert (kw, s.padding[1], s.stride[1]) == (2, 2, 3)
    assert sum(s.padding[0] > 0 for s in stages) == 1 == sum(s.padding[1] > 0 for s in stages)
    names = [s.name for s in stages]
    assert len(set(names)) == len(names)


def test_cp_stage_names_and_weights():
    f = _cp(np.random.default_rng(6), 4, 3, 3, 2, 2)
    s1, s2, s3, s4 = f.stage_plan(stride=(2, 1), padding=(1, 0))
    assert [s.name for s in (s1, s2, s3, s4)] == [
        "pointwise 1x1 C_in -> R", "vertical kh x 1 depthwise", "horizontal 1 x kw depthwise",
        "pointwise 1x1 R -> C_out"]
    assert [s.kind for s in (s1, s2, s3, s4)] == ["pointwise", "depthwise", "depthwise",
                                                  "pointwise"]
    np.testing.assert_array_equal(s1.weight, f.inp.T)
    np.testing.assert_array_equal(s2.weight[:, :, 0], f.vertical.T)
    np.testing.assert_array_equal(s3.weight[:, 0, :], f.horizontal.T)
    np.testing.assert_array_equal(s4.weight, f.out)
    assert (s2.stride, s2.padding, s3.stride, s3.padding) == ((2, 1), (1, 0), (1, 1), (0, 0))


@by_form
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10**6), dims=st.tuples(*(st.integers(1, 3),) * 4),
       rank=st.integers(1, 3), batch=st.sampled_from([None, 1, 2]),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.tuples(st.integers(0, 2), st.integers(0, 2)), extra=st.integers(0, 4))
def test_stage_plan_run_equals_the_full_convolution(form, seed, dims, rank, batch, stride,
                                                    padding, extra):
    rng = np.random.default_rng(seed)
    c_out, c_in, kh, kw = dims
    f = form.build(rng, *dims, min(rank, form.max_rank(*dims)))
    h, w = kh + extra, kw + (extra + 1) % 3
    x = rng.standard_normal((c_in, h, w) if batch is None else (batch, c_in, h, w))
    outputs = run_stages(x, f.stage_plan(stride, padding))
    want = conv2d(x, f.to_kernel(), stride=stride, padding=padding)
    np.testing.assert_allclose(outputs[-1], want, rtol=1e-10, atol=1e-10)
    shape = x.shape
    for s, y in zip(f.stage_plan(stride, padding), outputs, strict=True):
        shape = s.shape_out(shape)
        assert y.shape == shape


@by_form
@settings(max_examples=30, deadline=None)
@given(dims=st.tuples(*(st.integers(1, 4),) * 4), rank=st.integers(1, 4),
       hw=st.tuples(st.integers(0, 5), st.integers(0, 5)),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.tuples(st.integers(0, 2), st.integers(0, 2)))
def test_cost_of_the_plan_equals_hand_formulas(form, dims, rank, hw, stride, padding):
    c_out, c_in, kh, kw = dims
    r = min(rank, form.max_rank(*dims))
    h, w = kh + hw[0], kw + hw[1]
    h_out = (h + 2 * padding[0] - kh) // stride[0] + 1
    w_out = (w + 2 * padding[1] - kw) // stride[1] + 1
    params, macs = form.hand_cost(c_in, c_out, kh, kw, h, w, h_out, w_out, r)
    ranks = (r, r) if form.name == "tucker2" else r
    assert COST[form.name](c_in, c_out, kh, kw, h, w, ranks, stride=stride,
                           padding=padding) == (params, macs)
    f = form.build(np.random.default_rng(0), c_out, c_in, kh, kw, r)
    plan = cost.stage_costs(f.stage_plan(stride, padding), (c_in, h, w))
    assert sum(s.params for s in plan) == params and sum(s.macs for s in plan) == macs
    assert plan[-1].shape_out == (c_out, h_out, w_out)


# --------------------------------------------------------------------------- Stage checks


@pytest.mark.parametrize(("make", "exc", "match"), [
    (lambda: Stage("s", "grouped", np.ones((2, 2))), ValueError, "kind must be one of"),
    (lambda: Stage("s", np.ones(2), np.ones((2, 2))), TypeError, "kind must be a str"),
    (lambda: Stage(None, "dense", np.ones((2, 2, 1, 1))), TypeError, "name must be a str"),
    (lambda: Stage("s", "dense", np.ones((2, 0, 1, 1))), ValueError, "weight must not be empty"),
    (lambda: Stage("s", "pointwise", np.ones((2, 2, 1))), ValueError,
     "weight must have 2 dimensions"),
    (lambda: Stage("s", "depthwise", np.ones((2, 3))), ValueError,
     "weight must have 3 dimensions"),
    (lambda: Stage("s", "dense", "abc"), TypeError, "weight must be a real numeric array"),
    (lambda: Stage("s", "dense", np.ones((2, 2, 3, 3)), stride=0), ValueError,
     "stride must be >= 1"),
    (lambda: Stage("s", "depthwise", np.ones((2, 3, 1)), padding=(1, -1)), ValueError,
     r"padding\[1\] must be >= 0"),
    (lambda: Stage("s", "pointwise", np.ones((2, 2)), sum_groups=2), ValueError,
     "copies and sum_groups apply to depthwise stages only"),
    (lambda: Stage("s", "depthwise", np.ones((3, 3, 1)), sum_groups=2), ValueError,
     "must be a multiple"),
    (lambda: Stage("s", "depthwise", np.ones((3, 3, 1)), sum_groups=1.5), TypeError,
     "sum_groups must be an integer"),
])
def test_bad_stages_are_refused(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_shape_out_checks_channels_and_size():
    s = Stage("core", "dense", np.ones((2, 3, 3, 3)), stride=2, padding=1)
    assert s.shape_out((3, 5, 6)) == (2, 3, 3) and s.shape_out((4, 3, 5, 6)) == (4, 2, 3, 3)
    assert s.macs((3, 5, 6)) == 2 * 3 * 3 * 27
    with pytest.raises(ValueError, match="stage 'core' reads 3 channels"):
        s.shape_out((2, 5, 5))
    with pytest.raises(ValueError, match="larger than the padded input"):
        Stage("v", "depthwise", np.ones((3, 9, 1))).shape_out((3, 5, 5))
    with pytest.raises(TypeError, match=r"shape_in must be \(C, H, W\)"):
        s.shape_out(5)


@by_form
def test_stage_plan_checks_stride_and_padding(form):
    f = example(form)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        f.stage_plan(stride=0)
    with pytest.raises(TypeError, match="padding must be an int or a pair"):
        f.stage_plan(padding="same")
