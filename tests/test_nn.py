"""Tests of lrconv.nn: gradients against finite differences, exactness of factorized layers,
reproducible training."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrconv import nn
from lrconv.conv import conv2d
from lrconv.decompose import CPFactors, cp_to_kernel, slice_svd_to_kernel, tucker2_to_kernel

RNG = np.random.default_rng


# --------------------------------------------------------------------------- helpers


def loss_of(model: nn.Sequential, x: np.ndarray, y: np.ndarray) -> float:
    return nn.softmax_cross_entropy(model.forward(x), y)[0]


def check_gradients(model: nn.Sequential, x: np.ndarray, y: np.ndarray, *, seed: int = 0,
                    per_param: int = 6, eps: float = 1e-6, rtol: float = 1e-5) -> None:
    """Central differences on a few entries of every parameter and of the input."""
    loss, grad = nn.softmax_cross_entropy(model.forward(x), y)
    gx = model.backward(grad)
    analytic = {**model.named_grads(), "input": gx}
    arrays = {**model.named_params(), "input": x}
    assert set(analytic) == set(arrays)
    rng = RNG(seed)
    for name, arr in arrays.items():
        g = analytic[name]
        assert g.shape == arr.shape, name
        flat = arr.reshape(-1)
        for idx in rng.choice(flat.size, size=min(per_param, flat.size), replace=False):
            old = flat[idx]
            flat[idx] = old + eps
            up = loss_of(model, x, y)
            flat[idx] = old - eps
            down = loss_of(model, x, y)
            flat[idx] = old
            numeric = (up - down) / (2 * eps)
            assert abs(numeric - g.reshape(-1)[idx]) <= rtol * max(1.0, abs(numeric)) + 1e-8, (
                f"{name}[{idx}]: numeric {numeric:.8g}, backprop {g.reshape(-1)[idx]:.8g}")


def head(conv: nn.Conv2d, x: np.ndarray, n_classes: int = 3, seed: int = 1) -> nn.Sequential:
    """conv, ReLU, flatten, linear: a network around one conv layer."""
    size = conv.forward(x).reshape(x.shape[0], -1).shape[1]
    return nn.Sequential([conv, nn.ReLU(), nn.Flatten(),
                          nn.Linear.init(size, n_classes, rng=RNG(seed))])


def cp_factors(shape: tuple[int, int, int, int], rank: int, seed: int) -> CPFactors:
    rng = RNG(seed)
    c_out, c_in, kh, kw = shape
    return CPFactors(*(rng.standard_normal((n, rank)) for n in (c_out, c_in, kh, kw)))


# --------------------------------------------------------------------------- conv backward


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 3), c_in=st.integers(1, 3), c_out=st.integers(1, 3),
       h=st.integers(3, 7), w=st.integers(3, 7), kh=st.integers(1, 3), kw=st.integers(1, 3),
       sh=st.integers(1, 3), sw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2),
       seed=st.integers(0, 10_000))
def test_conv_backward_is_the_adjoint_of_the_forward_pass(n, c_in, c_out, h, w, kh, kw, sh, sw,
                                                          ph, pw, seed):
    """conv2d is linear in x and in K: <conv(x, K), G> = <x, dL/dx> = <K, dL/dK>."""
    rng = RNG(seed)
    x = rng.standard_normal((n, c_in, h, w))
    k = rng.standard_normal((c_out, c_in, kh, kw))
    y = conv2d(x, k, stride=(sh, sw), padding=(ph, pw))
    g = rng.standard_normal(y.shape)
    gx, gk = nn.conv2d_backward(x, k, g, stride=(sh, sw), padding=(ph, pw))
    total = float(np.sum(y * g))
    assert np.sum(x * gx) == pytest.approx(total, rel=1e-10, abs=1e-10)
    assert np.sum(k * gk) == pytest.approx(total, rel=1e-10, abs=1e-10)
    # and each entry agrees with the adjoint computed on single input pixels
    i = tuple(rng.integers(0, s) for s in x.shape)
    e = np.zeros_like(x)
    e[i] = 1.0
    assert gx[i] == pytest.approx(float(np.sum(conv2d(e, k, stride=(sh, sw), padding=(ph, pw))
                                               * g)), abs=1e-10)


def test_conv_backward_checks_shapes():
    x, k = np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3))
    with pytest.raises(ValueError, match="grad must have shape"):
        nn.conv2d_backward(x, k, np.ones((1, 3, 5, 5)))
    with pytest.raises(ValueError, match="dimensions"):
        nn.conv2d_backward(x[0], k, np.ones((1, 3, 3, 3)))


# --------------------------------------------------------------------------- gradient checks


@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (1, 1), (2, 1), ((2, 1), (0, 2))])
def test_dense_conv_gradients(stride, padding):
    x = RNG(0).standard_normal((2, 2, 6, 5))
    conv = nn.Conv2d.init(2, 3, 3, rng=RNG(1), stride=stride, padding=padding)
    conv.params()["bias"][:] = RNG(2).standard_normal(3)
    check_gradients(head(conv, x), x, np.array([0, 2]))


@pytest.mark.parametrize(("stride", "padding"), [(1, 1), ((2, 1), (1, 0))])
def test_cp_conv_gradients(stride, padding):
    x = RNG(3).standard_normal((2, 3, 6, 6))
    layer = nn.CPConv2d(cp_factors((4, 3, 3, 2), 2, 4), RNG(5).standard_normal(4),
                        stride=stride, padding=padding)
    check_gradients(head(layer, x), x, np.array([1, 0]))


def test_tucker2_conv_gradients():
    rng = RNG(6)
    x = rng.standard_normal((2, 3, 5, 5))
    factors = (rng.standard_normal((2, 2, 3, 3)), rng.standard_normal((4, 2)),
               rng.standard_normal((3, 2)))
    layer = nn.Tucker2Conv2d(factors, rng.standard_normal(4), stride=2, padding=1)
    check_gradients(head(layer, x), x, np.array([2, 1]))


def test_slice_svd_conv_gradients():
    rng = RNG(7)
    x = rng.standard_normal((2, 2, 5, 6))
    factors = (rng.standard_normal((3, 2, 3, 2)), rng.standard_normal((3, 2, 2, 3)))
    layer = nn.SliceSVDConv2d(factors, None, padding=(1, 0))
    check_gradients(head(layer, x), x, np.array([0, 1]))


@pytest.mark.parametrize("pool", [nn.MaxPool2d, nn.AvgPool2d])
def test_pooling_and_whole_network_gradients(pool):
    rng = RNG(8)
    x = rng.standard_normal((3, 1, 9, 8))  # odd height: the last row is dropped by pooling
    model = nn.Sequential([
        nn.Conv2d.init(1, 3, 3, rng=rng, padding=1), nn.ReLU(), pool(2),
        nn.Conv2d.init(3, 4, 3, rng=rng, padding=1), nn.ReLU(), pool(2),
        nn.Flatten(), nn.Linear.init(4 * 2 * 2, 5, rng=rng),
    ])
    check_gradients(model, x, np.array([0, 4, 2]), per_param=4)


def test_small_cnn_gradients_with_a_factorized_second_layer():
    rng = RNG(9)
    x = rng.standard_normal((2, 1, 8, 8))
    model = nn.small_cnn(0, channels=(3, 4))
    model = model.replace(3, nn.CPConv2d.from_conv(model[3], 2, max_iter=50, tol=1e-6))
    check_gradients(model, x, np.array([3, 7]), per_param=4)


def test_softmax_cross_entropy_value_gradient_and_stability():
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    loss, g = nn.softmax_cross_entropy(z, np.array([2, 0]))
    p = np.exp(z[0]) / np.exp(z[0]).sum()
    assert loss == pytest.approx((-np.log(p[2]) + np.log(3)) / 2)
    np.testing.assert_allclose(g.sum(axis=1), 0, atol=1e-15)
    big, _ = nn.softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))
    assert big == pytest.approx(1000.0)
    with pytest.raises(ValueError, match="labels"):
        nn.softmax_cross_entropy(z, np.array([0, 3]))
    with pytest.raises(ValueError, match="labels"):
        nn.softmax_cross_entropy(z, np.array([0.0, 1.0]))


# --------------------------------------------------------------------------- factorized layers


def test_factorized_layers_compute_their_reconstructed_kernel():
    rng = RNG(10)
    x = rng.standard_normal((2, 3, 7, 6))
    bias = rng.standard_normal(4)
    f = cp_factors((4, 3, 3, 3), 3, 11)
    cp = nn.CPConv2d(f, bias, stride=2, padding=1)
    np.testing.assert_allclose(cp.kernel(), cp_to_kernel(f))
    np.testing.assert_allclose(cp.forward(x), conv2d(x, cp_to_kernel(f), stride=2, padding=1)
                               + bias[:, None, None], atol=1e-12)
    svd = nn.SliceSVDConv2d((rng.standard_normal((4, 3, 3, 2)), rng.standard_normal((4, 3, 2, 3))),
                            bias, padding=1)
    np.testing.assert_allclose(svd.forward(x), svd.run_stages(x), atol=1e-12)
    np.testing.assert_allclose(svd.kernel(), slice_svd_to_kernel(svd.factors))


def test_exact_factorizations_give_the_dense_logits():
    rng = RNG(12)
    x = rng.standard_normal((5, 1, 8, 8))
    dense = nn.small_cnn(3, channels=(4, 6))
    logits = dense.forward(x)
    conv = dense[3]
    tucker = nn.Tucker2Conv2d.from_conv(conv, (6, 4))  # full ranks: exact
    np.testing.assert_allclose(tucker2_to_kernel(tucker.factors), conv.kernel(), atol=1e-12)
    np.testing.assert_allclose(dense.replace(3, tucker).forward(x), logits, atol=1e-10)
    svd = nn.SliceSVDConv2d.from_conv(conv, 3)  # full rank of every 3 x 3 filter: exact
    np.testing.assert_allclose(dense.replace(3, svd).forward(x), logits, atol=1e-10)
    # CP: a kernel of CP rank 3 is recovered exactly at rank 3
    planted = nn.Conv2d(cp_to_kernel(cp_factors((6, 4, 3, 3), 3, 13)), conv.bias, padding=1)
    dense_cp = dense.replace(3, planted)
    cp = nn.CPConv2d.from_conv(planted, 3)
    np.testing.assert_allclose(dense_cp.replace(3, cp).forward(x), dense_cp.forward(x),
                               atol=1e-7)
    # and a truncated factorization does change the logits
    assert not np.allclose(dense.replace(3, nn.Tucker2Conv2d.from_conv(conv, (2, 2))).forward(x),
                           logits, atol=1e-3)


def test_balance_cp_keeps_the_kernel_and_equalises_norms():
    f = cp_factors((5, 4, 3, 3), 3, 14)
    f = CPFactors(f.out * 100.0, *f[1:])
    b = nn.balance_cp(f)
    np.testing.assert_allclose(cp_to_kernel(b), cp_to_kernel(f), rtol=1e-12)
    norms = np.stack([np.linalg.norm(a, axis=0) for a in b])
    np.testing.assert_allclose(norms, norms[:1].repeat(4, axis=0))


def test_replace_copies_and_leaves_the_original_alone():
    model = nn.small_cnn(0, channels=(2, 3))
    before = model[3].kernel().copy()
    new = model.replace(3, nn.Tucker2Conv2d.from_conv(model[3], (2, 1)))
    new[0].params()["kernel"][:] = 0
    assert isinstance(model[3], nn.Conv2d) and type(model[3]) is nn.Conv2d
    np.testing.assert_array_equal(model[3].kernel(), before)
    assert np.any(model[0].kernel() != 0)
    with pytest.raises(ValueError, match="index"):
        model.replace(8, nn.ReLU())


# --------------------------------------------------------------------------- training


def toy_data(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Bright top half (class 0) against bright bottom half (class 1), with noise."""
    rng = RNG(seed)
    y = rng.integers(0, 2, n)
    x = 0.3 * rng.standard_normal((n, 1, 8, 8))
    x[y == 0, :, :4] += 1.0
    x[y == 1, :, 4:] += 1.0
    return x, y


