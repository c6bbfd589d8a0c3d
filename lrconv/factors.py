"""The three factorized forms of a convolution kernel ``(C_out, C_in, kh, kw)``, one type each.

Introduced in chapter 4 (the CP form and its four stages); chapter 5 computes the factors
(:mod:`lrconv.decompose`), chapter 6 counts and times the stages, chapter 7 trains them.

Each type is validated once, when it is built, and then knows

- its kernel (:meth:`to_kernel`) and the kernel's shape (:attr:`shape`);
- the chain rule from ``dL/dK`` to the gradient of every factor (:meth:`kernel_grads`);
- its **stage plan** (:meth:`stage_plan`): the cheap convolutions that apply the kernel, as
  :class:`Stage` records. :mod:`lrconv.layers` runs the plan, :mod:`lrconv.cost` counts it, the
  chapters and the benchmarks time it stage by stage: it is the one description of a form.

Conventions (tested):

- CP, rank ``R``: ``K = einsum('or,ir,hr,wr->oihw', out, inp, vertical, horizontal)``; stages
  1x1 ``C_in -> R``, ``kh x 1`` depthwise, ``1 x kw`` depthwise, 1x1 ``R -> C_out``.
- Tucker-2, ranks ``(R_out, R_in)``: ``K = einsum('abhw,oa,ib->oihw', core, out, inp)``; stages
  1x1 ``C_in -> R_in``, ``kh x kw`` core ``R_in -> R_out``, 1x1 ``R_out -> C_out``.
- Per-slice SVD, rank ``r``: ``K = einsum('oihr,oirw->oihw', columns, rows)``; stages ``kh x 1``
  filters (one per output, input and rank), ``1 x kw`` filters summed over inputs and ranks.

The stage with a spatial extent along an axis carries that axis's stride and padding (the
vertical stage the first of each pair, the horizontal stage the second); nothing is padded
before a first 1x1 stage. Factors are stored as floating arrays: integers become float64,
float32 stays float32. They must be real and numeric; NaN and infinity are stored as given and
propagate through the stages as numpy arithmetic does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from lrconv import _tensor
from lrconv._validate import (
    Pair,
    as_array,
    check_budget,
    check_int,
    check_ndim,
    check_nonempty,
    check_pair,
    output_size,
)

__all__ = ["FORMS", "CPFactors", "SliceSVDFactors", "Stage", "Tucker2Factors"]

STAGE_KINDS = ("pointwise", "depthwise", "dense")


@dataclass(frozen=True, eq=False)
class Stage:
    """One convolution of a factorized layer's stage plan (chapter 4).

    Attributes
    ----------
    name : str
        What the stage does, e.g. ``"vertical kh x 1 depthwise"``.
    kind : {"pointwise", "depthwise", "dense"}
        Which function of :mod:`lrconv.conv` runs it: :func:`~lrconv.conv.pointwise_conv2d`,
        :func:`~lrconv.conv.depthwise_conv2d` or :func:`~lrconv.conv.conv2d`.
    weight : ndarray
        In the layout that function takes: ``(C_out, C_in)`` for a pointwise stage,
        ``(C, kh, kw)`` for a depthwise one, ``(C_out, C_in, kh, kw)`` for a dense one.
    stride, padding : (int, int)
        Per axis (rows, columns); ``(1, 1)`` and ``(0, 0)`` for a pointwise stage.
    copies : (int, int)
        Depthwise only: before filtering, each input channel is repeated ``copies[1]`` times
        and the whole stack ``copies[0]`` times (``(1, 1)``: each filter reads its own channel).
    sum_groups : int
        Depthwise only: the filtered channels are summed in consecutive groups of this many
        (``1``: no sum).
    """

    name: str
    kind: str
    weight: np.ndarray
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    copies: tuple[int, int] = (1, 1)
    sum_groups: int = 1

    def __post_init__(self) -> None:
        for field in ("name", "kind"):
            if not isinstance(getattr(self, field), str):
                raise TypeError(f"{field} must be a str; received {getattr(self, field)!r}")
        if self.kind not in STAGE_KINDS:
            raise ValueError(f"kind must be one of {STAGE_KINDS}; received {self.kind!r}")
        weight = as_array(self.weight, "weight")
        check_nonempty(weight, "weight")
        check_ndim(weight, "weight", (2 + STAGE_KINDS.index(self.kind),), f"({self.kind})")
        object.__setattr__(self, "weight", weight)
        object.__setattr__(self, "stride", check_pair(self.stride, "stride", 1))
        object.__setattr__(self, "padding", check_pair(self.padding, "padding", 0))
        object.__setattr__(self, "copies", check_pair(self.copies, "copies", 1))
        groups = check_int(self.sum_groups, "sum_groups", 1)
        object.__setattr__(self, "sum_groups", groups)
        if self.kind != "depthwise" and (self.copies != (1, 1) or groups != 1):
            raise ValueError(f"copies and sum_groups apply to depthwise stages only; received "
                             f"{self.copies} and {groups} for a {self.kind} stage")
        if self.kind == "depthwise":
            filters = weight.shape[0]
            if filters % (self.copies[0] * self.copies[1]) or filters % groups:
                raise ValueError(f"the {filters} filters of weight must be a multiple of "
                                 f"copies {self.copies} and of sum_groups {groups}")

    @property
    def kernel_size(self) -> tuple[int, int]:
        """``(kh, kw)`` of the stage (``(1, 1)`` for a pointwise stage)."""
        return (1, 1) if self.kind == "pointwise" else tuple(self.weight.shape[-2:])

    @property
    def channels_in(self) -> int:
        """Number of channels the stage reads."""
        if self.kind == "depthwise":
            return self.weight.shape[0] // (self.copies[0] * self.copies[1])
        return int(self.weight.shape[1])

    @property
    def channels_out(self) -> int:
        """Number of channels the stage writes."""
        if self.kind == "depthwise":
            return self.weight.shape[0] // self.sum_groups
        return int(self.weight.shape[0])

    @property
    def params(self) -> int:
        """Weights of the stage."""
        return int(self.weight.size)

    @property
    def taps(self) -> int:
        """Products summed into each output value."""
        kh, kw = self.kernel_size
        if self.kind == "depthwise":
            return kh * kw * self.sum_groups
        return int(self.weight.shape[1]) * kh * kw

    def shape_out(self, shape_in: tuple[int, ...]) -> tuple[int, ...]:
        """The shape the stage writes for an input of shape ``(C, H, W)`` or ``(N, C, H, W)``.

        Raises ``ValueError`` if the input has the wrong number of channels or the stage's
        kernel is larger than the padded input.
        """
        if not isinstance(shape_in, (tuple, list)) or len(shape_in) not in (3, 4):
            raise TypeError(f"shape_in must be (C, H, W) or (N, C, H, W); received {shape_in!r}")
        *lead, c, h, w = shape_in
        if c != self.channels_in:
            raise ValueError(f"stage {self.name!r} reads {self.channels_in} channels; received "
                             f"shape_in {tuple(shape_in)}")
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        h_out = output_size(h, kh, sh, ph, name="input rows")
        w_out = output_size(w, kw, sw, pw, name="input columns")
        return (*lead, self.channels_out, h_out, w_out)

    def macs(self, shape_in: tuple[int, ...]) -> int:
        """Multiply-accumulates for an input of shape ``shape_in``: output values times taps."""
        return int(np.prod(self.shape_out(shape_in), dtype=object)) * self.taps


# --------------------------------------------------------------------------- checks


def _factor(value: object, form: str, field: str, ndim: int, layout: str) -> np.ndarray:
    """``value`` as a non-empty floating array of ``ndim`` dimensions, or a clear error."""
    name = f"{form}.{field}"
    arr = as_array(value, name)
    check_ndim(arr, name, (ndim,), layout)
    check_nonempty(arr, name)
    return arr if np.issubdtype(arr.dtype, np.floating) else arr.astype(np.float64)


def _expect(arr: np.ndarray, name: str, size: int, what: str) -> None:
    if arr.shape[1] != size:
        raise ValueError(f"{name} must have {size} {what}; received shape {arr.shape}")


def _check_grad(grad_kernel: object, shape: tuple[int, ...]) -> np.ndarray:
    g = as_array(grad_kernel, "grad_kernel")
    if g.shape != shape:
        raise ValueError(f"grad_kernel must have the kernel's shape {shape}; received {g.shape}")
    return g if np.issubdtype(g.dtype, np.floating) else g.astype(np.float64)


def _kernel_budget(shape: tuple[int, ...], *arrays: np.ndarray) -> None:
    itemsize = np.result_type(*arrays).itemsize
    check_budget(int(np.prod(shape, dtype=object)), itemsize, f"a kernel of shape {shape}")


# --------------------------------------------------------------------------- CP


class _CPFields(NamedTuple):
    out: np.ndarray
    inp: np.ndarray
    vertical: np.ndarray
    horizontal: np.ndarray


class CPFactors(_CPFields):
    """The four factor matrices of a rank-``R`` CP kernel (chapter 4).

    ``K[o, i, y, x] = sum_r out[o, r] inp[i, r] vertical[y, r] horizontal[x, r]``. A named tuple
    (``o, i, v, h = factors`` works), checked when built: four non-empty real 2-D arrays with
    the same number of columns ``R``.

    Attributes
    ----------
    out : ndarray, shape (C_out, R)
    inp : ndarray, shape (C_in, R)
    vertical : ndarray, shape (kh, R)
    horizontal : ndarray, shape (kw, R)
    """

    __slots__ = ()

    def __new__(cls, out: object, inp: object, vertical: object,
                horizontal: object) -> CPFactors:
        o = _factor(out, "CPFactors", "out", 2, "(C_out, R)")
        rank = o.shape[1]
        arrays = [o]
        for field, value, what in (("inp", inp, "(C_in, R)"), ("vertical", vertical, "(kh, R)"),
                                   ("horizontal", horizontal, "(kw, R)")):
            a = _factor(value, "CPFactors", field, 2, what)
            _expect(a, f"CPFactors.{field}", rank, "columns (the rank R of out)")
            arrays.append(a)
        return super().__new__(cls, *arrays)

    @classmethod
    def _make(cls, iterable: object) -> CPFactors:  # used by _replace: validate there too
        return cls(*iterable)

    @property
    def rank(self) -> int:
        """The number of rank-one terms ``R``."""
        return int(self.out.shape[1])

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """The kernel's shape ``(C_out, C_in, kh, kw)``."""
        return (self.out.shape[0], self.inp.shape[0], self.vertical.shape[0],
                self.horizontal.shape[0])

    def to_kernel(self) -> np.ndarray:
        """``einsum('or,ir,hr,wr->oihw', out, inp, vertical, horizontal)``."""
        _kernel_budget(self.shape, *self)
        return _tensor.cp_kernel(*self)

    def kernel_grads(self, grad_kernel: object) -> CPFactors:
        """The gradient of every factor from ``grad_kernel = dL/dK`` (chapter 7).

        ``dL/d out = einsum('oihw,ir,hr,wr->or', G, inp, vertical, horizontal)`` and likewise
        for the other three (each factor enters ``K`` linearly).
        """
        return CPFactors(*_tensor.cp_grads(_check_grad(grad_kernel, self.shape), *self))

    def balanced(self) -> CPFactors:
        """The same kernel with the four columns of each component of equal norm (chapter 7).

        Component ``r`` with column norms ``n_o, n_i, n_v, n_h`` gets every column scaled to the
        geometric mean ``(n_o n_i n_v n_h)^(1/4)``; signs are kept. A component with a zero
        column is left as it is.
        """
        norms = np.stack([np.linalg.norm(a, axis=0) for a in self])  # (4, R)
        target = np.prod(norms, axis=0) ** 0.25
        scale = np.where(norms > 0, target / np.where(norms > 0, norms, 1.0), 1.0)
        return CPFactors(*(a * s for a, s in zip(self, scale, strict=True)))

    def normalized(self) -> tuple[np.ndarray, CPFactors]:
        """``(weights, unit)``: unit-norm columns and the weight of each component.

        ``K = einsum('r,or,ir,hr,wr->oihw', weights, *unit)``; ``weights[r]`` is the product of
        the four column norms of component ``r`` (as TensorLy's ``cp_normalize``). A zero
        column stays zero and its component gets weight 0.
        """
        norms = np.stack([np.linalg.norm(a, axis=0) for a in self])  # (4, R)
        unit = CPFactors(*(a / np.where(n > 0, n, 1.0) for a, n in zip(self, norms,
                                                                         strict=True)))
        return np.prod(norms, axis=0), unit

    def stage_plan(self, stride: Pair = 1, padding: Pair = 0) -> tuple[Stage, ...]:
        """The four stages: 1x1 ``C_in -> R``; ``kh x 1`` depthwise with the vertical stride
        and padding; ``1 x kw`` depthwise with the horizontal ones; 1x1 ``R -> C_out``."""
        (sh, sw), (ph, pw) = check_pair(stride, "stride", 1), check_pair(padding, "padding", 0)
        return (
            Stage("pointwise 1x1 C_in -> R", "pointwise", self.inp.T),
            Stage("vertical kh x 1 depthwise", "depthwise", self.vertical.T[:, :, None],
                  (sh, 1), (ph, 0)),
            Stage("horizontal 1 x kw depthwise", "depthwise", self.horizontal.T[:, None, :],
                  (1, sw), (0, pw)),
            Stage("pointwise 1x1 R -> C_out", "pointwise", self.out),
        )


