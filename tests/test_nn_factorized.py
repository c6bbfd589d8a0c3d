"""Tests of lrconv.nn.factorized: the factorized-layer family, parametrised over forms (a new
form is one more entry of FORMS below)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrconv import lora, nn
from lrconv.decompose import ConvergenceWarning, cp_decompose
from lrconv.factors import CPFactors, SliceSVDFactors, Tucker2Factors
from tests.reference import reference_conv2d

RNG = np.random.default_rng

# form -> (layer class, factor type, a rank that is exact for a (6, 4, 3, 3) kernel, a small rank)
FORMS = {
    "cp": (nn.CPConv2d, CPFactors, None, 2),
    "tucker2": (nn.Tucker2Conv2d, Tucker2Factors, (6, 4), (2, 3)),
    "slice_svd": (nn.SliceSVDConv2d, SliceSVDFactors, 3, 1),
}


@pytest.fixture(autouse=True)
def _quiet_als():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def dense(seed: int = 0, shape: tuple[int, ...] = (6, 4, 3, 3), **kwargs) -> nn.Conv2d:
    rng = RNG(seed)
    return nn.Conv2d(rng.standard_normal(shape), rng.standard_normal(shape[0]), **kwargs)


def loop_kernel(form: str, f: tuple) -> np.ndarray:
    """Each form's kernel from its definition, one entry at a time."""
    shape = f.shape
    k = np.zeros(shape)
    for o, i, y, x in np.ndindex(*shape):
        if form == "cp":
            k[o, i, y, x] = sum(f.out[o, r] * f.inp[i, r] * f.vertical[y, r] * f.horizontal[x, r]
                                for r in range(f.rank))
        elif form == "tucker2":
            k[o, i, y, x] = sum(f.core[a, b, y, x] * f.out[o, a] * f.inp[i, b]
                                for a in range(f.ranks[0]) for b in range(f.ranks[1]))
        else:
            k[o, i, y, x] = sum(f.columns[o, i, y, r] * f.rows[o, i, r, x] for r in range(f.rank))
    return k


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize(("stride", "padding"), [(1, 1), (2, 0), ((1, 2), (0, 1))])
def test_every_form_applies_its_kernel_and_runs_its_stages(form, stride, padding):
    cls, kind, _, small = FORMS[form]
    conv = dense(1, stride=stride, padding=padding)
    layer = nn.FactorizedConv2d.from_conv(conv, form, small, seed=3)
    assert type(layer) is cls and isinstance(layer.factors, kind)
    assert layer.stride == conv.stride and layer.padding == conv.padding
    np.testing.assert_array_equal(layer.bias, conv.bias)
    k = loop_kernel(form, layer.factors)
    np.testing.assert_allclose(layer.kernel(), k, atol=1e-12)
    x = RNG(2).standard_normal((2, 4, 7, 6))
    expect = reference_conv2d(x, k, stride=stride, padding=padding) + conv.bias[:, None, None]
    np.testing.assert_allclose(layer.forward(x), expect, atol=1e-10)
    np.testing.assert_allclose(layer.run_stages(x), expect, atol=1e-10)
    assert set(layer.params()) == {*kind._fields, "bias"}
    assert all(layer.params()[n] is a for n, a in zip(kind._fields, layer.factors, strict=True))


@pytest.mark.parametrize("form", sorted(FORMS))
def test_gradients_of_the_factors_come_from_the_factor_type(form):
    _, _, _, small = FORMS[form]
    layer = nn.FactorizedConv2d.from_conv(dense(4, padding=1), form, small)
    x = RNG(5).standard_normal((2, 4, 5, 5))
    g = RNG(6).standard_normal(layer.forward(x).shape)
    layer.backward(g)
    gk = nn.conv2d_backward(x, layer.kernel(), g, padding=1)[1]
    expect = layer.factors.kernel_grads(gk)
    for name, value in zip(expect._fields, expect, strict=True):
        np.testing.assert_allclose(layer.grads()[name], value, atol=1e-10)


def test_exact_ranks_give_the_dense_layer_and_truncation_changes_it():
    conv = dense(7, padding=1)
    x = RNG(8).standard_normal((3, 4, 6, 6))
    y = conv.forward(x)
    for form in ("tucker2", "slice_svd"):
        exact = nn.FactorizedConv2d.from_conv(conv, form, FORMS[form][2])
        np.testing.assert_allclose(exact.forward(x), y, atol=1e-10)
        assert not np.allclose(nn.FactorizedConv2d.from_conv(conv, form, FORMS[form][3])
                               .forward(x), y, atol=1e-3)
    # CP: a kernel of CP rank 3 is recovered exactly at rank 3
    planted = CPFactors(*(RNG(9).standard_normal((n, 3)) for n in (6, 4, 3, 3)))
    conv_cp = nn.Conv2d(planted.to_kernel(), conv.bias, padding=1)
    cp = nn.CPConv2d.from_conv(conv_cp, 3)
    np.testing.assert_allclose(cp.forward(x), conv_cp.forward(x), atol=1e-7)