def test_training_learns_and_is_reproducible():
    x, y = toy_data()
    runs = []
    for _ in range(2):
        model = nn.small_cnn(1, channels=(2, 3), n_classes=2)
        hist = nn.train(model, x, y, epochs=8, batch_size=16, optimizer=nn.Adam(1e-2), seed=5)
        runs.append((model, hist))
    (m1, h1), (m2, h2) = runs
    assert h1.loss == h2.loss
    for k, v in m1.named_params().items():
        np.testing.assert_array_equal(v, m2.named_params()[k])
    assert h1.loss[-1] < 0.5 * h1.loss[0]
    assert nn.evaluate(m1, x, y) >= 0.9
    other = nn.small_cnn(1, channels=(2, 3), n_classes=2)
    h3 = nn.train(other, x, y, epochs=8, batch_size=16, optimizer=nn.Adam(1e-2), seed=6)
    assert h3.loss != h1.loss


def test_sgd_momentum_and_frozen_layers():
    x, y = toy_data(seed=1)
    model = nn.small_cnn(2, channels=(2, 3), n_classes=2)
    model[0].trainable = False
    frozen = model[0].kernel().copy()
    moving = model[3].kernel().copy()
    nn.train(model, x, y, epochs=1, batch_size=20, optimizer=nn.SGD(0.05, 0.9), seed=0)
    np.testing.assert_array_equal(model[0].kernel(), frozen)
    assert not np.array_equal(model[3].kernel(), moving)
    assert "0.kernel" not in model.named_params() and "3.kernel" in model.named_params()
    assert "0.kernel" in model.named_params(trainable_only=False)


