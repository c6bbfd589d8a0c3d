"""A small, readable convolutional network in numpy: layers, backpropagation, training.

Introduced in chapter 7 (a trained network). Everything runs in float64 and is deterministic for
a given seed.

Layers are small classes with one protocol (:class:`Layer`):

- ``forward(x)`` computes the output and remembers what ``backward`` needs;
- ``backward(grad)`` takes ``dL/d(output)``, stores ``dL/d(parameter)`` (see ``grads()``) and
  returns ``dL/d(input)``;
- ``params()`` and ``grads()`` are dicts ``name -> array`` with the same keys; optimizers update
  the arrays of ``params()`` in place;
- ``trainable``: when False the optimizer leaves the layer alone and ``backward`` skips the
  parameter gradients (it still returns the input gradient).

Every convolution is a :class:`Conv2d` or a subclass. A subclass describes its kernel as a
function of its parameters, ``K = kernel()``, and says how to pull a kernel gradient back to its
parameters (``_kernel_grads``); the forward pass may run the cheap stages instead of the
reconstructed kernel (:class:`CPConv2d` runs :func:`lrconv.layers.cp_conv2d`). Because the
layer's output is ``conv2d(x, K)`` either way, the input gradient and ``dL/dK`` come from one
dense backward pass (:func:`conv2d_backward`, ``kh * kw`` matrix products) and the parameter
gradients from the chain rule through ``K = f(parameters)`` with einsum. A low-rank update of a
frozen kernel (``K = K0 + up @ down``) is one more subclass of the same kind.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from lrconv._validate import as_array, check_int, check_ndim, check_pair
from lrconv.conv import conv2d
from lrconv.decompose import (
    CPFactors,
    SliceSVDFactors,
    Tucker2Factors,
    cp_decompose,
    slice_svd_decompose,
    tucker2_decompose,
)
from lrconv.layers import cp_conv2d, slice_svd_conv2d, tucker2_conv2d

__all__ = [
    "SGD",
    "Adam",
    "AvgPool2d",
    "CPConv2d",
    "Conv2d",
    "Flatten",
    "History",
    "Layer",
    "Linear",
    "MaxPool2d",
    "ReLU",
    "Sequential",
    "SliceSVDConv2d",
    "Tucker2Conv2d",
    "accuracy",
    "balance_cp",
    "conv2d_backward",
    "evaluate",
    "predict",
    "per_class_accuracy",
    "small_cnn",
    "softmax_cross_entropy",
    "train",
]

Pair = int | tuple[int, int]


def _f64(value: object, name: str) -> np.ndarray:
    return np.asarray(as_array(value, name), dtype=np.float64)


def _check_batch(x: object, name: str = "x") -> np.ndarray:
    arr = _f64(x, name)
    check_ndim(arr, name, (4,), "(N, C, H, W)")
    return arr


# --------------------------------------------------------------------------- layer protocol


class Layer:
    """Base class of every layer (chapter 7): the protocol, and no parameters.

    Subclasses override ``forward`` and ``backward``; layers with parameters keep them in
    ``self._params`` and their gradients in ``self._grads`` (same keys).
    """

    trainable: bool = True

    def __init__(self) -> None:
        self._params: dict[str, np.ndarray] = {}
        self._grads: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def params(self) -> dict[str, np.ndarray]:
        """The parameter arrays by name (updated in place by the optimizers)."""
        return self._params

    def grads(self) -> dict[str, np.ndarray]:
        """``dL/d(parameter)`` from the last ``backward``, with the keys of ``params()``."""
        return self._grads

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={tuple(v.shape)}" for k, v in self._params.items())
        parts = [shapes] if shapes else []
        if self._params and not self.trainable:  # a layer without parameters has none to freeze
            parts.append("frozen")
        return f"{type(self).__name__}({', '.join(parts)})"


# --------------------------------------------------------------------------- convolutions


def conv2d_backward(
    x: np.ndarray, kernel: np.ndarray, grad: np.ndarray, *, stride: Pair = 1,
    padding: Pair = 0, kernel_grad: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Gradients of ``y = conv2d(x, kernel, stride, padding)`` given ``grad = dL/dy`` (chapter 7).

    For each kernel tap ``(i, j)`` the tap's input window ``X_ij`` (all images, all output
    pixels) is a ``C_in x (N H' W')`` matrix and ``G`` (``dL/dy``) a ``C_out x (N H' W')``
    matrix; the forward pass computed ``y += K[:, :, i, j] @ X_ij``, so

    ``dL/dK[:, :, i, j] = G @ X_ij.T``  and  ``dL/dX_ij += K[:, :, i, j].T @ G``

    (the second added into the padded input at the tap's strided offset, then cropped): ``kh kw``
    matrix products each, no loop over pixels.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W)
    kernel : ndarray, shape (C_out, C_in, kh, kw)
    grad : ndarray, shape (N, C_out, H', W')
    stride, padding : int or (int, int)
    kernel_grad : bool
        Compute ``dL/dK`` (skip it for a frozen kernel).

    Returns
    -------
    (ndarray, ndarray or None)
        ``dL/dx`` of shape ``x.shape`` and ``dL/dK`` of shape ``kernel.shape`` (or None).
    """
    x = _check_batch(x)
    k = _f64(kernel, "kernel")
    check_ndim(k, "kernel", (4,), "(C_out, C_in, kh, kw)")
    g = _check_batch(grad, "grad")
    sh, sw = check_pair(stride, "stride", 1)
    ph, pw = check_pair(padding, "padding", 0)
    n, c_in, h, w = x.shape
    c_out, _, kh, kw = k.shape
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    if k.shape[1] != c_in:
        raise ValueError(f"x has {c_in} channels but kernel expects C_in = {k.shape[1]}; "
                         f"received x of shape {x.shape} and kernel of shape {k.shape}")
    if g.shape != (n, c_out, ho, wo):
        raise ValueError(f"grad must have shape {(n, c_out, ho, wo)} for x of shape {x.shape} "
                         f"and kernel of shape {k.shape}; received {g.shape}")
    g2 = g.transpose(1, 0, 2, 3).reshape(c_out, n * ho * wo)  # (C_out, N H' W')
    xp = np.zeros((c_in, n, h + 2 * ph, w + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + w] = x.transpose(1, 0, 2, 3)
    gxp = np.zeros_like(xp)
    gk = np.zeros_like(k) if kernel_grad else None
    for i in range(kh):
        rows = slice(i, i + sh * (ho - 1) + 1, sh)
        for j in range(kw):
            cols = slice(j, j + sw * (wo - 1) + 1, sw)
            if kernel_grad:
                gk[:, :, i, j] = g2 @ xp[:, :, rows, cols].reshape(c_in, -1).T
            gxp[:, :, rows, cols] += (k[:, :, i, j].T @ g2).reshape(c_in, n, ho, wo)
    gx = gxp[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(gx), gk


class Conv2d(Layer):
    """A dense convolution layer ``y = conv2d(x, K) + b`` (chapter 7).

    Also the base class of the factorized layers: a subclass overrides :meth:`kernel` (the
    kernel as a function of its parameters), :meth:`_kernel_grads` (the chain rule from
    ``dL/dK`` to its parameters) and, if it runs differently, :meth:`_run`.

    Parameters
    ----------
    kernel : array_like, shape (C_out, C_in, kh, kw)
    bias : array_like, shape (C_out,), optional
        Zeros if omitted.
    stride, padding : int or (int, int)
    """

    def __init__(self, kernel: object, bias: object = None, *, stride: Pair = 1,
                 padding: Pair = 0) -> None:
        super().__init__()
        k = _f64(kernel, "kernel")
        check_ndim(k, "kernel", (4,), "(C_out, C_in, kh, kw)")
        self._params = {"kernel": k.copy()}
        self._set_bias(bias, k.shape[0])
        self.stride = check_pair(stride, "stride", 1)
        self.padding = check_pair(padding, "padding", 0)
        self._x: np.ndarray | None = None

    def _set_bias(self, bias: object, c_out: int) -> None:
        b = np.zeros(c_out) if bias is None else _f64(bias, "bias").copy()
        if b.shape != (c_out,):
            raise ValueError(f"bias must have shape ({c_out},) (C_out); received {b.shape}")
        self._params["bias"] = b

    @classmethod
    def init(cls, c_in: int, c_out: int, size: int, *, rng: np.random.Generator,
             stride: Pair = 1, padding: Pair = 0) -> Conv2d:
        """He-normal initialisation: entries ``N(0, 2 / (C_in size^2))``, zero bias."""
        c_in, c_out = check_int(c_in, "c_in", 1), check_int(c_out, "c_out", 1)
        size = check_int(size, "size", 1)
        std = np.sqrt(2.0 / (c_in * size * size))
        return cls(std * rng.standard_normal((c_out, c_in, size, size)), None, stride=stride,
                   padding=padding)

    def kernel(self) -> np.ndarray:
        """The ``(C_out, C_in, kh, kw)`` kernel the layer applies."""
        return self._params["kernel"]

    @property
    def bias(self) -> np.ndarray:
        return self._params["bias"]

    def _run(self, x: np.ndarray) -> np.ndarray:
        """The convolution without bias (subclasses run their stages here)."""
        return conv2d(x, self.kernel(), stride=self.stride, padding=self.padding)

    def _kernel_grads(self, gk: np.ndarray) -> dict[str, np.ndarray]:
        """``dL/d(parameter)`` for every parameter except the bias, from ``dL/dK``."""
        return {"kernel": gk}

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _check_batch(x)
        self._x = x
        return self._run(x) + self.bias[:, None, None]

    def backward(self, grad: np.ndarray) -> np.ndarray:
        if self._x is None:
            raise RuntimeError("call forward before backward")
        gx, gk = conv2d_backward(self._x, self.kernel(), grad, stride=self.stride,
                                 padding=self.padding, kernel_grad=self.trainable)
        if self.trainable:
            self._grads = {**self._kernel_grads(gk), "bias": grad.sum(axis=(0, 2, 3))}
        return gx


def balance_cp(factors: CPFactors) -> CPFactors:
    """Rescale the columns of the four factors to equal norms, the kernel unchanged (chapter 7).

    Component ``r`` with column norms ``n_o, n_i, n_v, n_h`` gets every column scaled to the
    geometric mean ``(n_o n_i n_v n_h)^(1/4)``; signs are kept.
    """
    f = CPFactors(*(_f64(a, f"factors.{n}") for n, a in zip(CPFactors._fields, factors,
                                                           strict=True)))
    norms = np.stack([np.linalg.norm(a, axis=0) for a in f])  # (4, R)
    target = np.prod(norms, axis=0) ** 0.25
    scale = np.where(norms > 0, target / np.where(norms > 0, norms, 1.0), 1.0)
    return CPFactors(*(a * s for a, s in zip(f, scale, strict=True)))


class CPConv2d(Conv2d):
    """A rank-``R`` CP convolution run as its four stages (chapter 7).

    ``K = einsum('or,ir,hr,wr->oihw', out, inp, vertical, horizontal)``; the forward pass runs
    :func:`lrconv.layers.cp_conv2d`. The parameters are the four factors and the bias; with
    ``G = dL/dK`` their gradients are ``dL/d out = einsum('oihw,ir,hr,wr->or', G, inp, vertical,
    horizontal)`` and likewise for the others.
    """

    def __init__(self, factors: CPFactors, bias: object = None, *, stride: Pair = 1,
                 padding: Pair = 0) -> None:
        Layer.__init__(self)
        f = CPFactors(*(_f64(a, f"factors.{n}").copy() for n, a in zip(CPFactors._fields,
                                                                        factors, strict=True)))
        self._params = dict(f._asdict())
        self.kernel()  # checks that the factors fit together
        self._set_bias(bias, f.out.shape[0])
        self.stride = check_pair(stride, "stride", 1)
        self.padding = check_pair(padding, "padding", 0)
        self._x = None

    @classmethod
    def from_conv(cls, conv: Conv2d, rank: int, *, seed: int = 0, max_iter: int = 500,
                  tol: float = 1e-10, balance: bool = True) -> CPConv2d:
        """Factorize a layer's kernel with :func:`lrconv.decompose.cp_decompose`.

        With ``balance`` each component's weight is spread evenly over its four factor columns
        (all four get the same norm, the kernel is unchanged), which suits gradient steps better
        than one factor carrying the whole scale.
        """
        f = cp_decompose(conv.kernel(), rank, max_iter=max_iter, tol=tol, seed=seed)
        if balance:
            f = balance_cp(f)
        return cls(f, conv.bias, stride=conv.stride, padding=conv.padding)

    @property
    def factors(self) -> CPFactors:
        return CPFactors(**{n: self._params[n] for n in CPFactors._fields})

    def kernel(self) -> np.ndarray:
        p = self._params
        return np.einsum("or,ir,hr,wr->oihw", p["out"], p["inp"], p["vertical"],
                         p["horizontal"], optimize=True)

    def _run(self, x: np.ndarray) -> np.ndarray:
        return cp_conv2d(x, self.factors, stride=self.stride, padding=self.padding)

    def _kernel_grads(self, gk: np.ndarray) -> dict[str, np.ndarray]:
        o, i, v, h = (self._params[n] for n in CPFactors._fields)
        return {
            "out": np.einsum("oihw,ir,hr,wr->or", gk, i, v, h, optimize=True),
            "inp": np.einsum("oihw,or,hr,wr->ir", gk, o, v, h, optimize=True),
            "vertical": np.einsum("oihw,or,ir,wr->hr", gk, o, i, h, optimize=True),
            "horizontal": np.einsum("oihw,or,ir,hr->wr", gk, o, i, v, optimize=True),
        }


class Tucker2Conv2d(Conv2d):
    """A Tucker-2 convolution (1x1, ``kh x kw`` core, 1x1) with trainable factors (chapter 7).

    ``K = einsum('abhw,oa,ib->oihw', core, out, inp)``; runs :func:`lrconv.layers.tucker2_conv2d`.
    """

    def __init__(self, factors: Tucker2Factors, bias: object = None, *, stride: Pair = 1,
                 padding: Pair = 0) -> None:
        Layer.__init__(self)
        self._params = {n: _f64(a, f"factors.{n}").copy()
                        for n, a in zip(Tucker2Factors._fields, factors, strict=True)}
        self.kernel()
        self._set_bias(bias, self._params["out"].shape[0])
        self.stride = check_pair(stride, "stride", 1)
        self.padding = check_pair(padding, "padding", 0)
        self._x = None

    @classmethod
    def from_conv(cls, conv: Conv2d, ranks: tuple[int, int]) -> Tucker2Conv2d:
        """Factorize a layer's kernel with :func:`lrconv.decompose.tucker2_decompose`."""
        return cls(tucker2_decompose(conv.kernel(), ranks), conv.bias, stride=conv.stride,
                   padding=conv.padding)

    @property
    def factors(self) -> Tucker2Factors:
        return Tucker2Factors(**{n: self._params[n] for n in Tucker2Factors._fields})

    def kernel(self) -> np.ndarray:
        p = self._params
        return np.einsum("abhw,oa,ib->oihw", p["core"], p["out"], p["inp"], optimize=True)

    def _run(self, x: np.ndarray) -> np.ndarray:
        return tucker2_conv2d(x, self.factors, stride=self.stride, padding=self.padding)

    def _kernel_grads(self, gk: np.ndarray) -> dict[str, np.ndarray]:
        c, o, i = (self._params[n] for n in Tucker2Factors._fields)
        return {
            "core": np.einsum("oihw,oa,ib->abhw", gk, o, i, optimize=True),
            "out": np.einsum("oihw,abhw,ib->oa", gk, c, i, optimize=True),
            "inp": np.einsum("oihw,abhw,oa->ib", gk, c, o, optimize=True),
        }


class SliceSVDConv2d(Conv2d):
    """Every 2-D filter as a rank-``r`` product ``columns @ rows``, trainable (chapter 7).

    ``K = einsum('oihr,oirw->oihw', columns, rows)``; the forward pass runs the reconstructed
    kernel (:func:`lrconv.layers.slice_svd_conv2d` gives the same numbers, with ``C_out C_in r``
    intermediate channels, much slower in numpy).
    """

    def __init__(self, factors: SliceSVDFactors, bias: object = None, *, stride: Pair = 1,
                 padding: Pair = 0) -> None:
        Layer.__init__(self)
        self._params = {n: _f64(a, f"factors.{n}").copy()
                        for n, a in zip(SliceSVDFactors._fields, factors, strict=True)}
        self.kernel()
        self._set_bias(bias, self._params["columns"].shape[0])
        self.stride = check_pair(stride, "stride", 1)
        self.padding = check_pair(padding, "padding", 0)
        self._x = None

    @classmethod
    def from_conv(cls, conv: Conv2d, rank: int) -> SliceSVDConv2d:
        """Factorize a layer's kernel with :func:`lrconv.decompose.slice_svd_decompose`."""
        return cls(slice_svd_decompose(conv.kernel(), rank), conv.bias, stride=conv.stride,
                   padding=conv.padding)

    @property
    def factors(self) -> SliceSVDFactors:
        return SliceSVDFactors(**{n: self._params[n] for n in SliceSVDFactors._fields})

    def kernel(self) -> np.ndarray:
        return np.einsum("oihr,oirw->oihw", self._params["columns"], self._params["rows"])

    def run_stages(self, x: np.ndarray) -> np.ndarray:
        """The same output computed as the two per-slice stages (for checks)."""
        return slice_svd_conv2d(x, self.factors, stride=self.stride, padding=self.padding,
                                bias=self.bias)

    def _kernel_grads(self, gk: np.ndarray) -> dict[str, np.ndarray]:
        return {"columns": np.einsum("oihw,oirw->oihr", gk, self._params["rows"]),
                "rows": np.einsum("oihw,oihr->oirw", gk, self._params["columns"])}


# --------------------------------------------------------------------------- other layers


class ReLU(Layer):
    """``max(x, 0)`` elementwise (chapter 7)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._mask = np.asarray(x) > 0
        return np.where(self._mask, x, 0.0)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return np.where(self._mask, grad, 0.0)


class _Pool2d(Layer):
    def __init__(self, size: int = 2) -> None:
        super().__init__()
        self.size = check_int(size, "size", 1)

    def _windows(self, x: np.ndarray) -> np.ndarray:
        """``(N, C, H', W', size * size)`` non-overlapping windows (edges that do not fill a
        window are dropped)."""
        x = _check_batch(x)
        s = self.size
        n, c, h, w = x.shape
        if h < s or w < s:
            raise ValueError(f"x of shape {x.shape} is smaller than the {s} x {s} pooling window")
        self._shape = x.shape
        ho, wo = h // s, w // s
        win = x[:, :, :ho * s, :wo * s].reshape(n, c, ho, s, wo, s)
        return win.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, ho, wo, s * s)

    def _unwindow(self, gw: np.ndarray) -> np.ndarray:
        n, c, h, w = self._shape
        s = self.size
        ho, wo = h // s, w // s
        gx = np.zeros(self._shape)
        gx[:, :, :ho * s, :wo * s] = (gw.reshape(n, c, ho, wo, s, s).transpose(0, 1, 2, 4, 3, 5)
                                      .reshape(n, c, ho * s, wo * s))
        return gx


class MaxPool2d(_Pool2d):
    """Maximum over non-overlapping ``size x size`` windows (chapter 7).

    The gradient goes to the first maximum of each window.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        win = self._windows(x)
        self._arg = np.argmax(win, axis=-1)
        return np.take_along_axis(win, self._arg[..., None], axis=-1)[..., 0]

    def backward(self, grad: np.ndarray) -> np.ndarray:
        gw = np.zeros((*self._arg.shape, self.size * self.size))
        np.put_along_axis(gw, self._arg[..., None], np.asarray(grad)[..., None], axis=-1)
        return self._unwindow(gw)


class AvgPool2d(_Pool2d):
    """Mean over non-overlapping ``size x size`` windows (chapter 7)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._windows(x).mean(axis=-1)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        s2 = self.size * self.size
        return self._unwindow(np.repeat(np.asarray(grad)[..., None] / s2, s2, axis=-1))


class Flatten(Layer):
    """``(N, C, H, W) -> (N, C H W)`` (chapter 7)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return np.asarray(grad).reshape(self._shape)


class Linear(Layer):
    """``y = x @ W.T + b`` with ``W`` of shape ``(out, in)`` (chapter 7)."""

    def __init__(self, weight: object, bias: object = None) -> None:
        super().__init__()
        w = _f64(weight, "weight")
        check_ndim(w, "weight", (2,), "(out_features, in_features)")
        b = np.zeros(w.shape[0]) if bias is None else _f64(bias, "bias").copy()
        if b.shape != (w.shape[0],):
            raise ValueError(f"bias must have shape ({w.shape[0]},); received {b.shape}")
        self._params = {"weight": w.copy(), "bias": b}

    @classmethod
    def init(cls, n_in: int, n_out: int, *, rng: np.random.Generator) -> Linear:
        """Entries ``N(0, 1 / n_in)`` (logits start with unit scale), zero bias."""
        n_in, n_out = check_int(n_in, "n_in", 1), check_int(n_out, "n_out", 1)
        return cls(rng.standard_normal((n_out, n_in)) / np.sqrt(n_in))

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _f64(x, "x")
        check_ndim(x, "x", (2,), "(N, in_features)")
        self._x = x
        return x @ self._params["weight"].T + self._params["bias"]

    def backward(self, grad: np.ndarray) -> np.ndarray:
        if self.trainable:
            self._grads = {"weight": grad.T @ self._x, "bias": grad.sum(axis=0)}
        return grad @ self._params["weight"]


# --------------------------------------------------------------------------- the network


class Sequential:
    """Layers applied in order (chapter 7).

    Parameter names are ``"<index>.<name>"``, e.g. ``"3.kernel"``. Index and iterate like a
    list; :meth:`replace` returns a copy with one layer swapped (the original is untouched).
    """

    def __init__(self, layers: Iterable[Layer]) -> None:
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}] must be a Layer; received {type(layer).__name__}")

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    __call__ = forward

    def backward(self, grad: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def named_params(self, trainable_only: bool = True) -> dict[str, np.ndarray]:
        """``"<index>.<name>" -> array`` of the (trainable) layers' parameters."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                if layer.trainable or not trainable_only for k, v in layer.params().items()}

    def named_grads(self) -> dict[str, np.ndarray]:
        """The gradients of :meth:`named_params` from the last ``backward``."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) if layer.trainable
                for k, v in layer.grads().items()}

    def n_params(self) -> int:
        """Number of parameters (trainable or not)."""
        return int(sum(v.size for v in self.named_params(trainable_only=False).values()))

    def copy(self) -> Sequential:
        """A deep copy (parameters included)."""
        return copy.deepcopy(self)

    def replace(self, index: int, layer: Layer) -> Sequential:
        """A copy of the network with ``self[index]`` replaced by ``layer``."""
        index = check_int(index, "index", 0)
        if index >= len(self.layers):
            raise ValueError(f"index must be below {len(self.layers)}; received {index}")
        new = self.copy()
        new.layers[index] = layer
        return new

    def __getitem__(self, index: int) -> Layer:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


