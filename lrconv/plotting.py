"""The book's figures, drawn in one house style.

Every figure helper applies :func:`house_style` while it draws, so figures look alike whether or
not a notebook called :func:`apply_style`. Colour maps are chosen to stay readable in grey scale:
signed data use ``"RdBu_r"`` with limits symmetric about zero and (for small arrays) the value
written in each cell; non-negative data use ``"gray"``.

Conventions: helpers that draw into one set of axes take ``ax=None`` and return the
:class:`~matplotlib.axes.Axes`; helpers that draw several panels return the
:class:`~matplotlib.figure.Figure`. End a notebook figure cell with ``plt.show()`` so that only
the picture is shown (a trailing ``;`` is not enough under nbval, whose kernel does not record
the cell in its history and so prints the returned object's repr).

Introduced in chapter 1; later chapters add their own helpers at the end of this module.
"""

from __future__ import annotations

import contextlib
import re
import textwrap
from collections.abc import Iterator, Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Polygon, Rectangle

from lrconv._validate import as_array, check_int, check_ndim, check_pair

__all__ = [
    "HOUSE_STYLE",
    "apply_style",
    "draw_box",
    "house_style",
    "plot_channels",
    "plot_convergence",
    "plot_curves",
    "plot_feature_map",
    "plot_filter_grid",
    "plot_kernel",
    "plot_matrix",
    "plot_patch_cube",
    "plot_rank_approximations",
    "plot_rank_error_curve",
    "plot_rank_outputs",
    "plot_singular_values",
    "plot_sliding_window",
    "plot_stage_diagram",
    "plot_toeplitz",
]

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
        return format(v, fmt)
    if np.isfinite(v) and float(v).is_integer():
        return f"{int(v)}"
    return f"{v:.2f}"


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


