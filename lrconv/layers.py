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
1x1 stage. The stages are the factors' own stage plan (``factors.stage_plan(stride, padding)``,
see :mod:`lrconv.factors`), run by :func:`run_stages`; :mod:`lrconv.cost` counts the same plan.
Inputs are ``(C_in, H, W)`` or batched ``(N, C_in, H, W)``; outputs keep the batch axis only if
the input has one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lrconv._validate import Pair, as_array, check_ndim, check_nonempty, check_pair
from lrconv.conv import conv2d, depthwise_conv2d, pointwise_conv2d
from lrconv.factors import (
    CPFactors,
    SliceSVDFactors,
    Stage,
    Tucker2Factors,
    check_cp_factors,
    check_slice_svd_factors,
    check_tucker2_factors,
)

__all__ = [
    "cp_conv2d",
    "cp_stages",
    "run_stage",
    "run_stages",
    "slice_svd_conv2d",
    "slice_svd_stages",
    "tucker2_conv2d",
    "tucker2_stages",
]


def run_stage(stage: Stage, x: np.ndarray) -> np.ndarray:
    """Apply one :class:`~lrconv.factors.Stage` to a batched input ``(N, C, H, W)``.

    A pointwise stage runs :func:`~lrconv.conv.pointwise_conv2d`, a dense one
    :func:`~lrconv.conv.conv2d`, a depthwise one :func:`~lrconv.conv.depthwise_conv2d` (after
    repeating the input channels as ``stage.copies`` says, and summing groups of
    ``stage.sum_groups`` filtered channels afterwards). Introduced in chapter 6.
    """
    if not isinstance(stage, Stage):
        raise TypeError(f"stage must be a lrconv.factors.Stage; received {type(stage).__name__}")
    arr = as_array(x, "x")
    check_ndim(arr, "x", (4,), "(N, C, H, W)")
    stage.shape_out(arr.shape)  # checks the channels and the size
    if stage.kind == "pointwise":
        return pointwise_conv2d(arr, stage.weight)
    if stage.kind == "dense":
        return conv2d(arr, stage.weight, stride=stage.stride, padding=stage.padding)
    n, c, h, w = arr.shape
    outer, inner = stage.copies
    if (outer, inner) != (1, 1):
        arr = np.broadcast_to(arr[:, None, :, None], (n, outer, c, inner, h, w))
        arr = arr.reshape(n, outer * c * inner, h, w)
    y = depthwise_conv2d(arr, stage.weight, stride=stage.stride, padding=stage.padding)
    if stage.sum_groups > 1:
        y = y.reshape(n, -1, stage.sum_groups, *y.shape[2:]).sum(axis=2)
    return y


def run_stages(
    x: object, stages: Sequence[Stage], *, bias: object = None
) -> list[np.ndarray]:
    """Run a stage plan on ``x`` (``(C, H, W)`` or ``(N, C, H, W)``); every stage's output.

    ``bias`` (one value per output channel of the last stage) is added to the last output.
    Outputs keep the batch axis only if ``x`` has one. Introduced in chapter 6.
    """
    if not isinstance(stages, (tuple, list)) or not stages:
        raise TypeError(f"stages must be a non-empty sequence of lrconv.factors.Stage; "
                        f"received {type(stages).__name__}")
    arr = as_array(x, "x")
    check_ndim(arr, "x", (3, 4), "(C, H, W) or (N, C, H, W)")
    check_nonempty(arr, "x")
    batched = arr.ndim == 4
    outputs, y = [], arr if batched else arr[None]
    for stage in stages:
        y = run_stage(stage, y)
        outputs.append(y)
    b = _check_bias(bias, outputs[-1].shape[1])
    if b is not None:
        outputs[-1] = outputs[-1] + b[:, None, None]
    return outputs if batched else [s[0] for s in outputs]


def _check_input(x: object, shape: tuple[int, int, int, int], stride: Pair, padding: Pair,
                 what: str) -> None:
    """Check ``x`` against the factors' kernel ``shape`` with lrconv's own messages."""
    _, c_in, kh, kw = shape
    arr = as_array(x, "x")
    check_ndim(arr, "x", (3, 4), "(C_in, H, W) or (N, C_in, H, W)")
    check_nonempty(arr, "x")
    if arr.shape[-3] != c_in:
        raise ValueError(f"x has {arr.shape[-3]} channels but {what} expect C_in = {c_in}; "
                         f"received x of shape {arr.shape}")
    stride = check_pair(stride, "stride", 1)
    padding = check_pair(padding, "padding", 0)
    h, w = arr.shape[-2] + 2 * padding[0], arr.shape[-1] + 2 * padding[1]
    if kh > h or kw > w:
        raise ValueError(f"the kernel ({kh}, {kw}) of {what} is larger than the padded input "
                         f"({h}, {w}); received x of shape {arr.shape} and padding {padding}")


def _check_bias(bias: object, c_out: int) -> np.ndarray | None:
    if bias is None:
        return None
    b = as_array(bias, "bias")
    if b.shape != (c_out,):
        raise ValueError(f"bias must have shape ({c_out},) (C_out); received {b.shape}")
    return b


def _stages(x, factors, stride, padding, bias, what) -> list[np.ndarray]:
    _check_input(x, factors.shape, stride, padding, what)
    _check_bias(bias, factors.shape[0])
    return run_stages(x, factors.stage_plan(stride, padding), bias=bias)


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
    return _stages(x, check_cp_factors(factors), stride, padding, bias, "the CP factors")


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
    return _stages(x, check_tucker2_factors(factors), stride, padding, bias,
                   "the Tucker-2 factors")


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
    return _stages(x, check_slice_svd_factors(factors), stride, padding, bias,
                   "the per-slice SVD factors")


def slice_svd_conv2d(
    x: object, factors: SliceSVDFactors, *, stride: Pair = 1, padding: Pair = 0,
    bias: object = None,
) -> np.ndarray:
    """Convolve with a per-slice SVD kernel as vertical then horizontal passes (chapter 6).

    Equals ``conv2d(x, slice_svd_to_kernel(factors))``; see :func:`slice_svd_stages`.
    """
    return slice_svd_stages(x, factors, stride=stride, padding=padding, bias=bias)[-1]
