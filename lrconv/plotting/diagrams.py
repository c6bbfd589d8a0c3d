"""Diagrams: boxes in an oblique projection, the patch cube, the sliding window, layer stages.

Columns go to the right, rows downwards (as in an image), channels (depth) back and up.
Introduced in chapter 1 (patch and window) and chapter 2 (the hand procedure); the stages of a
factorized layer are in :mod:`lrconv.plotting.layer_diagrams`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Polygon, Rectangle

from lrconv._validate import as_array, check_int, check_pair
from lrconv.plotting.style import BOX_COLOURS, _new_axes, styled

__all__ = [
    "draw_box",
    "plot_patch_cube",
    "plot_hand_procedure",
    "plot_sliding_window",
]


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


@styled
def plot_patch_cube(
    input_shape: tuple[int, int, int] = (3, 7, 7),
    ax: Axes | None = None,
    *,
    kernel_size: int | tuple[int, int] = 3,
    position: tuple[int, int] = (0, 0),
    stride: int | tuple[int, int] = 1,
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


@styled
def plot_sliding_window(
    input_shape: tuple[int, int] = (5, 5),
    *,
    kernel_size: int | tuple[int, int] = 3,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    positions: Sequence[tuple[int, int]] | None = None,
) -> Figure:
    """The window sliding over a (zero-padded) input, and the output cells it fills (chapter 1).

    One panel per output ``position`` shows the padded input grid (padding cells shaded and marked
    0) with the window outlined and numbered; a last panel shows the output grid with the cell
    each window makes filled and carrying the same number. Ticks count from 1, as the book's
    formulas do (padding rows and columns are 0 and ``n + 1``).

    Parameters
    ----------
    input_shape : (H, W)
    kernel_size : int or (kh, kw)
    stride, padding : int or (h, w) pair
    positions : sequence of (row, column), optional
        Output positions to draw, counted from 0 as in numpy; default: the first (up to three)
        positions of the first row.

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
    ratios = [wp] * (n - 1) + [max(w_out, 0.6 * wp)]
    fig, axes = plt.subplots(1, n, figsize=(0.33 * sum(ratios) + 0.8 * n, 0.33 * hp + 1.4),
                             layout="constrained", gridspec_kw={"width_ratios": ratios})
    label_box = {"boxstyle": "circle,pad=0.2", "facecolor": "white", "edgecolor": "black"}
    for k, (ax, (i, j)) in enumerate(zip(axes[:-1], positions, strict=True), start=1):
        _draw_grid(ax, hp, wp, ph, pw)
        ax.add_patch(Rectangle((j * sw - 0.5, i * sh - 0.5), kw, kh, fill=False,
                               edgecolor=BOX_COLOURS[2], linewidth=3, zorder=3))
        ax.add_patch(Rectangle((j * sw - 0.5, i * sh - 0.5), kw, kh, facecolor="#969696",
                               alpha=0.35, zorder=2))
        ax.text(j * sw + (kw - 1) / 2, i * sh + (kh - 1) / 2, str(k), ha="center",
                va="center", fontsize=10, fontweight="bold", bbox=label_box, zorder=4)
        ax.set_title(f"window {k} makes output ({i + 1}, {j + 1})", fontsize=9)
        ax.set_xlabel("input column (0: padding)" if pw else "input column")
    axes[0].set_ylabel("input row (0: padding)" if ph else "input row")
    out = axes[-1]
    _draw_grid(out, h_out, w_out, 0, 0)
    for k, (i, j) in enumerate(positions, start=1):
        out.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=BOX_COLOURS[2],
                                edgecolor="white", zorder=2))
        out.text(j, i, str(k), ha="center", va="center", fontsize=10, fontweight="bold",
                 color="white", zorder=3)
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
    # 1-based labels as in the book's formulas; padding rows and columns get 0 and n + 1
    if cols <= 12:
        ax.set_xticks(range(cols), [str(c - pad_c + 1) for c in range(cols)])
    if rows <= 12:
        ax.set_yticks(range(rows), [str(r - pad_r + 1) for r in range(rows)])
    for spine in ax.spines.values():
        spine.set_visible(False)


# --- chapter 2: the hand procedure on one window ----------------------------------------------


def _g(value: float) -> str:
    """A number as short as it goes, without the sign of a negative zero."""
    text = format(float(value), "g")
    return "0" if text == "-0" else text


def _listed(values: np.ndarray) -> str:
    return ", ".join(_g(v) for v in values)


