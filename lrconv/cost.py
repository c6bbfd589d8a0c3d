"""Parameters and multiply-accumulates (MACs) of a convolution layer and its factorized forms.

Introduced in chapter 4 (the CP form) and used throughout chapter 6 (cost and speed).

Counting rules, which match exactly what :mod:`lrconv.layers` runs:

- Costs are for one input image of size ``(C_in, H, W)``; a batch of ``N`` costs ``N`` times
  the MACs. The bias (``C_out`` values, the same in every form) is counted neither in the
  parameters nor in the MACs (its additions are not multiply-accumulates).
- A stage producing an output of ``C x H' x W'`` values, each the sum of ``t`` products, costs
  ``C * H' * W' * t`` MACs.
- Padding is applied by the stage that has a spatial extent along that axis, never earlier:
  the first 1x1 stage of the CP and Tucker-2 forms runs on the *unpadded* ``H x W`` input; the
  CP vertical ``kh x 1`` stage pads and strides the rows only, so it runs over all ``W``
  columns; the horizontal ``1 x kw`` stage then pads and strides the columns.
- Per-slice SVD: the vertical stage filters the input once per (output, input, rank) triple
  (``C_out * C_in * r`` channels); the horizontal stage filters those and sums over input
  channels and ranks (each sum of ``C_in * r * kw`` products).
"""

from __future__ import annotations

from typing import NamedTuple

from lrconv._validate import check_int, check_pair

__all__ = [
    "Cost",
    "Ratio",
    "StageCost",
    "conv_cost",
    "conv_output_size",
    "cp_cost",
    "cp_stage_costs",
    "ratio",
    "slice_svd_cost",
    "slice_svd_stage_costs",
    "tucker2_cost",
    "tucker2_stage_costs",
]


class Cost(NamedTuple):
    """Parameters and MACs (per image) of a layer."""

    params: int
    macs: int


class Ratio(NamedTuple):
    """How many times fewer parameters (``params``) and MACs (``macs``) a form needs."""

    params: float
    macs: float


class StageCost(NamedTuple):
    """One stage of a factorized layer.

    Attributes
    ----------
    name : str
        What the stage does, e.g. ``"vertical kh x 1 depthwise"``.
    shape_in : tuple of int
        ``(C, H, W)`` the stage reads, before any padding it applies itself.
    shape_out : tuple of int
        ``(C, H', W')`` the stage writes.
    taps : int
        Products summed into each output value.
    params : int
        Weights of the stage.
    macs : int
        ``prod(shape_out) * taps``.
    """

    name: str
    shape_in: tuple[int, int, int]
    shape_out: tuple[int, int, int]
    taps: int
    params: int
    macs: int


def _stage(name: str, shape_in: tuple, shape_out: tuple, taps: int, params: int) -> StageCost:
    c, h, w = shape_out
    return StageCost(name, tuple(shape_in), tuple(shape_out), taps, params, c * h * w * taps)


def _check_layer(c_in, c_out, kh, kw, h, w, stride, padding):
    c_in = check_int(c_in, "c_in", 1)
    c_out = check_int(c_out, "c_out", 1)
    kh = check_int(kh, "kh", 1)
    kw = check_int(kw, "kw", 1)
    h = check_int(h, "h", 1)
    w = check_int(w, "w", 1)
    stride = check_pair(stride, "stride", 1)
    padding = check_pair(padding, "padding", 0)
    if kh > h + 2 * padding[0] or kw > w + 2 * padding[1]:
        raise ValueError(
            f"kernel size ({kh}, {kw}) is larger than the padded input "
            f"({h + 2 * padding[0]}, {w + 2 * padding[1]})"
        )
    return c_in, c_out, kh, kw, h, w, stride, padding


def conv_output_size(size: int, k: int, stride: int = 1, padding: int = 0) -> int:
    """Output length ``(size + 2 * padding - k) // stride + 1`` along one axis (chapter 1)."""
    return (size + 2 * padding - k) // stride + 1


def conv_cost(
    c_in: int, c_out: int, kh: int, kw: int, h: int, w: int,
    *, stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
) -> Cost:
    """Parameters and MACs of a dense ``kh x kw`` convolution on a ``(c_in, h, w)`` input.

    Introduced in chapter 4. ``params = c_out * c_in * kh * kw`` and
    ``macs = c_out * H' * W' * c_in * kh * kw``.
    """
    c_in, c_out, kh, kw, h, w, (sh, sw), (ph, pw) = _check_layer(
        c_in, c_out, kh, kw, h, w, stride, padding)
    h_out, w_out = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    params = c_out * c_in * kh * kw
    return Cost(params, c_out * h_out * w_out * c_in * kh * kw)


def cp_stage_costs(
    c_in: int, c_out: int, kh: int, kw: int, h: int, w: int, rank: int,
    *, stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
) -> list[StageCost]:
    """The four stages of a rank-``rank`` CP layer with their sizes and costs (chapter 4).

    1. 1x1 ``c_in -> R`` on the unpadded ``h x w`` input;
    2. ``kh x 1`` depthwise: pads and strides rows, keeps all ``w`` columns;
    3. ``1 x kw`` depthwise: pads and strides columns;
    4. 1x1 ``R -> c_out``.
    """
    c_in, c_out, kh, kw, h, w, (sh, sw), (ph, pw) = _check_layer(
        c_in, c_out, kh, kw, h, w, stride, padding)
    r = check_int(rank, "rank", 1)
    h_out, w_out = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    return [
        _stage("pointwise 1x1 C_in -> R", (c_in, h, w), (r, h, w), c_in, c_in * r),
        _stage("vertical kh x 1 depthwise", (r, h, w), (r, h_out, w), kh, kh * r),
        _stage("horizontal 1 x kw depthwise", (r, h_out, w), (r, h_out, w_out), kw, kw * r),
        _stage("pointwise 1x1 R -> C_out", (r, h_out, w_out), (c_out, h_out, w_out), r,
               r * c_out),
    ]


