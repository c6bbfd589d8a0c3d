"""Tests of lrconv.lora: low-rank updates of convolution and linear layers (chapter 8)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrconv import lora, nn
from lrconv.conv import conv2d
from lrconv.factors import CPFactors


def cp_to_kernel(f: CPFactors) -> np.ndarray:
    return np.einsum("or,ir,hr,wr->oihw", *f)


def _base_conv(rng, c_in=3, c_out=4, k=3, stride=1, padding=1) -> nn.Conv2d:
    return nn.Conv2d(rng.standard_normal((c_out, c_in, k, k)), rng.standard_normal(c_out),
                     stride=stride, padding=padding)


def _random_update(layer, rng) -> None:
    """Give every update factor random (non-zero) entries, in place."""
    for p in layer.params().values():
        p[...] = rng.standard_normal(p.shape)


def _numeric_grad(f, arr: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + eps
        up = f()
        arr[idx] = old - eps
        down = f()
        arr[idx] = old
        g[idx] = (up - down) / (2 * eps)
    return g


def _layers(rng, stride=1, padding=1, train_bias=False):
    base = _base_conv(rng, stride=stride, padding=padding)
    lin = nn.Linear(rng.standard_normal((5, 6)), rng.standard_normal(5))
    return [
        lora.LoConConv2d.from_conv(base, 2, seed=rng, scale=0.7, train_bias=train_bias),
        lora.CPUpdateConv2d.from_conv(base, 2, seed=rng, scale=1.3, train_bias=train_bias),
        lora.LoRALinear.from_linear(lin, 3, seed=rng, scale=0.5, train_bias=train_bias),
    ]


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 0), ((2, 1), (0, 1))])
@pytest.mark.parametrize("train_bias", [False, True])
def test_gradients_match_finite_differences(stride, padding, train_bias):
    rng = np.random.default_rng(0)
    for layer in _layers(rng, stride, padding, train_bias):
        _random_update(layer, rng)
        x = rng.standard_normal((2, 3, 6, 5)) if isinstance(layer, nn.Conv2d) else \
            rng.standard_normal((4, 6))
        out = layer.forward(x)
        w = rng.standard_normal(out.shape)  # loss = sum(w * y)

        def loss(layer=layer, x=x, w=w):
            return float(np.sum(w * layer.forward(x)))

        layer.forward(x)
        gx = layer.backward(w)
        assert np.allclose(gx, _numeric_grad(loss, x), atol=1e-6)
        grads = layer.grads()
        assert set(grads) == set(layer.params())
        assert ("bias" in grads) == train_bias
        for name, p in layer.params().items():
            assert np.allclose(grads[name], _numeric_grad(loss, p), atol=1e-6), name


def test_update_factors_starting_at_zero_give_the_base_logits_exactly():
    model = nn.small_cnn(3, channels=(3, 5))
    x = np.random.default_rng(1).random((7, 1, 8, 8))
    base_logits = model(x)
    for form in ("locon", "cp"):
        adapted = lora.adapt(model, 2, form=form, seed=4)
        assert any(isinstance(layer, lora.LoRALinear) for layer in adapted)
        assert np.array_equal(adapted(x), base_logits)


def test_merged_network_gives_the_logits_of_base_plus_update_path():
    model = nn.small_cnn(2, channels=(3, 4))
    rng = np.random.default_rng(5)
    x = rng.random((6, 1, 8, 8))
    for form in ("locon", "cp"):
        adapted = lora.adapt(model, 3, form=form, seed=1)
        for layer in adapted:
            if isinstance(layer, (lora.LoConConv2d, lora.CPUpdateConv2d, lora.LoRALinear)):
                _random_update(layer, rng)
        merged = lora.merge(adapted)
        assert all(type(layer) in (nn.Conv2d, nn.Linear)
                   for layer in merged if layer.params())
        assert merged.n_params() == model.n_params()
        logits = adapted(x)
        assert not np.allclose(logits, model(x))  # the update does something
        assert np.allclose(merged(x), logits, rtol=1e-10, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(c_in=st.integers(1, 3), c_out=st.integers(1, 3), k=st.integers(1, 3),
       rank=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 1),
       seed=st.integers(0, 1000))
def test_update_path_equals_convolution_with_the_merged_kernel(c_in, c_out, k, rank, stride,
                                                               padding, seed):
    rng = np.random.default_rng(seed)
    base = _base_conv(rng, c_in, c_out, k, stride, padding)
    x = rng.standard_normal((2, c_in, 5, 4))
    for cls in (lora.LoConConv2d, lora.CPUpdateConv2d):
        layer = cls.from_conv(base, rank, seed=rng)
        _random_update(layer, rng)
        want = conv2d(x, base.kernel() + layer.delta(), stride=stride, padding=padding)
        assert np.allclose(layer(x), want + base.bias[:, None, None], atol=1e-10)
        assert np.allclose(layer.merged()(x), layer(x), atol=1e-10)


def test_delta_has_the_stated_form_and_rank():
    rng = np.random.default_rng(2)
    base = _base_conv(rng, c_in=4, c_out=6)
    locon = lora.LoConConv2d.from_conv(base, 2, seed=rng, scale=0.5)
    _random_update(locon, rng)
    d = locon.delta()
    assert np.linalg.matrix_rank(d.reshape(6, -1)) == 2
    p = locon.params()
    assert np.allclose(d, 0.5 * np.einsum("or,rihw->oihw", p["up"], p["down"]))
    cp = lora.CPUpdateConv2d.from_conv(base, 3, seed=rng, scale=2.0)
    _random_update(cp, rng)
    assert np.allclose(cp.delta(), 2.0 * cp_to_kernel(cp.factors))
    assert np.allclose(cp.kernel(), base.kernel() + cp.delta())


def test_only_the_up_factor_starts_at_zero_and_it_gets_a_gradient():
    rng = np.random.default_rng(3)
    base = _base_conv(rng)
    x = rng.standard_normal((2, 3, 5, 5))
    for layer in (lora.LoConConv2d.from_conv(base, 2, seed=rng),
                  lora.CPUpdateConv2d.from_conv(base, 2, seed=rng)):
        zero = "up" if isinstance(layer, lora.LoConConv2d) else "out"
        assert not layer.params()[zero].any()
        assert all(p.any() for n, p in layer.params().items() if n != zero)
        layer.backward(np.ones_like(layer(x)))
        assert layer.grads()[zero].any()
    both_zero = lora.LoConConv2d(base, np.zeros((2, 3, 3, 3)), np.zeros((4, 2)))
    both_zero.backward(np.ones_like(both_zero(x)))
    assert not any(g.any() for g in both_zero.grads().values())  # stuck at a saddle


def test_param_counts_match_the_adapted_network():
    model = nn.small_cnn(0, channels=(4, 6))
    shapes = [layer.kernel().shape for layer in model if isinstance(layer, nn.Conv2d)]
    n_out, n_in = model[7].params()["weight"].shape
    for form in ("locon", "cp"):
        adapted = lora.adapt(model, 3, form=form)
        want = sum(lora.update_param_count(ci, co, kh, kw, 3, form)
                   for co, ci, kh, kw in shapes) + 3 * (n_in + n_out)
        assert lora.trainable_count(adapted) == want
        with_bias = lora.adapt(model, 3, form=form, train_bias=True)
        assert lora.trainable_count(with_bias) == want + 4 + 6 + n_out
    assert lora.update_param_count(16, 32, 3, 3, 4, "locon") == 704
    assert lora.update_param_count(16, 32, 3, 3, 4, "cp") == 216
    assert lora.update_param_count(16, 32, 3, 3, 4, "full") == 4608
    assert lora.trainable_count(model) == model.n_params()


def test_training_changes_only_the_update_and_leaves_the_original_alone():
    model = nn.small_cnn(1, channels=(2, 3), n_classes=3)
    before = {k: v.copy() for k, v in model.named_params(trainable_only=False).items()}
    rng = np.random.default_rng(0)
    x, y = rng.random((24, 1, 8, 8)), rng.integers(0, 3, 24)
    adapted = lora.adapt(model, 2, layers=[3], seed=2)
    frozen = {k: v.copy() for k, v in adapted.named_params(trainable_only=False).items()
              if not k.startswith("3.")}
    assert set(adapted.named_params()) == {"3.down", "3.up"}
    nn.train(adapted, x, y, epochs=2, batch_size=8, optimizer=nn.Adam(1e-2), seed=0)
    assert adapted[3].params()["up"].any()
    for k, v in adapted.named_params(trainable_only=False).items():
        if k in frozen:
            assert np.array_equal(v, frozen[k]), k
    assert np.array_equal(adapted[3].base_kernel, before["3.kernel"])
    for k, v in model.named_params(trainable_only=False).items():
        assert np.array_equal(v, before[k]), k
    assert all(layer.trainable for layer in model)


def test_locon_factors_reconstruct_and_pull_back_gradients_by_their_definitions():
    rng = np.random.default_rng(4)
    f = lora.LoConFactors(rng.standard_normal((2, 3, 2, 3)), rng.standard_normal((5, 2)))
    assert f.shape == (5, 3, 2, 3) and f.rank == 2
    k = np.zeros(f.shape)
    for o, i, y, x in np.ndindex(*f.shape):
        k[o, i, y, x] = sum(f.up[o, r] * f.down[r, i, y, x] for r in range(2))
    np.testing.assert_allclose(f.to_kernel(), k, atol=1e-12)
    g = rng.standard_normal(f.shape)  # L = sum(g * K) is linear in each factor
    grads = f.kernel_grads(g)
    np.testing.assert_allclose(grads.up, [[np.sum(g[o] * f.down[r]) for r in range(2)]
                                          for o in range(5)], atol=1e-12)
    np.testing.assert_allclose(grads.down, np.einsum("oihw,or->rihw", g, f.up), atol=1e-12)
    with pytest.raises(ValueError, match=r"grad_kernel must have the kernel's shape"):
        f.kernel_grads(g[:1])


def test_float32_base_gives_a_float32_update_and_merge():
    model = nn.small_cnn(0, channels=(2, 3), dtype=np.float32)
    adapted = lora.adapt(model, 2, form="cp", seed=0)
    assert all(p.dtype == np.float32 for p in adapted.named_params(False).values())
    assert adapted[3].base_kernel.dtype == np.float32
    merged = lora.merge(adapted)
    assert merged.dtype == np.float32
    x = np.random.default_rng(0).random((3, 1, 8, 8))
    np.testing.assert_array_equal(adapted(x), model(x))


def test_run_stages_of_an_update_is_base_plus_update_path():
    rng = np.random.default_rng(6)
    base = _base_conv(rng, stride=2)
    x = rng.standard_normal((2, 3, 7, 6))
    for cls in (lora.LoConConv2d, lora.CPUpdateConv2d):
        layer = cls.from_conv(base, 2, seed=rng, scale=0.3)
        _random_update(layer, rng)
        np.testing.assert_allclose(layer.run_stages(x), layer.forward(x), atol=1e-10)


def test_bad_arguments_raise_clear_errors():
    rng = np.random.default_rng(0)
    base = _base_conv(rng)
    model = nn.small_cnn(0, channels=(2, 3))
    with pytest.raises(ValueError, match=r"base's shape \(4, 3, 3, 3\)"):
        lora.LoConConv2d(base, np.zeros((2, 3, 2, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="LoConFactors.up must have 2 columns"):
        lora.LoConConv2d(base, np.zeros((2, 3, 3, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="LoConFactors.down must have 4 dimensions"):
        lora.LoConConv2d(base, np.zeros((2, 3, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="base's shape"):
        lora.CPUpdateConv2d(base, CPFactors(np.zeros((4, 2)), np.zeros((3, 2)),
                                            np.zeros((3, 2)), np.zeros((2, 2))))
    with pytest.raises(TypeError, match="factors must be CPFactors"):
        lora.CPUpdateConv2d(base, np.zeros((4, 2)))
    with pytest.raises(TypeError, match="base must be a lrconv.nn.Conv2d"):
        lora.LoConConv2d(model[7], np.zeros((1, 3, 3, 3)), np.zeros((4, 1)))
    with pytest.raises(TypeError, match="base must be a lrconv.nn.Linear"):
        lora.LoRALinear(base, np.zeros((1, 3)), np.zeros((4, 1)))
    with pytest.raises(TypeError, match="base must be a lrconv.nn.Linear; received ReLU"):
        lora.LoRALinear.from_linear(nn.ReLU(), 1)
    with pytest.raises(ValueError, match="down must have shape"):
        lora.LoRALinear(model[7], np.zeros((1, 3)), np.zeros((10, 1)))
    with pytest.raises(ValueError, match="rank must be >= 1"):
        lora.LoConConv2d.from_conv(base, 0, seed=rng)
    with pytest.raises(TypeError, match="conv must be a lrconv.nn.Conv2d"):
        lora.CPUpdateConv2d.from_conv(None, 1)
    with pytest.raises(ValueError, match="form must be 'locon' or 'cp'"):
        lora.adapt(model, 2, form="tucker")
    with pytest.raises(ValueError, match="form must be one of"):
        lora.update_param_count(3, 4, 3, 3, 2, "svd")
    with pytest.raises(ValueError, match=r"layers must index dense Conv2d or Linear layers"):
        lora.adapt(model, 2, layers=[1])
    with pytest.raises(TypeError, match="layers must be a list of layer indices"):
        lora.adapt(model, 2, layers=3)
    with pytest.raises(TypeError, match="model must be a lrconv.nn.Sequential"):
        lora.merge([base])
    with pytest.raises(TypeError, match="model must be a lrconv.nn.Sequential"):
        lora.trainable_count(None)
    with pytest.raises(ValueError, match="scale must be finite"):
        lora.LoConConv2d.from_conv(base, 1, seed=rng, scale=np.nan)
    with pytest.raises(TypeError, match="train_bias must be True or False"):
        lora.CPUpdateConv2d.from_conv(base, 1, train_bias="yes")
    with pytest.raises(RuntimeError, match="forward"):
        lora.LoConConv2d.from_conv(base, 1, seed=rng).backward(np.zeros((1, 4, 3, 3)))
    with pytest.raises(ValueError, match="x must have 6 features"):
        lora.LoRALinear.from_linear(nn.Linear(np.ones((2, 6))), 1).forward(np.ones((1, 5)))


@settings(max_examples=40, deadline=None)
@given(scale=st.one_of(st.none(), st.text(max_size=2), st.just([1.0]), st.just(1j)),
       which=st.sampled_from(["locon", "cp", "linear", "adapt"]))
def test_a_scale_that_is_not_a_real_number_is_refused(scale, which):
    rng = np.random.default_rng(1)
    base = _base_conv(rng)
    with pytest.raises(TypeError, match="scale must be a real number"):
        if which == "locon":
            lora.LoConConv2d.from_conv(base, 1, scale=scale)
        elif which == "cp":
            lora.CPUpdateConv2d.from_conv(base, 1, scale=scale)
        elif which == "linear":
            lora.LoRALinear.from_linear(nn.Linear(np.ones((2, 3))), 1, scale=scale)
        else:
            lora.adapt(nn.small_cnn(0, channels=(1, 1)), 1, scale=scale)


@settings(max_examples=30, deadline=None)
@given(seed=st.one_of(st.text(max_size=2), st.floats(), st.integers(max_value=-1),
                      st.just([1])))
def test_a_bad_seed_is_refused_by_name(seed):
    base = _base_conv(np.random.default_rng(2))
    with pytest.raises((TypeError, ValueError), match="seed must be"):
        lora.LoConConv2d.from_conv(base, 1, seed=seed)
    with pytest.raises((TypeError, ValueError), match="seed must be"):
        lora.adapt(nn.small_cnn(0, channels=(1, 1)), 1, seed=seed)


def test_update_ranks_beyond_the_memory_budget_are_refused():
    base = _base_conv(np.random.default_rng(0))
    with pytest.raises(ValueError, match="the update's factors would need .* GiB budget"):
        lora.LoConConv2d.from_conv(base, 10**9)
    with pytest.raises(ValueError, match="the update's factors would need"):
        lora.LoRALinear.from_linear(nn.Linear(np.ones((2, 2))), 10**9)
