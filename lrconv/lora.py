"""Low-rank updates of convolution kernels (LoRA for convolutional layers).

Introduced in chapter 8. A pretrained kernel ``K0`` stays frozen and only a low-rank update
``Delta K`` is trained, so the layer applies ``K = K0 + Delta K``. Two forms of the update:

- :class:`LoConConv2d` (LoRA on the kernel reshaped to ``C_out x (C_in kh kw)``): a ``kh x kw``
  convolution ``down`` from ``C_in`` to ``r`` channels followed by a 1x1 convolution ``up`` from
  ``r`` to ``C_out``, ``Delta K = scale * einsum('or,rihw->oihw', up, down)``;
- :class:`CPUpdateConv2d` (a rank-``r`` CP tensor): ``Delta K = scale * einsum('or,ir,hr,wr->oihw',
  out, inp, vertical, horizontal)``, run as the four CP stages of :mod:`lrconv.layers`.

In both the factor next to the output (``up``, ``out``) starts at zero, so the adapted network
starts exactly at the pretrained one. The layers follow the :class:`lrconv.nn.Conv2d` protocol:
``params()`` holds only the update's factors (the base kernel and the bias are frozen), the forward
pass runs the base convolution plus the update path, and :meth:`~LoConConv2d.merged` returns a
plain :class:`~lrconv.nn.Conv2d` with the kernel ``K0 + Delta K`` (the cost of the original layer).
"""

from __future__ import annotations

import numpy as np

from lrconv._validate import as_array, check_int, check_ndim, check_pair
from lrconv.conv import conv2d, pointwise_conv2d
from lrconv.decompose import CPFactors
from lrconv.layers import cp_conv2d
from lrconv.nn import Conv2d, Layer, Linear, Sequential, conv2d_backward

__all__ = [
    "CPUpdateConv2d",
    "LoConConv2d",
    "LoRALinear",
    "adapt",
    "merge",
    "trainable_count",
    "update_param_count",
]

FORMS = ("full", "locon", "cp")


def _f64(value: object, name: str) -> np.ndarray:
    return np.asarray(as_array(value, name), dtype=np.float64)


def update_param_count(c_in: int, c_out: int, kh: int, kw: int, rank: int, form: str) -> int:
    """Trainable parameters of an update of a ``(c_out, c_in, kh, kw)`` kernel (chapter 8).

    ``"full"``: ``c_out c_in kh kw`` (the whole kernel); ``"locon"``: ``r (c_in kh kw + c_out)``;
    ``"cp"``: ``r (c_out + c_in + kh + kw)``. Biases are not counted.
    """
    c_in, c_out = check_int(c_in, "c_in", 1), check_int(c_out, "c_out", 1)
    kh, kw = check_int(kh, "kh", 1), check_int(kw, "kw", 1)
    r = check_int(rank, "rank", 1)
    if form == "full":
        return c_out * c_in * kh * kw
    if form == "locon":
        return r * (c_in * kh * kw + c_out)
    if form == "cp":
        return r * (c_out + c_in + kh + kw)
    raise ValueError(f"form must be one of {FORMS}; received {form!r}")


