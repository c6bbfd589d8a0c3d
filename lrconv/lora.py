"""Low-rank updates of convolution kernels (LoRA for convolutional layers).

Introduced in chapter 8. A pretrained kernel ``K0`` stays frozen and only a low-rank update
``Delta K`` is trained, so the layer applies ``K = K0 + Delta K``. Two forms of the update, both
members of the factorized-layer family (:class:`lrconv.nn.UpdateConv2d`):

- :class:`LoConConv2d` (LoRA on the kernel reshaped to ``C_out x (C_in kh kw)``, the LoCon of
  the LyCORIS project): a ``kh x kw`` convolution ``down`` from ``C_in`` to ``r`` channels
  followed by a 1x1 convolution ``up`` from ``r`` to ``C_out``,
  ``Delta K = scale * einsum('or,rihw->oihw', up, down)`` (:class:`LoConFactors`);
- :class:`CPUpdateConv2d` (a rank-``r`` CP tensor, :class:`lrconv.factors.CPFactors`):
  ``Delta K = scale * einsum('or,ir,hr,wr->oihw', out, inp, vertical, horizontal)``.

In both the factor next to the output (``up``, ``out``) starts at zero, so the adapted network
starts exactly at the pretrained one. ``params()`` holds only the update's factors (the base
kernel and the bias are frozen); :meth:`~lrconv.nn.UpdateConv2d.merged` returns a plain
:class:`~lrconv.nn.Conv2d` with the kernel ``K0 + Delta K`` (the cost of the original layer).
:func:`update_param_count` is :func:`lrconv.cost.update_param_count`, named here too.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lrconv._validate import as_array, check_float, check_int, check_ndim
from lrconv.conv import conv2d, pointwise_conv2d
from lrconv.cost import UPDATE_FORMS, update_param_count
from lrconv.factors import CPFactors
from lrconv.layers import cp_conv2d
from lrconv.nn import Conv2d, Layer, Linear, Sequential, UpdateConv2d
from lrconv.nn._checks import Seed, as_batch, as_float, as_generator, check_size, check_type

__all__ = [
    "CPUpdateConv2d",
    "LoConConv2d",
    "LoConFactors",
    "LoRALinear",
    "adapt",
    "merge",
    "trainable_count",
    "update_param_count",
]

FORMS = UPDATE_FORMS  # kept for chapter 8; the count lives in lrconv.cost


class _LoConFields(NamedTuple):
    down: np.ndarray
    up: np.ndarray


class LoConFactors(_LoConFields):
    """The two factors of a LoCon kernel ``einsum('or,rihw->oihw', up, down)`` (chapter 8).

    Checked when built: ``down`` of shape ``(r, C_in, kh, kw)`` and ``up`` of shape
    ``(C_out, r)``, real, non-empty, the same ``r``.
    """

    __slots__ = ()

    def __new__(cls, down: object, up: object) -> LoConFactors:
        u = as_float(up, "LoConFactors.up")
        d = as_float(down, "LoConFactors.down")
        check_ndim(u, "LoConFactors.up", (2,), "(C_out, r)")
        check_ndim(d, "LoConFactors.down", (4,), "(r, C_in, kh, kw)")
        for name, a in (("up", u), ("down", d)):
            if a.size == 0:
                raise ValueError(f"LoConFactors.{name} must not be empty; received shape "
                                 f"{a.shape}")
        if u.shape[1] != d.shape[0]:
            raise ValueError(f"LoConFactors.up must have {d.shape[0]} columns (the rank r of "
                             f"down, shape {d.shape}); received shape {u.shape}")
        return super().__new__(cls, d, u)

    @classmethod
    def _make(cls, iterable: object) -> LoConFactors:
        return cls(*iterable)

    @property
    def rank(self) -> int:
        return int(self.down.shape[0])

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """The kernel's shape ``(C_out, C_in, kh, kw)``."""
        return (self.up.shape[0], *self.down.shape[1:])

    def to_kernel(self) -> np.ndarray:
        """``einsum('or,rihw->oihw', up, down)``: one matrix product."""
        r = self.rank
        return (self.up @ self.down.reshape(r, -1)).reshape(self.shape)

    def kernel_grads(self, grad_kernel: object) -> LoConFactors:
        """``dL/d up = G D^T`` and ``dL/d down = U^T G`` with ``G = dL/dK`` and ``D = down`` as
        ``C_out x (C_in kh kw)`` and ``r x (C_in kh kw)`` matrices."""
        g = as_array(grad_kernel, "grad_kernel")
        if g.shape != self.shape:
            raise ValueError(f"grad_kernel must have the kernel's shape {self.shape}; received "
                             f"{g.shape}")
        g2, d2 = g.reshape(g.shape[0], -1), self.down.reshape(self.rank, -1)
        return LoConFactors((self.up.T @ g2).reshape(self.down.shape), g2 @ d2.T)