def small_cnn(seed: int = 0, *, channels: tuple[int, int] = (8, 16), n_classes: int = 10,
              image_size: int = 8, pool: str = "max") -> Sequential:
    """A LeNet-style network for ``(N, 1, image_size, image_size)`` images (chapter 7).

    ``conv 3x3 (1 -> c1, padding 1), ReLU, pool 2, conv 3x3 (c1 -> c2, padding 1), ReLU,
    pool 2, flatten, linear -> n_classes``; He-initialised from ``default_rng(seed)``. The second
    convolution is layer 3.
    """
    seed = check_int(seed, "seed", 0)
    c1, c2 = (check_int(c, "channels", 1) for c in channels)
    size = check_int(image_size, "image_size", 4)
    if pool not in ("max", "avg"):
        raise ValueError(f"pool must be 'max' or 'avg'; received {pool!r}")
    pool_cls = MaxPool2d if pool == "max" else AvgPool2d
    rng = np.random.default_rng(seed)
    side = size // 2 // 2
    return Sequential([
        Conv2d.init(1, c1, 3, rng=rng, padding=1), ReLU(), pool_cls(2),
        Conv2d.init(c1, c2, 3, rng=rng, padding=1), ReLU(), pool_cls(2),
        Flatten(), Linear.init(c2 * side * side, check_int(n_classes, "n_classes", 2), rng=rng),
    ])


