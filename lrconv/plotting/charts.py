"""Charts: one line chart (:func:`plot_lines`) and the bar charts of singular values.

:func:`plot_curves`, :func:`plot_convergence` and :func:`plot_rank_error_curve` are thin aliases of
:func:`plot_lines` kept for the chapters that call them by those names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lrconv._validate import as_array, check_int, check_ndim
from lrconv.plotting.style import BOX_COLOURS, _new_axes, styled

__all__ = [
    "MARKERS",
    "plot_convergence",
    "plot_curves",
    "plot_lines",
    "plot_rank_error_curve",
    "plot_singular_values",
]


# --- chapter 5: computing the factors -------------------------------------------------------


def _series_xy(series: Mapping[str, object], name: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    if not isinstance(series, Mapping) or not series:
        raise TypeError(f"{name} must be a non-empty mapping of label to (x, y)")
    out = []
    for label, pair in series.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"{name}[{label!r}] must be a pair (x, y); received "
                            f"{type(pair).__name__}")
        x = as_array(pair[0], f"{name}[{label!r}][0]").astype(float)
        y = as_array(pair[1], f"{name}[{label!r}][1]").astype(float)
        check_ndim(x, f"{name}[{label!r}][0]", (1,), "(n,)")
        if y.shape != x.shape:
            raise ValueError(f"{name}[{label!r}] needs x and y of the same length; received "
                             f"shapes {x.shape} and {y.shape}")
        out.append((str(label), x, y))
    return out


#: Errors below this are drawn at it on a logarithmic axis (:func:`plot_convergence`): they are
#: round-off, and their digits (and so the drawn curve) differ from one processor to another.
ROUNDOFF_FLOOR = 1e-12

#: Marker of the k-th line (with the dash cycle of the house style: tellable apart in grey).
MARKERS = "osD^v<>"


@styled
def plot_lines(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    ax: Axes | None = None,
    *,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    logy: bool = False,
    markers: bool = True,
    title: str | None = None,
    xticks: Sequence[float] | None = None,
    legend: bool | None = None,
) -> Axes:
    """The book's one line chart: one line per labelled ``(x, y)`` series (chapter 3).

    Lines differ by dash pattern and marker as well as colour, so the chart reads in grey scale;
    markers of later lines are drawn smaller and hollow, so lines that coincide stay visible.

    Parameters
    ----------
    series : mapping of str to (x, y)
        Legend label to two equal-length 1-D sequences.
    ax : Axes, optional
        Axes to draw into; a new figure is made if omitted.
    xlabel, ylabel : str
        Axis labels (say the unit).
    logx, logy : bool
        Logarithmic axes (non-positive values are then not drawn).
    markers : bool
        Mark each point.
    title : str, optional
    xticks : sequence of float, optional
        Tick positions of the x axis (e.g. the ranks); default chosen by matplotlib.
    legend : bool, optional
        Draw a legend; default: when there is more than one series.

    Returns
    -------
    Axes
    """
    data = _series_xy(series, "series")
    ax = _new_axes(ax, figsize=(5.5, 3.6))
    for i, (label, x, y) in enumerate(data):
        style: dict[str, object] = {}
        if markers:
            style = {"marker": MARKERS[i % len(MARKERS)], "markersize": max(3.0, 7.0 - 1.5 * i)}
            if i > 0:
                style["markerfacecolor"] = "white"
        ax.plot(x, y, label=label, **style)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if xticks is not None:
        ax.set_xticks(list(xticks))
    if title:
        ax.set_title(title)
    if legend or (legend is None and len(data) > 1):
        ax.legend()
    return ax


#: Alias of :func:`plot_lines` (chapters 5 to 8 call it by this name).
plot_curves = plot_lines


def plot_convergence(
    histories: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    *,
    ylabel: str = "relative error",
    logy: bool = True,
    title: str | None = None,
    floor: float = ROUNDOFF_FLOOR,
) -> Axes:
    """Error after each sweep of an iterative fit, one line per run (chapter 5).

    A thin wrapper of :func:`plot_lines` with sweeps ``1, 2, ...`` on the x axis and no markers.
    On a logarithmic axis, values below ``floor`` are drawn at ``floor``, the bottom of the axis:
    there an error is round-off, whose digits differ from one processor to another.

    Parameters
    ----------
    histories : mapping of str to sequence of float
        Legend label to the values after sweeps 1, 2, ... (e.g. ``CPResult.errors``).
    ax : Axes, optional
    ylabel : str
    logy : bool
        Logarithmic y axis (the default: errors fall by orders of magnitude).
    title : str, optional
    floor : float
        The bottom of a logarithmic axis, > 0 (default :data:`ROUNDOFF_FLOOR`).

    Returns
    -------
    Axes
    """
    if not isinstance(histories, Mapping) or not histories:
        raise TypeError("histories must be a non-empty mapping of label to values")
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not floor > 0:
        raise ValueError(f"floor must be a positive number; received {floor!r}")
    series = {}
    for label, values in histories.items():
        y = as_array(values, f"histories[{label!r}]").astype(float)
        check_ndim(y, f"histories[{label!r}]", (1,), "(n_sweeps,)")
        series[label] = (np.arange(1, y.size + 1), np.maximum(y, floor) if logy else y)
    ax = plot_lines(series, ax, xlabel="sweep", ylabel=ylabel, logy=logy, markers=False,
                    title=title)
    if logy:
        ax.set_ylim(bottom=floor)
    return ax


def plot_rank_error_curve(
    ranks: Sequence[int],
    curves: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    *,
    ylabel: str = "error",
    title: str | None = None,
    logy: bool = False,
) -> Axes:
    """Errors against the rank kept, one line per curve (chapter 3; used again in chapter 5).

    A thin wrapper of :func:`plot_lines`: the x axis is "rank kept r" with a tick at each rank.

    Parameters
    ----------
    ranks : sequence of int
        The x values.
    curves : mapping of str to sequence of float
        Legend label to values, one per rank (e.g. a measured error and its bound).
    ax : Axes, optional
    ylabel, title : str
    logy : bool
        Logarithmic y axis (zeros are then not drawn).

    Returns
    -------
    Axes
    """
    x = as_array(ranks, "ranks")
    check_ndim(x, "ranks", (1,), "(n,)")
    if not isinstance(curves, Mapping) or not curves:
        raise TypeError("curves must be a non-empty mapping of label to values")
    series = {}
    for label, values in curves.items():
        y = as_array(values, f"curves[{label!r}]").astype(float)
        if y.shape != x.shape:
            raise ValueError(f"curves[{label!r}] must have one value per rank ({x.size}); "
                             f"received shape {y.shape}")
        series[label] = (x, y)
    return plot_lines(series, ax, xlabel="rank kept r", ylabel=ylabel, logy=logy, title=title,
                      xticks=x, legend=True)


@styled
def plot_singular_values(
    values: Mapping[str, object],
    *,
    ranks: Mapping[str, int] | None = None,
    relative: bool = True,
    ncols: int = 4,
) -> Figure:
    """Bar charts of the singular values of several kernels, one panel each (chapter 3).

    Parameters
    ----------
    values : mapping of str to array_like, shape (n,)
        Singular values of each kernel, largest first, by kernel name.
    ranks : mapping of str to int, optional
        The (numerical) rank of each kernel, written in the panel's title; bars beyond it are
        drawn light grey and hatched.
    relative : bool
        Divide by the largest singular value, so kernels of different scale compare.
    ncols : int
        Panels per row.

    Returns
    -------
    Figure
    """
    if not isinstance(values, Mapping) or not values:
        raise TypeError("values must be a non-empty mapping of kernel name to singular values")
    ncols = check_int(ncols, "ncols", 1)
    arrays = {}
    for name, s in values.items():
        arr = as_array(s, f"values[{name!r}]").astype(float)
        check_ndim(arr, f"values[{name!r}]", (1,), "(n,)")
        arrays[name] = arr
    n = len(arrays)
    cols = min(ncols, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, 2.2 * rows),
                             layout="constrained", squeeze=False, sharey=relative)
    for ax, (name, s) in zip(axes.flat, arrays.items(), strict=False):
        top = float(s[0]) if s.size and s[0] > 0 else 1.0
        shown = s / top if relative else s
        r = None if ranks is None else int(ranks[name])
        k = np.arange(1, s.size + 1)
        kept = k <= (r if r is not None else s.size)
        ax.bar(k[kept], shown[kept], color=BOX_COLOURS[2], edgecolor="black")
        ax.bar(k[~kept], shown[~kept], color=BOX_COLOURS[0], edgecolor="black",
               hatch="//")
        for kk, v in zip(k, shown, strict=True):
            ax.text(kk, v, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(k)
        ax.set_xlabel("k")
        ax.set_title(name if r is None else f"{name}: rank {r}", fontsize=10)
    for ax in axes[:, 0]:
        ax.set_ylabel(r"$\sigma_k / \sigma_1$" if relative else r"$\sigma_k$")
    if relative:
        axes[0, 0].set_ylim(0, 1.2)
    for ax in axes.flat[n:]:
        ax.set_axis_off()
    return fig
