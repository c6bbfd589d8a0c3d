"""Heat maps: matrices, kernels, feature maps, photos, rank-r approximations, filter grids.

Small arrays get each value written in its cell (black on light cells, white on dark ones), so the
figures read in grey scale; larger ones get a labelled colour bar. Introduced in chapter 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lrconv._validate import as_array, check_int, check_ndim
from lrconv.plotting.style import (
    SIGNED_CMAP,
    UNSIGNED_CMAP,
    _as_2d,
    _format_value,
    _limits,
    _new_axes,
    _signed,
    styled,
)

__all__ = [
    "plot_channels",
    "plot_feature_map",
    "plot_filter_grid",
    "plot_kernel",
    "plot_matrix",
    "plot_rank_approximations",
    "plot_rank_outputs",
    "plot_toeplitz",
]


def _pixel_extent(shape: tuple[int, ...]) -> tuple[float, float, float, float]:
    """imshow extent that centres pixel (i, j) on (j + 1, i + 1): axes count pixels from 1."""
    rows, cols = shape[-2], shape[-1]
    return (0.5, cols + 0.5, rows + 0.5, 0.5)


@styled
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
    colorbar_label: str = "value",
    one_based: bool = False,
    limits: tuple[float, float] | None = None,
    fontsize: float | None = None,
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
    colorbar_label : str
        What the colours mean (the colour bar's label).
    one_based : bool
        Number rows and columns from 1 (as in the book's formulas) instead of 0; for large
        arrays this numbers the pixels from 1 as well.
    limits : (float, float), optional
        Colour limits ``(vmin, vmax)``, e.g. to share one scale between panels (chapter 3);
        default from the data.
    fontsize : float, optional
        Size of the values written in the cells; default from the array's size.

    Returns
    -------
    Axes
    """
    arr = _as_2d(matrix, "matrix")
    ax = _new_axes(ax)
    signed = _signed(arr)
    cmap = cmap or (SIGNED_CMAP if signed else UNSIGNED_CMAP)
    vmin, vmax = _limits(arr, symmetric=signed) if limits is None else limits
    rows, cols = arr.shape
    offset = 1 if one_based else 0
    # with one_based, cell (i, j) is centred on (j + 1, i + 1): every tick counts from 1
    im = ax.imshow(arr, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest",
                   extent=_pixel_extent(arr.shape) if one_based else None)
    if rows <= 12:
        ax.set_yticks([i + offset for i in range(rows)], [str(i + offset) for i in range(rows)])
    if cols <= 12:
        ax.set_xticks([j + offset for j in range(cols)], [str(j + offset) for j in range(cols)])
    if annotate:
        norm = mpl.colors.Normalize(vmin, vmax)
        colours = mpl.colormaps[cmap](norm(np.nan_to_num(arr)))
        lum = colours[..., :3] @ np.array([0.299, 0.587, 0.114])
        size = fontsize or max(6.0, min(12.0, 60.0 / max(rows, cols)))
        for i in range(rows):
            for j in range(cols):
                ax.text(j + offset, i + offset, _format_value(arr[i, j], fmt), ha="center",
                        va="center", fontsize=size,
                        color="white" if lum[i, j] < 0.5 else "black")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, shrink=0.8, label=colorbar_label)
    return ax


@styled
def plot_kernel(
    kernel: object,
    ax: Axes | None = None,
    *,
    annotate: bool = True,
    title: str | None = "kernel K",
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
    ax = _new_axes(ax, figsize=(0.9 * arr.shape[1] + 1.4, 0.9 * arr.shape[0] + 1.0))
    return plot_matrix(arr, ax, annotate=annotate, title=title, xlabel="column j",
                       ylabel="row i", cmap=cmap, fmt=fmt, one_based=True)


@styled
def plot_feature_map(
    feature_map: object,
    ax: Axes | None = None,
    *,
    title: str | None = "output feature map",
    annotate: bool | None = None,
    colorbar: bool = True,
    colorbar_label: str = "output value",
    cmap: str | None = None,
    one_based: bool = True,
) -> Axes:
    """Show one output channel ``(H', W')`` of a convolution (chapter 1).

    Small maps (at most 8 x 8) get their values written in the cells unless ``annotate`` is
    False; larger maps get a colour bar labelled ``colorbar_label``. Rows and columns are
    numbered from 1, as in the book's formulas (``one_based=False`` numbers them from 0).

    Returns
    -------
    Axes
    """
    arr = _as_2d(feature_map, "feature_map")
    if annotate is None:
        annotate = max(arr.shape) <= 8
    ax = plot_matrix(arr, ax, annotate=annotate, title=title, xlabel="output column",
                     ylabel="output row", cmap=cmap, colorbar=colorbar and not annotate,
                     colorbar_label=colorbar_label, one_based=one_based)
    if max(arr.shape) > 12:
        ax.set_xlabel("output column (pixel)")
        ax.set_ylabel("output row (pixel)")
    return ax


@styled
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
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.2), layout="constrained")
    axes[0].imshow(np.clip(np.moveaxis(arr, 0, -1), 0, 1), extent=_pixel_extent(arr.shape))
    axes[0].set_title("photo (3 channels)")
    for ax, channel, name in zip(axes[1:], arr, titles, strict=True):
        ax.imshow(channel, cmap=UNSIGNED_CMAP, vmin=0, vmax=1, extent=_pixel_extent(arr.shape))
        ax.set_title(f"{name} channel")
    for ax in axes:
        ax.set_xlabel("column (pixel)")
        for spine in ax.spines.values():
            spine.set_visible(False)
    axes[0].set_ylabel("row (pixel)")
    return fig



