"""Tests of lrconv.nn.training and lrconv.nn.metrics: the loss and the optimizers against their
formulas, reproducible training, frozen layers, predictions and counts, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrconv import nn

RNG = np.random.default_rng


def toy_data(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Bright top half (class 0) against bright bottom half (class 1), with noise."""
    rng = RNG(seed)
    y = rng.integers(0, 2, n)
    x = 0.3 * rng.standard_normal((n, 1, 8, 8))
    x[y == 0, :, :4] += 1.0
    x[y == 1, :, 4:] += 1.0
    return x, y


# --------------------------------------------------------------------------- loss


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 5), k=st.integers(2, 6), seed=st.integers(0, 1000),
       shift=st.sampled_from([0.0, 1e3, -1e3]))
def test_softmax_cross_entropy_matches_its_definition(n, k, seed, shift):
    rng = RNG(seed)
    z = rng.standard_normal((n, k)) * 3
    y = rng.integers(0, k, n)
    loss, g = nn.softmax_cross_entropy(z + shift, y)  # shifting every logit changes nothing
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(float(np.mean([-np.log(p[i, y[i]]) for i in range(n)])),
                                 rel=1e-9)
    onehot = np.eye(k)[y]
    np.testing.assert_allclose(g, (p - onehot) / n, atol=1e-12)


def test_softmax_cross_entropy_is_stable_and_checks_labels():
    big, _ = nn.softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))
    assert big == pytest.approx(1000.0)
    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"labels must lie in 0..2; received 0..3"):
        nn.softmax_cross_entropy(z, np.array([0, 3]))
    with pytest.raises(ValueError, match="labels must be 2 integers"):
        nn.softmax_cross_entropy(z, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="logits must have 2 dimensions"):
        nn.softmax_cross_entropy(np.zeros(3), np.array([0]))


# --------------------------------------------------------------------------- optimizers


def _linear_model() -> tuple[nn.Linear, nn.Sequential]:
    layer = nn.Linear(np.array([[1.0, -2.0]]), np.array([0.5]))
    return layer, nn.Sequential([layer])


def test_sgd_and_the_first_adam_step_follow_their_formulas():
    layer, model = _linear_model()
    layer._grads = {"weight": np.array([[0.1, -0.3]]), "bias": np.array([2.0])}
    nn.Adam(lr=0.01).step(model)  # first Adam step moves every entry by lr * sign(g)
    np.testing.assert_allclose(layer.params()["weight"], [[0.99, -1.99]], atol=1e-6)
    np.testing.assert_allclose(layer.params()["bias"], [0.49], atol=1e-6)
    sgd = nn.SGD(lr=0.1, momentum=0.5)
    sgd.step(model)
    sgd.step(model)  # v = g, then v = 0.5 g + g
    np.testing.assert_allclose(layer.params()["bias"], [0.49 - 0.1 * 2.0 - 0.1 * 3.0])