# --------------------------------------------------------------------------- Tucker-2


class _Tucker2Fields(NamedTuple):
    core: np.ndarray
    out: np.ndarray
    inp: np.ndarray


class Tucker2Factors(_Tucker2Fields):
    """A Tucker-2 kernel: a small core and one factor per channel mode (chapter 5).

    ``K[o, i, y, x] = sum_{a, b} core[a, b, y, x] out[o, a] inp[i, b]``. A named tuple, checked
    when built: ``out`` has ``R_out`` columns and ``inp`` has ``R_in``, as the core says.

    Attributes
    ----------
    core : ndarray, shape (R_out, R_in, kh, kw)
    out : ndarray, shape (C_out, R_out)
    inp : ndarray, shape (C_in, R_in)
    """

    __slots__ = ()

    def __new__(cls, core: object, out: object, inp: object) -> Tucker2Factors:
        c = _factor(core, "Tucker2Factors", "core", 4, "(R_out, R_in, kh, kw)")
        o = _factor(out, "Tucker2Factors", "out", 2, "(C_out, R_out)")
        i = _factor(inp, "Tucker2Factors", "inp", 2, "(C_in, R_in)")
        _expect(o, "Tucker2Factors.out", c.shape[0], "columns (R_out = core.shape[0])")
        _expect(i, "Tucker2Factors.inp", c.shape[1], "columns (R_in = core.shape[1])")
        return super().__new__(cls, c, o, i)

    @classmethod
    def _make(cls, iterable: object) -> Tucker2Factors:
        return cls(*iterable)

    @property
    def ranks(self) -> tuple[int, int]:
        """The pair ``(R_out, R_in)``."""
        return int(self.core.shape[0]), int(self.core.shape[1])

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """The kernel's shape ``(C_out, C_in, kh, kw)``."""
        return (self.out.shape[0], self.inp.shape[0], *self.core.shape[2:])

    def to_kernel(self) -> np.ndarray:
        """``einsum('abhw,oa,ib->oihw', core, out, inp)``."""
        _kernel_budget(self.shape, *self)
        return _tensor.tucker2_kernel(*self)

    def kernel_grads(self, grad_kernel: object) -> Tucker2Factors:
        """The gradient of the core and of both factors from ``grad_kernel = dL/dK``.

        ``dL/d core = einsum('oihw,oa,ib->abhw', G, out, inp)``,
        ``dL/d out = einsum('oihw,abhw,ib->oa', G, core, inp)``,
        ``dL/d inp = einsum('oihw,abhw,oa->ib', G, core, out)``.
        """
        return Tucker2Factors(*_tensor.tucker2_grads(_check_grad(grad_kernel, self.shape), *self))

    def stage_plan(self, stride: Pair = 1, padding: Pair = 0) -> tuple[Stage, ...]:
        """The three stages: 1x1 ``C_in -> R_in``; the ``kh x kw`` core ``R_in -> R_out`` with
        the stride and padding; 1x1 ``R_out -> C_out``."""
        stride, padding = check_pair(stride, "stride", 1), check_pair(padding, "padding", 0)
        return (
            Stage("pointwise 1x1 C_in -> R_in", "pointwise", self.inp.T),
            Stage("core kh x kw R_in -> R_out", "dense", self.core, stride, padding),
            Stage("pointwise 1x1 R_out -> C_out", "pointwise", self.out),
        )


