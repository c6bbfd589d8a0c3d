"""Direct convolution (cross-correlation, as in deep learning) through BLAS.

Introduced in chapter 1 (one window by hand, then the whole map, stride, padding and many
channels); chapters 4 and 6 run the factorized layers with :func:`depthwise_conv2d` and
:func:`pointwise_conv2d`.

Shapes follow PyTorch: kernels ``(C_out, C_in, kh, kw)``, inputs ``(C_in, H, W)`` or batched
``(N, C_in, H, W)``; a 2-D input ``(H, W)`` with a 2-D kernel ``(kh, kw)`` is the single-channel
case. The kernel is not flipped. With stride ``(sh, sw)`` and zero padding ``(ph, pw)`` the
output has ``H' = (H + 2 ph - kh) // sh + 1`` rows and ``W' = (W + 2 pw - kw) // sw + 1``
columns.

Data types: the result has the common floating type of the arguments
(:func:`lrconv._validate.float_dtype`), so float32 stays float32 and float64 stays float64;
integer arguments are promoted to float64 (the seed's integer example gives ``-2.0``). NaN and
infinity propagate as in numpy arithmetic, whichever path computes the result.

Bad input: every argument is checked before any work, and errors are ``TypeError`` (not a real
numeric array, bool, complex or object arrays, ragged lists; stride or padding not integers) or
``ValueError`` (wrong number of dimensions, channel mismatch, stride < 1, padding < 0, a kernel
larger than the padded input). Arrays with an axis of length 0 are refused with a ``ValueError``
naming the argument and its shape: a convolution of nothing has no meaningful answer. A request
whose padded input, im2col block, output or copy of an argument (a broadcast view can be far
larger than the memory it occupies) would exceed 2 GiB is refused before allocating
(:func:`lrconv._validate.check_budget`). :func:`conv_output_size` is the output-size rule.

How :func:`conv2d` reaches BLAS without a loop over pixels: for each kernel tap ``(i, j)`` the
input pixels that the tap meets in every window form one strided view of the padded input,
``xp[:, :, i::sh, j::sw]`` cut to ``H' x W'``. Stacking the ``kh * kw`` views (a block copy, the
"im2col" matrix of shape ``(C_in kh kw, N H' W')``) turns the whole layer into one matrix product
with the kernel seen as a ``(C_out, C_in kh kw)`` matrix. Large batches are processed a block
of images at a time so that the stacked copy stays small. With stride 1 the copy is made
cheaper still on wide images: on the flattened padded image every tap's view is a single
contiguous slice (see :func:`_conv2d_stride1`).
"""

from __future__ import annotations

import math

import numpy as np

from lrconv._validate import (
    MAX_BYTES,
    Pair,
    as_array,
    check_budget,
    check_ndim,
    check_nonempty,
    check_pair,
    float_dtype,
)
from lrconv._validate import output_size as conv_output_size

__all__ = ["Pair", "conv2d", "conv_output_size", "depthwise_conv2d", "pointwise_conv2d"]

# About the largest im2col block (elements) built at once; bigger batches go in blocks of images.
_CHUNK_ELEMENTS = 1 << 22

# The stride-1 flattened-image path computes kw - 1 wrap-around columns per output row for
# nothing; measured, it pays off while they are at most this fraction of the row (a 3x3 kernel
# on 56 columns and more, not on 32).
_FLAT_MAX_WASTE = 0.05

# Longest axis on which a 1-D depthwise filter runs as a banded matrix product; beyond it the
# multiplications by zero cost more than BLAS saves. Measured on 16 to 256 channels of 16x16 to
# 56x56 float32 images: a vertical filter gained 1.3-2x up to 32 rows and broke even at 56; a
# horizontal one (whose elementwise loops run over short rows) gained up to 1.7x even at 56.
_BANDED_MAX_ROWS = 32
_BANDED_MAX_COLS = 64


_float_dtype = float_dtype  # the shared rule; this name is kept for existing callers


