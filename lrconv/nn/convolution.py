"""The convolution layer and its backward pass, as a few large matrix products (chapter 7).

A layer's forward pass builds the im2col matrix of its input once: row ``(n, y, x)`` holds the
window of output pixel ``(y, x)`` of image ``n``, every value that a kernel tap meets, so the
``(N H' W', kh kw C_in)`` matrix ``X`` turns the layer into one product ``Y = X W`` with the
kernel seen as a ``(kh kw C_in, C_out)`` matrix ``W`` (as :func:`lrconv.conv.conv2d` computes
it). The backward pass reuses ``X``: with ``G = dL/dY`` (``N H' W' x C_out``)

``dL/dW = X^T G``  and  ``dL/dX = G W^T``,

two matrix products; ``dL/dX`` is computed tap by tap (one batched product, each tap's block
contiguous) and added back into the (padded) input positions it came from, one strided
addition per kernel tap ("col2im", the adjoint of im2col).

Shapes are PyTorch's ``(N, C, H, W)``; in memory the layer's output is channels-last
(``Y`` reshaped to ``(N, H', W', C_out)`` and viewed as ``(N, C_out, H', W')``), which keeps the
innermost loops of every elementwise step long on small images.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from lrconv._validate import Pair, check_int, check_pair
from lrconv.nn._checks import Seed, as_batch, as_float, as_generator, check_dtype, check_size
from lrconv.nn.layers import Layer

__all__ = ["Conv2d", "conv2d_backward"]

# Below this many values per window row (kw * C_in) im2col copies one block per kernel tap
# instead of one strided view (measured on the digits network's first layer: about 2x faster).
_SHORT_RUN = 8


def _out_size(x_shape: tuple[int, ...], k_shape: tuple[int, ...], stride: tuple[int, int],
              padding: tuple[int, int]) -> tuple[int, int]:
    hp, wp = x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1]
    kh, kw = k_shape[2], k_shape[3]
    if kh > hp or kw > wp:
        raise ValueError(f"kernel of shape {k_shape} is larger than the padded input "
                         f"({hp} x {wp}); received x of shape {x_shape} and padding {padding}")
    return (hp - kh) // stride[0] + 1, (wp - kw) // stride[1] + 1


def _im2col(x: np.ndarray, kh: int, kw: int, stride: tuple[int, int], padding: tuple[int, int],
            ho: int, wo: int) -> np.ndarray:
    """The ``(N H' W', kh kw C)`` im2col matrix of ``x`` (N, C, H, W): one strided view of the
    padded input, copied once.

    The padded copy is stored channels-last (``(N, H, W, C)`` in memory), so each window's
    ``kw x C`` values lie next to each other and the copy moves long runs of memory. With few
    channels the matrix is built transposed, one row per tap, and returned as a view.
    """
    n, c, h, w = x.shape
    ph, pw = padding
    check_size((n, ho, wo, kh, kw, c), "the im2col matrix of a convolution", x.dtype.itemsize)
    check_size((n, h + 2 * ph, w + 2 * pw, c), "the padded input of a convolution",
               x.dtype.itemsize)
    xp = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=x.dtype)
    xp[:, ph:ph + h, pw:pw + w, :] = x.transpose(0, 2, 3, 1)
    if c * kw < _SHORT_RUN:  # few channels: one block per tap is the faster copy
        taps = np.empty((kh, kw, c, n, ho, wo), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                taps[i, j] = xp[:, i:i + stride[0] * (ho - 1) + 1:stride[0],
                                j:j + stride[1] * (wo - 1) + 1:stride[1], :].transpose(3, 0, 1, 2)
        return taps.reshape(kh * kw * c, n * ho * wo).T
    s0, s1, s2, s3 = xp.strides
    view = as_strided(xp, (n, ho, wo, kh, kw, c),
                      (s0, s1 * stride[0], s2 * stride[1], s1, s2, s3), writeable=False)
    return view.reshape(n * ho * wo, kh * kw * c)


def _input_grad(g2: np.ndarray, kernel: np.ndarray, x_shape: tuple[int, ...],
                stride: tuple[int, int], padding: tuple[int, int], ho: int, wo: int
                ) -> np.ndarray:
    """``dL/dx`` from ``G`` (``N H' W' x C_out``): the adjoint of im2col ("col2im").

    One batched product gives every tap's share ``G K[:, :, i, j]`` as its own contiguous
    block, which is then added into the padded input at the tap's (strided) offset. Returns an
    ``(N, C, H, W)`` view of channels-last memory.
    """
    n, c, h, w = x_shape
    c_out, _, kh, kw = kernel.shape
    (sh, sw), (ph, pw) = stride, padding
    taps = np.ascontiguousarray(kernel.transpose(2, 3, 0, 1)).reshape(kh * kw, c_out, c)
    parts = np.matmul(g2, taps).reshape(kh, kw, n, ho, wo, c)
    gxp = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=parts.dtype)
    for i in range(kh):
        rows = slice(i, i + sh * (ho - 1) + 1, sh)
        for j in range(kw):
            gxp[:, rows, j:j + sw * (wo - 1) + 1:sw, :] += parts[i, j]
    return gxp[:, ph:ph + h, pw:pw + w, :].transpose(0, 3, 1, 2)


def _matrix(kernel: np.ndarray) -> np.ndarray:
    """The kernel as the ``(kh kw C_in, C_out)`` matrix that multiplies the im2col matrix."""
    c_out, c_in, kh, kw = kernel.shape
    return kernel.transpose(2, 3, 1, 0).reshape(kh * kw * c_in, c_out)


def _kernel_from_matrix(matrix: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    c_out, c_in, kh, kw = shape
    return np.ascontiguousarray(matrix.reshape(kh, kw, c_in, c_out).transpose(3, 2, 0, 1))


def _grad_matrix(grad: np.ndarray) -> np.ndarray:
    """``dL/dy`` (N, C_out, H', W') as the ``(N H' W', C_out)`` matrix (free for an output of
    :class:`Conv2d`, whose memory is channels-last)."""
    return grad.transpose(0, 2, 3, 1).reshape(-1, grad.shape[1])


def conv2d_backward(
    x: object, kernel: object, grad: object, *, stride: Pair = 1, padding: Pair = 0,
    kernel_grad: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Gradients of ``y = conv2d(x, kernel, stride, padding)`` given ``grad = dL/dy`` (chapter 7).

    With the im2col matrix ``X`` of ``x`` (``C_in kh kw x N H' W'``) and ``G`` the gradient as a
    ``C_out x N H' W'`` matrix, ``dL/dK = G X^T`` and ``dL/dX = K^T G``, the latter added back
    into the input positions each column came from.

    Parameters
    ----------
    x : array_like, shape (N, C_in, H, W)
    kernel : array_like, shape (C_out, C_in, kh, kw)
    grad : array_like, shape (N, C_out, H', W')
    stride, padding : int or (int, int)
    kernel_grad : bool
        Compute ``dL/dK`` (skip it for a frozen kernel).

    Returns
    -------
    (ndarray, ndarray or None)
        ``dL/dx`` of shape ``x.shape`` and ``dL/dK`` of shape ``kernel.shape`` (or None), in the
        common floating type of the arguments.
    """
    xa = as_batch(x, "x", layout="(N, C_in, H, W)")
    k = as_batch(kernel, "kernel", layout="(C_out, C_in, kh, kw)")
    g = as_batch(grad, "grad", layout="(N, C_out, H', W')")
    dtype = np.result_type(xa, k, g)
    st, pad = check_pair(stride, "stride", 1), check_pair(padding, "padding", 0)
    if k.shape[1] != xa.shape[1]:
        raise ValueError(f"x has {xa.shape[1]} channels but kernel expects C_in = {k.shape[1]}; "
                         f"received x of shape {xa.shape} and kernel of shape {k.shape}")
    ho, wo = _out_size(xa.shape, k.shape, st, pad)
    want = (xa.shape[0], k.shape[0], ho, wo)
    if g.shape != want:
        raise ValueError(f"grad must have shape {want} for x of shape {xa.shape} and kernel of "
                         f"shape {k.shape}; received {g.shape}")
    xa, k, g = (a.astype(dtype, copy=False) for a in (xa, k, g))
    cols = _im2col(xa, k.shape[2], k.shape[3], st, pad, ho, wo)
    g2 = _grad_matrix(g)
    gk = _kernel_from_matrix(cols.T @ g2, k.shape) if kernel_grad else None
    gx = _input_grad(g2, k, xa.shape, st, pad, ho, wo)
    return np.ascontiguousarray(gx), gk