def test_thin_wrappers_equal_the_family_entry():
    conv = dense(10, padding=1)
    pairs = [
        (nn.CPConv2d.from_conv(conv, 3, seed=2, max_iter=20, tol=1e-4),
         nn.FactorizedConv2d.from_conv(conv, "cp", 3, seed=2, max_iter=20, tol=1e-4)),
        (nn.Tucker2Conv2d.from_conv(conv, (2, 3)),
         nn.FactorizedConv2d.from_conv(conv, "tucker2", (2, 3))),
        (nn.Tucker2Conv2d.from_conv(conv, 2), nn.FactorizedConv2d.from_conv(conv, "tucker2",
                                                                              (2, 2))),
        (nn.SliceSVDConv2d.from_conv(conv, 2),
         nn.FactorizedConv2d.from_conv(conv, "slice_svd", 2)),
        (lora.LoConConv2d.from_conv(conv, 2, seed=1),
         nn.FactorizedConv2d.from_conv(conv, "locon", 2, seed=1)),
        (lora.CPUpdateConv2d.from_conv(conv, 2, seed=1),
         nn.FactorizedConv2d.from_conv(conv, "cp_update", 2, seed=1)),
    ]
    for a, b in pairs:
        assert type(a) is type(b)
        for name, value in a.params().items():
            np.testing.assert_array_equal(value, b.params()[name])