class _UpdateConv2d(Conv2d):
    """Shared machinery: a frozen base kernel and bias plus trainable update factors."""

    def _set_base(self, base: Conv2d, scale: float, train_bias: bool) -> None:
        if not isinstance(base, Conv2d):
            raise TypeError(f"base must be a lrconv.nn.Conv2d; received {type(base).__name__}")
        self.base_kernel = np.array(base.kernel(), dtype=np.float64)
        self._bias = np.array(base.bias, dtype=np.float64)
        self.stride = check_pair(base.stride, "base.stride", 1)
        self.padding = check_pair(base.padding, "base.padding", 0)
        self.scale = float(scale)
        if not np.isfinite(self.scale):
            raise ValueError(f"scale must be finite; received {scale!r}")
        self._x = None
        self.train_bias = bool(train_bias)

    def _bias_param(self) -> None:
        """Put the bias among the trainable parameters (the same array) if asked to."""
        if self.train_bias:
            self._params["bias"] = self._bias

    @property
    def bias(self) -> np.ndarray:
        return self._bias

    def delta(self) -> np.ndarray:
        """The update ``Delta K`` (shape of the base kernel)."""
        raise NotImplementedError

    def kernel(self) -> np.ndarray:
        """The kernel the layer applies: ``K0 + Delta K``."""
        return self.base_kernel + self.delta()

    def _update_path(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _run(self, x: np.ndarray) -> np.ndarray:
        base = conv2d(x, self.base_kernel, stride=self.stride, padding=self.padding)
        return base + self._update_path(x)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        if self._x is None:
            raise RuntimeError("call forward before backward")
        gx, gk = conv2d_backward(self._x, self.kernel(), grad, stride=self.stride,
                                 padding=self.padding, kernel_grad=self.trainable)
        if self.trainable:
            self._grads = self._kernel_grads(gk)
            if self.train_bias:
                self._grads["bias"] = grad.sum(axis=(0, 2, 3))
        return gx

    def merged(self) -> Conv2d:
        """A plain :class:`~lrconv.nn.Conv2d` with kernel ``K0 + Delta K`` and the same bias."""
        return Conv2d(self.kernel(), self.bias, stride=self.stride, padding=self.padding)


class LoConConv2d(_UpdateConv2d):
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

    def __init__(self, base: Conv2d, down: object, up: object, *, scale: float = 1.0,
                 train_bias: bool = False) -> None:
        Layer.__init__(self)
        self._set_base(base, scale, train_bias)
        d, u = _f64(down, "down"), _f64(up, "up")
        check_ndim(d, "down", (4,), "(r, C_in, kh, kw)")
        check_ndim(u, "up", (2,), "(C_out, r)")
        c_out, c_in, kh, kw = self.base_kernel.shape
        r = d.shape[0]
        if d.shape[1:] != (c_in, kh, kw) or u.shape != (c_out, r) or r < 1:
            raise ValueError(
                f"for a base kernel of shape {self.base_kernel.shape} down must have shape "
                f"(r, {c_in}, {kh}, {kw}) and up shape ({c_out}, r) with r >= 1; received "
                f"down {d.shape} and up {u.shape}")
        self._params = {"down": d.copy(), "up": u.copy()}
        self._bias_param()

    @classmethod
    def from_conv(cls, base: Conv2d, rank: int, *, rng: np.random.Generator,
                  scale: float = 1.0, train_bias: bool = False) -> LoConConv2d:
        """Start an update of ``base``: ``down`` random ``N(0, 1 / (C_in kh kw))``, ``up`` zero."""
        r = check_int(rank, "rank", 1)
        c_out, c_in, kh, kw = base.kernel().shape
        down = rng.standard_normal((r, c_in, kh, kw)) / np.sqrt(c_in * kh * kw)
        return cls(base, down, np.zeros((c_out, r)), scale=scale, train_bias=train_bias)

    @property
    def rank(self) -> int:
        return self._params["down"].shape[0]

    def delta(self) -> np.ndarray:
        p = self._params
        return self.scale * np.einsum("or,rihw->oihw", p["up"], p["down"])

    def _update_path(self, x: np.ndarray) -> np.ndarray:
        h = conv2d(x, self._params["down"], stride=self.stride, padding=self.padding)
        return self.scale * pointwise_conv2d(h, self._params["up"])

    def _kernel_grads(self, gk: np.ndarray) -> dict[str, np.ndarray]:
        p = self._params
        return {"down": self.scale * np.einsum("oihw,or->rihw", gk, p["up"]),
                "up": self.scale * np.einsum("oihw,rihw->or", gk, p["down"])}


class CPUpdateConv2d(_UpdateConv2d):
    """A frozen convolution plus a rank-``r`` CP update (chapter 8).

    ``Delta K = scale * einsum('or,ir,hr,wr->oihw', out, inp, vertical, horizontal)``; the update
    path runs as the four CP stages (:func:`lrconv.layers.cp_conv2d`) with the base layer's stride
    and padding.

    Parameters
    ----------
    base : lrconv.nn.Conv2d
        The pretrained layer (copied and frozen).
    factors : lrconv.decompose.CPFactors
        ``out (C_out, r)``, ``inp (C_in, r)``, ``vertical (kh, r)``, ``horizontal (kw, r)``.
    scale : float
        Multiplies the update.
    train_bias : bool
        Train the bias too (it is then one more entry of ``params()``).
    """

    def __init__(self, base: Conv2d, factors: CPFactors, *, scale: float = 1.0,
                 train_bias: bool = False) -> None:
        Layer.__init__(self)
        self._set_base(base, scale, train_bias)
        if not isinstance(factors, tuple) or len(factors) != 4:
            raise TypeError("factors must be a CPFactors(out, inp, vertical, horizontal); "
                            f"received {type(factors).__name__}")
        f = [_f64(a, f"factors.{n}") for n, a in zip(CPFactors._fields, factors, strict=True)]
        for a, n in zip(f, CPFactors._fields, strict=True):
            check_ndim(a, f"factors.{n}", (2,), "(size, r)")
        c_out, c_in, kh, kw = self.base_kernel.shape
        want = [(c_out, f[0].shape[1]), (c_in, f[0].shape[1]), (kh, f[0].shape[1]),
                (kw, f[0].shape[1])]
        if [a.shape for a in f] != want or f[0].shape[1] < 1:
            raise ValueError(
                f"for a base kernel of shape {self.base_kernel.shape} the factors must have "
                f"shapes {want} (r >= 1); received {[a.shape for a in f]}")
        self._params = {n: a.copy() for n, a in zip(CPFactors._fields, f, strict=True)}
        self._bias_param()

    @classmethod
    def from_conv(cls, base: Conv2d, rank: int, *, rng: np.random.Generator,
                  scale: float = 1.0, train_bias: bool = False) -> CPUpdateConv2d:
        """Start an update of ``base``: ``out`` zero; ``inp``, ``vertical``, ``horizontal``
        random with entries ``N(0, 1 / size)`` (``size`` = ``C_in``, ``kh``, ``kw``)."""
        r = check_int(rank, "rank", 1)
        c_out, c_in, kh, kw = base.kernel().shape
        inp, vert, hor = (rng.standard_normal((n, r)) / np.sqrt(n) for n in (c_in, kh, kw))
        return cls(base, CPFactors(np.zeros((c_out, r)), inp, vert, hor), scale=scale,
                   train_bias=train_bias)

    @property
    def factors(self) -> CPFactors:
        return CPFactors(**{n: self._params[n] for n in CPFactors._fields})

    @property
    def rank(self) -> int:
        return self._params["out"].shape[1]

    def delta(self) -> np.ndarray:
        p = self._params
        return self.scale * np.einsum("or,ir,hr,wr->oihw", p["out"], p["inp"], p["vertical"],
                                      p["horizontal"], optimize=True)

    def _update_path(self, x: np.ndarray) -> np.ndarray:
        return self.scale * cp_conv2d(x, self.factors, stride=self.stride, padding=self.padding)

    def _kernel_grads(self, gk: np.ndarray) -> dict[str, np.ndarray]:
        o, i, v, h = (self._params[n] for n in CPFactors._fields)
        s = self.scale
        return {
            "out": s * np.einsum("oihw,ir,hr,wr->or", gk, i, v, h, optimize=True),
            "inp": s * np.einsum("oihw,or,hr,wr->ir", gk, o, v, h, optimize=True),
            "vertical": s * np.einsum("oihw,or,ir,wr->hr", gk, o, i, h, optimize=True),
            "horizontal": s * np.einsum("oihw,or,ir,hr->wr", gk, o, i, v, optimize=True),
        }


class LoRALinear(Layer):
    """A frozen linear layer plus a rank-``r`` update, LoRA's ``W0 + B A`` (chapter 8).

    ``y = x @ (W0 + scale * up @ down).T + b`` computed as
    ``x @ W0.T + scale * (x @ down.T) @ up.T + b``; ``down`` has shape ``(r, in)``, ``up``
    ``(out, r)``.

    Parameters
    ----------
    base : lrconv.nn.Linear
        The pretrained layer (weight and bias copied and frozen).
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
        if not isinstance(base, Linear):
            raise TypeError(f"base must be a lrconv.nn.Linear; received {type(base).__name__}")
        self.base_weight = np.array(base.params()["weight"], dtype=np.float64)
        self.bias = np.array(base.params()["bias"], dtype=np.float64)
        d, u = _f64(down, "down"), _f64(up, "up")
        check_ndim(d, "down", (2,), "(r, in_features)")
        check_ndim(u, "up", (2,), "(out_features, r)")
        n_out, n_in = self.base_weight.shape
        if d.shape[1] != n_in or u.shape != (n_out, d.shape[0]) or d.shape[0] < 1:
            raise ValueError(
                f"for a weight of shape {self.base_weight.shape} down must have shape "
                f"(r, {n_in}) and up shape ({n_out}, r) with r >= 1; received down {d.shape} "
                f"and up {u.shape}")
        self.scale = float(scale)
        if not np.isfinite(self.scale):
            raise ValueError(f"scale must be finite; received {scale!r}")
        self._params = {"down": d.copy(), "up": u.copy()}
        self.train_bias = bool(train_bias)
        if self.train_bias:
            self._params["bias"] = self.bias

    @classmethod
    def from_linear(cls, base: Linear, rank: int, *, rng: np.random.Generator,
                    scale: float = 1.0, train_bias: bool = False) -> LoRALinear:
        """Start an update of ``base``: ``down`` random ``N(0, 1 / in)``, ``up`` zero."""
        r = check_int(rank, "rank", 1)
        n_out, n_in = base.params()["weight"].shape
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

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _f64(x, "x")
        check_ndim(x, "x", (2,), "(N, in_features)")
        self._x = x
        self._h = x @ self._params["down"].T
        return x @ self.base_weight.T + self.scale * self._h @ self._params["up"].T + self.bias

    def backward(self, grad: np.ndarray) -> np.ndarray:
        if getattr(self, "_x", None) is None:
            raise RuntimeError("call forward before backward")
        if self.trainable:
            gh = self.scale * grad @ self._params["up"]
            self._grads = {"down": gh.T @ self._x, "up": self.scale * grad.T @ self._h}
            if self.train_bias:
                self._grads["bias"] = grad.sum(axis=0)
        return grad @ self.weight()

    def merged(self) -> Linear:
        """A plain :class:`~lrconv.nn.Linear` with weight ``W0 + Delta W`` and the same bias."""
        return Linear(self.weight(), self.bias)


def adapt(model: Sequential, rank: int, *, form: str = "locon", layers: object = None,
          seed: int = 0, scale: float = 1.0, train_bias: bool = False) -> Sequential:
    """A copy of ``model`` prepared for low-rank fine-tuning (chapter 8).

    Every layer in ``layers`` (default: every dense :class:`~lrconv.nn.Conv2d` and
    :class:`~lrconv.nn.Linear`) gets a rank-``rank`` update: a convolution is wrapped in a
    :class:`LoConConv2d` (``form="locon"``) or :class:`CPUpdateConv2d` (``form="cp"``), a linear
    layer in a :class:`LoRALinear`. Every other layer is frozen. The update factors are drawn
    from ``default_rng(seed)`` layer by layer; ``model`` itself is not changed. With
    ``train_bias`` the biases of the adapted layers are trained too.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a lrconv.nn.Sequential; received {type(model).__name__}")
    if form not in ("locon", "cp"):
        raise ValueError(f"form must be 'locon' or 'cp'; received {form!r}")
    rank = check_int(rank, "rank", 1)
    dense = [i for i, layer in enumerate(model) if type(layer) in (Conv2d, Linear)]
    chosen = dense if layers is None else [check_int(i, "layers[i]", 0) for i in layers]
    bad = [i for i in chosen if i not in dense]
    if bad:
        raise ValueError(f"layers must index dense Conv2d or Linear layers of the model "
                         f"{dense}; received {bad}")
    rng = np.random.default_rng(check_int(seed, "seed", 0))
    conv_cls = LoConConv2d if form == "locon" else CPUpdateConv2d
    new = model.copy()
    for i, layer in enumerate(new.layers):
        if i in chosen and isinstance(layer, Linear):
            new.layers[i] = LoRALinear.from_linear(layer, rank, rng=rng, scale=scale,
                                                   train_bias=train_bias)
        elif i in chosen:
            new.layers[i] = conv_cls.from_conv(layer, rank, rng=rng, scale=scale,
                                               train_bias=train_bias)
        else:
            layer.trainable = False
    return new


def merge(model: Sequential) -> Sequential:
    """A copy of ``model`` with every update layer replaced by its merged dense layer (chapter 8).

    The result has the architecture, the parameter count and the cost of the original network.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a lrconv.nn.Sequential; received {type(model).__name__}")
    new = model.copy()
    for i, layer in enumerate(new.layers):
        if isinstance(layer, (_UpdateConv2d, LoRALinear)):
            new.layers[i] = layer.merged()
    return new


def trainable_count(model: Sequential) -> int:
    """Number of parameters the optimizer updates (those of trainable layers), chapter 8."""
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a lrconv.nn.Sequential; received {type(model).__name__}")
    return int(sum(v.size for v in model.named_params(trainable_only=True).values()))

