"""The rank/time explorer of chapter 6 and the functions behind it.

:func:`rank_tradeoff` factorizes a kernel at one rank and measures the cost and the output error;
:func:`time_against_dense` times the factorized layer against the dense one;
:func:`time_stages` times each stage of a stage plan on its own input; :func:`rank_time_explorer`
wires them to controls.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from lrconv._validate import as_array, check_int, check_ndim, check_pair
from lrconv.conv import conv2d, depthwise_conv2d, pointwise_conv2d
from lrconv.cost import conv_cost, cp_cost, ratio, tucker2_cost
from lrconv.decompose import (
    ConvergenceWarning,
    CPFactors,
    Tucker2Factors,
    cp_decompose,
    tucker2_decompose,
)
from lrconv.explorers.als import _check_kernel_4d
from lrconv.factors import Stage
from lrconv.layers import cp_conv2d, tucker2_conv2d
from lrconv.timing import Timing, compare, speedup

__all__ = ["rank_time_explorer", "rank_tradeoff", "time_against_dense", "time_stages"]

FORMS = ("cp", "tucker2")


def _check_form(form: str) -> str:
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}; received {form!r}")
    return form


def _check_input(x: object, c_in: int) -> np.ndarray:
    arr = as_array(x, "x")
    check_ndim(arr, "x", (3,), "(C_in, H, W)")
    if arr.shape[0] != c_in:
        raise ValueError(f"x must have C_in = {c_in} channels, as the kernel; received x of "
                         f"shape {arr.shape}")
    return arr


def rank_tradeoff(kernel: object, x: object, rank: int, *, form: str = "cp",
                  padding: int | tuple[int, int] = 0, seed: int = 0) -> dict[str, object]:
    """Factorize a kernel at one rank and measure the cost and the output error (chapter 6).

    Parameters
    ----------
    kernel : array_like, shape (C_out, C_in, kh, kw)
        Finite real kernel.
    x : array_like, shape (C_in, H, W)
        The input on which the output error is measured.
    rank : int
        CP rank, or ``R_out = R_in = rank`` for Tucker-2 (at most ``min(C_out, C_in)``).
    form : {"cp", "tucker2"}
    padding : int or (int, int)
        Zero padding of the layer (stride 1).
    seed : int
        Seed of :func:`lrconv.decompose.cp_decompose`.

    Returns
    -------
    dict
        ``"factors"`` (``CPFactors`` or ``Tucker2Factors``), ``"output_error"``
        ``||y_hat - y|| / ||y||`` with ``y = conv2d(x, kernel)``, ``"mac_ratio"`` and
        ``"param_ratio"`` (dense cost over factorized cost).
    """
    k = _check_kernel_4d(kernel)
    form = _check_form(form)
    rank = check_int(rank, "rank", 1)
    c_out, c_in, kh, kw = k.shape
    arr = _check_input(x, c_in)
    pad = check_pair(padding, "padding", 0)
    y = conv2d(arr, k, padding=pad)
    size = dict(c_in=c_in, c_out=c_out, kh=kh, kw=kw, h=arr.shape[1], w=arr.shape[2],
                padding=pad)
    if form == "cp":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            factors = cp_decompose(k, rank, seed=seed)
        y_hat = cp_conv2d(arr, factors, padding=pad)
        cost = cp_cost(**size, rank=rank)
    else:
        if rank > min(c_out, c_in):
            raise ValueError(f"rank must be at most min(C_out, C_in) = {min(c_out, c_in)} for "
                             f"Tucker-2; received {rank}")
        factors = tucker2_decompose(k, (rank, rank))
        y_hat = tucker2_conv2d(arr, factors, padding=pad)
        cost = tucker2_cost(**size, ranks=(rank, rank))
    ref = float(np.linalg.norm(y))
    err = float(np.linalg.norm(y_hat - y))
    r = ratio(conv_cost(**size), cost)
    return {"factors": factors, "output_error": err / ref if ref > 0 else err,
            "mac_ratio": r.macs, "param_ratio": r.params}


def time_against_dense(x: object, kernel: object, factors: CPFactors | Tucker2Factors, *,
                       padding: int | tuple[int, int] = 0, repeat: int = 7,
                       number: int = 3) -> dict[str, object]:
    """Time the dense layer and a factorized one in interleaved rounds (chapter 6).

    Parameters
    ----------
    x : array_like, shape (C_in, H, W)
    kernel : array_like, shape (C_out, C_in, kh, kw)
    factors : CPFactors or Tucker2Factors
        Of a kernel with the same shape.
    padding : int or (int, int)
    repeat, number : int
        As in :func:`lrconv.timing.compare`.

    Returns
    -------
    dict
        ``"dense"`` and ``"factorized"`` (:class:`lrconv.timing.Timing`), ``"speedup"`` (median of
        the round-by-round ratios). Timings vary from run to run: show them, never assert them.
    """
    k = _check_kernel_4d(kernel)
    arr = _check_input(x, k.shape[1])
    pad = check_pair(padding, "padding", 0)
    if isinstance(factors, CPFactors):
        run = lambda: cp_conv2d(arr, factors, padding=pad)  # noqa: E731
    elif isinstance(factors, Tucker2Factors):
        run = lambda: tucker2_conv2d(arr, factors, padding=pad)  # noqa: E731
    else:
        raise TypeError(f"factors must be CPFactors or Tucker2Factors; received "
                        f"{type(factors).__name__}")
    if factors.shape != k.shape:
        raise ValueError(f"factors make a kernel of shape {factors.shape}; the kernel has "
                         f"shape {k.shape}")
    t = compare({"dense": lambda: conv2d(arr, k, padding=pad), "factorized": run},
                repeat=repeat, number=number)
    return {"dense": t["dense"], "factorized": t["factorized"],
            "speedup": speedup(t["dense"], t["factorized"])}


def _stage_call(stage: Stage) -> Callable[[np.ndarray], np.ndarray]:
    if stage.copies != (1, 1) or stage.sum_groups != 1:
        raise ValueError(f"stage {stage.name!r} repeats or sums channels; time_stages runs "
                         "plain pointwise, depthwise and dense stages only (CP, Tucker-2)")
    if stage.kind == "pointwise":
        return lambda v: pointwise_conv2d(v, stage.weight)
    run = depthwise_conv2d if stage.kind == "depthwise" else conv2d
    return lambda v: run(v, stage.weight, stride=stage.stride, padding=stage.padding)


def time_stages(x: object, stages: Sequence[Stage], *,
                extra: Mapping[str, Callable[[], object]] | None = None, repeat: int = 7,
                number: int = 3) -> dict[str, Timing]:
    """Time every stage of a stage plan on its own input, in interleaved rounds (chapter 6).

    Each stage is first run once in order, so that it is timed on the output of the stage
    before it (as in the layer); then :func:`lrconv.timing.compare` times all stages, and the
    ``extra`` callables (e.g. the dense layer), in the same rounds.

    Parameters
    ----------
    x : array_like, shape (C_in, H, W)
        Input of the first stage.
    stages : sequence of Stage
        E.g. ``factors.stage_plan(padding=1)`` of ``CPFactors`` or ``Tucker2Factors``.
    extra : mapping of str to callable, optional
        More functions (no arguments) timed in the same rounds.
    repeat, number : int
        As in :func:`lrconv.timing.compare`.

    Returns
    -------
    dict of str to Timing
        The ``extra`` functions first, then the stages by name. Timings vary from run to run:
        show them, never assert them.
    """
    if isinstance(stages, (str, bytes)) or not isinstance(stages, Sequence) or not stages:
        raise TypeError(f"stages must be a non-empty sequence of Stage; received {stages!r}")
    for st in stages:
        if not isinstance(st, Stage):
            raise TypeError(f"stages must hold lrconv.factors.Stage records; received "
                            f"{type(st).__name__}")
    if len({st.name for st in stages}) != len(stages):
        raise ValueError("stage names must be distinct; received "
                         f"{[st.name for st in stages]}")
    extra = dict(extra or {})
    clash = set(extra) & {st.name for st in stages}
    if clash:
        raise ValueError(f"extra must not reuse a stage name; received {sorted(clash)}")
    arr = as_array(x, "x")
    check_ndim(arr, "x", (3,), "(C_in, H, W)")
    fns: dict[str, Callable[[], object]] = extra
    value = arr
    for st in stages:
        st.shape_out(value.shape)  # the channels and sizes must fit, with a clear message
        call = _stage_call(st)
        fns[st.name] = (lambda call=call, value=value: call(value))
        value = call(value)
    return compare(fns, repeat=repeat, number=number)


# --------------------------------------------------------------------------- widgets


def rank_time_explorer(kernel: object, x: object, *, padding: int | tuple[int, int] = 0,
                       max_rank: int = 16):
    """Pick a form and a rank; see the output error, the MAC ratio and the measured speedup
    over the dense layer (chapter 6).

    Returns an ``ipywidgets.VBox``: the controls (``children[0]``) and a line of numbers
    (``children[1]``). Each change reruns :func:`rank_tradeoff` and :func:`time_against_dense`.
    """
    import ipywidgets as widgets

    k = _check_kernel_4d(kernel)
    arr = _check_input(x, k.shape[1])
    max_rank = check_int(max_rank, "max_rank", 1)
    form = widgets.ToggleButtons(options=list(FORMS), description="form")
    rank = widgets.IntSlider(value=min(4, max_rank), min=1, max=max_rank, description="rank")
    numbers = widgets.HTML()

    def update(_change: object = None) -> None:
        r = min(rank.value, min(k.shape[:2])) if form.value == "tucker2" else rank.value
        point = rank_tradeoff(k, arr, r, form=form.value, padding=padding)
        timed = time_against_dense(arr, k, point["factors"], padding=padding)
        numbers.value = html.escape(
            f"{form.value} rank {r}: output error {point['output_error']:.3f}, "
            f"{point['mac_ratio']:.1f}x fewer MACs, measured {timed['speedup']:.2f}x faster "
            f"({1e3 * timed['factorized'].median:.2f} ms against "
            f"{1e3 * timed['dense'].median:.2f} ms dense) on this machine")

    form.observe(update, names="value")
    rank.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([form, rank]), numbers])