# --------------------------------------------------------------------------- per-slice SVD


class _SliceSVDFields(NamedTuple):
    columns: np.ndarray
    rows: np.ndarray


class SliceSVDFactors(_SliceSVDFields):
    """Every 2-D filter ``K[o, i]`` as ``columns[o, i] @ rows[o, i]`` (chapter 5).

    A named tuple, checked when built: ``rows`` must be ``(C_out, C_in, r, kw)`` for ``columns``
    of shape ``(C_out, C_in, kh, r)``.

    Attributes
    ----------
    columns : ndarray, shape (C_out, C_in, kh, r)
        Vertical (column) filters, scaled by the singular values.
    rows : ndarray, shape (C_out, C_in, r, kw)
        Horizontal (row) filters.
    """

    __slots__ = ()

    def __new__(cls, columns: object, rows: object) -> SliceSVDFactors:
        c = _factor(columns, "SliceSVDFactors", "columns", 4, "(C_out, C_in, kh, r)")
        r = _factor(rows, "SliceSVDFactors", "rows", 4, "(C_out, C_in, r, kw)")
        c_out, c_in, _, rank = c.shape
        if r.shape[:3] != (c_out, c_in, rank):
            raise ValueError(f"SliceSVDFactors.rows must have shape ({c_out}, {c_in}, {rank}, "
                             f"kw) to fit columns of shape {c.shape}; received shape {r.shape}")
        return super().__new__(cls, c, r)

    @classmethod
    def _make(cls, iterable: object) -> SliceSVDFactors:
        return cls(*iterable)

    @property
    def rank(self) -> int:
        """The rank ``r`` kept in every slice."""
        return int(self.columns.shape[-1])

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """The kernel's shape ``(C_out, C_in, kh, kw)``."""
        return (*self.columns.shape[:3], self.rows.shape[-1])

    def to_kernel(self) -> np.ndarray:
        """``einsum('oihr,oirw->oihw', columns, rows)``."""
        _kernel_budget(self.shape, *self)
        return np.matmul(self.columns, self.rows)

    def kernel_grads(self, grad_kernel: object) -> SliceSVDFactors:
        """The gradient of both factors from ``grad_kernel = dL/dK``:
        ``einsum('oihw,oirw->oihr', G, rows)`` and ``einsum('oihw,oihr->oirw', G, columns)``."""
        g = _check_grad(grad_kernel, self.shape)
        return SliceSVDFactors(np.matmul(g, np.swapaxes(self.rows, -1, -2)),
                               np.matmul(np.swapaxes(self.columns, -1, -2), g))

    def stage_plan(self, stride: Pair = 1, padding: Pair = 0) -> tuple[Stage, ...]:
        """The two stages: ``kh x 1`` filters, one per (output, input, rank) triple, each on its
        triple's input channel, with the vertical stride and padding (channel
        ``(o * C_in + i) * r + j``); ``1 x kw`` filters with the horizontal ones, summed over
        inputs and ranks into each output channel."""
        (sh, sw), (ph, pw) = check_pair(stride, "stride", 1), check_pair(padding, "padding", 0)
        c_out, c_in, kh, r = self.columns.shape
        kw = self.rows.shape[-1]
        m = c_out * c_in * r
        return (
            Stage("vertical kh x 1 per (out, in, rank)", "depthwise",
                  self.columns.transpose(0, 1, 3, 2).reshape(m, kh, 1), (sh, 1), (ph, 0),
                  copies=(c_out, r)),
            Stage("horizontal 1 x kw, summed over in and rank", "depthwise",
                  self.rows.reshape(m, 1, kw), (1, sw), (0, pw), sum_groups=c_in * r),
        )


