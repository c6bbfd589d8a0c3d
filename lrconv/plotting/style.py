"""The house style: rcParams, colour maps, and the decorator every figure helper wears.

Colour maps are chosen to stay readable in grey scale: signed data use ``"RdBu_r"`` with limits
symmetric about zero, non-negative data ``"gray"``. Introduced in chapter 1.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from lrconv._validate import as_array, check_ndim

__all__ = [
    "BOX_COLOURS",
    "HOUSE_STYLE",
    "SIGNED_CMAP",
    "UNSIGNED_CMAP",
    "apply_style",
    "house_style",
    "styled",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: rcParams of the house style (chapter 1).
HOUSE_STYLE: dict[str, object] = {
    "figure.figsize": (6.0, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "axes.prop_cycle": mpl.cycler(
        color=["#1f1f1f", "#2166ac", "#b2182b", "#7f7f7f", "#4d9221"],
        linestyle=["-", "--", "-.", ":", "-"],
    ),
    "lines.linewidth": 1.8,
    "lines.markersize": 5,
    "image.cmap": "gray",
    "image.interpolation": "nearest",
    "legend.frameon": False,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
}

#: Colour map for signed values (kernels, feature maps with both signs).
SIGNED_CMAP = "RdBu_r"
#: Colour map for non-negative values (images, channels).
UNSIGNED_CMAP = "gray"
#: Face colours of boxes in the cube drawings, light to dark (grey-scale readable).
BOX_COLOURS = ("#f2f2f2", "#bdbdbd", "#636363")


@contextlib.contextmanager
def house_style() -> Iterator[None]:
    """Context manager that draws with the house style and restores the settings afterwards.

    Introduced in chapter 1. Only the style's own settings are restored on exit (unlike
    ``matplotlib.rc_context``, which would also reset the interactive mode that Jupyter's inline
    backend switches on when the first figure is drawn, and so hide every later figure).
    """
    saved = {key: mpl.rcParams[key] for key in HOUSE_STYLE}
    mpl.rcParams.update(HOUSE_STYLE)
    try:
        yield
    finally:
        mpl.rcParams.update(saved)


def apply_style() -> None:
    """Make the house style the default for the rest of the session (chapter 1).

    Figure helpers of this module use the style anyway; call this so that figures drawn
    directly with matplotlib in a notebook look the same.
    """
    mpl.rcParams.update(HOUSE_STYLE)


def styled(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorator: run a figure helper inside :func:`house_style` (chapter 1).

    Every public helper of :mod:`lrconv.plotting` wears it, so figures look alike whether or
    not a notebook called :func:`apply_style`.
    """

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with house_style():
            return func(*args, **kwargs)

    return wrapper


def _new_axes(ax: Axes | None, figsize: tuple[float, float] | None = None) -> Axes:
    if ax is not None:
        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes or None; received {type(ax).__name__}")
        return ax
    _, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


def _as_2d(value: object, name: str) -> np.ndarray:
    arr = as_array(value, name)
    check_ndim(arr, name, (2,), "(rows, columns)")
    return arr.astype(float)


def _format_value(v: float, fmt: str | None) -> str:
    if fmt is not None:
        text = format(v, fmt)
    elif np.isfinite(v) and float(v).is_integer():
        text = f"{int(v)}"
    else:
        text = f"{v:.2f}"
    # a tiny negative value rounds to "-0.00": show it as the zero it is
    return text[1:] if re.fullmatch(r"-0(\.0*)?(e[+-]?\d+)?", text) else text


def _signed(arr: np.ndarray) -> bool:
    finite = arr[np.isfinite(arr)]
    return finite.size > 0 and float(finite.min()) < 0


def _limits(arr: np.ndarray, symmetric: bool) -> tuple[float, float]:
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return -1.0, 1.0
    if symmetric:
        m = float(np.max(np.abs(finite))) or 1.0
        return -m, m
    lo, hi = float(finite.min()), float(finite.max())
    return (lo, hi) if hi > lo else (lo - 1.0, hi + 1.0)