def plot_matrix(
    matrix: object,
    ax: Axes | None = None,
    *,
    annotate: bool = True,
    title: str | None = None,
    xlabel: str = "column",
    ylabel: str = "row",
    cmap: str | None = None,
    fmt: str | None = None,
    colorbar: bool = False,
    one_based: bool = False,
    limits: tuple[float, float] | None = None,
) -> Axes:
    """Heat map of a 2-D array, optionally with each value written in its cell (chapter 1).

    Signed arrays use ``"RdBu_r"`` with limits symmetric about zero, non-negative arrays
    ``"gray"``. Text is black on light cells and white on dark cells.

    Parameters
    ----------
    matrix : array_like, shape (rows, cols)
    ax : Axes, optional
        Axes to draw into; a new figure is made if omitted.
    annotate : bool
        Write the value of each cell in it.
    title, xlabel, ylabel : str
        Labels.
    cmap : str, optional
        Colour map; default chosen from the sign of the data.
    fmt : str, optional
        Format spec of the annotations; default: integers as integers, others with 2 decimals.
    colorbar : bool
        Add a colour bar.
    one_based : bool
        Number the ticks from 1 (as in the book's formulas) instead of 0.
    limits : (float, float), optional
        Colour limits ``(vmin, vmax)``, e.g. to share one scale between panels (chapter 3);
        default from the data.

    Returns
    -------
    Axes
    """
    arr = _as_2d(matrix, "matrix")
    with house_style():
        ax = _new_axes(ax)
        signed = _signed(arr)
        cmap = cmap or (SIGNED_CMAP if signed else UNSIGNED_CMAP)
        vmin, vmax = _limits(arr, symmetric=signed) if limits is None else limits
        im = ax.imshow(arr, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        rows, cols = arr.shape
        offset = 1 if one_based else 0
        if rows <= 12:
            ax.set_yticks(range(rows), [str(i + offset) for i in range(rows)])
        if cols <= 12:
            ax.set_xticks(range(cols), [str(j + offset) for j in range(cols)])
        if annotate:
            norm = mpl.colors.Normalize(vmin, vmax)
            colours = mpl.colormaps[cmap](norm(np.nan_to_num(arr)))
            lum = colours[..., :3] @ np.array([0.299, 0.587, 0.114])
            size = max(6.0, min(12.0, 60.0 / max(rows, cols)))
            for i in range(rows):
                for j in range(cols):
                    ax.text(j, i, _format_value(arr[i, j], fmt), ha="center", va="center",
                            fontsize=size, color="white" if lum[i, j] < 0.5 else "black")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        for spine in ax.spines.values():
            spine.set_visible(False)
        if colorbar:
            ax.figure.colorbar(im, ax=ax, shrink=0.8)
    return ax


def plot_kernel(
    kernel: object,
    ax: Axes | None = None,
    annotate: bool = True,
    title: str | None = "kernel K",
    *,
    fmt: str | None = None,
    cmap: str | None = None,
) -> Axes:
    """Heat map of a 2-D kernel ``(kh, kw)`` with its values written in the cells (chapter 1).

    Rows are numbered ``i = 1..kh`` and columns ``j = 1..kw`` as in the book's formulas.

    Returns
    -------
    Axes
    """
    arr = _as_2d(kernel, "kernel")
    with house_style():
        ax = _new_axes(ax, figsize=(0.9 * arr.shape[1] + 1.4, 0.9 * arr.shape[0] + 1.0))
        return plot_matrix(arr, ax, annotate=annotate, title=title, xlabel="column j",
                           ylabel="row i", cmap=cmap, fmt=fmt, one_based=True)


def plot_feature_map(
    feature_map: object,
    ax: Axes | None = None,
    *,
    title: str | None = "output feature map",
    annotate: bool | None = None,
    colorbar: bool = True,
    cmap: str | None = None,
    one_based: bool = False,
) -> Axes:
    """Show one output channel ``(H', W')`` of a convolution (chapter 1).

    Small maps (at most 8 x 8) get their values written in the cells unless ``annotate`` is
    False; larger maps get a colour bar. ``one_based`` numbers the ticks from 1.

    Returns
    -------
    Axes
    """
    arr = _as_2d(feature_map, "feature_map")
    if annotate is None:
        annotate = max(arr.shape) <= 8
    with house_style():
        ax = plot_matrix(arr, ax, annotate=annotate, title=title, xlabel="output column",
                         ylabel="output row", cmap=cmap, colorbar=colorbar and not annotate,
                         one_based=one_based)
        if max(arr.shape) > 12:
            ax.set_xlabel("output column (pixel)")
            ax.set_ylabel("output row (pixel)")
    return ax


def plot_channels(photo: object, *, titles: Sequence[str] = ("red", "green", "blue")) -> Figure:
    """The photo and each of its channels as a grey-scale image (chapter 1).

    Parameters
    ----------
    photo : array_like, shape (3, H, W)
        Channel-first RGB image with values in [0, 1] (as :func:`lrconv.data.sample_photo`).
    titles : sequence of 3 str
        Names of the channels.

    Returns
    -------
    Figure
        Four panels: the colour photo, then one panel per channel (white = intense).
    """
    arr = as_array(photo, "photo").astype(float)
    check_ndim(arr, "photo", (3,), "(channels, height, width)")
    if arr.shape[0] != 3:
        raise ValueError(f"photo must have 3 channels first (3, H, W); received shape {arr.shape}")
    if len(titles) != 3:
        raise ValueError(f"titles must name 3 channels; received {len(titles)}")
    with house_style():
        fig, axes = plt.subplots(1, 4, figsize=(11, 3.2), layout="constrained")
        axes[0].imshow(np.clip(np.moveaxis(arr, 0, -1), 0, 1))
        axes[0].set_title("photo (3 channels)")
        for ax, channel, name in zip(axes[1:], arr, titles, strict=True):
            ax.imshow(channel, cmap=UNSIGNED_CMAP, vmin=0, vmax=1)
            ax.set_title(f"{name} channel")
        for ax in axes:
            ax.set_xlabel("column (pixel)")
            for spine in ax.spines.values():
                spine.set_visible(False)
        axes[0].set_ylabel("row (pixel)")
    return fig


# --- boxes in an oblique projection (cube drawings) -------------------------------------------

_DEPTH = np.array([0.5, 0.35])  # screen offset of one unit of depth (channels go back and up)


def _project(w: float, h: float, c: float) -> np.ndarray:
    """Screen point of (column w, row h, channel c); rows grow downwards like an image."""
    return np.array([w, -h]) + c * _DEPTH


def draw_box(
    ax: Axes,
    origin: tuple[float, float, float],
    size: tuple[float, float, float],
    *,
    facecolor: str = BOX_COLOURS[0],
    edgecolor: str = "black",
    linewidth: float = 1.0,
    hatch: str | None = None,
    grid: bool = False,
    zorder: float = 1.0,
) -> list[Polygon]:
    """Draw a box of ``size = (width, height, depth)`` at ``origin = (w, h, c)`` (chapter 1).

    The box is drawn in an oblique projection: columns to the right, rows downwards, channels
    (depth) going back and up. Only the three visible faces (front, top, right) are drawn. With
    ``grid`` the front and top faces show unit cells.

    Returns
    -------
    list of Polygon
        The front, top and right faces.
    """
    w0, h0, c0 = origin
    dw, dh, dc = size
    p = _project
    front = [p(w0, h0, c0), p(w0 + dw, h0, c0), p(w0 + dw, h0 + dh, c0), p(w0, h0 + dh, c0)]
    top = [p(w0, h0, c0), p(w0 + dw, h0, c0), p(w0 + dw, h0, c0 + dc), p(w0, h0, c0 + dc)]
    right = [p(w0 + dw, h0, c0), p(w0 + dw, h0 + dh, c0), p(w0 + dw, h0 + dh, c0 + dc),
             p(w0 + dw, h0, c0 + dc)]
    shade = mpl.colors.to_rgb(facecolor)
    faces = []
    for corners, factor in ((front, 1.0), (top, 0.92), (right, 0.8)):
        colour = tuple(factor * s for s in shade)
        poly = Polygon(corners, closed=True, facecolor=colour, edgecolor=edgecolor,
                       linewidth=linewidth, hatch=hatch, zorder=zorder)
        ax.add_patch(poly)
        faces.append(poly)
    if grid:
        kw = {"color": edgecolor, "linewidth": 0.4 * linewidth, "linestyle": "-",
              "zorder": zorder + 0.01}
        for k in range(1, int(round(dw))):
            a, b = p(w0 + k, h0, c0), p(w0 + k, h0 + dh, c0)
            ax.plot(*np.transpose([a, b]), **kw)
            a, b = p(w0 + k, h0, c0), p(w0 + k, h0, c0 + dc)
            ax.plot(*np.transpose([a, b]), **kw)
        for k in range(1, int(round(dh))):
            a, b = p(w0, h0 + k, c0), p(w0 + dw, h0 + k, c0)
            ax.plot(*np.transpose([a, b]), **kw)
        for k in range(1, int(round(dc))):
            a, b = p(w0, h0, c0 + k), p(w0 + dw, h0, c0 + k)
            ax.plot(*np.transpose([a, b]), **kw)
            a, b = p(w0 + dw, h0, c0 + k), p(w0 + dw, h0 + dh, c0 + k)
            ax.plot(*np.transpose([a, b]), **kw)
    return faces


def plot_patch_cube(
    input_shape: tuple[int, int, int] = (3, 7, 7),
    kernel_size: int | tuple[int, int] = 3,
    position: tuple[int, int] = (0, 0),
    *,
    stride: int | tuple[int, int] = 1,
    ax: Axes | None = None,
) -> Axes:
    """The input cube, one ``C_in x kh x kw`` patch of it, and the one output number it gives.

    Introduced in chapter 1. The input of shape ``(C_in, H, W)`` is drawn as a box of unit cells,
    the patch at output ``position = (row, column)`` as a darker box inside it, and the output
    feature map (one channel, valid convolution) to the right with the matching cell filled.

    Returns
    -------
    Axes
    """
    if not (isinstance(input_shape, (tuple, list)) and len(input_shape) == 3):
        raise TypeError(f"input_shape must be a triple (C_in, H, W); received {input_shape!r}")
    c = check_int(input_shape[0], "input_shape[0]", 1)
    h = check_int(input_shape[1], "input_shape[1]", 1)
    w = check_int(input_shape[2], "input_shape[2]", 1)
    kh, kw = check_pair(kernel_size, "kernel_size", 1)
    sh, sw = check_pair(stride, "stride", 1)
    if kh > h or kw > w:
        raise ValueError(f"kernel_size ({kh}, {kw}) is larger than the input ({h}, {w})")
    h_out, w_out = (h - kh) // sh + 1, (w - kw) // sw + 1
    i, j = check_pair(position, "position", 0)
    if i >= h_out or j >= w_out:
        raise ValueError(f"position ({i}, {j}) is outside the output of shape ({h_out}, {w_out})")
    with house_style():
        ax = _new_axes(ax, figsize=(8.0, 4.2))
        draw_box(ax, (0, 0, 0), (w, h, c), grid=True, facecolor=BOX_COLOURS[0])
        r0, c0 = i * sh, j * sw
        draw_box(ax, (c0, r0, 0), (kw, kh, c), facecolor=BOX_COLOURS[1], linewidth=2.0,
                 hatch="//", zorder=2)
        gap = 3.0 + c * _DEPTH[0]
        x_out = w + gap
        draw_box(ax, (x_out, 0, 0), (w_out, h_out, 1), grid=True, facecolor=BOX_COLOURS[0])
        draw_box(ax, (x_out + j, i, 0), (1, 1, 1), facecolor=BOX_COLOURS[2], linewidth=2.0,
                 zorder=2)
        start = _project(c0 + kw, r0 + kh / 2, c / 2)
        end = _project(x_out + j, i + 0.5, 0.5)
        ax.add_patch(FancyArrowPatch(tuple(start), tuple(end), arrowstyle="-|>",
                                     mutation_scale=15, linewidth=1.5, color="black", zorder=3))
        ax.annotate(f"input  $C_{{in}} \\times H \\times W$ = {c} x {h} x {w}",
                    _project(w / 2, h + 0.6, 0), ha="center", va="top")
        ax.annotate(f"patch  {c} x {kh} x {kw}\n({c * kh * kw} numbers)",
                    _project(c0 + kw / 2, -0.3, c), ha="center", va="bottom")
        ax.annotate(f"output  {h_out} x {w_out}", _project(x_out + w_out / 2, h_out + 0.6, 0),
                    ha="center", va="top")
        ax.annotate("one number", _project(x_out + j + 0.5, -0.3, 1), ha="center", va="bottom")
        right = max(_project(x_out + w_out, 0, 1)[0], _project(w, 0, c)[0])
        ax.set_xlim(-0.8, right + 0.8)
        ax.set_ylim(-(h + 2.0), _project(0, -1.5, c)[1] + 0.5)
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title("one output number from one patch of the input cube")
    return ax


def plot_sliding_window(
    input_shape: tuple[int, int] = (5, 5),
    kernel_size: int | tuple[int, int] = 3,
    *,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    positions: Sequence[tuple[int, int]] | None = None,
) -> Figure:
    """The window sliding over a (zero-padded) input, and the output cells it fills (chapter 1).

    One panel per output ``position`` shows the padded input grid (padding cells shaded and marked
    0), the window outlined at that position, and its top-left corner; a last panel shows the
    output grid with the shown positions filled.

    Parameters
    ----------
    input_shape : (H, W)
    kernel_size : int or (kh, kw)
    stride, padding : int or (h, w) pair
    positions : sequence of (row, column), optional
        Output positions to draw; default: the first (up to three) positions of the first row.

    Returns
    -------
    Figure
    """
    h, w = check_pair(tuple(input_shape), "input_shape", 1)
    kh, kw = check_pair(kernel_size, "kernel_size", 1)
    sh, sw = check_pair(stride, "stride", 1)
    ph, pw = check_pair(padding, "padding", 0)
    hp, wp = h + 2 * ph, w + 2 * pw
    if kh > hp or kw > wp:
        raise ValueError(f"kernel_size ({kh}, {kw}) is larger than the padded input ({hp}, {wp})")
    h_out, w_out = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    if positions is None:
        positions = [(0, j) for j in range(min(3, w_out))]
    positions = [check_pair(tuple(p), "positions[k]", 0) for p in positions]
    for i, j in positions:
        if i >= h_out or j >= w_out:
            raise ValueError(f"position ({i}, {j}) is outside the output ({h_out}, {w_out})")
    n = len(positions) + 1
    with house_style():
        ratios = [wp] * (n - 1) + [max(w_out, 0.6 * wp)]
        fig, axes = plt.subplots(1, n, figsize=(0.33 * sum(ratios) + 0.8 * n, 0.33 * hp + 1.4),
                                 layout="constrained", gridspec_kw={"width_ratios": ratios})
        for ax, (i, j) in zip(axes[:-1], positions, strict=True):
            _draw_grid(ax, hp, wp, ph, pw)
            ax.add_patch(Rectangle((j * sw - 0.5, i * sh - 0.5), kw, kh, fill=False,
                                   edgecolor=BOX_COLOURS[2], linewidth=3, zorder=3))
            ax.add_patch(Rectangle((j * sw - 0.5, i * sh - 0.5), kw, kh, facecolor="#969696",
                                   alpha=0.35, zorder=2))
            ax.set_title(f"output ({i}, {j})")
            ax.set_xlabel("padded column" if pw else "input column")
        axes[0].set_ylabel("padded row" if ph else "input row")
        out = axes[-1]
        _draw_grid(out, h_out, w_out, 0, 0)
        for i, j in positions:
            out.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=BOX_COLOURS[2], zorder=2))
        out.set_title(f"output {h_out} x {w_out}")
        out.set_xlabel("output column")
        out.set_ylabel("output row")
        fig.suptitle(f"input {h} x {w}, kernel {kh} x {kw}, stride {sh if sh == sw else (sh, sw)},"
                     f" padding {ph if ph == pw else (ph, pw)}")
    return fig


