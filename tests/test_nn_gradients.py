"""Backpropagation of every layer type of lrconv.nn and lrconv.lora against central finite
differences (float64), and the float32 network against the float64 one."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lrconv import lora, nn
from lrconv.decompose import ConvergenceWarning
from lrconv.factors import CPFactors, SliceSVDFactors, Tucker2Factors

RNG = np.random.default_rng


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
        assert arr.flags["C_CONTIGUOUS"], name  # the perturbation below writes into arr itself
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


def head(conv: nn.Layer, x: np.ndarray, n_classes: int = 3, seed: int = 1) -> nn.Sequential:
    """conv, ReLU, flatten, linear: a network around one conv layer."""
    size = conv.forward(x).reshape(x.shape[0], -1).shape[1]
    return nn.Sequential([conv, nn.ReLU(), nn.Flatten(),
                          nn.Linear.init(size, n_classes, rng=RNG(seed))])


def random_factors(form: str, shape: tuple[int, int, int, int], rank: int, seed: int) -> tuple:
    rng = RNG(seed)
    c_out, c_in, kh, kw = shape
    if form == "cp":
        return CPFactors(*(rng.standard_normal((n, rank)) for n in shape))
    if form == "tucker2":
        return Tucker2Factors(rng.standard_normal((rank, rank + 1, kh, kw)),
                              rng.standard_normal((c_out, rank)),
                              rng.standard_normal((c_in, rank + 1)))
    return SliceSVDFactors(rng.standard_normal((c_out, c_in, kh, rank)),
                           rng.standard_normal((c_out, c_in, rank, kw)))


LAYERS = {"cp": nn.CPConv2d, "tucker2": nn.Tucker2Conv2d, "slice_svd": nn.SliceSVDConv2d}


@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (1, 1), (2, 1), ((2, 1), (0, 2))])
def test_dense_conv_gradients(stride, padding):
    x = RNG(0).standard_normal((2, 2, 6, 5))
    conv = nn.Conv2d.init(2, 3, 3, rng=1, stride=stride, padding=padding)
    conv.params()["bias"][:] = RNG(2).standard_normal(3)
    check_gradients(head(conv, x), x, np.array([0, 2]))


def test_first_layer_of_a_single_channel_image_gradients():
    """One input channel takes im2col's one-block-per-tap path."""
    x = RNG(20).standard_normal((3, 1, 7, 6))
    conv = nn.Conv2d.init(1, 4, 3, rng=21, padding=1)
    check_gradients(head(conv, x), x, np.array([0, 1, 2]))


@pytest.mark.parametrize("form", sorted(LAYERS))
@pytest.mark.parametrize(("stride", "padding"), [(1, 1), ((2, 1), (1, 0))])
def test_factorized_conv_gradients(form, stride, padding):
    x = RNG(3).standard_normal((2, 3, 6, 6))
    layer = LAYERS[form](random_factors(form, (4, 3, 3, 2), 2, 4), RNG(5).standard_normal(4),
                         stride=stride, padding=padding)
    check_gradients(head(layer, x), x, np.array([1, 0]))


@pytest.mark.parametrize("cls", [lora.LoConConv2d, lora.CPUpdateConv2d])
@pytest.mark.parametrize("train_bias", [False, True])
def test_update_conv_gradients(cls, train_bias):
    x = RNG(6).standard_normal((2, 3, 6, 5))
    base = nn.Conv2d.init(3, 4, 3, rng=7, stride=(1, 2), padding=1)
    layer = cls.from_conv(base, 2, seed=8, scale=0.7, train_bias=train_bias)
    for p in layer.params().values():  # away from the zero start, so every factor matters
        p[...] = RNG(9).standard_normal(p.shape)
    check_gradients(head(layer, x), x, np.array([2, 1]))


@pytest.mark.parametrize("train_bias", [False, True])
def test_lora_linear_gradients(train_bias):
    rng = RNG(10)
    x = rng.standard_normal((4, 5))
    layer = lora.LoRALinear.from_linear(nn.Linear.init(5, 3, rng=11), 2, seed=12, scale=0.5,
                                        train_bias=train_bias)
    layer.params()["up"][...] = rng.standard_normal((3, 2))
    check_gradients(nn.Sequential([layer]), x, np.array([0, 2, 1, 1]))


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


def test_pooling_of_size_three_gradients():
    rng = RNG(13)
    x = rng.standard_normal((2, 2, 7, 6))
    model = nn.Sequential([nn.MaxPool2d(3), nn.Flatten(), nn.Linear.init(2 * 2 * 2, 3, rng=14)])
    check_gradients(model, x, np.array([0, 2]))


def test_small_cnn_gradients_with_a_factorized_second_layer():
    x = RNG(9).standard_normal((2, 1, 8, 8))
    model = nn.small_cnn(0, channels=(3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        layer = nn.FactorizedConv2d.from_conv(model[3], "cp", 2, max_iter=50, tol=1e-6)
    check_gradients(model.replace(3, layer), x, np.array([3, 7]), per_param=4)


def test_float32_network_follows_the_float64_one():
    """The same draws in both types; logits and gradients agree to float32 precision."""
    x = RNG(15).standard_normal((4, 1, 8, 8))
    y = np.array([1, 0, 3, 9])
    grads = {}
    for dtype in (np.float64, np.float32):
        model = nn.small_cnn(2, channels=(3, 5), dtype=dtype)
        assert model.dtype == dtype and all(
            p.dtype == dtype for p in model.named_params().values())
        logits = model.forward(x)
        assert logits.dtype == dtype
        _, g = nn.softmax_cross_entropy(logits, y)
        model.backward(g)
        grads[dtype] = model.named_grads()
    for name, g64 in grads[np.float64].items():
        np.testing.assert_allclose(grads[np.float32][name], g64, rtol=1e-3,
                                   atol=1e-4 * np.abs(g64).max())


def test_backward_below_the_lowest_trainable_layer_is_skipped():
    """Training stops backpropagation at the lowest layer with trainable parameters; what it
    computes there equals the full backward pass."""
    rng = RNG(16)
    x, y = rng.standard_normal((3, 1, 8, 8)), np.array([0, 1, 2])
    model = nn.small_cnn(1, channels=(2, 3))
    model[0].trainable = False
    logits = model._forward(x)
    _, g = nn.softmax_cross_entropy(logits, y)
    assert model._backward(g) is None
    partial = {k: v.copy() for k, v in model.named_grads().items()}
    model.forward(x)
    assert model.backward(g).shape == x.shape
    assert set(partial) == set(model.named_grads()) and "0.kernel" not in partial
    for k, v in partial.items():
        np.testing.assert_array_equal(v, model.named_grads()[k])