def _locon_stages(x: np.ndarray, factors: LoConFactors, *, stride: object = 1,
                  padding: object = 0) -> np.ndarray:
    """``up @ conv2d(x, down)``: the ``kh x kw`` convolution to ``r`` channels, then 1x1."""
    return pointwise_conv2d(conv2d(x, factors.down, stride=stride, padding=padding), factors.up)


class LoConConv2d(UpdateConv2d, form="locon"):
    """A frozen convolution plus a LoRA update in the LoCon form (chapter 8).

    ``y = conv2d(x, K0) + scale * up @ conv2d(x, down) + b``: ``down`` of shape
    ``(r, C_in, kh, kw)`` runs with the base layer's stride and padding, ``up`` of shape
    ``(C_out, r)`` is a 1x1 convolution. The applied kernel is
    ``K0 + scale * einsum('or,rihw->oihw', up, down)``.

    Parameters
    ----------
    base : lrconv.nn.Conv2d
        The pretrained layer (its kernel, bias, stride and padding are copied and frozen).
    down : array_like, shape (r, C_in, kh, kw)
    up : array_like, shape (C_out, r)
    scale : float
        Multiplies the update (LoRA's ``alpha / r``).
    train_bias : bool
        Train the bias too (it is then one more entry of ``params()``).
    """

    factor_type = LoConFactors
    _stages = staticmethod(_locon_stages)

    def __init__(self, base: Conv2d, down: object, up: object, *, scale: float = 1.0,
                 train_bias: bool = False) -> None:
        super().__init__(base, LoConFactors(down, up), scale=scale, train_bias=train_bias)

    @classmethod
    def _build(cls, base: Conv2d, factors: LoConFactors, **kwargs: object) -> LoConConv2d:
        return cls(base, factors.down, factors.up, **kwargs)

    @classmethod
    def _start(cls, shape: tuple[int, ...], rank: int, rng: np.random.Generator
               ) -> LoConFactors:
        """``down`` random ``N(0, 1 / (C_in kh kw))``, ``up`` zero."""
        c_out, c_in, kh, kw = shape
        down = rng.standard_normal((rank, c_in, kh, kw)) / np.sqrt(c_in * kh * kw)
        return LoConFactors(down, np.zeros((c_out, rank)))


class CPUpdateConv2d(UpdateConv2d, form="cp_update"):
    """A frozen convolution plus a rank-``r`` CP update (chapter 8).

    ``Delta K = scale * einsum('or,ir,hr,wr->oihw', out, inp, vertical, horizontal)``; the
    update path runs as the four CP stages (:func:`lrconv.layers.cp_conv2d`) with the base
    layer's stride and padding.

    Parameters
    ----------
    base : lrconv.nn.Conv2d
        The pretrained layer (copied and frozen).
    factors : lrconv.factors.CPFactors
        ``out (C_out, r)``, ``inp (C_in, r)``, ``vertical (kh, r)``, ``horizontal (kw, r)``.
    scale : float
        Multiplies the update.
    train_bias : bool
        Train the bias too (it is then one more entry of ``params()``).
    """

    factor_type = CPFactors
    _stages = staticmethod(cp_conv2d)

    @classmethod
    def _start(cls, shape: tuple[int, ...], rank: int, rng: np.random.Generator) -> CPFactors:
        """``out`` zero; ``inp``, ``vertical``, ``horizontal`` random with entries
        ``N(0, 1 / size)`` (``size`` = ``C_in``, ``kh``, ``kw``)."""
        c_out, c_in, kh, kw = shape
        inp, vert, hor = (rng.standard_normal((n, rank)) / np.sqrt(n) for n in (c_in, kh, kw))
        return CPFactors(np.zeros((c_out, rank)), inp, vert, hor)