def _draw_grid(ax: Axes, rows: int, cols: int, pad_r: int, pad_c: int) -> None:
    """Unit cells of a rows x cols grid; the outer pad_r rows and pad_c columns shaded."""
    padded = np.zeros((rows, cols), dtype=bool)
    padded[:pad_r] = padded[rows - pad_r:] = True
    padded[:, :pad_c] = padded[:, cols - pad_c:] = True
    shades = mpl.colors.ListedColormap(["white", "#d9d9d9"])
    ax.imshow(padded, cmap=shades, vmin=0, vmax=1, zorder=0,
              extent=(-0.5, cols - 0.5, rows - 0.5, -0.5))
    ax.vlines(np.arange(cols + 1) - 0.5, -0.5, rows - 0.5, color="#737373", linewidth=0.6)
    ax.hlines(np.arange(rows + 1) - 0.5, -0.5, cols - 0.5, color="#737373", linewidth=0.6)
    for r, c in zip(*np.nonzero(padded), strict=True):
        ax.text(c, r, "0", ha="center", va="center", fontsize=7, color="#525252")
    ax.set_xlim(-0.55, cols - 0.45)
    ax.set_ylim(rows - 0.45, -0.55)
    ax.set_aspect("equal")
    if cols <= 12:
        ax.set_xticks(range(cols))
    if rows <= 12:
        ax.set_yticks(range(rows))
    for spine in ax.spines.values():
        spine.set_visible(False)