def tucker2_stage_costs(
    c_in: int, c_out: int, kh: int, kw: int, h: int, w: int, ranks: tuple[int, int],
    *, stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
) -> list[StageCost]:
    """The three stages of a Tucker-2 layer with ranks ``(R_out, R_in)`` (chapter 6).

    1. 1x1 ``c_in -> R_in`` on the unpadded input; 2. ``kh x kw`` core ``R_in -> R_out`` with the
    stride and padding; 3. 1x1 ``R_out -> c_out``.
    """
    c_in, c_out, kh, kw, h, w, (sh, sw), (ph, pw) = _check_layer(
        c_in, c_out, kh, kw, h, w, stride, padding)
    if not isinstance(ranks, (tuple, list)) or len(ranks) != 2:
        raise TypeError(f"ranks must be a pair (R_out, R_in) of ints; received {ranks!r}")
    r_out = check_int(ranks[0], "ranks[0] (R_out)", 1)
    r_in = check_int(ranks[1], "ranks[1] (R_in)", 1)
    if r_out > c_out or r_in > c_in:
        raise ValueError(f"ranks (R_out, R_in) must be at most (c_out, c_in) = ({c_out}, {c_in}); "
                         f"received {(r_out, r_in)}")
    h_out, w_out = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    return [
        _stage("pointwise 1x1 C_in -> R_in", (c_in, h, w), (r_in, h, w), c_in, c_in * r_in),
        _stage("core kh x kw R_in -> R_out", (r_in, h, w), (r_out, h_out, w_out),
               r_in * kh * kw, r_out * r_in * kh * kw),
        _stage("pointwise 1x1 R_out -> C_out", (r_out, h_out, w_out), (c_out, h_out, w_out),
               r_out, r_out * c_out),
    ]


def slice_svd_stage_costs(
    c_in: int, c_out: int, kh: int, kw: int, h: int, w: int, rank: int,
    *, stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
) -> list[StageCost]:
    """The two stages of a per-slice rank-``rank`` SVD layer (chapter 6).

    1. ``kh x 1`` filters, one per (output, input, rank) triple, on the input channel of the
    triple: pads and strides rows; 2. ``1 x kw`` filters with padding and column stride, summed
    over input channels and ranks into each output channel.
    """
    c_in, c_out, kh, kw, h, w, (sh, sw), (ph, pw) = _check_layer(
        c_in, c_out, kh, kw, h, w, stride, padding)
    r = check_int(rank, "rank", 1)
    if r > min(kh, kw):
        raise ValueError(f"rank must be between 1 and min(kh, kw) = {min(kh, kw)} for a "
                         f"per-slice SVD; received {r}")
    h_out, w_out = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    m = c_out * c_in * r
    return [
        _stage("vertical kh x 1 per (out, in, rank)", (c_in, h, w), (m, h_out, w), kh, m * kh),
        _stage("horizontal 1 x kw, summed over in and rank", (m, h_out, w),
               (c_out, h_out, w_out), c_in * r * kw, m * kw),
    ]


def _total(stages: list[StageCost]) -> Cost:
    return Cost(sum(s.params for s in stages), sum(s.macs for s in stages))


def cp_cost(
    c_in: int, c_out: int, kh: int, kw: int, h: int, w: int, rank: int,
    *, stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
) -> Cost:
    """Parameters ``R (c_in + kh + kw + c_out)`` and MACs of a CP layer (chapter 4).

    See :func:`cp_stage_costs` for the size each stage runs on.
    """
    return _total(cp_stage_costs(c_in, c_out, kh, kw, h, w, rank,
                                 stride=stride, padding=padding))


def tucker2_cost(
    c_in: int, c_out: int, kh: int, kw: int, h: int, w: int, ranks: tuple[int, int],
    *, stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
) -> Cost:
    """Parameters ``R_out R_in kh kw + c_out R_out + c_in R_in`` and MACs of a Tucker-2 layer.

    Introduced in chapter 6; see :func:`tucker2_stage_costs`.
    """
    return _total(tucker2_stage_costs(c_in, c_out, kh, kw, h, w, ranks,
                                      stride=stride, padding=padding))


def slice_svd_cost(
    c_in: int, c_out: int, kh: int, kw: int, h: int, w: int, rank: int,
    *, stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
) -> Cost:
    """Parameters ``c_out c_in r (kh + kw)`` and MACs of a per-slice SVD layer (chapter 6).

    See :func:`slice_svd_stage_costs`.
    """
    return _total(slice_svd_stage_costs(c_in, c_out, kh, kw, h, w, rank,
                                        stride=stride, padding=padding))


def ratio(dense: Cost, other: Cost) -> Ratio:
    """Compression ``dense.params / other.params`` and MAC ratio ``dense.macs / other.macs``.

    Introduced in chapter 4. Values above 1 mean ``other`` is cheaper.
    """
    for name, c in (("dense", dense), ("other", other)):
        if not isinstance(c, tuple) or len(c) != 2:
            raise TypeError(f"{name} must be a Cost(params, macs); received {c!r}")
        if c[0] <= 0 or c[1] <= 0:
            raise ValueError(f"{name} must have positive params and macs; received {c!r}")
    return Ratio(dense[0] / other[0], dense[1] / other[1])