def _output_size(
    x_shape: tuple[int, ...], kh: int, kw: int, stride: tuple[int, int],
    padding: tuple[int, int], kernel_shape: tuple[int, ...],
) -> tuple[int, int]:
    """Output rows and columns; ``ValueError`` if the kernel exceeds the padded input."""
    hp, wp = x_shape[-2] + 2 * padding[0], x_shape[-1] + 2 * padding[1]
    if kh > hp or kw > wp:
        raise ValueError(
            f"kernel ({kh} x {kw}, shape {kernel_shape}) is larger than the padded input "
            f"({hp} x {wp}); received x of shape {x_shape} and padding {padding}"
        )
    return (hp - kh) // stride[0] + 1, (wp - kw) // stride[1] + 1


def _check_sizes(
    name: str, xb_shape: tuple[int, ...], padding: tuple[int, int], out_elements: int,
    block_elements: int, itemsize: int, kernel_shape: tuple[int, ...],
) -> None:
    """Refuse (before allocating) a padded input, kernel copy, output or im2col block above the
    budget (a broadcast view can be far larger than the memory it occupies)."""
    n, c, h, w = xb_shape
    padded = n * c * (h + 2 * padding[0]) * (w + 2 * padding[1])
    largest = max(math.prod(kernel_shape), padded, out_elements, block_elements)
    if largest * itemsize <= MAX_BYTES:  # the common case: no message to format
        return
    check_budget(math.prod(kernel_shape), itemsize,
                 f"a copy of the kernel of {name} (kernel of shape {kernel_shape})")
    check_budget(padded, itemsize,
                 f"the padded input of {name} (x of shape {xb_shape}, padding {padding})")
    check_budget(out_elements, itemsize, f"the output of {name}")
    check_budget(block_elements, itemsize, f"one block of stacked windows of {name}")


def _batched(arr: np.ndarray) -> np.ndarray:
    """A 3-D ``(C, H, W)`` array as ``(1, C, H, W)``; 4-D arrays unchanged."""
    return arr[None] if arr.ndim == 3 else arr


def conv2d(x: object, kernel: object, *, stride: Pair = 1, padding: Pair = 0) -> np.ndarray:
    """Cross-correlate ``x`` with ``kernel`` (a convolutional layer without bias).

    Introduced in chapter 1.

    Parameters
    ----------
    x : array_like, shape (H, W), (C_in, H, W) or (N, C_in, H, W)
        Input. A 2-D input needs a 2-D kernel and vice versa.
    kernel : array_like, shape (kh, kw) or (C_out, C_in, kh, kw)
        Weights; not flipped.
    stride : int or (int, int), optional
        Step between windows, at least 1 (rows, columns).
    padding : int or (int, int), optional
        Zeros added on both sides of each spatial axis, at least 0 (rows, columns).

    Returns
    -------
    ndarray, shape (H', W'), (C_out, H', W') or (N, C_out, H', W')
        ``out[n, o, r, c] = sum_{i, h, w} kernel[o, i, h, w] * xp[n, i, r*sh + h, c*sw + w]``
        with ``xp`` the zero-padded input.

    Raises
    ------
    TypeError
        Non-numeric, bool or complex arrays; stride or padding not integers.
    ValueError
        Wrong number of dimensions, channel mismatch, stride < 1, padding < 0, a kernel larger
        than the padded input.

    Examples
    --------
    >>> x = [[1, 2, 3], [0, 1, 2], [3, 0, 1]]
    >>> conv2d(x, [[1, 0, -1]] * 3)
    array([[-2.]])
    """
    xa = as_array(x, "x")
    ka = as_array(kernel, "kernel")
    check_ndim(xa, "x", (2, 3, 4), "(H, W), (C_in, H, W) or (N, C_in, H, W)")
    check_ndim(ka, "kernel", (2, 4), "(kh, kw) or (C_out, C_in, kh, kw)")
    if (xa.ndim == 2) != (ka.ndim == 2):
        raise ValueError(
            f"a 2-D x (H, W) needs a 2-D kernel (kh, kw), and a 2-D kernel needs a 2-D x; "
            f"received x of shape {xa.shape} and kernel of shape {ka.shape}"
        )
    check_nonempty(xa, "x")
    check_nonempty(ka, "kernel")
    sh, sw = check_pair(stride, "stride", 1)
    ph, pw = check_pair(padding, "padding", 0)
    single = xa.ndim == 2
    if single:
        xa, ka = xa[None, None], ka[None, None]
    if xa.shape[-3] != ka.shape[1]:
        raise ValueError(
            f"x has {xa.shape[-3]} channels but kernel expects C_in = {ka.shape[1]}; received "
            f"x of shape {xa.shape} and kernel of shape {ka.shape} (C_out, C_in, kh, kw)"
        )
    c_out, c_in, kh, kw = ka.shape
    ho, wo = _output_size(xa.shape, kh, kw, (sh, sw), (ph, pw), ka.shape)
    dtype = float_dtype(xa, ka)
    xb = _batched(xa)
    rows = kh * kw * c_in
    # a block of stacked windows holds at least one image (wrap-around columns included)
    per_image = rows * ho * (wo if (sh, sw) != (1, 1) else xb.shape[-1] + 2 * pw)
    _check_sizes("conv2d", xb.shape, (ph, pw), xb.shape[0] * c_out * ho * wo, per_image,
                 dtype.itemsize, ka.shape)
    weights = ka.reshape(c_out, rows).astype(dtype, copy=False)  # no copy if already float
    if (sh, sw) == (1, 1) and kw - 1 <= _FLAT_MAX_WASTE * wo:
        out = _conv2d_stride1(xb, weights, kh, kw, ph, pw, dtype)
    else:
        out = _conv2d_strided(xb, weights, kh, kw, (sh, sw), ph, pw, ho, wo, dtype)
    if single:
        return out[0, 0]
    return out if xa.ndim == 4 else out[0]