def plot_toeplitz(matrix: object, ax: Axes | None = None, *, annotate: bool | None = None,
                  title: str | None = None) -> Axes:
    """The matrix ``T`` of a convolution (``conv2d(X, K).ravel() == T @ X.ravel()``), chapter 1.

    Each row is one output position, each column one input pixel (row-major order). Zeros are
    white and left blank; non-zero entries are written in their cells (by default when the matrix
    has at most 600 entries), so the figure reads in grey scale too. The title reports how many
    entries are non-zero.

    Returns
    -------
    Axes
    """
    arr = _as_2d(matrix, "matrix")
    nnz = int(np.count_nonzero(arr))
    if title is None:
        title = f"{arr.shape[0]} x {arr.shape[1]} matrix, {nnz} of {arr.size} entries non-zero"
    if annotate is None:
        annotate = arr.size <= 600
    with house_style():
        rows, cols = arr.shape
        ax = _new_axes(ax, figsize=(max(4.0, 0.3 * cols + 1.5), max(2.0, 0.3 * rows + 1.2)))
        plot_matrix(arr, ax, annotate=False, title=title,
                    xlabel="input pixel (row-major index)", ylabel="output position",
                    cmap=SIGNED_CMAP)
        if annotate:
            vmax = float(np.max(np.abs(arr))) or 1.0
            for i, j in zip(*np.nonzero(arr), strict=True):
                ax.text(j, i, _format_value(arr[i, j], None), ha="center", va="center",
                        fontsize=7, color="white" if abs(arr[i, j]) > 0.6 * vmax else "black")
        step = 1 if cols <= 12 else 5
        ax.set_xticks(range(0, cols, step))
        ax.set_yticks(range(0, rows, 1 if rows <= 30 else 5))
        ax.set_aspect("equal")
    return ax


