"""Parameters and multiply-accumulates (MACs) of a convolution layer and its factorized forms.

Introduced in chapter 4 (the CP form) and used throughout chapter 6 (cost and speed).

The stages are counted from the factors' stage plan (:mod:`lrconv.factors`), the same plan
:mod:`lrconv.layers` runs, so the counts match what runs by construction. Counting rules:

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

Chapter 6 also uses the **arithmetic intensity** of a stage (:func:`arithmetic_intensity`:
MACs per byte moved) and chapter 8 the trainable parameters of low-rank kernel updates
(:func:`update_param_count`).
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from lrconv._validate import Pair, check_int, check_pair
from lrconv._validate import output_size as conv_output_size
from lrconv.factors import CPFactors, SliceSVDFactors, Stage, Tucker2Factors

__all__ = [
    "UPDATE_FORMS",
    "Cost",
    "Ratio",
    "StageCost",
    "arithmetic_intensity",
    "conv_cost",
    "conv_output_size",
    "cp_cost",
    "cp_stage_costs",
    "ratio",
    "slice_svd_cost",
    "slice_svd_stage_costs",
    "stage_costs",
    "tucker2_cost",
    "tucker2_stage_costs",
    "update_param_count",
]

UPDATE_FORMS = ("full", "locon", "cp")
"""The kernel updates :func:`update_param_count` counts (chapter 8)."""


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

    @property
    def values(self) -> int:
        """Numbers the stage reads and writes: its input, its output and its weights."""
        return _prod(self.shape_in) + _prod(self.shape_out) + self.params


def _prod(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=object))


def stage_costs(stages: tuple[Stage, ...], shape_in: tuple[int, int, int]) -> list[StageCost]:
    """Sizes, parameters and MACs of every stage of a stage plan on an input ``(C, H, W)``.

    Introduced in chapter 6; :func:`cp_stage_costs` and the others call it on the plan of
    their form.
    """
    if not isinstance(stages, (tuple, list)) or not stages or \
            not all(isinstance(s, Stage) for s in stages):
        raise TypeError("stages must be a non-empty sequence of lrconv.factors.Stage; received "
                        f"{type(stages).__name__}")
    result, shape = [], tuple(shape_in)
    for s in stages:
        out = s.shape_out(shape)
        result.append(StageCost(s.name, shape, out, s.taps, s.params, _prod(out) * s.taps))
        shape = out
    return result


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


# Factor arrays of this many entries or more cannot be described by numpy, even as views.
_MAX_ENTRIES = 2**62


def _zeros(*shape: int) -> np.ndarray:
    """A read-only view of zeros of ``shape`` that takes no memory (only shapes are counted)."""
    if _prod(shape) >= _MAX_ENTRIES:
        raise ValueError(f"a factor of shape {shape} has {_prod(shape):,} entries, more than an "
                         f"array can hold; use smaller sizes")
    return np.broadcast_to(np.zeros(()), shape)


def conv_cost(
    c_in: int, c_out: int, kh: int, kw: int, h: int, w: int,
    *, stride: Pair = 1, padding: Pair = 0,
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
    *, stride: Pair = 1, padding: Pair = 0,
) -> list[StageCost]:
    """The four stages of a rank-``rank`` CP layer with their sizes and costs (chapter 4).

    1. 1x1 ``c_in -> R`` on the unpadded ``h x w`` input;
    2. ``kh x 1`` depthwise: pads and strides rows, keeps all ``w`` columns;
    3. ``1 x kw`` depthwise: pads and strides columns;
    4. 1x1 ``R -> c_out``.
    """
    c_in, c_out, kh, kw, h, w, stride, padding = _check_layer(
        c_in, c_out, kh, kw, h, w, stride, padding)
    r = check_int(rank, "rank", 1)
    f = CPFactors(_zeros(c_out, r), _zeros(c_in, r), _zeros(kh, r), _zeros(kw, r))
    return stage_costs(f.stage_plan(stride, padding), (c_in, h, w))


def tucker2_stage_costs(
    c_in: int, c_out: int, kh: int, kw: int, h: int, w: int, ranks: tuple[int, int],
    *, stride: Pair = 1, padding: Pair = 0,
) -> list[StageCost]:
    """The three stages of a Tucker-2 layer with ranks ``(R_out, R_in)`` (chapter 6).

    1. 1x1 ``c_in -> R_in`` on the unpadded input; 2. ``kh x kw`` core ``R_in -> R_out`` with the
    stride and padding; 3. 1x1 ``R_out -> c_out``.
    """
    c_in, c_out, kh, kw, h, w, stride, padding = _check_layer(
        c_in, c_out, kh, kw, h, w, stride, padding)
    if not isinstance(ranks, (tuple, list)) or len(ranks) != 2:
        raise TypeError(f"ranks must be a pair (R_out, R_in) of ints; received {ranks!r}")
    r_out = check_int(ranks[0], "ranks[0] (R_out)", 1)
    r_in = check_int(ranks[1], "ranks[1] (R_in)", 1)
    if r_out > c_out or r_in > c_in:
        raise ValueError(f"ranks (R_out, R_in) must be at most (c_out, c_in) = ({c_out}, {c_in}); "
                         f"received {(r_out, r_in)}")
    f = Tucker2Factors(_zeros(r_out, r_in, kh, kw), _zeros(c_out, r_out), _zeros(c_in, r_in))
    return stage_costs(f.stage_plan(stride, padding), (c_in, h, w))


def slice_svd_stage_costs(
    c_in: int, c_out: int, kh: int, kw: int, h: int, w: int, rank: int,
    *, stride: Pair = 1, padding: Pair = 0,
) -> list[StageCost]:
    """The two stages of a per-slice rank-``rank`` SVD layer (chapter 6).

    1. ``kh x 1`` filters, one per (output, input, rank) triple, on the input channel of the
    triple: pads and strides rows; 2. ``1 x kw`` filters with padding and column stride, summed
    over input channels and ranks into each output channel.
    """
    c_in, c_out, kh, kw, h, w, stride, padding = _check_layer(
        c_in, c_out, kh, kw, h, w, stride, padding)
    r = check_int(rank, "rank", 1)
    if r > min(kh, kw):
        raise ValueError(f"rank must be between 1 and min(kh, kw) = {min(kh, kw)} for a "
                         f"per-slice SVD; received {r}")
    f = SliceSVDFactors(_zeros(c_out, c_in, kh, r), _zeros(c_out, c_in, r, kw))
    return stage_costs(f.stage_plan(stride, padding), (c_in, h, w))


def _total(stages: list[StageCost]) -> Cost:
    return Cost(sum(s.params for s in stages), sum(s.macs for s in stages))


def cp_cost(
    c_in: int, c_out: int, kh: int, kw: int, h: int, w: int, rank: int,
    *, stride: Pair = 1, padding: Pair = 0,
) -> Cost:
    """Parameters ``R (c_in + kh + kw + c_out)`` and MACs of a CP layer (chapter 4).

    See :func:`cp_stage_costs` for the size each stage runs on.
    """
    return _total(cp_stage_costs(c_in, c_out, kh, kw, h, w, rank,
                                 stride=stride, padding=padding))


def tucker2_cost(
    c_in: int, c_out: int, kh: int, kw: int, h: int, w: int, ranks: tuple[int, int],
    *, stride: Pair = 1, padding: Pair = 0,
) -> Cost:
    """Parameters ``R_out R_in kh kw + c_out R_out + c_in R_in`` and MACs of a Tucker-2 layer.

    Introduced in chapter 6; see :func:`tucker2_stage_costs`.
    """
    return _total(tucker2_stage_costs(c_in, c_out, kh, kw, h, w, ranks,
                                      stride=stride, padding=padding))


def slice_svd_cost(
    c_in: int, c_out: int, kh: int, kw: int, h: int, w: int, rank: int,
    *, stride: Pair = 1, padding: Pair = 0,
) -> Cost:
    """Parameters ``c_out c_in r (kh + kw)`` and MACs of a per-slice SVD layer (chapter 6).

    See :func:`slice_svd_stage_costs`.
    """
    return _total(slice_svd_stage_costs(c_in, c_out, kh, kw, h, w, rank,
                                        stride=stride, padding=padding))


def _positive(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; received {value!r} "
                        f"(type {type(value).__name__})")
    if not value > 0 or not np.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number > 0; received {value!r}")


def ratio(dense: Cost, other: Cost) -> Ratio:
    """Compression ``dense.params / other.params`` and MAC ratio ``dense.macs / other.macs``.

    Introduced in chapter 4. Values above 1 mean ``other`` is cheaper. Each argument is a
    :class:`Cost` (or a pair ``(params, macs)``) of finite positive numbers.
    """
    for name, c in (("dense", dense), ("other", other)):
        if not isinstance(c, tuple) or len(c) != 2:
            raise TypeError(f"{name} must be a Cost(params, macs); received {c!r}")
        for field, v in zip(Cost._fields, c, strict=True):
            _positive(v, f"{name}.{field}")
    return Ratio(dense[0] / other[0], dense[1] / other[1])


def arithmetic_intensity(macs: int, values: int, *, itemsize: int = 4) -> float:
    """MACs per byte moved: ``macs / (itemsize * values)`` (chapter 6).

    ``values`` is the count of numbers read and written (for a stage, :attr:`StageCost.values`:
    input, output and weights); ``itemsize`` the bytes of one (4 for float32). A stage far
    below a machine's ratio of arithmetic speed to memory bandwidth is limited by memory.
    """
    macs = check_int(macs, "macs", 0)
    values = check_int(values, "values", 1)
    itemsize = check_int(itemsize, "itemsize", 1)
    return macs / (itemsize * values)


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
    raise ValueError(f"form must be one of {UPDATE_FORMS}; received {form!r}")