class LoRALinear(Layer):
    """A frozen linear layer plus a rank-``r`` update, LoRA's ``W0 + B A`` (chapter 8).

    ``y = x @ (W0 + scale * up @ down).T + b`` computed as
    ``x @ W0.T + scale * (x @ down.T) @ up.T + b``; ``down`` has shape ``(r, in)``, ``up``
    ``(out, r)``.

    Parameters
    ----------
    base : lrconv.nn.Linear
        The pretrained layer (weight and bias copied and frozen, in its type).
    down : array_like, shape (r, in_features)
    up : array_like, shape (out_features, r)
    scale : float
        Multiplies the update.
    train_bias : bool
        Train the bias too (it is then one more entry of ``params()``).
    """

    def __init__(self, base: Linear, down: object, up: object, *, scale: float = 1.0,
                 train_bias: bool = False) -> None:
        super().__init__()
        check_type(base, Linear, "base", "a lrconv.nn.Linear")
        dt = base.dtype
        self.base_weight = np.array(base.weight, dtype=dt)
        self.bias = np.array(base.bias, dtype=dt)
        d = as_batch(down, "down", dt, 2, "(r, in_features)")
        u = as_batch(up, "up", dt, 2, "(out_features, r)")
        n_out, n_in = self.base_weight.shape
        if d.shape[1] != n_in or u.shape != (n_out, d.shape[0]):
            raise ValueError(
                f"for a weight of shape {self.base_weight.shape} down must have shape "
                f"(r, {n_in}) and up shape ({n_out}, r) with r >= 1; received down {d.shape} "
                f"and up {u.shape}")
        self.scale = check_float(scale, "scale")
        check_type(train_bias, (bool, np.bool_), "train_bias", "True or False")
        self._params = {"down": d.copy(), "up": u.copy()}
        self.train_bias = bool(train_bias)
        if self.train_bias:
            self._params["bias"] = self.bias

    @classmethod
    def from_linear(cls, base: Linear, rank: int, *, seed: Seed = 0, scale: float = 1.0,
                    train_bias: bool = False) -> LoRALinear:
        """Start an update of ``base``: ``down`` random ``N(0, 1 / in)`` (from ``seed``, an int
        or a Generator), ``up`` zero."""
        check_type(base, Linear, "base", "a lrconv.nn.Linear")
        r = check_int(rank, "rank", 1)
        rng = as_generator(seed, "seed")
        n_out, n_in = base.weight.shape
        check_size((r, max(n_in, n_out)), "the update's factors")
        return cls(base, rng.standard_normal((r, n_in)) / np.sqrt(n_in), np.zeros((n_out, r)),
                   scale=scale, train_bias=train_bias)

    @property
    def rank(self) -> int:
        return self._params["down"].shape[0]

    def delta(self) -> np.ndarray:
        """The update ``scale * up @ down`` of the weight."""
        return self.scale * self._params["up"] @ self._params["down"]

    def weight(self) -> np.ndarray:
        """The weight the layer applies: ``W0 + Delta W``."""
        return self.base_weight + self.delta()

    def _check_input(self, x: object, name: str = "x") -> np.ndarray:
        return as_batch(x, name, self.dtype, 2, "(N, in_features)")

    def _forward(self, x: np.ndarray) -> np.ndarray:
        if x.shape[1] != self.base_weight.shape[1]:
            raise ValueError(f"x must have {self.base_weight.shape[1]} features (in_features "
                             f"of a weight of shape {self.base_weight.shape}); received x of "
                             f"shape {x.shape}")
        self._cache_x = x
        self._cache_h = x @ self._params["down"].T
        out = x @ self.base_weight.T + self.scale * self._cache_h @ self._params["up"].T
        out += self.bias
        self._cache_out_shape = out.shape
        return out

    def _backward(self, grad: np.ndarray, need_input: bool) -> np.ndarray | None:
        if self.trainable:
            gh = self.scale * grad @ self._params["up"]
            self._grads = {"down": gh.T @ self._cache_x, "up": self.scale * grad.T @ self._cache_h}
            if self.train_bias:
                self._grads["bias"] = grad.sum(axis=0)
        return grad @ self.weight() if need_input else None

    def _cast(self, dtype: np.dtype) -> None:
        super()._cast(dtype)
        self.base_weight = self.base_weight.astype(dtype)
        self.bias = self._params["bias"] if self.train_bias else self.bias.astype(dtype)

    def merged(self) -> Linear:
        """A plain :class:`~lrconv.nn.Linear` with weight ``W0 + Delta W`` and the same bias."""
        return Linear(self.weight(), self.bias)


