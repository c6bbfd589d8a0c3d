"""Diagrams: boxes in an oblique projection, the patch cube, the sliding window, layer stages.

Columns go to the right, rows downwards (as in an image), channels (depth) back and up.
Introduced in chapter 1 (patch and window) and chapter 4 (stages of a factorized layer).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Polygon, Rectangle

from lrconv._validate import check_int, check_pair
from lrconv.plotting.style import BOX_COLOURS, _new_axes, styled

__all__ = [
    "draw_box",
    "plot_patch_cube",
    "plot_sliding_window",
    "plot_stage_diagram",
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



# --- chapter 4: the stages of a factorized layer -----------------------------------------------


@styled
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
