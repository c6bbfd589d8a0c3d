"""Charts of results repeated over seeds: means with error bars, a reference band (ch. 7, 8)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import NullFormatter

from lrconv._validate import as_array, check_ndim
from lrconv.experiments import Spread
from lrconv.plotting.charts import MARKERS
from lrconv.plotting.style import _new_axes, styled

__all__ = ["plot_spreads"]


def _check_series(series: object) -> list[tuple[str, np.ndarray, list[Spread]]]:
    if not isinstance(series, Mapping) or not series:
        raise TypeError("series must be a non-empty mapping of label to (x, spreads); received "
                        f"{type(series).__name__}")
    out = []
    for label, pair in series.items():
        name = f"series[{label!r}]"
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"{name} must be a pair (x, spreads); received {type(pair).__name__}")
        x = as_array(pair[0], f"{name}[0]").astype(float)
        check_ndim(x, f"{name}[0]", (1,), "(n,)")
        spreads = list(pair[1]) if isinstance(pair[1], Sequence) else None
        if spreads is None or not all(isinstance(s, Spread) for s in spreads):
            raise TypeError(f"{name}[1] must be a sequence of Spread (lrconv.experiments)")
        if len(spreads) != x.size:
            raise ValueError(f"{name} needs one Spread per x value; received {x.size} x values "
                             f"and {len(spreads)} spreads")
        out.append((str(label), x, spreads))
    return out


@styled
def plot_spreads(
    series: Mapping[str, tuple[Sequence[float], Sequence[Spread]]],
    ax: Axes | None = None,
    *,
    xlabel: str,
    ylabel: str,
    band: tuple[str, Spread] | None = None,
    transform: str = "value",
    logx: bool = False,
    logy: bool = False,
    xticks: Sequence[float] | None = None,
    title: str | None = None,
) -> Axes:
    """Means over seeds with error bars of one standard deviation (chapter 7).

    Parameters
    ----------
    series : mapping of str to (x, spreads)
        Legend label to the x values and one :class:`~lrconv.experiments.Spread` per x value.
    ax : Axes, optional
        Axes to draw into; a new figure is made if omitted.
    xlabel, ylabel : str
        Axis labels.
    band : (str, Spread), optional
        A reference drawn as a horizontal band, mean ± standard deviation (e.g. the dense
        network).
    transform : {"value", "error"}
        Plot the values themselves, or ``1 - value`` (an error rate from an accuracy; the spread
        is unchanged). With ``"error"`` and ``logy`` small error rates stay readable.
    logx, logy : bool
        Logarithmic axes.
    xticks : sequence of float, optional
        Tick positions of the x axis, labelled as plain numbers (useful on a logarithmic axis,
        whose default labels crowd); default chosen by matplotlib.
    title : str, optional

    Returns
    -------
    Axes
    """
    data = _check_series(series)
    if transform not in ("value", "error"):
        raise ValueError(f"transform must be 'value' or 'error'; received {transform!r}")
    if band is not None and (not isinstance(band, tuple) or len(band) != 2
                             or not isinstance(band[1], Spread)):
        raise TypeError("band must be a pair (label, Spread)")

    def shown(mean: float) -> float:
        return 1.0 - mean if transform == "error" else mean

    ax = _new_axes(ax, figsize=(5.8, 3.8))
    if band is not None:
        label, s = band
        centre = shown(s.mean)
        ax.axhspan(centre - s.std, centre + s.std, color="0.85", zorder=0)
        ax.axhline(centre, color="0.35", linewidth=1.0, zorder=1,
                   label=f"{label} (mean ± std)")
    for i, (label, x, spreads) in enumerate(data):
        means = np.array([shown(s.mean) for s in spreads])
        stds = np.array([s.std for s in spreads])
        face = None if i == 0 else "white"
        ax.errorbar(x, means, yerr=stds, label=label, marker=MARKERS[i % len(MARKERS)],
                    markersize=6.5 if x.size == 1 else max(4.0, 6.5 - 0.8 * i),
                    markerfacecolor=face, capsize=3, zorder=2 + i)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if xticks is not None:
        ax.set_xticks(list(xticks), [f"{t:g}" for t in xticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
    if title:
        ax.set_title(title)
    ax.legend()
    return ax