# --- chapter 3: singular values, rank-r approximations, truncation on an image ----------------


def _shared_heatmap(ax: Axes, arr: np.ndarray, limit: float, *, annotate: bool,
                    fmt: str | None = None, title: str | None = None) -> None:
    """A signed heat map with colour limits ``(-limit, limit)`` shared with other panels;
    rounding noise (below ``1e-12 * limit``) is shown as 0."""
    arr = np.where(np.abs(arr) < 1e-12 * limit, 0.0, arr)
    plot_matrix(arr, ax, annotate=annotate, title=title, xlabel="column j", ylabel="row i",
                cmap=SIGNED_CMAP, fmt=fmt, one_based=True, limits=(-limit, limit))


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
    with house_style():
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


def plot_rank_approximations(
    kernel: object, terms: Sequence[object], *, fmt: str | None = None
) -> Figure:
    """The rank-one terms of a kernel and their partial sums, side by side (chapter 3).

    Top row: the kernel ``K``, then each term ``sigma_k u_k v_k^T``. Bottom row: the rank-``k``
    approximation ``K_k`` (the sum of the first ``k`` terms) with its Frobenius error
    ``||K - K_k||_F`` in the title. All panels share one colour scale.

    Parameters
    ----------
    kernel : array_like, shape (kh, kw)
    terms : sequence of array_like, shape (kh, kw)
        The rank-one terms, largest singular value first (as from the kernel's SVD).
    fmt : str, optional
        Format of the values written in the cells (default: 2 decimals).

    Returns
    -------
    Figure
    """
    k = _as_2d(kernel, "kernel")
    if len(terms) == 0:
        raise ValueError("terms must hold at least one rank-one term")
    parts = [_as_2d(t, f"terms[{i}]") for i, t in enumerate(terms)]
    for i, t in enumerate(parts):
        if t.shape != k.shape:
            raise ValueError(f"terms[{i}] must have the kernel's shape {k.shape}; "
                             f"received {t.shape}")
    sums = np.cumsum(parts, axis=0)
    limit = float(max(np.max(np.abs(k)), np.max(np.abs(parts)), np.max(np.abs(sums)))) or 1.0
    annotate = max(k.shape) <= 4
    fmt = fmt or ".2f"
    n = len(parts)
    with house_style():
        fig, axes = plt.subplots(2, n + 1, figsize=(2.4 * (n + 1), 5.0), layout="constrained",
                                 squeeze=False)
        _shared_heatmap(axes[0, 0], k, limit, annotate=annotate, fmt=fmt, title="kernel K")
        axes[1, 0].set_axis_off()
        for i, (term, approx) in enumerate(zip(parts, sums, strict=True), start=1):
            _shared_heatmap(axes[0, i], term, limit, annotate=annotate, fmt=fmt,
                            title=f"term {i}: $\\sigma_{i} u_{i} v_{i}^T$")
            err = float(np.linalg.norm(k - approx))
            _shared_heatmap(axes[1, i], approx, limit, annotate=annotate, fmt=fmt,
                            title=f"rank {i}: error {err:.2f}")
    return fig