def test_cp_from_conv_balances_and_follows_cp_als():
    conv = dense(11)
    raw = cp_decompose(conv.kernel(), 3, max_iter=30, tol=1e-6, seed=4)
    plain = nn.CPConv2d.from_conv(conv, 3, seed=4, max_iter=30, tol=1e-6, balance=False)
    for a, b in zip(plain.factors, raw, strict=True):
        np.testing.assert_allclose(a, b)
    balanced = nn.CPConv2d.from_conv(conv, 3, seed=4, max_iter=30, tol=1e-6)
    np.testing.assert_allclose(balanced.kernel(), plain.kernel(), atol=1e-10)
    norms = np.stack([np.linalg.norm(a, axis=0) for a in balanced.factors])
    np.testing.assert_allclose(norms, norms[:1].repeat(4, axis=0))
    gen = nn.CPConv2d.from_conv(conv, 3, seed=RNG(4), max_iter=5)  # a Generator seeds ALS
    assert gen.factors.rank == 3
    np.testing.assert_allclose(nn.balance_cp(raw).to_kernel(), raw.to_kernel(), atol=1e-10)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_random_factors_keep_the_shapes_and_have_he_scale(form):
    small = {"cp": 24, "tucker2": (8, 8), "slice_svd": 3}[form]  # enough terms to average
    conv = dense(12, shape=(32, 16, 3, 3), padding=1)
    ref = nn.FactorizedConv2d.from_conv(conv, form, small)
    rand = nn.FactorizedConv2d.from_conv(conv, form, small, init="random", seed=5)
    assert [a.shape for a in rand.factors] == [a.shape for a in ref.factors]
    np.testing.assert_array_equal(rand.bias, 0)
    assert rand.kernel().std() == pytest.approx(np.sqrt(2 / (16 * 9)), rel=0.35)
    again = nn.FactorizedConv2d.random(form, (32, 16, 3, 3), small, seed=5, padding=1)
    for a, b in zip(rand.factors, again.factors, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(rand.kernel(), nn.FactorizedConv2d.from_conv(
        conv, form, small, init="random", seed=6).kernel())


@pytest.mark.parametrize("form", sorted(FORMS))
def test_type_follows_the_dense_layer_and_astype_keeps_factors_and_parameters_together(form):
    _, _, _, small = FORMS[form]
    conv = nn.Conv2d.init(4, 6, 3, rng=0, padding=1, dtype=np.float32)
    layer = nn.FactorizedConv2d.from_conv(conv, form, small)
    assert layer.dtype == np.float32 and all(a.dtype == np.float32 for a in layer.factors)
    wide = layer.astype(np.float64)
    assert wide.dtype == np.float64
    assert all(wide.params()[n] is a for n, a in zip(wide.factors._fields, wide.factors,
                                                      strict=True))
    for a in wide.params().values():
        a += 1.0  # an optimizer's update reaches the kernel
    assert not np.allclose(wide.kernel(), layer.kernel(), atol=1e-3)


# --------------------------------------------------------------------------- bad input


@settings(max_examples=30, deadline=None)
@given(conv=st.sampled_from([None, 3, "conv", nn.ReLU(), nn.Linear(np.ones((2, 2)))]),
       form=st.sampled_from(sorted(FORMS) + ["locon", "cp_update"]))
def test_from_conv_refuses_anything_but_a_convolution(conv, form):
    with pytest.raises(TypeError, match="conv must be a lrconv.nn.Conv2d"):
        nn.FactorizedConv2d.from_conv(conv, form, 1)


@settings(max_examples=30, deadline=None)
@given(form=st.one_of(st.text(max_size=5), st.integers(), st.none()).filter(
    lambda f: f not in ("cp", "tucker2", "slice_svd", "locon", "cp_update")))
def test_from_conv_refuses_an_unknown_form(form):
    with pytest.raises(ValueError, match="form must be one of"):
        nn.FactorizedConv2d.from_conv(dense(), form, 1)


@settings(max_examples=30, deadline=None)
@given(rank=st.one_of(st.integers(max_value=0), st.floats(), st.text(max_size=2)))
def test_from_conv_refuses_a_bad_rank(rank):
    kind = ValueError if isinstance(rank, int) else TypeError
    for form in ("cp", "slice_svd"):
        with pytest.raises(kind, match="rank"):
            nn.FactorizedConv2d.from_conv(dense(), form, rank)


def test_factors_that_do_not_fit_are_refused_with_the_factor_type_message():
    with pytest.raises(ValueError, match=r"Tucker2Factors.inp must have 1 columns"):
        nn.Tucker2Conv2d(Tucker2Factors.__new__(Tucker2Factors, np.ones((1, 1, 1, 1)),
                                                np.ones((1, 1)), np.ones((1, 2))))
    with pytest.raises(ValueError, match=r"Tucker2Factors.inp must have 1 columns"):
        nn.Tucker2Conv2d((np.ones((1, 1, 1, 1)), np.ones((1, 1)), np.ones((1, 2))))
    with pytest.raises(ValueError, match="CPFactors.inp must have 2 columns"):
        nn.CPConv2d((np.ones((2, 2)), np.ones((3, 3)), np.ones((3, 2)), np.ones((3, 2))))
    with pytest.raises(TypeError, match=r"factors must be CPFactors\(out, inp, vertical, horiz"):
        nn.CPConv2d(None)
    with pytest.raises(TypeError, match="factors must be SliceSVDFactors"):
        nn.SliceSVDConv2d((np.ones((1, 1, 1, 1)),))
    with pytest.raises(TypeError, match="FactorizedConv2d is the base"):
        nn.FactorizedConv2d(CPFactors(*(np.ones((1, 1)),) * 4))
    with pytest.raises(ValueError, match=r"bias must have shape \(2,\)"):
        nn.CPConv2d(CPFactors(*(np.ones((n, 1)) for n in (2, 1, 3, 3))), np.ones(3))


def test_bad_options_are_refused():
    conv = dense()
    with pytest.raises(ValueError, match="init must be one of"):
        nn.FactorizedConv2d.from_conv(conv, "cp", 2, init="zeros")
    with pytest.raises(TypeError, match="init='random' takes no options"):
        nn.FactorizedConv2d.from_conv(conv, "cp", 2, init="random", tol=1e-3)
    with pytest.raises(TypeError, match=r"ranks must be a pair \(R_out, R_in\)"):
        nn.FactorizedConv2d.from_conv(conv, "tucker2", "ab")
    with pytest.raises(ValueError, match=r"ranks\[0\] \(R_out\) must be between 1 and C_out"):
        nn.FactorizedConv2d.from_conv(conv, "tucker2", (7, 1))
    with pytest.raises(TypeError, match=r"shape must be \(C_out, C_in, kh, kw\)"):
        nn.FactorizedConv2d.random("cp", (1, 2), 2)
    with pytest.raises(TypeError, match="seed must be an int seed or a numpy Generator"):
        nn.FactorizedConv2d.from_conv(conv, "cp", 2, init="random", seed="s")
    with pytest.raises(TypeError, match="seed must be an integer"):
        nn.CPConv2d.from_conv(conv, 2, seed=1.5)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_copies_keep_factors_and_parameters_the_same_arrays(form):
    """After a network copy the optimizer's in-place updates still reach the kernel."""
    _, _, _, small = FORMS[form]
    model = nn.small_cnn(0, channels=(4, 6))
    model = model.replace(3, nn.FactorizedConv2d.from_conv(model[3], form, small))
    clone = model.copy()
    layer = clone[3]
    assert all(layer.params()[n] is a for n, a in zip(layer.factors._fields, layer.factors,
                                                       strict=True))
    before = layer.kernel().copy()
    for name in layer.factors._fields:
        layer.params()[name] *= 2.0
    assert not np.allclose(layer.kernel(), before)
    np.testing.assert_array_equal(model[3].kernel(), before)  # the original is untouched
