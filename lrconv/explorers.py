"""Explorers (ipywidgets) of chapters 4 to 7, and the plain functions behind them.

Introduced in chapter 4 (stride and padding placed on the CP stages), chapter 5 (ALS
convergence against the rank and the start), chapter 6 (rank against measured time and output
error) and chapter 7 (rank against accuracy). The widgets only wire controls to the plain
functions (:func:`stage_placement`, :func:`als_history`, :func:`als_histories`,
:func:`rank_tradeoff`, :func:`time_against_dense`, :func:`time_stages`, :func:`rank_accuracy`),
which are tested directly. A static page cannot recompute a widget, so each chapter follows its
explorer with a static figure of the same exploration at a few settings.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from lrconv._validate import as_array, check_finite, check_int, check_ndim, check_pair
from lrconv.conv import conv2d, depthwise_conv2d, pointwise_conv2d
from lrconv.cost import conv_cost, cp_cost, ratio, tucker2_cost
from lrconv.decompose import (
    ConvergenceWarning,
    CPFactors,
    Tucker2Factors,
    cp_als,
    cp_decompose,
    cp_to_kernel,
    tucker2_decompose,
)
from lrconv.experiments import Spread, factorized_runs, spread
from lrconv.factors import Stage
from lrconv.layers import cp_conv2d, run_stages, tucker2_conv2d
from lrconv.timing import Timing, compare, speedup

__all__ = [
    "PLACEMENTS",
    "START_KINDS",
    "accuracy_summary",
    "als_explorer",
    "als_histories",
    "als_history",
    "placement_stages",
    "placement_summary",
    "rank_accuracy",
    "rank_accuracy_explorer",
    "rank_time_explorer",
    "rank_tradeoff",
    "stage_placement",
    "stage_placement_explorer",
    "time_against_dense",
    "time_stages",
]

#: How an ALS run may start: from the SVD of each unfolding (``cp_als``) or from random factors.
START_KINDS = ("svd", "random")
FORMS = ("cp", "tucker2")
#: Where :func:`stage_placement` may put the stride and the padding of a CP layer.
PLACEMENTS = ("spatial", "first", "last", "swapped")


def _check_kernel_4d(kernel: object) -> np.ndarray:
    k = as_array(kernel, "kernel")
    check_ndim(k, "kernel", (4,), "(C_out, C_in, kh, kw)")
    if k.size == 0:
        raise ValueError(f"kernel must not be empty; received shape {k.shape}")
    check_finite(k, "kernel")
    return k.astype(np.float64)


def _random_start_als(k: np.ndarray, rank: int, sweeps: int, seed: int) -> np.ndarray:
    """Plain ALS from standard-normal factors; relative error after each sweep."""
    # A stream of its own (not default_rng(seed)), so that the start is not, by accident, the
    # factors a reader planted with the same seed.
    rng = np.random.default_rng((5, seed))
    factors = [rng.standard_normal((n, rank)) for n in k.shape]
    norm = float(np.linalg.norm(k))
    if norm == 0:  # nothing to fit: the zero factors ALS reaches at once
        return np.zeros(sweeps)
    subscripts = "oihw"
    errors = np.empty(sweeps)
    for sweep in range(sweeps):
        for mode in range(4):
            others = [f for j, f in enumerate(factors) if j != mode]
            gram = np.prod([f.T @ f for f in others], axis=0)
            letters = [c for j, c in enumerate(subscripts) if j != mode]
            spec = f"{subscripts}," + ",".join(f"{c}r" for c in letters) + f"->{subscripts[mode]}r"
            rhs = np.einsum(spec, k, *others)
            scale = float(np.trace(gram)) / rank
            if scale > 0:
                new = np.linalg.solve(gram + 1e-12 * scale * np.eye(rank), rhs.T).T
            else:  # every other factor is zero: any factor fits equally well
                new = np.zeros_like(factors[mode])
            if mode < 3:  # the next update absorbs the scale
                lengths = np.linalg.norm(new, axis=0)
                new = new / np.where(lengths > 0, lengths, 1.0)
            factors[mode] = new
        diff = np.linalg.norm(k - cp_to_kernel(CPFactors(*factors)))
        errors[sweep] = diff / norm if norm > 0 else diff
    return errors


def als_history(kernel: object, rank: int, *, start: str = "svd", seed: int = 0,
                sweeps: int = 100) -> np.ndarray:
    """Relative CP error after each of ``sweeps`` ALS sweeps (chapter 5).

    Parameters
    ----------
    kernel : array_like, shape (C_out, C_in, kh, kw)
        Finite real kernel.
    rank : int
        Number of rank-one terms, ``>= 1``.
    start : {"svd", "random"}
        ``"svd"``: :func:`lrconv.decompose.cp_als` (leading singular vectors of each unfolding,
        padded with random columns seeded by ``seed`` where the rank exceeds a mode size), run for
        exactly ``sweeps`` sweeps. ``"random"``: plain ALS from standard-normal factors drawn from
        ``numpy.random.default_rng((5, seed))``.
    seed : int
        Seed of the random numbers of the start.
    sweeps : int
        Number of sweeps, ``>= 1``.

    Returns
    -------
    ndarray, shape (sweeps,)
        ``||K - K_hat||_F / ||K||_F`` after each sweep (the absolute error for a zero kernel).
        ALS never increases it from one sweep to the next (up to round-off, and a ridge of
        relative size 1e-12 that keeps every Gram matrix invertible).
    """
    k = _check_kernel_4d(kernel)
    rank = check_int(rank, "rank", 1)
    seed = check_int(seed, "seed", 0)
    sweeps = check_int(sweeps, "sweeps", 1)
    if start not in START_KINDS:
        raise ValueError(f"start must be one of {START_KINDS}; received {start!r}")
    if start == "random":
        return _random_start_als(k, rank, sweeps, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed number of sweeps is asked
        errors = cp_als(k, rank, max_iter=sweeps, tol=0.0, seed=seed).errors
    if errors.size < sweeps:  # a zero kernel is fitted at once: the error stays where it is
        errors = np.concatenate([errors, np.full(sweeps - errors.size, errors[-1])])
    return errors


def als_histories(kernel: object, ranks: Sequence[int], starts: Sequence[tuple[str, int]], *,
                  sweeps: int = 100) -> dict[str, np.ndarray]:
    """:func:`als_history` for every rank and start, labelled for a legend (chapter 5).

    Parameters
    ----------
    kernel : array_like, shape (C_out, C_in, kh, kw)
    ranks : sequence of int
    starts : sequence of (str, int)
        ``(start, seed)`` pairs, e.g. ``[("svd", 0), ("random", 0), ("random", 1)]``.
    sweeps : int

    Returns
    -------
    dict of str to ndarray
        ``"R = 4, svd start, seed 0"`` to the error history, ranks outermost.
    """
    if isinstance(ranks, (str, bytes)) or not isinstance(ranks, Sequence) or not ranks:
        raise TypeError(f"ranks must be a non-empty sequence of ints; received {ranks!r}")
    if isinstance(starts, (str, bytes)) or not isinstance(starts, Sequence) or not starts:
        raise TypeError(f"starts must be a non-empty sequence of (start, seed) pairs; received "
                        f"{starts!r}")
    for pair in starts:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"each start must be a pair (start, seed); received {pair!r}")
    return {f"R = {r}, {kind} start, seed {s}": als_history(kernel, r, start=kind, seed=s,
                                                            sweeps=sweeps)
            for r in ranks for kind, s in starts}


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


def placement_stages(factors: CPFactors, *, stride: int | tuple[int, int] = 1,
                     padding: int | tuple[int, int] = 0,
                     placement: str = "spatial") -> tuple[Stage, ...]:
    """The four CP stages with the stride and padding on the stages ``placement`` names
    (chapter 4).

    Parameters
    ----------
    factors : CPFactors
    stride, padding : int or (int, int)
        Of the layer, per axis (rows, columns).
    placement : {"spatial", "first", "last", "swapped"}
        ``"spatial"``: the vertical stage takes the vertical stride and padding, the horizontal
        stage the horizontal ones (``factors.stage_plan``, the right placement). ``"first"`` or
        ``"last"``: both on the first or the last 1x1 stage. ``"swapped"``: the vertical stage
        takes the horizontal ones and the horizontal stage the vertical ones.

    Returns
    -------
    tuple of Stage
        A 1x1 stage that carries a stride or padding is a ``"dense"`` stage with a 1x1 kernel.
    """
    if not isinstance(factors, CPFactors):
        raise TypeError(f"factors must be CPFactors; received {type(factors).__name__}")
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}; received {placement!r}")
    (sh, sw), (ph, pw) = check_pair(stride, "stride", 1), check_pair(padding, "padding", 0)
    plan = list(factors.stage_plan(stride=(sh, sw), padding=(ph, pw)))
    if placement == "spatial":
        return tuple(plan)
    if placement == "swapped":
        vertical, horizontal = plan[1], plan[2]
        plan[1] = Stage(vertical.name, "depthwise", vertical.weight, (1, sw), (0, pw))
        plan[2] = Stage(horizontal.name, "depthwise", horizontal.weight, (sh, 1), (ph, 0))
        return tuple(plan)
    plan = list(factors.stage_plan())
    j = 0 if placement == "first" else 3
    plan[j] = Stage(plan[j].name, "dense", plan[j].weight[:, :, None, None], (sh, sw), (ph, pw))
    return tuple(plan)


def stage_placement(x: object, factors: CPFactors, *, stride: int | tuple[int, int] = 1,
                    padding: int | tuple[int, int] = 0,
                    placement: str = "spatial") -> dict[str, object]:
    """Run the four CP stages with the stride and padding placed as ``placement`` says, and
    compare with the convolution by the rebuilt kernel (chapter 4).

    Parameters
    ----------
    x : array_like, shape (C_in, H, W) or (N, C_in, H, W)
    factors : CPFactors
    stride, padding : int or (int, int)
    placement : {"spatial", "first", "last", "swapped"}
        See :func:`placement_stages`.

    Returns
    -------
    dict
        ``"output"`` (the stages' output, or ``None`` if a filter no longer fits the map it
        reads), ``"expected"`` (``conv2d(x, cp_to_kernel(factors), stride, padding)``),
        ``"same_shape"`` (bool), ``"wrong"`` (boolean array of the expected shape: the outputs
        that differ from the expected ones by more than ``1e-9`` times the largest expected
        magnitude; ``None`` when the shapes differ), ``"differ"`` (how many are wrong, or
        ``None``) and ``"total"`` (the number of expected outputs).
    """
    stages = placement_stages(factors, stride=stride, padding=padding, placement=placement)
    arr = as_array(x, "x")
    check_ndim(arr, "x", (3, 4), "(C_in, H, W) or (N, C_in, H, W)")
    if arr.shape[-3] != factors.shape[1]:
        raise ValueError(f"x must have C_in = {factors.shape[1]} channels, as the factors; "
                         f"received x of shape {arr.shape}")
    expected = conv2d(arr, cp_to_kernel(factors), stride=stride, padding=padding)
    try:
        output = run_stages(arr, stages)[-1]
    except ValueError:  # x is valid (conv2d accepted it): a later filter outgrew its input
        output = None
    same = output is not None and output.shape == expected.shape
    wrong = None
    if same:
        scale = max(float(np.abs(expected).max()), np.finfo(float).tiny)
        wrong = np.abs(output - expected) > 1e-9 * scale
    return {"output": output, "expected": expected, "same_shape": same, "wrong": wrong,
            "differ": None if wrong is None else int(np.count_nonzero(wrong)),
            "total": int(expected.size)}


def placement_summary(result: Mapping[str, object]) -> str:
    """One line for a :func:`stage_placement` result, e.g. ``"shape (2, 4, 4) as expected;
    12 of 32 outputs differ"`` (chapter 4)."""
    expected = result["expected"].shape
    if result["output"] is None:
        return f"a filter no longer fits its input; expected shape {expected}"
    if not result["same_shape"]:
        return f"shape {result['output'].shape}, expected {expected}: the shapes differ"
    return (f"shape {expected} as expected; {result['differ']} of {result['total']} outputs "
            "differ")