def test_adam_equals_a_per_parameter_reference_when_layers_are_frozen_and_thawed():
    """Adam keeps all moments in one flat array; the result is the textbook update of each
    parameter, also when the set of trained parameters changes between steps."""
    rng = RNG(3)
    model = nn.Sequential([nn.Linear.init(3, 4, rng=1), nn.ReLU(), nn.Linear.init(4, 2, rng=2)])
    reference = {k: v.copy() for k, v in model.named_params(False).items()}
    moments = {k: (np.zeros_like(v), np.zeros_like(v), 0) for k, v in reference.items()}
    opt = nn.Adam(lr=0.05, beta1=0.8, beta2=0.9, eps=1e-6)
    for step in range(6):
        model[0].trainable = step not in (2, 3)
        for i in (0, 2):
            layer = model[i]
            layer._grads = {k: rng.standard_normal(v.shape) for k, v in layer.params().items()}
        grads = model.named_grads()
        opt.step(model)
        for name, g in grads.items():
            m, v, t = moments[name]
            t += 1
            m = 0.8 * m + 0.2 * g
            v = 0.9 * v + 0.1 * g * g
            reference[name] -= 0.05 * (m / (1 - 0.8**opt.t)) / (np.sqrt(v / (1 - 0.9**opt.t))
                                                                 + 1e-6)
            moments[name] = (m, v, t)
        for name, value in model.named_params(False).items():
            np.testing.assert_allclose(value, reference[name], rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(value=st.one_of(st.text(max_size=2), st.none(), st.just(float("nan")),
                       st.floats(max_value=0.0)))
def test_optimizers_refuse_bad_hyperparameters(value):
    kind = TypeError if not isinstance(value, float) else ValueError
    with pytest.raises(kind, match="lr must"):
        nn.SGD(lr=value)
    with pytest.raises(kind, match="lr must"):
        nn.Adam(lr=value)
    with pytest.raises(kind, match="eps must"):
        nn.Adam(eps=value)


def test_optimizer_arguments_are_checked():
    with pytest.raises(ValueError, match="momentum must be < 1"):
        nn.SGD(momentum=1.0)
    with pytest.raises(ValueError, match="beta2 must be < 1"):
        nn.Adam(beta2=1.5)
    with pytest.raises(TypeError, match="model must be a lrconv.nn.Sequential"):
        nn.Adam().step(nn.ReLU())


# --------------------------------------------------------------------------- training loop


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
    h3 = nn.train(other, x, y, epochs=8, batch_size=16, optimizer=nn.Adam(1e-2), seed=RNG(6))
    assert h3.loss != h1.loss


def test_training_a_float32_network_stays_in_float32_and_learns():
    x, y = toy_data(seed=2)
    model = nn.small_cnn(1, channels=(2, 3), n_classes=2, dtype=np.float32)
    hist = nn.train(model, x, y, epochs=8, batch_size=16, optimizer=nn.Adam(1e-2), seed=5)
    assert all(p.dtype == np.float32 for p in model.named_params(False).values())
    assert hist.loss[-1] < 0.5 * hist.loss[0]


def test_frozen_layers_do_not_move():
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
    for layer in model:
        layer.trainable = False
    before = {k: v.copy() for k, v in model.named_params(False).items()}
    nn.train(model, x, y, epochs=1, batch_size=20, optimizer=nn.Adam(), seed=0)
    for k, v in model.named_params(False).items():
        np.testing.assert_array_equal(v, before[k])


# --------------------------------------------------------------------------- metrics


def test_predict_evaluate_correct_accuracy_and_per_class_accuracy():
    y_true = np.array([0, 0, 1, 1, 1, 3])
    y_pred = np.array([0, 1, 1, 1, 0, 3])
    np.testing.assert_allclose(nn.per_class_accuracy(y_true, y_pred, 4),
                               [0.5, 2 / 3, np.nan, 1.0])
    np.testing.assert_allclose(nn.per_class_accuracy(y_true, y_pred), [0.5, 2 / 3, np.nan, 1.0])
    assert nn.accuracy(y_true, y_pred) == pytest.approx(4 / 6)
    x, y = toy_data(10)
    model = nn.small_cnn(0, channels=(2, 2), n_classes=2)
    pred = nn.predict(model, x, batch_size=3)
    np.testing.assert_array_equal(pred, np.argmax(model.forward(x), axis=1))
    hits = sum(int(p == t) for p, t in zip(pred, y, strict=True))
    assert nn.correct(model, x, y) == hits and isinstance(nn.correct(model, x, y), int)
    assert nn.evaluate(model, x, y) == pytest.approx(hits / 10)


def test_metrics_refuse_bad_labels():
    with pytest.raises(ValueError, match="y_true must hold labels >= 0"):
        nn.per_class_accuracy(np.array([-1, 0]), np.array([0, 0]))
    with pytest.raises(ValueError, match="labels below n_classes = 2"):
        nn.per_class_accuracy(np.array([3, 0]), np.array([0, 0]), 2)
    with pytest.raises(ValueError, match="non-empty 1-D arrays of one shape"):
        nn.accuracy([1, 2], [1])
    with pytest.raises(TypeError, match="y_true must hold integer labels"):
        nn.accuracy([0.5], [1])


# --------------------------------------------------------------------------- bad input


@settings(max_examples=40, deadline=None)
@given(which=st.sampled_from(["model", "optimizer", "X", "y", "epochs", "batch_size", "seed"]),
       bad=st.sampled_from([None, "a", 1.5, -1, [[1]], np.zeros((2, 8, 8)),
                            np.zeros(3, dtype=int)]))
def test_train_names_the_bad_argument(which, bad):
    if which == "seed" and bad is None:
        return  # None is a valid seed (fresh entropy, as numpy's default_rng)
    x, y = toy_data(4)
    model = nn.small_cnn(0, channels=(1, 1), n_classes=2)
    args = {"model": model, "X": x, "y": y, "epochs": 1, "batch_size": 2,
            "optimizer": nn.SGD(), "seed": 0, which: bad}
    with pytest.raises((TypeError, ValueError), match=rf"^{which} must"):
        nn.train(args.pop("model"), args.pop("X"), args.pop("y"), **args)


def test_train_predict_evaluate_correct_refuse_bad_arguments():
    x, y = toy_data(4)
    model = nn.small_cnn(0, channels=(1, 1), n_classes=2)
    for func in (nn.predict, nn.correct, nn.evaluate):
        args = (x,) if func is nn.predict else (x, y)
        with pytest.raises(TypeError, match="model must be a lrconv.nn.Sequential"):
            func(None, *args)
        with pytest.raises(ValueError, match="X must have 4 dimensions"):
            func(model, x[:, 0], *args[1:])
        with pytest.raises(ValueError, match="X must not be empty"):
            func(model, x[:0], *([y[:0]] if args[1:] else []))
    with pytest.raises(TypeError, match="optimizer must be a lrconv.nn optimizer"):
        nn.train(model, x, y, epochs=1, batch_size=2, optimizer=None)
    with pytest.raises(ValueError, match=r"y must hold 4 integer labels .*shape \(3,\)"):
        nn.train(model, x, y[:-1], epochs=1, batch_size=2, optimizer=nn.SGD())
    with pytest.raises(ValueError, match="y must hold labels below 2"):
        nn.train(model, x, y + 5, epochs=1, batch_size=2, optimizer=nn.SGD())
    with pytest.raises(ValueError, match="y must hold labels >= 0"):
        nn.evaluate(model, x, y - 5)
    with pytest.raises(TypeError, match="seed must be an int seed or a numpy Generator"):
        nn.train(model, x, y, epochs=1, batch_size=2, optimizer=nn.SGD(), seed=np.zeros(2))
