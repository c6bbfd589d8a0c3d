"""Loss, optimizers and the training loop (chapter 7).

:func:`train`, :func:`predict` and :func:`evaluate` check their arguments once and convert the
images to the network's type (:attr:`Sequential.dtype`); each step then runs the unchecked
passes: a forward pass, the loss, a backward pass that stops at the lowest trainable layer, and
one optimizer update. The loops run with BLAS on one thread: the book's matrix products are
small, and threads that wait for each other (or for a busy core) cost more than they save.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from lrconv._validate import check_float, check_int
from lrconv.nn._checks import Seed, as_batch, as_float, as_generator, as_labels, check_type
from lrconv.nn.container import Sequential

__all__ = ["SGD", "Adam", "History", "evaluate", "predict", "softmax_cross_entropy", "train"]


def _xent(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and its gradient, unchecked."""
    n = z.shape[0]
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    total = p.sum(axis=1)
    rows = np.arange(n)
    loss = float(np.log(total).sum() - z[rows, y].sum()) / n
    p *= (1.0 / n) / total[:, None]
    p[rows, y] -= 1.0 / n
    return loss, p


def softmax_cross_entropy(logits: object, labels: object) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient (chapter 7).

    Returns ``(loss, dL/dlogits)`` with ``dL/dlogits = (softmax(logits) - onehot(labels)) / N``,
    computed stably (the largest logit of each row subtracted first).
    """
    z = as_batch(logits, "logits", ndim=2, layout="(N, n_classes)")
    y = np.asarray(labels)
    if y.shape != (z.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be {z.shape[0]} integers; received shape {y.shape}, "
                         f"dtype {y.dtype}")
    if y.min() < 0 or y.max() >= z.shape[1]:
        raise ValueError(f"labels must lie in 0..{z.shape[1] - 1}; received {y.min()}..{y.max()}")
    return _xent(z, y)


class _Optimizer:
    def __init__(self, lr: float) -> None:
        self.lr = check_float(lr, "lr", minimum=0.0, strict=True)

    def step(self, model: Sequential) -> None:
        """Update the trainable parameters of ``model`` in place from its last gradients."""
        check_type(model, Sequential, "model", "a lrconv.nn.Sequential")
        self._step(model)

    def _step(self, model: Sequential) -> None:
        raise NotImplementedError


class SGD(_Optimizer):
    """Stochastic gradient descent with momentum: ``v = m v + g``, ``p -= lr v`` (chapter 7).

    Parameters
    ----------
    lr : float
        Learning rate, > 0.
    momentum : float
        In [0, 1).
    """

    def __init__(self, lr: float = 0.05, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum = check_float(momentum, "momentum", minimum=0.0)
        if self.momentum >= 1.0:
            raise ValueError(f"momentum must be < 1; received {momentum!r}")
        self.state: dict[str, np.ndarray] = {}

    def _step(self, model: Sequential) -> None:
        grads = model.named_grads()
        for name, p in model.named_params().items():
            v = self.state.setdefault(name, np.zeros_like(p))
            v *= self.momentum
            v += grads[name]
            p -= self.lr * v


class Adam(_Optimizer):
    """Adam (Kingma and Ba) with bias correction (chapter 7).

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
    ``p -= lr (m / c1) / (sqrt(v / c2) + eps)`` with ``c1 = 1 - b1^t``, ``c2 = 1 - b2^t``.

    Parameters
    ----------
    lr : float
        Learning rate, > 0 (may be changed between calls, e.g. ``opt.lr = 1e-3``).
    beta1, beta2 : float
        Decay rates of the moment estimates, in [0, 1).
    eps : float
        Added to the denominator, > 0.
    """

    def __init__(self, lr: float = 1e-2, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.beta1 = check_float(beta1, "beta1", minimum=0.0)
        self.beta2 = check_float(beta2, "beta2", minimum=0.0)
        for name, value in (("beta1", self.beta1), ("beta2", self.beta2)):
            if value >= 1.0:
                raise ValueError(f"{name} must be < 1; received {value!r}")
        self.eps = check_float(eps, "eps", minimum=0.0, strict=True)
        self.state: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.t = 0

    def _step(self, model: Sequential) -> None:
        self.t += 1
        params, grads = model.named_params(), model.named_grads()
        if not params:
            return
        m, v = self._flat_state(params)
        g = np.concatenate([grads[name].ravel() for name in params])  # one pass over all
        b1, b2 = self.beta1, self.beta2
        m *= b1
        m += (1.0 - b1) * g
        g *= g
        g *= 1.0 - b2
        v *= b2
        v += g
        # p -= lr (m / c1) / (sqrt(v / c2) + eps), computed in place in g
        np.sqrt(v, out=g)
        g *= 1.0 / np.sqrt(1.0 - b2**self.t)
        g += self.eps
        np.divide(m, g, out=g)
        g *= self.lr / (1.0 - b1**self.t)
        start = 0
        for p in params.values():
            p -= g[start:start + p.size].reshape(p.shape)
            start += p.size

    def _flat_state(self, params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The moment estimates of every parameter as two flat arrays; ``self.state`` holds
        views of them by name. Rebuilt (estimates kept by name) when the parameters change."""
        layout = tuple((name, p.shape, p.dtype) for name, p in params.items())
        if getattr(self, "_layout", None) != layout:
            dtype = np.result_type(*params.values()) if params else np.float64
            size = sum(p.size for p in params.values())
            flat_m, flat_v = np.zeros(size, dtype=dtype), np.zeros(size, dtype=dtype)
            state, start = {}, 0
            for name, p in params.items():
                views = (flat_m[start:start + p.size].reshape(p.shape),
                         flat_v[start:start + p.size].reshape(p.shape))
                if name in self.state and self.state[name][0].shape == p.shape:
                    views[0][...], views[1][...] = self.state[name]
                state[name] = views
                start += p.size
            self.state = {**self.state, **state}
            self._flat, self._layout = (flat_m, flat_v), layout
        return self._flat