def test_optimizer_steps_follow_their_formulas():
    layer = nn.Linear(np.array([[1.0, -2.0]]), np.array([0.5]))
    model = nn.Sequential([layer])
    layer._grads = {"weight": np.array([[0.1, -0.3]]), "bias": np.array([2.0])}
    nn.Adam(lr=0.01).step(model)  # first Adam step moves every entry by lr * sign(g)
    np.testing.assert_allclose(layer.params()["weight"], [[0.99, -1.99]], atol=1e-6)
    np.testing.assert_allclose(layer.params()["bias"], [0.49], atol=1e-6)
    sgd = nn.SGD(lr=0.1, momentum=0.5)
    sgd.step(model)
    sgd.step(model)  # v = g, then v = 0.5 g + g
    np.testing.assert_allclose(layer.params()["bias"], [0.49 - 0.1 * 2.0 - 0.1 * 3.0])


def test_predict_evaluate_and_per_class_accuracy():
    y_true = np.array([0, 0, 1, 1, 1, 3])
    y_pred = np.array([0, 1, 1, 1, 0, 3])
    np.testing.assert_allclose(nn.per_class_accuracy(y_true, y_pred, 4),
                               [0.5, 2 / 3, np.nan, 1.0])
    assert nn.accuracy(y_true, y_pred) == pytest.approx(4 / 6)
    x, y = toy_data(10)
    model = nn.small_cnn(0, channels=(2, 2), n_classes=2)
    pred = nn.predict(model, x, batch_size=3)
    np.testing.assert_array_equal(pred, np.argmax(model.forward(x), axis=1))
    assert nn.evaluate(model, x, y) == pytest.approx(np.mean(pred == y))
    with pytest.raises(ValueError, match="y must hold"):
        nn.train(model, x, y[:-1], epochs=1, batch_size=2, optimizer=nn.SGD())
    with pytest.raises(ValueError):
        nn.accuracy([1, 2], [1])


def test_bad_layer_arguments_are_rejected():
    with pytest.raises(ValueError, match="bias"):
        nn.Conv2d(np.ones((2, 1, 3, 3)), np.ones(3))
    with pytest.raises(ValueError, match="dimensions"):
        nn.Conv2d(np.ones((3, 3)))
    with pytest.raises(ValueError):
        nn.CPConv2d(CPFactors(np.ones((2, 2)), np.ones((3, 3)), np.ones((3, 2)),
                              np.ones((3, 2))))
    with pytest.raises(ValueError, match="pooling window"):
        nn.MaxPool2d(4).forward(np.ones((1, 1, 3, 3)))
    with pytest.raises(TypeError):
        nn.Sequential([nn.ReLU(), "relu"])
    with pytest.raises(ValueError, match="pool"):
        nn.small_cnn(0, pool="median")


def test_repr_names_shapes_and_frozen_state():
    model = nn.small_cnn(2, channels=(2, 3), n_classes=2)
    for layer in model.layers:
        layer.trainable = False
    text = repr(model)
    assert "ReLU()" in text and "(, " not in text
    assert "Conv2d(kernel=(2, 1, 3, 3), bias=(2,), frozen)" in text