# --------------------------------------------------------------------------- functions


def _coerce(cls: type, factors: object, name: str):
    if isinstance(factors, cls):
        return factors
    if not isinstance(factors, tuple) or len(factors) != len(cls._fields):
        raise TypeError(f"{name} must be {cls.__name__}({', '.join(cls._fields)}); received "
                        f"{type(factors).__name__}")
    return cls(*factors)


def check_cp_factors(factors: object, name: str = "factors") -> CPFactors:
    """``factors`` (a :class:`CPFactors` or a 4-tuple of arrays) as :class:`CPFactors`."""
    return _coerce(CPFactors, factors, name)


def check_tucker2_factors(factors: object, name: str = "factors") -> Tucker2Factors:
    """``factors`` (a :class:`Tucker2Factors` or a 3-tuple) as :class:`Tucker2Factors`."""
    return _coerce(Tucker2Factors, factors, name)


def check_slice_svd_factors(factors: object, name: str = "factors") -> SliceSVDFactors:
    """``factors`` (a :class:`SliceSVDFactors` or a pair) as :class:`SliceSVDFactors`."""
    return _coerce(SliceSVDFactors, factors, name)


def cp_to_kernel(factors: CPFactors) -> np.ndarray:
    """The kernel ``einsum('or,ir,hr,wr->oihw', out, inp, vertical, horizontal)`` (chapter 4)."""
    return check_cp_factors(factors).to_kernel()


def tucker2_to_kernel(factors: Tucker2Factors) -> np.ndarray:
    """The kernel ``einsum('abhw,oa,ib->oihw', core, out, inp)`` (chapter 5)."""
    return check_tucker2_factors(factors).to_kernel()


def slice_svd_to_kernel(factors: SliceSVDFactors) -> np.ndarray:
    """The kernel ``einsum('oihr,oirw->oihw', columns, rows)`` (chapter 5)."""
    return check_slice_svd_factors(factors).to_kernel()


FORMS = {"cp": CPFactors, "tucker2": Tucker2Factors, "slice_svd": SliceSVDFactors}
"""The factor type of each form, by the name :mod:`lrconv.nn` and the chapters use."""
