"""Tests of lrconv.nn.layers, lrconv.nn.convolution and lrconv.nn.container: outputs against
plain-loop references, the convolution's backward pass as the adjoint of its forward pass,
types, copies, and bad inputs."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrconv import nn
from tests.reference import reference_conv2d

RNG = np.random.default_rng


# --------------------------------------------------------------------------- convolution


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 3), c_in=st.integers(1, 9), c_out=st.integers(1, 3),
       h=st.integers(3, 7), w=st.integers(3, 7), kh=st.integers(1, 3), kw=st.integers(1, 3),
       sh=st.integers(1, 3), sw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2),
       seed=st.integers(0, 10_000))
def test_conv_layer_matches_a_loop_and_its_backward_is_the_adjoint(n, c_in, c_out, h, w, kh, kw,
                                                                   sh, sw, ph, pw, seed):
    """The layer equals a plain-loop convolution plus bias; conv2d_backward is its adjoint:
    <conv(x, K), G> = <x, dL/dx> = <K, dL/dK>, entry by entry on single input pixels."""
    rng = RNG(seed)
    x = rng.standard_normal((n, c_in, h, w))
    k = rng.standard_normal((c_out, c_in, kh, kw))
    b = rng.standard_normal(c_out)
    layer = nn.Conv2d(k, b, stride=(sh, sw), padding=(ph, pw))
    y = layer.forward(x)
    ref = reference_conv2d(x, k, stride=(sh, sw), padding=(ph, pw))
    np.testing.assert_allclose(y, ref + b[:, None, None], atol=1e-10)
    g = rng.standard_normal(y.shape)
    gx, gk = nn.conv2d_backward(x, k, g, stride=(sh, sw), padding=(ph, pw))
    total = float(np.sum(ref * g))
    assert np.sum(x * gx) == pytest.approx(total, rel=1e-10, abs=1e-10)
    assert np.sum(k * gk) == pytest.approx(total, rel=1e-10, abs=1e-10)
    i = tuple(rng.integers(0, s) for s in x.shape)
    e = np.zeros_like(x)
    e[i] = 1.0
    assert gx[i] == pytest.approx(float(np.sum(
        reference_conv2d(e, k, stride=(sh, sw), padding=(ph, pw)) * g)), abs=1e-10)
    np.testing.assert_allclose(layer.backward(g), gx, atol=1e-12)
    np.testing.assert_allclose(layer.grads()["kernel"], gk, atol=1e-12)
    np.testing.assert_allclose(layer.grads()["bias"], g.sum(axis=(0, 2, 3)), atol=1e-12)


def test_conv_backward_checks_shapes():
    x, k = np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3))
    with pytest.raises(ValueError, match=r"grad must have shape \(1, 3, 3, 3\)"):
        nn.conv2d_backward(x, k, np.ones((1, 3, 5, 5)))
    with pytest.raises(ValueError, match="x must have 4 dimensions"):
        nn.conv2d_backward(x[0], k, np.ones((1, 3, 3, 3)))
    with pytest.raises(ValueError, match="x has 2 channels but kernel expects C_in = 1"):
        nn.conv2d_backward(x, k[:, :1], np.ones((1, 3, 3, 3)))
    with pytest.raises(TypeError, match="kernel must be a real numeric array"):
        nn.conv2d_backward(x, "k", np.ones((1, 3, 3, 3)))


def test_conv_layer_types_and_initialisation():
    a = nn.Conv2d.init(2, 3, 3, rng=5, padding=1)
    b = nn.Conv2d.init(2, 3, 3, rng=RNG(5), padding=1, dtype=np.float32)
    assert a.dtype == np.float64 and b.dtype == np.float32
    np.testing.assert_array_equal(b.kernel(), a.kernel().astype(np.float32))  # the same draws
    assert a.kernel().std() == pytest.approx(np.sqrt(2 / 18), rel=0.5)
    np.testing.assert_array_equal(a.bias, 0)
    y = b.forward(RNG(0).standard_normal((1, 2, 4, 4)))  # float64 input, float32 layer
    assert y.dtype == np.float32
    assert nn.Conv2d(np.ones((1, 1, 2, 2), dtype=int)).dtype == np.float64
    c = a.astype(np.float32)
    assert c.dtype == np.float32 and a.dtype == np.float64
    assert nn.Conv2d.init(1, 1, 3).kernel().shape == (1, 1, 3, 3)  # rng=None: fresh entropy


# --------------------------------------------------------------------------- other layers


def _max_pool_loop(x: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling and the gradient of sum(out * g) for g = 1, by loops (first maximum)."""
    n, c, h, w = x.shape
    out = np.zeros((n, c, h // s, w // s))
    grad = np.zeros_like(x)
    for a in range(n):
        for b in range(c):
            for i in range(h // s):
                for j in range(w // s):
                    win = x[a, b, i * s:i * s + s, j * s:j * s + s]
                    out[a, b, i, j] = win.max()
                    r, q = divmod(int(np.argmax(win)), s)
                    grad[a, b, i * s + r, j * s + q] = 1.0
    return out, grad


@settings(max_examples=30, deadline=None)
@given(size=st.integers(1, 3), h=st.integers(3, 7), w=st.integers(3, 7),
       seed=st.integers(0, 1000), ties=st.booleans())
def test_max_pool_matches_a_loop_and_sends_the_gradient_to_the_first_maximum(size, h, w, seed,
                                                                               ties):
    rng = RNG(seed)
    x = rng.standard_normal((2, 3, h, w))
    if ties:  # few distinct values: many windows with tied maxima
        x = np.round(x).clip(-1, 1)
    pool = nn.MaxPool2d(size)
    out, grad = _max_pool_loop(x, size)
    np.testing.assert_array_equal(pool.forward(x), out)
    np.testing.assert_array_equal(pool.backward(np.ones(out.shape)), grad)


def test_avg_pool_relu_flatten_linear_against_plain_formulas():
    rng = RNG(1)
    x = rng.standard_normal((2, 3, 5, 4))
    avg = nn.AvgPool2d(2)
    expect = x[:, :, :4].reshape(2, 3, 2, 2, 2, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(avg.forward(x), expect, atol=1e-15)
    gx = avg.backward(np.ones((2, 3, 2, 2)))
    assert np.all(gx[:, :, :4] == 0.25) and np.all(gx[:, :, 4] == 0)
    relu = nn.ReLU()
    np.testing.assert_array_equal(relu.forward(x), np.where(x > 0, x, 0))
    np.testing.assert_array_equal(relu.backward(np.ones_like(x)), (x > 0).astype(float))
    flat = nn.Flatten()
    np.testing.assert_array_equal(flat.forward(x), x.reshape(2, -1))
    np.testing.assert_array_equal(flat.backward(x.reshape(2, -1)), x)
    w, b = rng.standard_normal((4, 60)), rng.standard_normal(4)
    lin = nn.Linear(w, b)
    v = x.reshape(2, -1)
    np.testing.assert_allclose(lin.forward(v), [[v[n] @ w[o] + b[o] for o in range(4)]
                                                for n in range(2)], atol=1e-12)
    g = rng.standard_normal((2, 4))
    np.testing.assert_allclose(lin.backward(g), g @ w, atol=1e-12)
    np.testing.assert_allclose(lin.grads()["weight"], g.T @ v, atol=1e-12)


# --------------------------------------------------------------------------- the network


def test_small_cnn_shapes_and_the_chapters_network():
    model = nn.small_cnn(0, channels=(16, 64))
    assert [type(layer).__name__ for layer in model] == [
        "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    assert model.n_params() == 16 * 9 + 16 + 64 * 16 * 9 + 64 + 256 * 10 + 10
    assert model.forward(np.zeros((3, 1, 8, 8))).shape == (3, 10)
    same = nn.small_cnn(np.random.default_rng(0), channels=(16, 64))
    np.testing.assert_array_equal(same[3].kernel(), model[3].kernel())


def test_replace_copy_astype_and_pickle_leave_the_original_alone():
    model = nn.small_cnn(0, channels=(2, 3))
    x = RNG(0).standard_normal((2, 1, 8, 8))
    logits = model.forward(x)
    before = model[3].kernel().copy()
    new = model.replace(3, nn.Conv2d(np.zeros((3, 2, 3, 3)), padding=1))
    new[0].params()["kernel"][:] = 0
    assert type(model[3]) is nn.Conv2d
    np.testing.assert_array_equal(model[3].kernel(), before)
    assert np.any(model[0].kernel() != 0)
    single = model.astype("float32")
    assert single.dtype == np.float32 and model.dtype == np.float64
    np.testing.assert_allclose(single.forward(x), logits, rtol=1e-4, atol=1e-5)
    for clone in (model.copy(), pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert not any(k.startswith("_cache") for layer in clone for k in vars(layer))
        np.testing.assert_array_equal(clone.forward(x), logits)


def test_repr_names_shapes_and_frozen_state():
    model = nn.small_cnn(2, channels=(2, 3), n_classes=2)
    for layer in model.layers:
        layer.trainable = False
    text = repr(model)
    assert "ReLU()" in text and "(, " not in text
    assert "Conv2d(kernel=(2, 1, 3, 3), bias=(2,), frozen)" in text


# --------------------------------------------------------------------------- bad input

NOT_ARRAYS = st.sampled_from(["abc", None, {"a": 1}, [[1, 2], [3]], 1 + 2j, True])


@settings(max_examples=25, deadline=None)
@given(bad=NOT_ARRAYS, which=st.sampled_from(["conv", "linear", "relu", "pool", "flatten",
                                              "network"]))
def test_layers_refuse_non_numeric_input_naming_x(bad, which):
    layer = {"conv": nn.Conv2d(np.ones((1, 1, 1, 1))), "linear": nn.Linear(np.ones((1, 1))),
             "relu": nn.ReLU(), "pool": nn.MaxPool2d(), "flatten": nn.Flatten(),
             "network": nn.small_cnn(0, channels=(1, 1))}[which]
    with pytest.raises(TypeError, match="x must be a"):
        layer.forward(bad)


@settings(max_examples=30, deadline=None)
@given(ndim=st.integers(0, 6).filter(lambda d: d != 4), size=st.integers(1, 3))
def test_conv_and_pool_refuse_the_wrong_number_of_dimensions(ndim, size):
    x = np.ones((size,) * ndim)
    for layer in (nn.Conv2d(np.ones((1, 1, 1, 1))), nn.MaxPool2d(1)):
        with pytest.raises(ValueError, match=rf"x must have 4 dimensions .*{ndim} dimensions"):
            layer.forward(x)


@settings(max_examples=30, deadline=None)
@given(width=st.integers(1, 20).filter(lambda w: w != 7))
def test_linear_refuses_the_wrong_width(width):
    with pytest.raises(ValueError, match=rf"x must have 7 features .*\(2, {width}\)"):
        nn.Linear(np.ones((3, 7))).forward(np.ones((2, width)))


@settings(max_examples=30, deadline=None)
@given(rng=st.one_of(st.text(max_size=3), st.floats(), st.integers(max_value=-1),
                     st.just([1, 2])))
def test_init_refuses_a_bad_rng(rng):
    kind = TypeError if not isinstance(rng, int) else ValueError
    with pytest.raises(kind, match="rng must be"):
        nn.Conv2d.init(1, 1, 3, rng=rng)
    with pytest.raises(kind, match="rng must be"):
        nn.Linear.init(1, 1, rng=rng)


def test_bad_layer_arguments_name_the_argument():
    with pytest.raises(ValueError, match=r"bias must have shape \(2,\)"):
        nn.Conv2d(np.ones((2, 1, 3, 3)), np.ones(3))
    with pytest.raises(ValueError, match="kernel must have 4 dimensions"):
        nn.Conv2d(np.ones((3, 3)))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        nn.Conv2d(np.ones((1, 1, 3, 3)), stride=0)
    with pytest.raises(ValueError, match="larger than the padded input"):
        nn.Conv2d(np.ones((1, 1, 5, 5))).forward(np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="x has 2 channels"):
        nn.Conv2d(np.ones((1, 1, 3, 3))).forward(np.ones((1, 2, 3, 3)))
    with pytest.raises(ValueError, match="pooling window"):
        nn.MaxPool2d(4).forward(np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="size must be >= 1"):
        nn.AvgPool2d(0)
    with pytest.raises(ValueError, match="x must have at least 2 dimensions"):
        nn.Flatten().forward(3.0)
    with pytest.raises(ValueError, match="weight must have 2 dimensions"):
        nn.Linear(np.ones(3))
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        nn.Conv2d.init(1, 1, 3, dtype=np.int32)
    with pytest.raises(TypeError, match="dtype must be a numpy float type"):
        nn.small_cnn(0, dtype="no such type")
    with pytest.raises(RuntimeError, match="call Conv2d.forward before backward"):
        nn.Conv2d(np.ones((1, 1, 1, 1))).backward(np.ones((1, 1, 1, 1)))
    relu = nn.ReLU()
    relu.forward(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"grad must have the shape of the last output, \(2, 2\)"):
        relu.backward(np.ones(3))


def test_bad_network_arguments_name_the_argument():
    with pytest.raises(TypeError, match="layers must be an iterable"):
        nn.Sequential(5)
    with pytest.raises(ValueError, match="at least one layer"):
        nn.Sequential([])
    with pytest.raises(TypeError, match=r"layers\[1\] must be a Layer; received str"):
        nn.Sequential([nn.ReLU(), "relu"])
    with pytest.raises(TypeError, match=r"channels must be a pair .*\(8,\)"):
        nn.small_cnn(0, channels=(8,))
    with pytest.raises(ValueError, match=r"channels\[1\] must be >= 1"):
        nn.small_cnn(0, channels=(8, 0))
    with pytest.raises(ValueError, match="pool must be 'max' or 'avg'"):
        nn.small_cnn(0, pool="median")
    with pytest.raises(TypeError, match="seed must be an int seed or a numpy Generator"):
        nn.small_cnn("0")
    model = nn.small_cnn(0, channels=(1, 1))
    with pytest.raises(ValueError, match="index must be below 8"):
        model.replace(8, nn.ReLU())
    with pytest.raises(TypeError, match="layer must be a Layer"):
        model.replace(0, 5)
    with pytest.raises(RuntimeError, match="call Sequential.forward before backward"):
        model.backward(np.ones((1, 10)))


def test_requests_beyond_the_memory_budget_are_refused_before_allocating():
    with pytest.raises(ValueError, match="the kernel of Conv2d.init would need .* GiB budget"):
        nn.Conv2d.init(10**5, 10**5, 3)
    with pytest.raises(ValueError, match="the weight of Linear.init would need"):
        nn.Linear.init(10**6, 10**6)
    with pytest.raises(ValueError, match="the kernel of Conv2d.init would need"):
        nn.small_cnn(0, channels=(10**5, 10**5))
    with pytest.raises(ValueError, match="the im2col matrix of a convolution would need"):
        nn.Conv2d(np.ones((1, 1, 1, 1)), padding=10**5).forward(np.ones((1, 1, 1, 1)))
    with pytest.raises(ValueError, match="the kernel of a random factorized layer would need"):
        nn.FactorizedConv2d.random("cp", (10**5, 10**5, 3, 3), 2)