def plot_rank_outputs(
    reference: object,
    kernels: Sequence[object],
    outputs: Sequence[object],
    titles: Sequence[str],
) -> Figure:
    """Kernels, their outputs on an image, and each output's difference from ``reference``.

    Introduced in chapter 3. One row per kernel: its heat map, the output (grey, one scale for
    all rows) and the difference ``output - reference`` (signed, one scale for all rows), with the
    largest absolute difference in the title.

    Parameters
    ----------
    reference : array_like, shape (H', W')
        The output of the full kernel.
    kernels : sequence of array_like, shape (kh, kw)
    outputs : sequence of array_like, shape (H', W')
    titles : sequence of str
        Row labels, e.g. ``"rank 1"``.

    Returns
    -------
    Figure
    """
    ref = _as_2d(reference, "reference")
    if not (len(kernels) == len(outputs) == len(titles)) or len(kernels) == 0:
        raise ValueError(f"kernels, outputs and titles must have the same non-zero length; "
                         f"received {len(kernels)}, {len(outputs)}, {len(titles)}")
    ks = [_as_2d(k, f"kernels[{i}]") for i, k in enumerate(kernels)]
    outs = [_as_2d(o, f"outputs[{i}]") for i, o in enumerate(outputs)]
    for i, o in enumerate(outs):
        if o.shape != ref.shape:
            raise ValueError(f"outputs[{i}] must have the shape of reference {ref.shape}; "
                             f"received {o.shape}")
    klim = float(max(np.max(np.abs(k)) for k in ks)) or 1.0
    lo = float(min(ref.min(), *(o.min() for o in outs)))
    hi = float(max(ref.max(), *(o.max() for o in outs)))
    diffs = [o - ref for o in outs]
    dlim = float(max(np.max(np.abs(d)) for d in diffs)) or 1.0
    n = len(ks)
    with house_style():
        fig, axes = plt.subplots(n, 3, figsize=(9.0, 2.6 * n + 0.4), layout="constrained",
                                 squeeze=False, gridspec_kw={"width_ratios": [0.7, 1, 1]})
        for row, (k, o, d, t) in enumerate(zip(ks, outs, diffs, titles, strict=True)):
            _shared_heatmap(axes[row, 0], k, klim, annotate=max(k.shape) <= 3, fmt=".2f",
                            title=f"{t}: kernel")
            out_im = axes[row, 1].imshow(o, cmap=UNSIGNED_CMAP, vmin=lo, vmax=hi)
            axes[row, 1].set_title(f"{t}: output")
            diff_im = axes[row, 2].imshow(d, cmap=SIGNED_CMAP, vmin=-dlim, vmax=dlim)
            axes[row, 2].set_title(f"difference, max {np.max(np.abs(d)):.3g}")
            for ax in axes[row, 1:]:
                ax.set_xlabel("output column (pixel)")
                ax.set_ylabel("output row (pixel)")
                for spine in ax.spines.values():
                    spine.set_visible(False)
        # one colour bar per column: every row shares the scale
        fig.colorbar(out_im, ax=axes[:, 1], shrink=0.6, label="output")
        fig.colorbar(diff_im, ax=axes[:, 2], shrink=0.6, label="output - reference")
    return fig