def _conv2d_strided(
    xb: np.ndarray, weights: np.ndarray, kh: int, kw: int, stride: tuple[int, int],
    ph: int, pw: int, ho: int, wo: int, dtype: np.dtype,
) -> np.ndarray:
    """im2col with one strided view per tap, then one matrix product per block of images."""
    n, c_in, h, w = xb.shape
    c_out, rows = weights.shape
    sh, sw = stride
    xp = np.zeros((c_in, n, h + 2 * ph, w + 2 * pw), dtype=dtype)
    xp[:, :, ph:ph + h, pw:pw + w] = xb.transpose(1, 0, 2, 3)
    out = np.empty((n, c_out, ho, wo), dtype=dtype)
    step = max(1, _CHUNK_ELEMENTS // max(1, rows * ho * wo))  # images per block
    for first in range(0, n, step):
        last = min(n, first + step)
        cols = np.empty((c_in, kh, kw, last - first, ho, wo), dtype=dtype)
        for i in range(kh):
            for j in range(kw):
                cols[:, i, j] = xp[:, first:last, i:i + sh * (ho - 1) + 1:sh,
                                   j:j + sw * (wo - 1) + 1:sw]
        block = weights @ cols.reshape(rows, -1)
        out[first:last] = block.reshape(c_out, last - first, ho, wo).transpose(1, 0, 2, 3)
    return out


def _conv2d_stride1(
    xb: np.ndarray, weights: np.ndarray, kh: int, kw: int, ph: int, pw: int, dtype: np.dtype,
) -> np.ndarray:
    """Stride 1: im2col on the flattened padded image, one contiguous slice per tap.

    Computed on the padded width ``W + 2 pw``, output pixel ``(r, c)`` sits at flat position
    ``r * (W + 2 pw) + c`` and tap ``(i, j)`` reads the input at that position plus
    ``i * (W + 2 pw) + j``. Every tap is then one contiguous slice of the flattened image (a
    fast copy); the ``kw - 1`` extra columns per row that wrap around are computed and dropped.
    """
    n, c_in, h, w = xb.shape
    c_out, rows = weights.shape
    hp, wp = h + 2 * ph, w + 2 * pw
    ho, wo = hp - kh + 1, wp - kw + 1
    length = ho * wp  # output positions per image, wrap-around columns included
    xp = np.zeros((c_in, n, hp * wp + kw - 1), dtype=dtype)  # kw - 1: the last tap's overrun
    xp[:, :, :hp * wp].reshape(c_in, n, hp, wp)[:, :, ph:ph + h, pw:pw + w] = \
        xb.transpose(1, 0, 2, 3)
    out = np.empty((n, c_out, ho, wo), dtype=dtype)
    step = max(1, _CHUNK_ELEMENTS // max(1, rows * length))  # images per block
    for first in range(0, n, step):
        last = min(n, first + step)
        cols = np.empty((c_in, kh, kw, last - first, length), dtype=dtype)
        for i in range(kh):
            for j in range(kw):
                cols[:, i, j] = xp[:, first:last, i * wp + j:i * wp + j + length]
        block = (weights @ cols.reshape(rows, -1)).reshape(c_out, last - first, ho, wp)
        out[first:last] = block[..., :wo].transpose(1, 0, 2, 3)
    return out


def depthwise_conv2d(
    x: object, kernel: object, *, stride: Pair = 1, padding: Pair = 0
) -> np.ndarray:
    """Cross-correlate each channel of ``x`` with its own 2-D filter (``groups = C``).

    Introduced in chapter 4 (the vertical and horizontal CP stages).

    Parameters
    ----------
    x : array_like, shape (C, H, W) or (N, C, H, W)
    kernel : array_like, shape (C, kh, kw)
        ``kernel[c]`` filters channel ``c``.
    stride, padding : int or (int, int), optional
        As for :func:`conv2d`.

    Returns
    -------
    ndarray, shape (C, H', W') or (N, C, H', W')
        ``out[n, c] = conv2d(x[n, c], kernel[c])`` for every channel.

    Notes
    -----
    A 1-D filter (``kh x 1`` or ``1 x kw``, the CP stages) that leaves the other axis alone
    (stride 1, no padding there) on an image of at most 32 rows (vertical) or 64 columns
    (horizontal) runs as a batched matrix product with each channel's banded Toeplitz matrix
    (chapter 1's matrix, along one axis): ``H / kh`` times more multiplications than needed,
    but at BLAS speed, which beats elementwise numpy on these sizes. Other filters, and inputs
    holding NaN or infinity, add up one strided view per tap.
    """
    xa = as_array(x, "x")
    ka = as_array(kernel, "kernel")
    check_ndim(xa, "x", (3, 4), "(C, H, W) or (N, C, H, W)")
    check_ndim(ka, "kernel", (3,), "(C, kh, kw)")
    check_nonempty(xa, "x")
    check_nonempty(ka, "kernel")
    sh, sw = check_pair(stride, "stride", 1)
    ph, pw = check_pair(padding, "padding", 0)
    if xa.shape[-3] != ka.shape[0]:
        raise ValueError(
            f"x has {xa.shape[-3]} channels but kernel has {ka.shape[0]} filters (C, kh, kw); "
            f"received x of shape {xa.shape} and kernel of shape {ka.shape}"
        )
    _, kh, kw = ka.shape
    ho, wo = _output_size(xa.shape, kh, kw, (sh, sw), (ph, pw), ka.shape)
    dtype = float_dtype(xa, ka)
    xb = _batched(xa)
    n, c, h, w = xb.shape
    _check_sizes("depthwise_conv2d", xb.shape, (ph, pw), n * c * ho * wo, n * c * ho * wo,
                 dtype.itemsize, ka.shape)
    # The banded product multiplies every input value by the matrix's zeros too, so NaN or
    # infinity would spread along the whole axis; and it leaves out the taps that fall on the
    # zero padding, where a NaN or infinite tap must still give NaN (NaN * 0, inf * 0). So
    # non-finite inputs, and non-finite filters on a padded axis (a finite sum rules them out
    # cheaply), take the elementwise path, where everything propagates as numpy's does.
    vertical = kw == 1 and (sw, pw) == (1, 0) and h <= _BANDED_MAX_ROWS
    horizontal = kh == 1 and (sh, ph) == (1, 0) and w <= _BANDED_MAX_COLS
    if ((vertical or horizontal) and np.isfinite(np.sum(xb, dtype=dtype))
            and ((ph if vertical else pw) == 0 or np.isfinite(ka).all())):
        xf = xb.astype(dtype, copy=False)
        if vertical:
            out = np.matmul(_band_matrices(ka[:, :, 0].astype(dtype, copy=False), h, ph, sh), xf)
        else:  # horizontal filter
            band = _band_matrices(ka[:, 0, :].astype(dtype, copy=False), w, pw, sw)
            out = np.matmul(xf, band.transpose(0, 2, 1))
        return out if xa.ndim == 4 else out[0]
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=dtype)
    xp[:, :, ph:ph + h, pw:pw + w] = xb
    k = ka.astype(dtype, copy=False)
    out = np.zeros((n, c, ho, wo), dtype=dtype)
    part = np.empty_like(out)
    for i in range(kh):
        for j in range(kw):
            window = xp[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
            np.multiply(window, k[:, i, j, None, None], out=part)
            out += part
    return out if xa.ndim == 4 else out[0]


def _band_matrices(filters: np.ndarray, size: int, pad: int, stride: int) -> np.ndarray:
    """Per channel, the matrix of a 1-D cross-correlation along an axis of length ``size``.

    ``filters`` has shape ``(C, k)``; the result ``T`` has shape ``(C, size_out, size)`` with
    ``T[c, o, o * stride + t - pad] = filters[c, t]`` where that column exists (taps that
    fall on the zero padding are simply left out), so that ``T[c] @ v`` filters ``v``.
    Tap ``t``'s entries lie ``size + stride`` apart in the flattened matrix: one strided slice
    per tap fills them.
    """
    c, k = filters.shape
    size_out = (size + 2 * pad - k) // stride + 1
    band = np.zeros((c, size_out, size), dtype=filters.dtype)
    flat = band.reshape(c, size_out * size)
    for t in range(k):
        # rows o whose column o * stride + t - pad lies inside 0 .. size - 1
        first = max(0, -((t - pad) // stride))
        last = min(size_out - 1, (size - 1 - t + pad) // stride)
        if first <= last:
            start = first * (size + stride) + t - pad
            flat[:, start:last * (size + stride) + t - pad + 1:size + stride] = filters[:, t, None]
    return band


def pointwise_conv2d(x: object, weight: object) -> np.ndarray:
    """A 1x1 convolution: mix channels at every pixel.

    Introduced in chapter 4 (the first and last CP stages).

    Parameters
    ----------
    x : array_like, shape (C_in, H, W) or (N, C_in, H, W)
    weight : array_like, shape (C_out, C_in) or (C_out, C_in, 1, 1)

    Returns
    -------
    ndarray, shape (C_out, H, W) or (N, C_out, H, W)
        ``out[n, o] = sum_i weight[o, i] * x[n, i]``.
    """
    xa = as_array(x, "x")
    wa = as_array(weight, "weight")
    check_ndim(xa, "x", (3, 4), "(C_in, H, W) or (N, C_in, H, W)")
    check_ndim(wa, "weight", (2, 4), "(C_out, C_in) or (C_out, C_in, 1, 1)")
    check_nonempty(xa, "x")
    check_nonempty(wa, "weight")
    if wa.ndim == 4:
        if wa.shape[2:] != (1, 1):
            raise ValueError(
                f"a 4-D weight must have shape (C_out, C_in, 1, 1); received weight of shape "
                f"{wa.shape}"
            )
        wa = wa[:, :, 0, 0]
    if xa.shape[-3] != wa.shape[1]:
        raise ValueError(
            f"x has {xa.shape[-3]} channels but weight expects C_in = {wa.shape[1]}; received "
            f"x of shape {xa.shape} and weight of shape {np.shape(weight)}"
        )
    dtype = float_dtype(xa, wa)
    n, c, h, w = _batched(xa).shape
    sizes = ((n * wa.shape[0] * h * w, "the output"), (xa.size, "a copy of x"),
             (wa.size, "a copy of weight"))
    if max(count for count, _ in sizes) * dtype.itemsize > MAX_BYTES:
        for count, what in sizes:
            check_budget(count, dtype.itemsize, f"{what} of pointwise_conv2d (x of shape "
                                                f"{xa.shape}, weight of shape {np.shape(weight)})")
    xb = _batched(xa).astype(dtype, copy=False)
    out = np.matmul(wa.astype(dtype, copy=False), xb.reshape(n, c, h * w))
    out = out.reshape(n, wa.shape[0], h, w)
    return out if xa.ndim == 4 else out[0]