def rank_accuracy(nets: Mapping[int, object], data: Sequence[np.ndarray], rank: object, *,
                  form: str = "cp", init: str = "decompose", epochs: int = 2,
                  **options: object) -> dict[str, object]:
    """Accuracy of every trained network with one layer factorized at ``rank``, before and
    after fine-tuning (chapter 7).

    Runs :func:`lrconv.experiments.factorized_runs` (``options`` are passed on, e.g. ``tol``
    and ``max_iter`` of CP-ALS, or ``layer``).

    Returns
    -------
    dict
        ``"error"``, ``"before"`` and ``"after"``: one value per network, in the order of
        ``nets`` (relative kernel error; test accuracy straight after the swap and after
        ``epochs`` epochs of fine-tuning); ``"error_spread"``, ``"before_spread"`` and
        ``"after_spread"``: their :class:`lrconv.experiments.Spread`.
    """
    epochs = check_int(epochs, "epochs", 0)
    return _with_spreads(factorized_runs(nets, data, form, rank, init=init, epochs=epochs,
                                         **options))


def _with_spreads(runs: Mapping[str, object]) -> dict[str, object]:
    """The lists ``"error"``, ``"before"``, ``"after"`` of ``runs`` and their spreads."""
    if not isinstance(runs, Mapping) or not {"error", "before", "after"} <= set(runs):
        raise TypeError("each result must hold the lists 'error', 'before' and 'after' (as "
                        "factorized_runs returns them)")
    out: dict[str, object] = {key: [float(v) for v in runs[key]]
                              for key in ("error", "before", "after")}
    for key in ("error", "before", "after"):
        out[f"{key}_spread"] = spread(out[key])
    return out


