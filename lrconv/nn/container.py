"""A network as a list of layers, and the book's small CNN (chapter 7)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator

import numpy as np

from lrconv._validate import check_int
from lrconv.nn._checks import Seed, as_float, as_generator, check_dtype
from lrconv.nn.convolution import Conv2d
from lrconv.nn.layers import AvgPool2d, Flatten, Layer, Linear, MaxPool2d, ReLU

__all__ = ["Sequential", "small_cnn"]


class Sequential:
    """Layers applied in order (chapter 7).

    Parameter names are ``"<index>.<name>"``, e.g. ``"3.kernel"``. Index and iterate like a
    list; :meth:`replace` returns a copy with one layer swapped (the original is untouched).
    ``forward`` checks its input once (converted to the network's type, :attr:`dtype`) and then
    runs the layers' unchecked passes.

    Parameters
    ----------
    layers : iterable of Layer
        At least one.
    """

    def __init__(self, layers: Iterable[Layer]) -> None:
        if isinstance(layers, (str, bytes, np.ndarray)) or not isinstance(layers, Iterable):
            raise TypeError(f"layers must be an iterable of lrconv.nn layers; received "
                            f"{type(layers).__name__}")
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("layers must hold at least one layer; received an empty sequence")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}] must be a Layer; received {type(layer).__name__}")

    @property
    def dtype(self) -> np.dtype:
        """The type of the first layer with parameters (float64 if there is none)."""
        for layer in self.layers:
            if layer.dtype is not None:
                return layer.dtype
        return np.dtype(np.float64)

    def astype(self, dtype: object) -> Sequential:
        """A copy of the network with every parameter in ``dtype`` (float32 or float64)."""
        dt = check_dtype(dtype)
        return Sequential([layer.astype(dt) for layer in self.layers])

    # ---- passes
    def forward(self, x: object) -> np.ndarray:
        """The network's output for ``x`` (checked once, converted to :attr:`dtype`)."""
        x = self.layers[0]._check_input(as_float(x, "x", self.dtype))
        out = self._forward(x)
        self._cache_out_shape = out.shape
        return out

    __call__ = forward

    def _forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer._forward(x)
        return x

    def backward(self, grad: object) -> np.ndarray:
        """``dL/d(input)`` from ``grad = dL/d(output)`` of the last ``forward``; every layer
        stores its parameter gradients on the way."""
        shape = getattr(self, "_cache_out_shape", None)
        if shape is None:
            raise RuntimeError("call Sequential.forward before backward")
        g = as_float(grad, "grad", self.dtype)
        if g.shape != shape:
            raise ValueError(f"grad must have the shape of the last output, {shape}; received "
                             f"{g.shape}")
        return self._backward(g, need_input=True)

    def _backward(self, grad: np.ndarray, need_input: bool = False) -> np.ndarray | None:
        """Backpropagate; without ``need_input`` stop at the lowest layer with trainable
        parameters (nothing below it needs a gradient)."""
        stop = 0
        if not need_input:
            trained = [i for i, layer in enumerate(self.layers)
                       if layer.trainable and layer.params()]
            if not trained:
                return None
            stop = trained[0]
        for i in range(len(self.layers) - 1, stop - 1, -1):
            grad = self.layers[i]._backward(grad, need_input or i > stop)
        return grad

    # ---- parameters
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
        if not isinstance(layer, Layer):
            raise TypeError(f"layer must be a Layer; received {type(layer).__name__}")
        new = self.copy()
        new.layers[index] = layer
        return new

    def only_trainable(self, *indices: int) -> Sequential:
        """A copy in which only the layers ``indices`` are trainable, e.g. ``only_trainable(7)``
        for a linear probe (chapter 8): training then backpropagates no further than the
        lowest of them."""
        chosen = {check_int(i, "indices[i]", 0) for i in indices}
        if any(i >= len(self.layers) for i in chosen):
            raise ValueError(f"indices must be below {len(self.layers)}; received "
                             f"{sorted(chosen)}")
        new = self.copy()
        for i, layer in enumerate(new.layers):
            layer.trainable = i in chosen
        return new

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_cache")}

    def __getitem__(self, index: int) -> Layer:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


def small_cnn(seed: Seed = 0, *, channels: tuple[int, int] = (8, 16), n_classes: int = 10,
              image_size: int = 8, pool: str = "max", dtype: object = np.float64) -> Sequential:
    """A LeNet-style network for ``(N, 1, image_size, image_size)`` images (chapter 7).

    ``conv 3x3 (1 -> c1, padding 1), ReLU, pool 2, conv 3x3 (c1 -> c2, padding 1), ReLU,
    pool 2, flatten, linear -> n_classes``; He-initialised from ``default_rng(seed)`` (``seed``
    may also be a Generator). The second convolution is layer 3. The draws do not depend on
    ``dtype``: the float32 network is the float64 one rounded.
    """
    rng = as_generator(seed, "seed")
    if (not isinstance(channels, (tuple, list)) or len(channels) != 2):
        raise TypeError(f"channels must be a pair (c1, c2) of ints; received {channels!r}")
    c1, c2 = (check_int(c, f"channels[{i}]", 1) for i, c in enumerate(channels))
    size = check_int(image_size, "image_size", 4)
    n_classes = check_int(n_classes, "n_classes", 2)
    if pool not in ("max", "avg"):
        raise ValueError(f"pool must be 'max' or 'avg'; received {pool!r}")
    dt = check_dtype(dtype)
    pool_cls = MaxPool2d if pool == "max" else AvgPool2d
    side = size // 2 // 2
    return Sequential([
        Conv2d.init(1, c1, 3, rng=rng, padding=1, dtype=dt), ReLU(), pool_cls(2),
        Conv2d.init(c1, c2, 3, rng=rng, padding=1, dtype=dt), ReLU(), pool_cls(2),
        Flatten(), Linear.init(c2 * side * side, n_classes, rng=rng, dtype=dt),
    ])