class Conv2d(Layer):
    """A dense convolution layer ``y = conv2d(x, K) + b`` (chapter 7).

    Also the base of the factorized layers (:class:`~lrconv.nn.FactorizedConv2d`): they
    describe ``K`` through their factors and pull ``dL/dK`` back to them, and the forward and
    backward passes here serve all of them.

    Parameters
    ----------
    kernel : array_like, shape (C_out, C_in, kh, kw)
    bias : array_like, shape (C_out,), optional
        Zeros if omitted.
    stride, padding : int or (int, int)
    dtype : float32 or float64, optional
        The type to compute in; by default that of ``kernel`` (integers as float64).
    """

    def __init__(self, kernel: object, bias: object = None, *, stride: Pair = 1,
                 padding: Pair = 0, dtype: object = None) -> None:
        super().__init__()
        dt = None if dtype is None else check_dtype(dtype)
        k = as_batch(kernel, "kernel", dt, 4, "(C_out, C_in, kh, kw)")
        self._params = {"kernel": k.copy()}
        self._setup(k.shape[0], bias, stride, padding, k.dtype)

    def _setup(self, c_out: int, bias: object, stride: Pair, padding: Pair,
               dtype: np.dtype) -> None:
        """Set the bias (validated, zeros if None), stride and padding: every convolution."""
        b = np.zeros(c_out, dtype=dtype) if bias is None else as_float(bias, "bias", dtype)
        if b.shape != (c_out,):
            raise ValueError(f"bias must have shape ({c_out},) (C_out); received {b.shape}")
        self._params["bias"] = b.copy()
        self.stride = check_pair(stride, "stride", 1)
        self.padding = check_pair(padding, "padding", 0)

    @classmethod
    def init(cls, c_in: int, c_out: int, size: int, *, rng: Seed = None, stride: Pair = 1,
             padding: Pair = 0, dtype: object = np.float64) -> Conv2d:
        """He-normal initialisation: entries ``N(0, 2 / (C_in size^2))``, zero bias.

        ``rng`` is a seed or a numpy Generator (as :func:`numpy.random.default_rng` takes); the
        draws are the same in either ``dtype``.
        """
        c_in, c_out = check_int(c_in, "c_in", 1), check_int(c_out, "c_out", 1)
        size = check_int(size, "size", 1)
        gen, dt = as_generator(rng, "rng"), check_dtype(dtype)
        check_size((c_out, c_in, size, size), "the kernel of Conv2d.init")
        std = np.sqrt(2.0 / (c_in * size * size))
        return cls(std * gen.standard_normal((c_out, c_in, size, size)), None, stride=stride,
                   padding=padding, dtype=dt)

    @property
    def dtype(self) -> np.dtype:
        return self.bias.dtype

    def kernel(self) -> np.ndarray:
        """The ``(C_out, C_in, kh, kw)`` kernel the layer applies."""
        return self._params["kernel"]

    @property
    def bias(self) -> np.ndarray:
        return self._params["bias"]

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """The kernel's shape ``(C_out, C_in, kh, kw)``."""
        return self._params["kernel"].shape

    def _param_grads(self, grad_kernel: np.ndarray, grad_bias: np.ndarray) -> dict:
        """``dL/d(parameter)`` of every entry of ``params()`` from ``dL/dK`` and ``dL/db``."""
        return {"kernel": grad_kernel, "bias": grad_bias}

    def _forward(self, x: np.ndarray) -> np.ndarray:
        k = self.kernel()  # a factorized layer rebuilds its kernel here, once per pass
        c_out, c_in, kh, kw = k.shape
        n = x.shape[0]
        if x.shape[1] != c_in:
            raise ValueError(f"x has {x.shape[1]} channels but the layer's kernel of shape "
                             f"{k.shape} expects C_in = {c_in}; received x of shape {x.shape}")
        ho, wo = _out_size(x.shape, k.shape, self.stride, self.padding)
        cols = _im2col(x, kh, kw, self.stride, self.padding, ho, wo)
        matrix = _matrix(k)
        out = cols @ matrix
        out += self.bias
        self._cache = (cols, x.shape, k, ho, wo)
        self._cache_out_shape = (n, c_out, ho, wo)
        return out.reshape(n, ho, wo, c_out).transpose(0, 3, 1, 2)

    def _backward(self, grad: np.ndarray, need_input: bool) -> np.ndarray | None:
        cols, x_shape, k, ho, wo = self._cache
        g2 = _grad_matrix(grad)
        if self.trainable:
            self._grads = self._param_grads(_kernel_from_matrix(cols.T @ g2, k.shape),
                                            g2.sum(axis=0))
        if not need_input:
            return None
        return _input_grad(g2, k, x_shape, self.stride, self.padding, ho, wo)

    def _check_input(self, x: object, name: str = "x") -> np.ndarray:
        return as_batch(x, name, self.dtype, 4, "(N, C_in, H, W)")