def accuracy_summary(result: Mapping[str, object], rank: object, epochs: int) -> str:
    """One line for a :func:`rank_accuracy` result (chapter 7)."""
    parts = {key: result[f"{key}_spread"] for key in ("error", "before", "after")}
    if not all(isinstance(s, Spread) for s in parts.values()):
        raise TypeError("result must come from rank_accuracy")
    return (f"rank {rank}: kernel error {parts['error']:.3f}; test accuracy straight after the "
            f"swap {parts['before']:.3f}, after {epochs} epochs of fine-tuning "
            f"{parts['after']:.3f} (mean ± standard deviation over {parts['error'].n} networks)")


# --------------------------------------------------------------------------- widgets


def als_explorer(kernels: Mapping[str, object], *, max_rank: int = 16, sweeps: int = 200):
    """Pick a kernel, a rank and a start; see the ALS error after each sweep (chapter 5).

    Returns an ``ipywidgets.VBox``: the controls (``children[0]``), a line of numbers
    (``children[1]``) and the figure of :func:`lrconv.plotting.plot_convergence`
    (``children[2]``). Each change reruns :func:`als_history`.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    from lrconv.plotting import plot_convergence

    if not isinstance(kernels, Mapping) or not kernels:
        raise TypeError("kernels must be a non-empty mapping of name to 4-D kernel")
    checked = {name: _check_kernel_4d(k) for name, k in kernels.items()}
    max_rank = check_int(max_rank, "max_rank", 1)
    sweeps = check_int(sweeps, "sweeps", 1)
    menu = widgets.Dropdown(options=list(checked), description="kernel")
    rank = widgets.IntSlider(value=min(4, max_rank), min=1, max=max_rank, description="rank")
    start = widgets.ToggleButtons(options=list(START_KINDS), description="start")
    seed = widgets.IntSlider(value=0, min=0, max=9, description="seed")
    numbers = widgets.HTML()
    figure = widgets.Output()

    def update(_change: object = None) -> None:
        errors = als_history(checked[menu.value], rank.value, start=start.value,
                             seed=seed.value, sweeps=sweeps)
        numbers.value = html.escape(f"after {sweeps} sweeps: relative error {errors[-1]:.4f}")
        with figure:
            figure.clear_output(wait=True)
            ax = plot_convergence({f"R = {rank.value}, {start.value} start": errors},
                                  title=menu.value)
            display(ax.figure)
            plt.close(ax.figure)

    for control in (menu, rank, start, seed):
        control.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([menu, rank, start, seed]), numbers, figure])


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


def stage_placement_explorer(x: object, factors: CPFactors, *, max_stride: int = 3,
                             max_padding: int = 2):
    """Pick where the stride and padding go and how large they are; see the output shape and
    how many outputs are wrong (chapter 4).

    Returns an ``ipywidgets.VBox``: the controls (``children[0]``: placement, vertical and
    horizontal stride, vertical and horizontal padding) and a line of numbers
    (``children[1]``). Each change reruns :func:`stage_placement`.
    """
    import ipywidgets as widgets

    stage_placement(x, factors)  # checks x and the factors before any control is built
    max_stride = check_int(max_stride, "max_stride", 1)
    max_padding = check_int(max_padding, "max_padding", 0)
    where = widgets.ToggleButtons(options=list(PLACEMENTS), description="placement")
    sliders = [widgets.IntSlider(value=1, min=1, max=max_stride, description=d)
               for d in ("stride h", "stride w")]
    sliders += [widgets.IntSlider(value=min(1, max_padding), min=0, max=max_padding,
                                  description=d) for d in ("padding h", "padding w")]
    numbers = widgets.HTML()

    def update(_change: object = None) -> None:
        sh, sw, ph, pw = (s.value for s in sliders)
        try:
            line = placement_summary(stage_placement(x, factors, stride=(sh, sw),
                                                     padding=(ph, pw), placement=where.value))
        except ValueError as err:  # e.g. the kernel is larger than the padded input
            line = str(err)
        numbers.value = html.escape(f"{where.value}: {line}")

    for control in (where, *sliders):
        control.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([where, widgets.VBox(sliders)]), numbers])


def rank_accuracy_explorer(nets: Mapping[int, object], data: Sequence[np.ndarray],
                           ranks: Sequence[object], *, form: str = "cp",
                           init: str = "decompose", epochs: int = 2,
                           known: Mapping[object, Mapping[str, object]] | None = None,
                           **options: object):
    """Slide over ``ranks``; see the kernel error and the test accuracy before and after
    fine-tuning, over all networks (chapter 7).

    Returns an ``ipywidgets.VBox``: the slider (``children[0]``) and a line of numbers
    (``children[1]``). Each new rank runs :func:`rank_accuracy` once; its result is kept, so
    going back to a rank costs nothing. ``known`` maps ranks to results already computed with
    the same settings (of :func:`rank_accuracy` or
    :func:`lrconv.experiments.factorized_runs`), which are shown without running again; the
    slider starts at the first known rank.
    """
    import ipywidgets as widgets

    if isinstance(ranks, (str, bytes)) or not isinstance(ranks, Sequence) or not ranks:
        raise TypeError(f"ranks must be a non-empty sequence of ranks; received {ranks!r}")
    epochs = check_int(epochs, "epochs", 0)
    numbers = widgets.HTML()
    if known is not None and not isinstance(known, Mapping):
        raise TypeError(f"known must be a mapping of rank to result; received "
                        f"{type(known).__name__}")
    seen = {r: accuracy_summary(_with_spreads(res), r, epochs)
            for r, res in (known or {}).items()}
    first = next((r for r in ranks if r in seen), ranks[0])  # nothing to run at the start
    slider = widgets.SelectionSlider(options=list(ranks), value=first, description="rank")

    def update(_change: object = None) -> None:
        r = slider.value
        if r not in seen:
            result = rank_accuracy(nets, data, r, form=form, init=init, epochs=epochs,
                                   **options)
            seen[r] = accuracy_summary(result, r, epochs)
        numbers.value = html.escape(seen[r])

    slider.observe(update, names="value")
    update()
    return widgets.VBox([slider, numbers])
