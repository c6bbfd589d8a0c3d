"""The layer protocol and the layers without a convolution kernel (chapter 7).

Every layer follows one protocol (:class:`Layer`):

- ``forward(x)`` checks ``x`` once, computes the output and remembers what ``backward`` needs;
- ``backward(grad)`` takes ``dL/d(output)``, stores ``dL/d(parameter)`` (see ``grads()``) and
  returns ``dL/d(input)``;
- ``params()`` and ``grads()`` are dicts ``name -> array`` with the same keys; optimizers update
  the arrays of ``params()`` in place;
- ``trainable``: when False the optimizer leaves the layer alone and ``backward`` skips the
  parameter gradients (it still returns the input gradient).

``forward`` and ``backward`` are the checked entry points. A network
(:class:`~lrconv.nn.Sequential`) checks its input once and then runs the unchecked passes
``_forward(x)`` and ``_backward(grad, need_input)`` of its layers, so a training step converts
and copies nothing it does not have to. ``need_input=False`` lets the lowest layer that needs
gradients skip the input gradient nobody uses.

Data types: a layer with parameters computes in their type (float64 by default, float32 for
speed; :meth:`Layer.astype` converts), and ``forward`` converts its input to it. Layers without
parameters keep the type of their input.
"""

from __future__ import annotations

import copy

import numpy as np

from lrconv._validate import check_int
from lrconv.nn._checks import Seed, as_batch, as_float, as_generator, check_dtype, check_size

__all__ = ["AvgPool2d", "Flatten", "Layer", "Linear", "MaxPool2d", "ReLU"]


class Layer:
    """Base class of every layer (chapter 7): the protocol, and no parameters.

    Subclasses implement ``_forward`` and ``_backward``; layers with parameters keep them in
    ``self._params`` and their gradients in ``self._grads`` (same keys). What a forward pass
    remembers for the backward pass lives in attributes whose names start with ``_cache``
    (copies and pickles of a layer leave them out).
    """

    trainable: bool = True

    def __init__(self) -> None:
        self._params: dict[str, np.ndarray] = {}
        self._grads: dict[str, np.ndarray] = {}

    # ---- the checked entry points
    def forward(self, x: object) -> np.ndarray:
        """The layer's output for ``x`` (checked and converted to the layer's type)."""
        return self._forward(self._check_input(x))

    def backward(self, grad: object) -> np.ndarray:
        """``dL/d(input)`` from ``grad = dL/d(output)`` of the last ``forward``."""
        shape = getattr(self, "_cache_out_shape", None)
        if shape is None:
            raise RuntimeError(f"call {type(self).__name__}.forward before backward")
        g = as_float(grad, "grad")
        if g.shape != shape:
            raise ValueError(f"grad must have the shape of the last output, {shape}; received "
                             f"{g.shape}")
        return self._backward(g, True)

    def _check_input(self, x: object, name: str = "x") -> np.ndarray:
        return as_batch(x, name, self.dtype)

    # ---- the unchecked passes (subclasses)
    def _forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _backward(self, grad: np.ndarray, need_input: bool) -> np.ndarray | None:
        raise NotImplementedError

    # ---- parameters
    def params(self) -> dict[str, np.ndarray]:
        """The parameter arrays by name (updated in place by the optimizers)."""
        return self._params

    def grads(self) -> dict[str, np.ndarray]:
        """``dL/d(parameter)`` from the last ``backward``, with the keys of ``params()``."""
        return self._grads

    @property
    def dtype(self) -> np.dtype | None:
        """The floating type the layer computes in (None for a layer without parameters)."""
        for value in self._params.values():
            return value.dtype
        return None

    def astype(self, dtype: object) -> Layer:
        """A copy of the layer with every stored array in ``dtype`` (float32 or float64)."""
        dt = check_dtype(dtype)
        new = copy.deepcopy(self)
        new._cast(dt)
        return new

    def _cast(self, dtype: np.dtype) -> None:
        """Convert the stored arrays in place (subclasses with more arrays extend this)."""
        for name, value in self._params.items():
            self._params[name] = value.astype(dtype)
        self._grads = {}

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_cache")}

    def __call__(self, x: object) -> np.ndarray:
        return self.forward(x)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={tuple(v.shape)}" for k, v in self._params.items())
        parts = [shapes] if shapes else []
        if self._params and not self.trainable:  # a layer without parameters has none to freeze
            parts.append("frozen")
        return f"{type(self).__name__}({', '.join(parts)})"