# --------------------------------------------------------------------------- loss, optimizers


def softmax_cross_entropy(logits: object, labels: object) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient (chapter 7).

    Returns ``(loss, dL/dlogits)`` with ``dL/dlogits = (softmax(logits) - onehot(labels)) / N``.
    """
    z = _f64(logits, "logits")
    check_ndim(z, "logits", (2,), "(N, n_classes)")
    y = np.asarray(labels)
    if y.shape != (z.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be {z.shape[0]} integers; received shape {y.shape}, "
                         f"dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= z.shape[1]):
        raise ValueError(f"labels must lie in 0..{z.shape[1] - 1}; received {y.min()}..{y.max()}")
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = z.shape[0]
    loss = -float(logp[np.arange(n), y].mean())
    grad = np.exp(logp)
    grad[np.arange(n), y] -= 1.0
    return loss, grad / n


class SGD:
    """Stochastic gradient descent with momentum: ``v = m v + g``, ``p -= lr v`` (chapter 7)."""

    def __init__(self, lr: float = 0.05, momentum: float = 0.9) -> None:
        self.lr, self.momentum = float(lr), float(momentum)
        self.state: dict[str, np.ndarray] = {}

    def step(self, model: Sequential) -> None:
        grads = model.named_grads()
        for name, p in model.named_params().items():
            v = self.state.setdefault(name, np.zeros_like(p))
            v *= self.momentum
            v += grads[name]
            p -= self.lr * v


class Adam:
    """Adam (Kingma and Ba) with bias correction (chapter 7)."""

    def __init__(self, lr: float = 1e-2, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        self.lr, self.beta1, self.beta2, self.eps = float(lr), float(beta1), float(beta2), eps
        self.state: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.t = 0

    def step(self, model: Sequential) -> None:
        self.t += 1
        grads = model.named_grads()
        c1, c2 = 1.0 - self.beta1**self.t, 1.0 - self.beta2**self.t
        for name, p in model.named_params().items():
            m, v = self.state.setdefault(name, (np.zeros_like(p), np.zeros_like(p)))
            g = grads[name]
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * g * g
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


# --------------------------------------------------------------------------- training


@dataclass
class History:
    """Mean training loss of each epoch (chapter 7)."""

    loss: list[float] = field(default_factory=list)


def _check_data(x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    x = _check_batch(x, "X")
    y = np.asarray(y)
    if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold {x.shape[0]} integer labels (one per image of X); "
                         f"received shape {y.shape}, dtype {y.dtype}")
    return x, y


def train(model: Sequential, X: object, y: object, *, epochs: int, batch_size: int,
          optimizer: SGD | Adam, seed: int = 0) -> History:
    """Minibatch training with :func:`softmax_cross_entropy` (chapter 7).

    Each epoch visits the images in an order drawn from ``default_rng(seed)``, so the result is
    deterministic. The model's parameters are updated in place.

    Returns
    -------
    History
        The mean loss of each epoch.
    """
    x, y = _check_data(X, y)
    epochs = check_int(epochs, "epochs", 0)
    batch_size = check_int(batch_size, "batch_size", 1)
    rng = np.random.default_rng(check_int(seed, "seed", 0))
    history = History()
    n = x.shape[0]
    for _ in range(epochs):
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss, grad = softmax_cross_entropy(model.forward(x[idx]), y[idx])
            model.backward(grad)
            optimizer.step(model)
            total += loss * idx.size
        history.loss.append(total / n)
    return history


def predict(model: Sequential, X: object, *, batch_size: int = 512) -> np.ndarray:
    """Predicted class (argmax of the logits) of every image (chapter 7)."""
    x = _check_batch(X, "X")
    batch_size = check_int(batch_size, "batch_size", 1)
    out = [np.argmax(model.forward(x[s:s + batch_size]), axis=1)
           for s in range(0, x.shape[0], batch_size)]
    return np.concatenate(out) if out else np.zeros(0, dtype=int)


def accuracy(y_true: object, y_pred: object) -> float:
    """Fraction of equal labels (chapter 7)."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape != p.shape or t.ndim != 1 or t.size == 0:
        raise ValueError(f"y_true and y_pred must be non-empty 1-D arrays of one shape; "
                         f"received {t.shape} and {p.shape}")
    return float(np.mean(t == p))


def evaluate(model: Sequential, X: object, y: object) -> float:
    """Test accuracy of ``model`` on ``(X, y)``, a fraction in [0, 1] (chapter 7)."""
    x, y = _check_data(X, y)
    return accuracy(y, predict(model, x))


def per_class_accuracy(y_true: object, y_pred: object,
                       n_classes: int | None = None) -> np.ndarray:
    """Accuracy within each true class ``0..n_classes-1`` (NaN for an absent class), chapter 7."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    accuracy(t, p)  # shape checks
    k = int(t.max()) + 1 if n_classes is None else check_int(n_classes, "n_classes", 1)
    hits = np.bincount(t, weights=(t == p).astype(float), minlength=k)[:k]
    counts = np.bincount(t, minlength=k)[:k]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
