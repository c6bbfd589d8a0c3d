"""The ALS convergence explorer of chapter 5 and the functions behind it.

:func:`als_history` runs ALS for a fixed number of sweeps, from the SVD start of
:func:`lrconv.decompose.cp_als` or from random factors, and returns the error after each sweep;
:func:`als_histories` does so for several ranks and starts; :func:`als_explorer` wires them to
controls.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from lrconv._validate import as_array, check_finite, check_int, check_ndim
from lrconv.decompose import ConvergenceWarning, CPFactors, cp_als, cp_to_kernel

__all__ = ["START_KINDS", "als_explorer", "als_histories", "als_history"]

#: How an ALS run may start: from the SVD of each unfolding (``cp_als``) or from random factors.
START_KINDS = ("svd", "random")


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