class ReLU(Layer):
    """``max(x, 0)`` elementwise (chapter 7)."""

    def _check_input(self, x: object, name: str = "x") -> np.ndarray:
        return as_float(x, name)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        out = np.maximum(x, 0)
        self._cache_out = out
        self._cache_out_shape = out.shape
        return out

    def _backward(self, grad: np.ndarray, need_input: bool) -> np.ndarray | None:
        return grad * (self._cache_out > 0)


class _Pool2d(Layer):
    """Non-overlapping ``size x size`` windows; edges that do not fill a window are dropped."""

    def __init__(self, size: int = 2) -> None:
        super().__init__()
        self.size = check_int(size, "size", 1)

    def _check_window(self, x: np.ndarray) -> tuple[int, int]:
        s = self.size
        if x.shape[2] < s or x.shape[3] < s:
            raise ValueError(f"x of shape {x.shape} is smaller than the {s} x {s} pooling window")
        self._cache_in = x  # its shape and memory layout, for the gradient
        return x.shape[2] // s, x.shape[3] // s

    def _taps(self, x: np.ndarray, ho: int, wo: int) -> list[np.ndarray]:
        """The ``size**2`` strided views, one per window position, in row-major order."""
        s = self.size
        return [x[:, :, i:i + s * ho:s, j:j + s * wo:s] for i in range(s) for j in range(s)]

    def _scatter(self, parts: list[np.ndarray]) -> np.ndarray:
        """The input gradient from one ``(N, C, H', W')`` part per window position."""
        gx = np.zeros_like(self._cache_in, dtype=parts[0].dtype)  # the input's memory layout
        ho, wo = gx.shape[2] // self.size, gx.shape[3] // self.size
        for view, part in zip(self._taps(gx, ho, wo), parts, strict=True):
            view[...] = part
        return gx


class MaxPool2d(_Pool2d):
    """Maximum over non-overlapping ``size x size`` windows (chapter 7).

    The gradient goes to the first maximum of each window (row-major order). For ``size = 2``
    the maximum is a tournament of the four window positions (left against right in each row,
    then top row against bottom row), a few elementwise operations on strided views.
    """

    def _forward(self, x: np.ndarray) -> np.ndarray:
        ho, wo = self._check_window(x)
        taps = self._taps(x, ho, wo)
        if self.size == 2:
            a, b, c, d = taps
            right, lower_right = b > a, d > c  # strict: a tie goes to the first position
            top, bottom = np.maximum(a, b), np.maximum(c, d)
            lower = bottom > top
            out = np.maximum(top, bottom)
            self._cache_choice = (right, lower_right, lower)
        else:
            stacked = np.stack(taps, axis=-1)
            arg = np.argmax(stacked, axis=-1)
            out = np.take_along_axis(stacked, arg[..., None], axis=-1)[..., 0]
            self._cache_choice = arg
        self._cache_out_shape = out.shape
        return out

    def _backward(self, grad: np.ndarray, need_input: bool) -> np.ndarray | None:
        if self.size != 2:
            arg = self._cache_choice
            return self._scatter([grad * (arg == t) for t in range(self.size * self.size)])
        right, lower_right, lower = self._cache_choice
        x = self._cache_in
        gx = (np.empty_like if x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0 else np.zeros_like)(
            x, dtype=grad.dtype)  # the input's memory layout; dropped edges get zeros
        a, b, c, d = self._taps(gx, grad.shape[2], grad.shape[3])
        # the tournament backwards, written straight into the four views of the gradient
        np.multiply(grad, lower, out=c)  # everything that went to the bottom row
        np.subtract(grad, c, out=a)  # ... and to the top row
        np.multiply(a, right, out=b)
        np.subtract(a, b, out=a)
        np.multiply(c, lower_right, out=d)
        np.subtract(c, d, out=c)
        return gx


