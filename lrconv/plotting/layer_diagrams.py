"""Diagrams of a factorized layer: its tensors and stages, and what each CP stage reads.

Introduced in chapter 4. Same oblique projection as :mod:`lrconv.plotting.diagrams`.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from lrconv._validate import check_int, check_pair
from lrconv.plotting.diagrams import _DEPTH, _project, draw_box
from lrconv.plotting.style import BOX_COLOURS, styled

__all__ = ["plot_cp_stage_reads", "plot_stage_diagram"]


@styled
def plot_stage_diagram(stages: Sequence[object], *, title: str | None = None,
                       max_depth: float = 4.0, gap: float = 9.0) -> Figure:
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
    fig, ax = plt.subplots(figsize=(12.0, 4.2), layout="constrained")
    x, placed = 0.0, []
    for k, (c, h, w) in enumerate(shapes):
        depth = max(c * scale, 0.4)
        top = (h_max - h) / 2  # centre the boxes vertically
        colour = BOX_COLOURS[0] if k in (0, len(shapes) - 1) else BOX_COLOURS[1]
        draw_box(ax, (x, top, 0.0), (w, h, depth), facecolor=colour)
        ax.text(*_project(x + w / 2, top + h + 0.8, 0), f"{c} x {h} x {w}", ha="center",
                va="top", fontsize=10)
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
                fontsize=10)
        ax.text((start[0] + end[0]) / 2, y_mid - 0.5,
                f"{s.params:,} params\n{s.macs:,} MACs", ha="center", va="top", fontsize=10)
    ax.autoscale_view()
    ax.margins(0.02, 0.25)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def _stage_panel(ax: Axes, shape_in: tuple[int, int, int], read: tuple[tuple[int, int, int],
                 tuple[int, int, int]], shape_out: tuple[int, int, int],
                 made: tuple[int, int, int], names: tuple[str, str], title: str) -> None:
    """One stage: the tensor read (read region hatched), an arrow, the tensor made (one cell)."""
    c, h, w = shape_in
    (c0, r0, q0), (dc, dr, dq) = read
    draw_box(ax, (0, 0, 0), (w, h, c), grid=True, facecolor=BOX_COLOURS[0])
    draw_box(ax, (q0, r0, c0), (dq, dr, dc), facecolor=BOX_COLOURS[1], linewidth=2.0,
             hatch="//", zorder=2)
    co, ho, wo = shape_out
    x_out = w + 2.5 + c * _DEPTH[0]
    draw_box(ax, (x_out, 0, 0), (wo, ho, co), grid=True, facecolor=BOX_COLOURS[0])
    mc, mr, mq = made
    draw_box(ax, (x_out + mq, mr, mc), (1, 1, 1), facecolor=BOX_COLOURS[2], linewidth=2.0,
             zorder=2)
    start = _project(q0 + dq, r0 + dr / 2, c0 + dc / 2)
    end = _project(x_out + mq, mr + 0.5, mc + 0.5)
    ax.add_patch(FancyArrowPatch(tuple(start), tuple(end), arrowstyle="-|>", mutation_scale=14,
                                 linewidth=1.4, color="black", zorder=3))
    n_read = dc * dr * dq
    ax.text(*_project(w / 2, h + 0.5, 0), f"{names[0]}  {c} x {h} x {w}", ha="center",
            va="top", fontsize=9)
    ax.text(*_project(x_out + wo / 2, ho + 0.5, 0), f"{names[1]}  {co} x {ho} x {wo}",
            ha="center", va="top", fontsize=9)
    ax.text(*_project((w + x_out) / 2 + 0.5, -0.6, c), f"{n_read} numbers \u2192 1", ha="center",
            va="bottom", fontsize=9)
    right = max(_project(x_out + wo, 0, co)[0], _project(w, 0, c)[0])
    ax.set_xlim(-0.6, right + 0.6)
    ax.set_ylim(-(max(h, ho) + 1.6), _project(0, -1.6, max(c, co))[1] + 0.3)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)


@styled
def plot_cp_stage_reads(
    input_shape: tuple[int, int, int] = (3, 6, 6),
    *,
    rank: int = 2,
    c_out: int = 3,
    kernel_size: int | tuple[int, int] = 3,
    position: tuple[int, int] = (1, 1),
) -> Figure:
    """What each of the four stages of a CP layer reads to make one number (chapter 4).

    Four panels, drawn like :func:`lrconv.plotting.plot_patch_cube`: the tensor a stage reads,
    the part it reads (hatched) and the one number it makes (dark cell) in the next tensor.
    Stage 1 (1 x 1, ``C_in -> R``) reads a column through the input's channels; stage 2 (``k_h
    x 1``, one filter per channel) a tall strip of one channel; stage 3 (``1 x k_w``) a wide
    strip of one channel; stage 4 (1 x 1, ``R -> C_out``) a column through the ``R`` channels.
    Stride 1, no padding; the strips are drawn in the front channel.

    Parameters
    ----------
    input_shape : (C_in, H, W)
    rank : int
        The CP rank ``R``.
    c_out : int
        Output channels.
    kernel_size : int or (kh, kw)
    position : (row, column)
        The output position followed through the stages, counted from 0.

    Returns
    -------
    Figure
    """
    if not (isinstance(input_shape, (tuple, list)) and len(input_shape) == 3):
        raise TypeError(f"input_shape must be a triple (C_in, H, W); received {input_shape!r}")
    c_in, h, w = (check_int(v, f"input_shape[{k}]", 1) for k, v in enumerate(input_shape))
    rank = check_int(rank, "rank", 1)
    c_out = check_int(c_out, "c_out", 1)
    kh, kw = check_pair(kernel_size, "kernel_size", 1)
    if kh > h or kw > w:
        raise ValueError(f"kernel_size ({kh}, {kw}) is larger than the input ({h}, {w})")
    h1, w1 = h - kh + 1, w - kw + 1
    p, q = check_pair(position, "position", 0)
    if p >= h1 or q >= w1:
        raise ValueError(f"position ({p}, {q}) is outside the output of shape ({h1}, {w1})")
    fig, axes = plt.subplots(2, 2, figsize=(11.0, 7.0), layout="constrained")
    _stage_panel(axes[0, 0], (c_in, h, w), ((0, p, q), (c_in, 1, 1)), (rank, h, w), (0, p, q),
                 ("input X", "Z1"), f"stage 1: 1 x 1, {c_in} \u2192 {rank} channels:\n"
                 "a column through all channels")
    _stage_panel(axes[0, 1], (rank, h, w), ((0, p, q), (1, kh, 1)), (rank, h1, w), (0, p, q),
                 ("Z1", "Z2"), f"stage 2: {kh} x 1, one filter per channel:\n"
                 "a tall strip of one channel")
    _stage_panel(axes[1, 0], (rank, h1, w), ((0, p, q), (1, 1, kw)), (rank, h1, w1), (0, p, q),
                 ("Z2", "Z3"), f"stage 3: 1 x {kw}, one filter per channel:\n"
                 "a wide strip of one channel")
    _stage_panel(axes[1, 1], (rank, h1, w1), ((0, p, q), (rank, 1, 1)), (c_out, h1, w1),
                 (0, p, q), ("Z3", "output Y"), f"stage 4: 1 x 1, {rank} \u2192 {c_out} channels:\n"
                 "a column through all channels again")
    return fig
