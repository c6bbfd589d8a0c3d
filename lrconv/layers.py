"""Factorized convolution layers, run stage by stage.

Introduced in chapter 4 (the four CP stages); chapter 6 times all three forms.

Each ``*_stages`` function returns the list of every stage's output, so a chapter can show
them; the matching ``*_conv2d`` returns the last one (plus the bias). For every input, stride and
padding the result equals ``conv2d(x, reconstructed kernel)`` to floating-point precision:

- CP: 1x1 ``C_in -> R``; ``kh x 1`` depthwise carrying the vertical stride and padding;
  ``1 x kw`` depthwise carrying the horizontal ones; 1x1 ``R -> C_out``.
- Tucker-2: 1x1 ``C_in -> R_in``; ``kh x kw`` core ``R_in -> R_out`` with stride and padding;
  1x1 ``R_out -> C_out``.
- Per-slice SVD: ``kh x 1`` filters, one per (output, input, rank) triple; ``1 x kw`` filters
  summed over input channels and ranks.

Padding is applied by the stage with a spatial extent along that axis, never before the first
1x1 stage: :mod:`lrconv.cost` counts MACs the same way. Inputs are ``(C_in, H, W)`` or batched
``(N, C_in, H, W)``; outputs keep the batch axis only if the input has one.
"""

from __future__ import annotations

import numpy as np

from lrconv._validate import as_array, check_ndim, check_pair
from lrconv.conv import conv2d, depthwise_conv2d, pointwise_conv2d
from lrconv.decompose import (
    CPFactors,
    SliceSVDFactors,
    Tucker2Factors,
    check_cp_factors,
    check_slice_svd_factors,
    check_tucker2_factors,
)

__all__ = [
    "cp_conv2d",
    "cp_stages",
    "slice_svd_conv2d",
    "slice_svd_stages",
    "tucker2_conv2d",
    "tucker2_stages",
]

Pair = int | tuple[int, int]


def _prepare(
    x: object, c_in: int, kh: int, kw: int, stride: Pair, padding: Pair, what: str
) -> tuple[np.ndarray, bool, tuple[int, int], tuple[int, int]]:
    """Check the input against the factors; return it batched (4-D) and whether it was."""
    arr = as_array(x, "x")
    check_ndim(arr, "x", (3, 4), "(C_in, H, W) or (N, C_in, H, W)")
    batched = arr.ndim == 4
    arr = arr if batched else arr[None]
    if arr.shape[1] != c_in:
        raise ValueError(f"x has {arr.shape[1]} channels but {what} expect C_in = {c_in}; "
                         f"received x of shape {np.shape(x)}")
    stride = check_pair(stride, "stride", 1)
    padding = check_pair(padding, "padding", 0)
    h, w = arr.shape[2] + 2 * padding[0], arr.shape[3] + 2 * padding[1]
    if kh > h or kw > w:
        raise ValueError(f"the kernel ({kh}, {kw}) of {what} is larger than the padded input "
                         f"({h}, {w}); received x of shape {np.shape(x)} and padding {padding}")
    return arr, batched, stride, padding


def _check_bias(bias: object, c_out: int) -> np.ndarray | None:
    if bias is None:
        return None
    b = as_array(bias, "bias")
    if b.shape != (c_out,):
        raise ValueError(f"bias must have shape ({c_out},) (C_out); received {b.shape}")
    return b


def _finish(stages: list[np.ndarray], batched: bool) -> list[np.ndarray]:
    return stages if batched else [s[0] for s in stages]