class AvgPool2d(_Pool2d):
    """Mean over non-overlapping ``size x size`` windows (chapter 7)."""

    def _forward(self, x: np.ndarray) -> np.ndarray:
        ho, wo = self._check_window(x)
        taps = self._taps(x, ho, wo)
        out = taps[0].copy()
        for tap in taps[1:]:
            out += tap
        out *= 1.0 / (self.size * self.size)
        self._cache_out_shape = out.shape
        return out

    def _backward(self, grad: np.ndarray, need_input: bool) -> np.ndarray | None:
        part = grad * (1.0 / (self.size * self.size))
        return self._scatter([part] * (self.size * self.size))


class Flatten(Layer):
    """``(N, ...) -> (N, prod(...))``, e.g. ``(N, C, H, W) -> (N, C H W)`` (chapter 7)."""

    def _check_input(self, x: object, name: str = "x") -> np.ndarray:
        arr = as_float(x, name)
        if arr.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (N, ...); received shape "
                             f"{arr.shape}")
        return arr

    def _forward(self, x: np.ndarray) -> np.ndarray:
        self._cache_in = x
        out = x.reshape(x.shape[0], -1)
        self._cache_out_shape = out.shape
        return out

    def _backward(self, grad: np.ndarray, need_input: bool) -> np.ndarray | None:
        gx = np.empty_like(self._cache_in, dtype=grad.dtype)  # the input's memory layout
        gx[...] = grad.reshape(gx.shape)
        return gx


class Linear(Layer):
    """``y = x @ W.T + b`` with ``W`` of shape ``(out, in)`` (chapter 7).

    Parameters
    ----------
    weight : array_like, shape (out_features, in_features)
    bias : array_like, shape (out_features,), optional
        Zeros if omitted.
    dtype : float32 or float64, optional
        The type to compute in; by default that of ``weight`` (integers as float64).
    """

    def __init__(self, weight: object, bias: object = None, *, dtype: object = None) -> None:
        super().__init__()
        dt = None if dtype is None else check_dtype(dtype)
        w = as_batch(weight, "weight", dt, 2, "(out_features, in_features)")
        b = (np.zeros(w.shape[0], dtype=w.dtype) if bias is None
             else as_float(bias, "bias", w.dtype))
        if b.shape != (w.shape[0],):
            raise ValueError(f"bias must have shape ({w.shape[0]},) (out_features); received "
                             f"{b.shape}")
        self._params = {"weight": w.copy(), "bias": b.copy()}

    @classmethod
    def init(cls, n_in: int, n_out: int, *, rng: Seed = None,
             dtype: object = np.float64) -> Linear:
        """Entries ``N(0, 1 / n_in)`` (logits start with unit scale), zero bias.

        ``rng`` is a seed or a numpy Generator (as :func:`numpy.random.default_rng` takes).
        """
        n_in, n_out = check_int(n_in, "n_in", 1), check_int(n_out, "n_out", 1)
        gen, dt = as_generator(rng, "rng"), check_dtype(dtype)
        check_size((n_out, n_in), "the weight of Linear.init")
        return cls(gen.standard_normal((n_out, n_in)) / np.sqrt(n_in), dtype=dt)

    @property
    def weight(self) -> np.ndarray:
        return self._params["weight"]

    @property
    def bias(self) -> np.ndarray:
        return self._params["bias"]

    def _check_input(self, x: object, name: str = "x") -> np.ndarray:
        return as_batch(x, name, self.dtype, 2, "(N, in_features)")

    def _forward(self, x: np.ndarray) -> np.ndarray:
        w = self._params["weight"]
        if x.shape[1] != w.shape[1]:
            raise ValueError(f"x must have {w.shape[1]} features (in_features of a weight of "
                             f"shape {w.shape}); received x of shape {x.shape}")
        self._cache_x = x
        out = x @ w.T + self._params["bias"]
        self._cache_out_shape = out.shape
        return out

    def _backward(self, grad: np.ndarray, need_input: bool) -> np.ndarray | None:
        if self.trainable:
            self._grads = {"weight": grad.T @ self._cache_x, "bias": grad.sum(axis=0)}
        return grad @ self._params["weight"] if need_input else None