def _cells(ax: Axes, x0: float, y0: float, values: np.ndarray, *,
           shade: np.ndarray | None = None) -> None:
    """Unit cells at (x0, y0) downwards with values written in them; ``shade`` marks the cells
    read (grey), the others are written in light grey italics."""
    rows, cols = values.shape
    for r in range(rows):
        for c in range(cols):
            dark = shade is not None and bool(shade[r, c])
            unread = shade is not None and not dark
            ax.add_patch(Rectangle((x0 + c, y0 + r), 1, 1, facecolor=BOX_COLOURS[1] if dark
                                   else "white", edgecolor="black", linewidth=1.0, zorder=1))
            ax.text(x0 + c + 0.5, y0 + r + 0.5, _g(values[r, c]), ha="center", va="center",
                    fontsize=11, zorder=2, color="#969696" if unread else "black",
                    fontstyle="italic" if unread else "normal")


def _arrow(ax: Axes, x0: float, x1: float, y: float) -> None:
    ax.add_patch(FancyArrowPatch((x0, y), (x1, y), arrowstyle="-|>", mutation_scale=14,
                                 linewidth=1.4, color="black"))


@styled
def plot_hand_procedure(patch: object, a: object, b: object) -> Figure:
    """The hand procedure of the blog post against the correct separable step (chapter 2).

    Top row: the post's step 1 scales ``b`` by each entry of the window's first row and adds
    the three vectors (the other rows are never read); its step 2 takes the inner product with
    ``a``. Bottom row: the correct step 1 takes the inner product of ``b`` with every row of
    the window (a horizontal pass), and step 2 combines the three results with ``a`` (a
    vertical pass). Cells a step reads are grey; cells it never reads are written in light
    grey italics.

    Parameters
    ----------
    patch : array_like, shape (3, 3)
        The window, e.g. the top-left 3 x 3 corner of the example's input.
    a, b : array_like, shape (3,)
        The vertical and horizontal filters, ``K = a b^T``.

    Returns
    -------
    Figure
    """
    w = _as_int_or_float(patch, "patch", (3, 3))
    a_ = _as_int_or_float(a, "a", (3,))
    b_ = _as_int_or_float(b, "b", (3,))
    post_terms = [w[0, j] * b_ for j in range(3)]
    post_step1 = np.sum(post_terms, axis=0)
    right_step1 = w @ b_
    results = (float(a_ @ post_step1), float(a_ @ right_step1))
    fig, axes = plt.subplots(2, 1, figsize=(10.0, 6.0), layout="constrained")
    read_row1 = np.zeros((3, 3), dtype=bool)
    read_row1[0] = True
    for ax in axes:
        ax.set_xlim(-0.3, 19.5)
        ax.set_ylim(4.3, -1.3)
        ax.set_aspect("equal")
        ax.set_axis_off()
    # the post: row 1 only, b scaled by its entries and added
    top = axes[0]
    _cells(top, 0, 0, w, shade=read_row1)
    top.text(1.5, -0.5, "window (rows 2, 3 never read)", ha="center", fontsize=9)
    _arrow(top, 3.3, 4.3, 1.5)
    for k, term in enumerate(post_terms):
        x = 4.8 + 2.2 * k
        _cells(top, x, 0, term[:, None])
        top.text(x + 0.5, -0.5, f"{_g(w[0, k])} b1", ha="center", fontsize=10)
        top.text(x + 1.6, 1.5, "+" if k < 2 else "=", ha="center", va="center", fontsize=14)
    _cells(top, 11.4, 0, post_step1[:, None], shade=np.ones((3, 1), dtype=bool))
    top.text(11.9, -0.5, "step 1", ha="center", fontsize=10, fontweight="bold")
    _arrow(top, 12.7, 13.7, 1.5)
    top.text(14.0, 1.5, f"step 2:  a1 \u00b7 ({_listed(post_step1)}) = {_g(results[0])}",
             va="center", fontsize=11)
    top.set_title("the post's step 1: b1 scaled by the entries of row 1, added", fontsize=11)
    # the correct steps: b against every row, then a down the column of results
    low = axes[1]
    _cells(low, 0, 0, w, shade=np.ones((3, 3), dtype=bool))
    low.text(1.5, -0.5, "window (every row read)", ha="center", fontsize=9)
    _arrow(low, 3.3, 4.3, 1.5)
    for r in range(3):
        low.text(4.8, r + 0.5, f"row {r + 1} \u00b7 b1 =", va="center", fontsize=10)
    _cells(low, 7.6, 0, right_step1[:, None], shade=np.ones((3, 1), dtype=bool))
    low.text(8.1, -0.5, "step 1", ha="center", fontsize=10, fontweight="bold")
    _arrow(low, 8.9, 9.9, 1.5)
    low.text(10.2, 1.5, f"step 2:  a1 \u00b7 ({_listed(right_step1)}) = {_g(results[1])}",
             va="center", fontsize=11)
    low.set_title("the corrected step 1: b1 dotted with each row (a horizontal pass)",
                  fontsize=11)
    return fig


def _as_int_or_float(value: object, name: str, shape: tuple[int, ...]) -> np.ndarray:
    arr = as_array(value, name).astype(float)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; received {arr.shape}")
    return arr