def _add_bias(y: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    return y if bias is None else y + bias[:, None, None]


def cp_stages(
    x: object, factors: CPFactors, *, stride: Pair = 1, padding: Pair = 0, bias: object = None
) -> list[np.ndarray]:
    """Outputs of the four CP stages, in order (chapter 4).

    Parameters
    ----------
    x : array_like, shape (C_in, H, W) or (N, C_in, H, W)
    factors : CPFactors
        ``out (C_out, R)``, ``inp (C_in, R)``, ``vertical (kh, R)``, ``horizontal (kw, R)``.
    stride, padding : int or (int, int)
        As for ``conv2d``; the vertical stage takes the first, the horizontal the second.
    bias : array_like, shape (C_out,), optional
        Added by the last stage.

    Returns
    -------
    list of ndarray
        ``[(R, H, W), (R, H', W), (R, H', W'), (C_out, H', W')]`` (with a leading ``N`` for a
        batched input): the 1x1 stage, the vertical stage, the horizontal stage, the output.
    """
    f = check_cp_factors(factors)
    kh, kw = f.vertical.shape[0], f.horizontal.shape[0]
    xb, batched, (sh, sw), (ph, pw) = _prepare(x, f.inp.shape[0], kh, kw, stride, padding,
                                               "the CP factors")
    b = _check_bias(bias, f.out.shape[0])
    s1 = pointwise_conv2d(xb, f.inp.T)
    s2 = depthwise_conv2d(s1, f.vertical.T[:, :, None], stride=(sh, 1), padding=(ph, 0))
    s3 = depthwise_conv2d(s2, f.horizontal.T[:, None, :], stride=(1, sw), padding=(0, pw))
    s4 = _add_bias(pointwise_conv2d(s3, f.out), b)
    return _finish([s1, s2, s3, s4], batched)


def cp_conv2d(
    x: object, factors: CPFactors, *, stride: Pair = 1, padding: Pair = 0, bias: object = None
) -> np.ndarray:
    """Convolve with a CP kernel as its four stages; equals ``conv2d(x, cp_to_kernel(f))``.

    Introduced in chapter 4. See :func:`cp_stages` for the arguments.
    """
    return cp_stages(x, factors, stride=stride, padding=padding, bias=bias)[-1]


def tucker2_stages(
    x: object, factors: Tucker2Factors, *, stride: Pair = 1, padding: Pair = 0,
    bias: object = None,
) -> list[np.ndarray]:
    """Outputs of the three Tucker-2 stages, in order (chapter 6).

    Returns ``[(R_in, H, W), (R_out, H', W'), (C_out, H', W')]`` (leading ``N`` if batched):
    the 1x1 stage, the ``kh x kw`` core (with stride and padding), the output (with ``bias``).
    """
    f = check_tucker2_factors(factors)
    _, _, kh, kw = f.core.shape
    xb, batched, stride, padding = _prepare(x, f.inp.shape[0], kh, kw, stride, padding,
                                            "the Tucker-2 factors")
    b = _check_bias(bias, f.out.shape[0])
    s1 = pointwise_conv2d(xb, f.inp.T)
    s2 = conv2d(s1, f.core, stride=stride, padding=padding)
    s3 = _add_bias(pointwise_conv2d(s2, f.out), b)
    return _finish([s1, s2, s3], batched)


def tucker2_conv2d(
    x: object, factors: Tucker2Factors, *, stride: Pair = 1, padding: Pair = 0,
    bias: object = None,
) -> np.ndarray:
    """Convolve with a Tucker-2 kernel as 1x1, core, 1x1 (chapter 6).

    Equals ``conv2d(x, tucker2_to_kernel(factors))``; see :func:`tucker2_stages`.
    """
    return tucker2_stages(x, factors, stride=stride, padding=padding, bias=bias)[-1]


def slice_svd_stages(
    x: object, factors: SliceSVDFactors, *, stride: Pair = 1, padding: Pair = 0,
    bias: object = None,
) -> list[np.ndarray]:
    """Outputs of the two per-slice SVD stages (chapter 6).

    Returns ``[(C_out * C_in * r, H', W), (C_out, H', W')]`` (leading ``N`` if batched). The
    first stage filters input channel ``i`` with the column filter of every ``(o, i, j)``
    (channel index ``(o * C_in + i) * r + j``), padding and striding rows; the second filters
    each with its row filter, padding and striding columns, and sums over ``i`` and ``j``.
    """
    f = check_slice_svd_factors(factors)
    c_out, c_in, kh, r = f.columns.shape
    kw = f.rows.shape[-1]
    xb, batched, (sh, sw), (ph, pw) = _prepare(x, c_in, kh, kw, stride, padding,
                                               "the per-slice SVD factors")
    b = _check_bias(bias, c_out)
    n, _, h, w = xb.shape
    copies = np.broadcast_to(xb[:, None, :, None], (n, c_out, c_in, r, h, w))
    copies = copies.reshape(n, c_out * c_in * r, h, w)
    col = f.columns.transpose(0, 1, 3, 2).reshape(c_out * c_in * r, kh, 1)
    s1 = depthwise_conv2d(copies, col, stride=(sh, 1), padding=(ph, 0))
    row = f.rows.reshape(c_out * c_in * r, 1, kw)
    filtered = depthwise_conv2d(s1, row, stride=(1, sw), padding=(0, pw))
    s2 = filtered.reshape(n, c_out, c_in * r, *filtered.shape[2:]).sum(axis=2)
    return _finish([s1, _add_bias(s2, b)], batched)


def slice_svd_conv2d(
    x: object, factors: SliceSVDFactors, *, stride: Pair = 1, padding: Pair = 0,
    bias: object = None,
) -> np.ndarray:
    """Convolve with a per-slice SVD kernel as vertical then horizontal passes (chapter 6).

    Equals ``conv2d(x, slice_svd_to_kernel(factors))``; see :func:`slice_svd_stages`.
    """
    return slice_svd_stages(x, factors, stride=stride, padding=padding, bias=bias)[-1]
