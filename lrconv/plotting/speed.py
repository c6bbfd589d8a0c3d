"""Charts of measured speed (chapter 6): stage breakdowns as stacked bars, a roofline with the
roofs of the machine that measured them, and rank labels on the points of a trade-off chart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from lrconv._validate import as_array, check_ndim
from lrconv.plotting.charts import MARKERS
from lrconv.plotting.style import _new_axes, styled

__all__ = ["label_points", "plot_roofline", "plot_stage_bars"]

#: Fill and hatch of the k-th stage in a stacked bar (tellable apart in grey scale).
STAGE_FILLS = ("#f0f0f0", "#bdbdbd", "#7f7f7f", "#3f3f3f", "#d9d9d9", "#969696")
STAGE_HATCHES = ("", "///", "...", "", "\\\\\\", "xx")


def _positive_number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number; received {type(value).__name__}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0; received {value!r}")
    return float(value)


@styled
def plot_stage_bars(
    values: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    *,
    stages: Sequence[str],
    ylabel: str,
    shares: bool = False,
    title: str | None = None,
    legend: bool = True,
) -> Axes:
    """One stacked bar per layer, one segment per stage (chapter 6).

    Used to put the MACs of each stage next to its measured time: draw both with the same
    ``stages`` on two axes.

    Parameters
    ----------
    values : mapping of str to sequence of float
        Bar label (e.g. ``"R = 32"``) to one non-negative value per stage, in the order of
        ``stages``.
    stages : sequence of str
        Stage names, bottom segment first (legend entries).
    ax : Axes, optional
    ylabel : str
        Axis label (say the unit; with ``shares`` the values are shown in percent of each bar).
    shares : bool
        Scale each bar to 100 (percent of its total) instead of drawing absolute values.
    title : str, optional
    legend : bool
        Draw the legend of the stages.

    Returns
    -------
    Axes
    """
    if not isinstance(values, Mapping) or not values:
        raise TypeError("values must be a non-empty mapping of bar label to per-stage values")
    if isinstance(stages, (str, bytes)) or not isinstance(stages, Sequence) or not stages:
        raise TypeError(f"stages must be a non-empty sequence of stage names; received "
                        f"{stages!r}")
    rows = []
    for label, vals in values.items():
        arr = as_array(vals, f"values[{label!r}]").astype(float)
        check_ndim(arr, f"values[{label!r}]", (1,), "(n_stages,)")
        if arr.size != len(stages):
            raise ValueError(f"values[{label!r}] needs one value per stage ({len(stages)}); "
                             f"received {arr.size}")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError(f"values[{label!r}] must be finite and >= 0; received {arr}")
        if shares:
            total = arr.sum()
            arr = 100 * arr / total if total > 0 else arr
        rows.append(arr)
    data = np.array(rows)  # (bars, stages)
    ax = _new_axes(ax, figsize=(5.5, 3.6))
    x = np.arange(len(rows))
    bottom = np.zeros(len(rows))
    for j, name in enumerate(stages):
        ax.bar(x, data[:, j], bottom=bottom, width=0.6, label=str(name),
               color=STAGE_FILLS[j % len(STAGE_FILLS)],
               hatch=STAGE_HATCHES[j % len(STAGE_HATCHES)], edgecolor="0.15", linewidth=0.6)
        bottom += data[:, j]
    ax.set_xticks(x, [str(k) for k in values])
    ax.set_ylabel(ylabel)
    if shares:
        ax.set_ylim(0, 100)
    if title:
        ax.set_title(title)
    if legend:  # full-height bars (shares) leave no room inside: the legend goes to the right
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0) if shares else None)
    return ax


@styled
def plot_roofline(
    points: Mapping[str, tuple[float, float]],
    ax: Axes | None = None,
    *,
    peak: float,
    bandwidth: float,
    peak_label: str = "peak",
    bandwidth_label: str = "memory",
    title: str | None = None,
) -> Axes:
    """A roofline: achieved speed against arithmetic intensity, under the machine's roofs
    (chapter 6).

    The attainable speed at intensity ``I`` (FLOPs per byte moved) is
    ``min(peak, bandwidth * I)``: below the ridge point ``peak / bandwidth`` a computation cannot
    outrun the memory, above it the arithmetic. Both axes are logarithmic.

    Parameters
    ----------
    points : mapping of str to (float, float)
        Label to ``(intensity in FLOPs per byte, achieved GFLOP/s)``; each point is labelled.
    peak : float
        Arithmetic roof in GFLOP/s (e.g. measured with a large matrix product).
    bandwidth : float
        Memory roof in GB/s (e.g. measured with a large copy).
    ax : Axes, optional
    peak_label, bandwidth_label : str
        Where each roof comes from, written in the legend with its value.
    title : str, optional

    Returns
    -------
    Axes
    """
    peak = _positive_number(peak, "peak")
    bandwidth = _positive_number(bandwidth, "bandwidth")
    if not isinstance(points, Mapping) or not points:
        raise TypeError("points must be a non-empty mapping of label to (intensity, GFLOP/s)")
    xy = []
    for label, pair in points.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"points[{label!r}] must be a pair (intensity, GFLOP/s); received "
                            f"{pair!r}")
        xy.append((str(label), _positive_number(pair[0], f"points[{label!r}][0]"),
                   _positive_number(pair[1], f"points[{label!r}][1]")))
    ridge = peak / bandwidth
    xs = [p[1] for p in xy] + [ridge]
    lo, hi = min(xs) / 3, max(xs) * 3
    grid = np.geomspace(lo, hi, 200)
    ax = _new_axes(ax, figsize=(5.8, 3.8))
    ax.plot(grid, np.minimum(peak, bandwidth * grid), color="0.45", lw=1.5, ls="-",
            label=f"roof = min({peak_label}: {peak:.0f} GFLOP/s,\n"
                  f"{bandwidth_label}: {bandwidth:.0f} GB/s x intensity)")
    for i, (label, x, y) in enumerate(xy):
        ax.plot([x], [y], ls="none", marker=MARKERS[i % len(MARKERS)], color="0.1",
                markerfacecolor="white" if i else "0.1")
        # points at nearly the same place get their labels apart, not printed on each other
        near = sum(abs(np.log10(x / px)) < 0.15 and abs(np.log10(y / py)) < 0.3
                   for _, px, py in xy[:i])
        above = near % 2 == 1  # alternate below and above the point, then move further out
        shift = 3 + 10 * (near // 2)
        ax.annotate(label, (x, y), xytext=(6, shift if above else -shift),
                    textcoords="offset points", fontsize=8, va="bottom" if above else "top")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(min([p[2] for p in xy] + [bandwidth * lo]) / 3, peak * 2)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel("arithmetic intensity (FLOPs per byte moved)")
    ax.set_ylabel("achieved GFLOP/s")
    if title:
        ax.set_title(title)
    return ax


def label_points(ax: Axes, x: Sequence[float], y: Sequence[float], labels: Sequence[object], *,
                 prefix: str = "", offset: tuple[float, float] = (4.0, 4.0)) -> Axes:
    """Write a label next to each point ``(x[i], y[i])`` of a chart, e.g. its rank (chapter 6).

    Parameters
    ----------
    ax : Axes
    x, y : sequence of float
        Point coordinates (data units), equal lengths.
    labels : sequence
        One label per point, written as ``f"{prefix}{label}"``.
    prefix : str
        E.g. ``"R = "``.
    offset : (float, float)
        Offset of the text from the point in typographic points.

    Returns
    -------
    Axes
    """
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes; received {type(ax).__name__}")
    xs = as_array(x, "x").astype(float)
    ys = as_array(y, "y").astype(float)
    check_ndim(xs, "x", (1,), "(n,)")
    if ys.shape != xs.shape or len(labels) != xs.size:
        raise ValueError(f"x, y and labels must have the same length; received {xs.size}, "
                         f"{ys.size} and {len(labels)}")
    for xi, yi, lab in zip(xs, ys, labels, strict=True):
        ax.annotate(f"{prefix}{lab}", (xi, yi), xytext=offset, textcoords="offset points",
                    fontsize=7, color="0.25")
    return ax