@styled
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
    rows, cols = arr.shape
    ax = _new_axes(ax, figsize=(max(4.0, 0.3 * cols + 1.5), max(2.0, 0.3 * rows + 1.2)))
    plot_matrix(arr, ax, annotate=False, title=title,
                xlabel="input pixel (row-major index, from 1)", ylabel="output position",
                cmap=SIGNED_CMAP, one_based=True)
    if annotate:
        vmax = float(np.max(np.abs(arr))) or 1.0
        for i, j in zip(*np.nonzero(arr), strict=True):
            ax.text(j + 1, i + 1, _format_value(arr[i, j], None), ha="center", va="center",
                    fontsize=7, color="white" if abs(arr[i, j]) > 0.6 * vmax else "black")
    step = 1 if cols <= 12 else 5
    ax.set_xticks(range(1, cols + 1, step))
    ax.set_yticks(range(1, rows + 1, 1 if rows <= 30 else 5))
    ax.set_aspect("equal")
    return ax


# --- chapter 3: singular values, rank-r approximations, truncation on an image ----------------


def _snap(a: np.ndarray, scale: float) -> np.ndarray:
    """``a`` rounded to a multiple of ``1e-12 * scale`` (and ``-0`` made ``0``).

    Round-off differs between processors; snapped, the values of a figure (an exact rank's
    difference, a flat region, a value on a colour boundary) draw the same pixels everywhere.
    """
    step = 1e-12 * scale
    return np.round(a / step) * step + 0.0


def _shared_heatmap(ax: Axes, arr: np.ndarray, limit: float, *, annotate: bool,
                    fmt: str | None = None, title: str | None = None,
                    fontsize: float | None = None) -> None:
    """A signed heat map with colour limits ``(-limit, limit)`` shared with other panels;
    values are snapped to a grid of ``1e-12 * limit`` (:func:`_snap`), so rounding noise is 0."""
    limit = float(f"{limit:.12g}")
    arr = _snap(arr, limit)
    plot_matrix(arr, ax, annotate=annotate, title=title, xlabel="column j", ylabel="row i",
                cmap=SIGNED_CMAP, fmt=fmt, one_based=True, limits=(-limit, limit),
                fontsize=fontsize)



@styled
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


@styled
def plot_rank_outputs(
    reference: object,
    kernels: Sequence[object],
    outputs: Sequence[object],
    titles: Sequence[str],
) -> Figure:
    """Kernels, their outputs on an image, and each output's difference from ``reference``.

    Introduced in chapter 3. One row per kernel: its heat map, the output (grey, one scale for
    all rows) and the difference ``output - reference`` (signed, one scale for all rows), with the
    largest absolute difference in the title (or "none" when it is rounding noise, below
    ``1e-12`` times the largest reference value).

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
    scale = max(1.0, float(np.max(np.abs(ref))))
    ref, outs = _snap(ref, scale), [_snap(o, scale) for o in outs]
    lo = float(min(ref.min(), *(o.min() for o in outs)))
    hi = float(max(ref.max(), *(o.max() for o in outs)))
    diffs = [_snap(o - ref, scale) for o in outs]
    dlim = float(max(np.max(np.abs(d)) for d in diffs)) or 1.0
    n = len(ks)
    fig, axes = plt.subplots(n, 3, figsize=(9.0, 2.6 * n + 0.4), layout="constrained",
                             squeeze=False, gridspec_kw={"width_ratios": [0.7, 1, 1]})
    for row, (k, o, d, t) in enumerate(zip(ks, outs, diffs, titles, strict=True)):
        _shared_heatmap(axes[row, 0], k, klim, annotate=max(k.shape) <= 5, fmt=".2f",
                        fontsize=None if max(k.shape) <= 3 else 6.5,
                        title=f"{t}: kernel")
        out_im = axes[row, 1].imshow(o, cmap=UNSIGNED_CMAP, vmin=lo, vmax=hi,
                                     extent=_pixel_extent(o.shape))
        axes[row, 1].set_title(f"{t}: output")
        diff_im = axes[row, 2].imshow(d, cmap=SIGNED_CMAP, vmin=-dlim, vmax=dlim,
                                      extent=_pixel_extent(d.shape))
        largest = float(np.max(np.abs(d)))
        # rounding noise differs between processors: say what it means instead of its digits
        axes[row, 2].set_title("difference: none (below 1e-12)" if largest <= 1e-12 * scale
                               else f"difference, max {largest:.3g}")
        for ax in axes[row, 1:]:
            ax.set_xlabel("output column (pixel)")
            ax.set_ylabel("output row (pixel)")
            for spine in ax.spines.values():
                spine.set_visible(False)
    # one colour bar per column: every row shares the scale
    fig.colorbar(out_im, ax=axes[:, 1], shrink=0.6, label="output")
    fig.colorbar(diff_im, ax=axes[:, 2], shrink=0.6, label="output - reference")
    return fig



# --- chapter 7: a trained network -----------------------------------------------------------


@styled
def plot_filter_grid(
    filters: object,
    *,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    title: str | None = None,
    panel_size: float = 1.1,
    colorbar_label: str = "value",
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
    colorbar_label : str
        What the colours mean (the shared colour bar's label).

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
    fig.colorbar(im, ax=axes, shrink=0.8, label=colorbar_label)
    if title:
        fig.suptitle(title)
    return fig