def adapt(model: Sequential, rank: int, *, form: str = "locon", layers: object = None,
          seed: Seed = 0, scale: float = 1.0, train_bias: bool = False) -> Sequential:
    """A copy of ``model`` prepared for low-rank fine-tuning (chapter 8).

    Every layer in ``layers`` (default: every dense :class:`~lrconv.nn.Conv2d` and
    :class:`~lrconv.nn.Linear`) gets a rank-``rank`` update: a convolution is wrapped in a
    :class:`LoConConv2d` (``form="locon"``) or :class:`CPUpdateConv2d` (``form="cp"``), a linear
    layer in a :class:`LoRALinear`. Every other layer is frozen. The update factors are drawn
    from ``default_rng(seed)`` (or the Generator ``seed``) layer by layer; ``model`` itself is
    not changed. With ``train_bias`` the biases of the adapted layers are trained too.
    """
    check_type(model, Sequential, "model", "a lrconv.nn.Sequential")
    if form not in ("locon", "cp"):
        raise ValueError(f"form must be 'locon' or 'cp'; received {form!r}")
    rank = check_int(rank, "rank", 1)
    scale = check_float(scale, "scale")
    dense = [i for i, layer in enumerate(model) if type(layer) in (Conv2d, Linear)]
    if layers is None:
        chosen = dense
    else:
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
            raise TypeError(f"layers must be a list of layer indices; received {layers!r}")
        chosen = [check_int(i, "layers[i]", 0) for i in layers]
    bad = [i for i in chosen if i not in dense]
    if bad:
        raise ValueError(f"layers must index dense Conv2d or Linear layers of the model "
                         f"{dense}; received {bad}")
    rng = as_generator(seed, "seed")
    conv_cls = LoConConv2d if form == "locon" else CPUpdateConv2d
    new = model.copy()
    for i, layer in enumerate(new.layers):
        if i in chosen and isinstance(layer, Linear):
            new.layers[i] = LoRALinear.from_linear(layer, rank, seed=rng, scale=scale,
                                                   train_bias=train_bias)
        elif i in chosen:
            new.layers[i] = conv_cls.from_conv(layer, rank, seed=rng, scale=scale,
                                               train_bias=train_bias)
        else:
            layer.trainable = False
    return new


def merge(model: Sequential) -> Sequential:
    """A copy of ``model`` with every update layer replaced by its merged dense layer (chapter 8).

    The result has the architecture, the parameter count and the cost of the original network.
    """
    check_type(model, Sequential, "model", "a lrconv.nn.Sequential")
    new = model.copy()
    for i, layer in enumerate(new.layers):
        if isinstance(layer, (UpdateConv2d, LoRALinear)):
            new.layers[i] = layer.merged()
    return new


def trainable_count(model: Sequential) -> int:
    """Number of parameters the optimizer updates (those of trainable layers), chapter 8."""
    check_type(model, Sequential, "model", "a lrconv.nn.Sequential")
    return int(sum(v.size for v in model.named_params(trainable_only=True).values()))