@dataclass
class History:
    """Mean training loss of each epoch (chapter 7)."""

    loss: list[float] = field(default_factory=list)


def _check_model(model: object) -> Sequential:
    check_type(model, Sequential, "model", "a lrconv.nn.Sequential")
    return model


def _check_images(model: Sequential, X: object) -> np.ndarray:
    """``X`` checked once, in the network's type and contiguous (batches are cheap slices)."""
    x = model.layers[0]._check_input(as_float(X, "X", model.dtype), "X")
    return np.ascontiguousarray(x)


def train(model: Sequential, X: object, y: object, *, epochs: int, batch_size: int,
          optimizer: SGD | Adam, seed: Seed = 0) -> History:
    """Minibatch training with :func:`softmax_cross_entropy` (chapter 7).

    Each epoch visits the images in an order drawn from ``default_rng(seed)`` (``seed`` may be
    a Generator), so the result is deterministic. The model's parameters are updated in place,
    in the model's type (:attr:`Sequential.dtype`).

    Returns
    -------
    History
        The mean loss of each epoch.
    """
    model = _check_model(model)
    check_type(optimizer, _Optimizer, "optimizer", "a lrconv.nn optimizer (SGD or Adam)")
    x = _check_images(model, X)
    labels = as_labels(y, x.shape[0], "y")
    epochs = check_int(epochs, "epochs", 0)
    batch_size = check_int(batch_size, "batch_size", 1)
    rng = as_generator(seed, "seed")
    top = int(labels.max()) if labels.size else 0
    history = History()
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(epochs):
            history.loss.append(_epoch(model, x, labels, top, batch_size, optimizer, rng))
    return history


def _epoch(model: Sequential, x: np.ndarray, labels: np.ndarray, top: int, batch_size: int,
           optimizer: _Optimizer, rng: np.random.Generator) -> float:
    """One pass over the images in a random order; the mean loss."""
    n = x.shape[0]
    order = rng.permutation(n)
    total = 0.0
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        logits = model._forward(x[idx])
        if top >= logits.shape[1]:
            raise ValueError(f"y must hold labels below {logits.shape[1]} (the network's "
                             f"number of outputs); received a maximum of {top}")
        loss, grad = _xent(logits, labels[idx])
        model._backward(grad)
        optimizer._step(model)
        total += loss * idx.size
    return total / n


def _predict(model: Sequential, x: np.ndarray, batch_size: int) -> np.ndarray:
    with threadpool_limits(limits=1, user_api="blas"):
        out = [np.argmax(model._forward(x[s:s + batch_size]), axis=1)
               for s in range(0, x.shape[0], batch_size)]
    return np.concatenate(out)


def predict(model: Sequential, X: object, *, batch_size: int = 512) -> np.ndarray:
    """Predicted class (argmax of the logits) of every image (chapter 7)."""
    model = _check_model(model)
    x = _check_images(model, X)
    return _predict(model, x, check_int(batch_size, "batch_size", 1))


def evaluate(model: Sequential, X: object, y: object, *, batch_size: int = 512) -> float:
    """Test accuracy of ``model`` on ``(X, y)``, a fraction in [0, 1] (chapter 7)."""
    model = _check_model(model)
    x = _check_images(model, X)
    labels = as_labels(y, x.shape[0], "y")
    return float(np.mean(_predict(model, x, check_int(batch_size, "batch_size", 1)) == labels))