def plot_rank_error_curve(
    ranks: Sequence[int],
    curves: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    *,
    ylabel: str = "error",
    title: str | None = None,
    logy: bool = False,
) -> Axes:
    """Errors against the rank kept, one line (with markers) per curve (chapter 3).

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
    markers = "osD^v"
    with house_style():
        ax = _new_axes(ax, figsize=(5.5, 3.6))
        for i, (label, values) in enumerate(curves.items()):
            y = as_array(values, f"curves[{label!r}]").astype(float)
            if y.shape != x.shape:
                raise ValueError(f"curves[{label!r}] must have one value per rank ({x.size}); "
                                 f"received shape {y.shape}")
            ax.plot(x, y, marker=markers[i % len(markers)], label=label)
        ax.set_xticks(x)
        ax.set_xlabel("rank kept r")
        ax.set_ylabel(ylabel)
        if logy:
            ax.set_yscale("log")
        if title:
            ax.set_title(title)
        ax.legend()
    return ax


# --- chapter 4: the stages of a factorized layer -----------------------------------------------


def plot_stage_diagram(stages: Sequence[object], *, title: str | None = None,
                       max_depth: float = 4.0, gap: float = 7.0) -> Figure:
    """Every tensor a factorized layer computes, as boxes, with the stage between each pair.

    Introduced in chapter 4. Each box is drawn with its true width and height (columns, rows) and
    its number of channels as depth (scaled so that the deepest is ``max_depth`` units); its shape
    ``C x H x W`` is written below it. Under each arrow: the stage's name, its parameters and its
    multiply-accumulates (MACs).

    Parameters
    ----------
    stages : sequence of StageCost
        As returned by :func:`lrconv.cost.cp_stage_costs` (or the Tucker-2 / per-slice
        versions): objects with ``name``, ``shape_in``, ``shape_out``, ``params`` and ``macs``.
    title : str, optional
    max_depth : float
        Drawn depth of the tensor with the most channels.
    gap : float
        Horizontal space between two boxes, in pixels of the drawn tensors.

    Returns
    -------
    Figure
    """
    if len(stages) == 0:
        raise ValueError("stages must hold at least one stage")
    for i, s in enumerate(stages):
        if not all(hasattr(s, a) for a in ("name", "shape_in", "shape_out", "params", "macs")):
            raise TypeError(f"stages[{i}] must have name, shape_in, shape_out, params and macs "
                            f"(a lrconv.cost.StageCost); received {type(s).__name__}")
    shapes = [tuple(stages[0].shape_in)] + [tuple(s.shape_out) for s in stages]
    scale = max_depth / max(c for c, _, _ in shapes)
    h_max = max(h for _, h, _ in shapes)
    with house_style():
        fig, ax = plt.subplots(figsize=(12.0, 3.6), layout="constrained")
        x, placed = 0.0, []
        for k, (c, h, w) in enumerate(shapes):
            depth = max(c * scale, 0.4)
            top = (h_max - h) / 2  # centre the boxes vertically
            colour = BOX_COLOURS[0] if k in (0, len(shapes) - 1) else BOX_COLOURS[1]
            draw_box(ax, (x, top, 0.0), (w, h, depth), facecolor=colour)
            ax.text(*_project(x + w / 2, top + h + 0.8, 0), f"{c} x {h} x {w}", ha="center",
                    va="top", fontsize=9)
            placed.append((x, w, depth))
            x += w + depth * _DEPTH[0] + gap
        y_mid = -h_max / 2
        for k, s in enumerate(stages):
            x0, w0, d0 = placed[k]
            start = np.array([x0 + w0 + d0 * _DEPTH[0] + 0.3, y_mid])
            end = np.array([placed[k + 1][0] - 0.3, y_mid])
            ax.add_patch(FancyArrowPatch(tuple(start), tuple(end), arrowstyle="-|>",
                                         mutation_scale=14, linewidth=1.4, color="black"))
            # keep "kh x 1" and the like on one line
            name = re.sub(r"(\w+) x (\w+)", "\\1\u00d7\\2", str(s.name))
            label = textwrap.fill(f"{k + 1}. {name}", 16)
            ax.text((start[0] + end[0]) / 2, y_mid + 0.5, label, ha="center", va="bottom",
                    fontsize=8)
            ax.text((start[0] + end[0]) / 2, y_mid - 0.5,
                    f"{s.params:,} params\n{s.macs:,} MACs", ha="center", va="top", fontsize=8)
        ax.autoscale_view()
        ax.margins(0.02, 0.25)
        ax.set_aspect("equal")
        ax.set_axis_off()
        if title:
            ax.set_title(title)
    return fig


# --- end of chapter 3/4 helpers (later chapters append below) -----------------------------


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


def plot_curves(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    ax: Axes | None = None,
    *,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    logy: bool = False,
    markers: bool = True,
    title: str | None = None,
) -> Axes:
    """One line per labelled ``(x, y)`` series, in the house style (chapter 5).

    Used for error against parameters, error against factor size, and similar trade-offs.

    Parameters
    ----------
    series : mapping of str to (x, y)
        Legend label to two equal-length 1-D sequences.
    ax : Axes, optional
    xlabel, ylabel : str
        Axis labels (say the unit).
    logx, logy : bool
        Logarithmic axes.
    markers : bool
        Mark each point (grey-scale readers tell the lines apart by marker and dash).
    title : str, optional

    Returns
    -------
    Axes
    """
    data = _series_xy(series, "series")
    symbols = "osD^v"
    with house_style():
        ax = _new_axes(ax, figsize=(5.5, 3.6))
        for i, (label, x, y) in enumerate(data):
            ax.plot(x, y, marker=symbols[i % len(symbols)] if markers else None, label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        if title:
            ax.set_title(title)
        if len(data) > 1:
            ax.legend()
    return ax


def plot_convergence(
    histories: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    *,
    ylabel: str = "relative error",
    logy: bool = True,
    title: str | None = None,
) -> Axes:
    """Error after each sweep of an iterative fit, one line per run (chapter 5).

    Parameters
    ----------
    histories : mapping of str to sequence of float
        Legend label to the values after sweeps 1, 2, ... (e.g. ``CPResult.errors``).
    ax : Axes, optional
    ylabel : str
    logy : bool
        Logarithmic y axis (the default: errors fall by orders of magnitude).
    title : str, optional

    Returns
    -------
    Axes
    """
    if not isinstance(histories, Mapping) or not histories:
        raise TypeError("histories must be a non-empty mapping of label to values")
    series = {}
    for label, values in histories.items():
        y = as_array(values, f"histories[{label!r}]").astype(float)
        check_ndim(y, f"histories[{label!r}]", (1,), "(n_sweeps,)")
        series[label] = (np.arange(1, y.size + 1), y)
    return plot_curves(series, ax, xlabel="sweep", ylabel=ylabel, logy=logy, markers=False,
                       title=title)


# --- chapter 7: a trained network -----------------------------------------------------------


def plot_filter_grid(
    filters: object,
    *,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    title: str | None = None,
    panel_size: float = 1.1,
) -> Figure:
    """Many small 2-D arrays (learned filters, or images) side by side on one scale (chapter 7).

    Signed data use ``"RdBu_r"`` with limits symmetric about zero (white is 0), non-negative data
    ``"gray"`` from 0 (black) to the largest value; one colour bar serves every panel.

    Parameters
    ----------
    filters : array_like, shape (n, h, w)
        The arrays, in reading order.
    titles : sequence of str, optional
        One short title per panel (e.g. a filter's index or an image's label).
    ncols : int
        Panels per row.
    title : str, optional
        Title of the whole figure.
    panel_size : float
        Width and height of one panel, in inches.

    Returns
    -------
    Figure
    """
    arr = as_array(filters, "filters").astype(float)
    check_ndim(arr, "filters", (3,), "(n, h, w)")
    n = arr.shape[0]
    if n == 0:
        raise ValueError("filters must hold at least one array")
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles must have one entry per filter ({n}); received {len(titles)}")
    ncols = check_int(ncols, "ncols", 1)
    cols = min(ncols, n)
    rows = -(-n // cols)
    signed = _signed(arr)
    cmap = SIGNED_CMAP if signed else UNSIGNED_CMAP
    vmin, vmax = _limits(arr, symmetric=True) if signed else (0.0, float(arr.max()) or 1.0)
    with house_style():
        fig, axes = plt.subplots(rows, cols, figsize=(panel_size * cols + 0.8,
                                                      panel_size * rows + 0.3),
                                 layout="constrained", squeeze=False)
        for k, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if k >= n:
                continue
            im = ax.imshow(arr[k], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            if titles is not None:
                ax.set_title(str(titles[k]), fontsize=8)
        fig.colorbar(im, ax=axes, shrink=0.8)
        if title:
            fig.suptitle(title)
    return fig
