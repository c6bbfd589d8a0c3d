"""The CP layer with its two depthwise stages fused into one compiled pass (chapter 6).

:func:`lrconv.layers.cp_conv2d` runs the four CP stages one after the other in numpy, and is the
readable reference the chapters teach. Each of its stages is a separate pass over memory, and the
two depthwise stages, which hold about 2% of the layer's multiply-accumulates, cost a large share
of its time: a numpy expression per filter tap, each reading and writing a whole
``(R, H, W)`` array. :func:`cp_conv2d_fused` computes the same layer as

1. the first 1x1 stage ``C_in -> R``: one BLAS matrix product;
2. the vertical ``kh x 1`` and horizontal ``1 x kw`` depthwise stages in **one** compiled loop
   (numba): one channel's vertical output is built in a small buffer that stays in the L1
   cache and is filtered horizontally at once, so the intermediate ``(R, H', W)`` array of the
   numpy path is never written to memory;
3. the last 1x1 stage ``R -> C_out`` (and the bias): one BLAS matrix product.

The three steps run tile by tile (a block of images, or of output rows of a large image) so
that a tile's intermediates stay in the L2 cache from one step to the next and are allocated
once per call, not once per stage.

The 1x1 stages stay BLAS products: they hold almost all the arithmetic, and a compiled loop
does not multiply matrices faster than BLAS. The loop is compiled for float32 and float64 on
the first call with that type (a few seconds) and cached on disk, so later sessions load it
(numba's ``cache=True``); importing this module compiles nothing and does not import numba. It
runs on one thread and adds the taps in a fixed order, so results are deterministic; it uses
no fast-math reordering, so NaN and infinity propagate as in :func:`lrconv.layers.cp_conv2d`
(a non-finite filter tap that falls on the zero padding gives NaN, as ``inf * 0`` does).

Arguments, shapes, data types and errors are those of :func:`lrconv.layers.cp_conv2d`. The
loop is compiled for float32 and float64; other floating types (float16, longdouble) are
computed by :func:`lrconv.layers.cp_conv2d` itself.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from lrconv._validate import (
    Pair,
    as_array,
    check_budget,
    check_ndim,
    check_nonempty,
    check_pair,
    float_dtype,
)
from lrconv.factors import CPFactors, check_cp_factors

__all__ = ["cp_conv2d_fused", "fused_kernel_ready"]

# Elements of one tile of the first stage's output (512 KiB in float32): tiles this size
# stay in the L2 cache between the three steps. Measured on the five layers of the benchmark,
# tiles of 2**17 elements ran 5-20% faster than whole-image intermediates; 2**13 was slower
# (more BLAS calls, more overlap rows recomputed).
_TILE_ELEMENTS = 1 << 17

# The floating types the compiled loop is built for; others take the numpy stages.
_COMPILED_TYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _depthwise_pair(s1: np.ndarray, r0: int, h: int, vertical: np.ndarray,
                    horizontal: np.ndarray, sh: int, sw: int, ph: int, o0: int,
                    out: np.ndarray, tmp: np.ndarray, row: np.ndarray, zero: float) -> None:
    """Vertical then horizontal depthwise filtering of a tile of rows (compiled on first use).

    ``s1`` holds input rows ``r0 .. r0 + s1.shape[2] - 1`` (of ``h``) of the first stage's
    output, shape ``(B, R, rows, W)``; ``out`` receives output rows ``o0 ..`` of the
    horizontal stage, shape ``(B, R, rows_out, W')``. ``vertical`` is ``(kh, R)``,
    ``horizontal`` ``(kw, R)``. ``tmp`` (at least ``rows_out * W`` long) holds one channel's
    vertical output, small enough to stay in the L1 cache; ``row`` is a zeroed buffer of
    length ``W + 2 pw`` whose first and last ``pw`` entries (the horizontal zero padding) are
    never written; ``zero`` is 0 in the data's type. Every output starts from zero and gets
    its taps in order, as in the numpy reference, so the order of the additions is the same.

    Loops run over long contiguous slices, which the compiler turns into vector instructions:
    with vertical stride 1 a vertical tap adds one slice of the flattened channel; with
    horizontal stride 1 and ``W' = W`` ("same" padding) a horizontal tap adds one slice of the
    flattened vertical output, right for every column whose taps stay inside its row, and
    the few columns near the left and right edges are then recomputed one by one.
    """
    n, rank, _, w = s1.shape
    kh, kw = vertical.shape[0], horizontal.shape[0]
    rows_out, wo = out.shape[2], out.shape[3]
    pw = (row.shape[0] - w) // 2
    flat_h = sw == 1 and wo == w
    right = max(pw, w - kw + 1 + pw)  # columns from here on have a tap on the right padding
    for b in range(n):
        for r in range(rank):
            plane = s1[b, r].reshape(-1)
            vert = tmp[:rows_out * w]
            vert[:] = zero
            for t in range(kh):  # vertical taps
                c = vertical[t, r]
                # output rows i whose input row (o0 + i) sh + t - ph lies inside the image
                lo = min(rows_out, max(0, -((o0 * sh + t - ph) // sh)))
                hi = max(lo, min(rows_out, (h - 1 - t + ph) // sh + 1 - o0))
                if sh == 1:
                    a = vert[lo * w:hi * w]
                    first = (o0 + lo + t - ph - r0) * w
                    src = plane[first:first + a.shape[0]]
                    for q in range(a.shape[0]):
                        a[q] += c * src[q]
                else:
                    for i in range(lo, hi):
                        a = vert[i * w:(i + 1) * w]
                        first = ((o0 + i) * sh + t - ph - r0) * w
                        src = plane[first:first + w]
                        for j in range(w):
                            a[j] += c * src[j]
                if (lo > 0 or hi < rows_out) and not np.isfinite(c):
                    z = c * zero  # a NaN or infinite tap on the zero padding gives NaN
                    for i in range(rows_out):
                        if i < lo or i >= hi:
                            a = vert[i * w:(i + 1) * w]
                            for j in range(w):
                                a[j] += z
            dst = out[b, r].reshape(-1)
            dst[:] = zero
            if flat_h:
                for t in range(kw):
                    c = horizontal[t, r]
                    off = t - pw
                    lo = max(0, -off)
                    a = dst[lo:min(dst.shape[0], dst.shape[0] - off)]
                    src = vert[lo + off:lo + off + a.shape[0]]
                    for q in range(a.shape[0]):
                        a[q] += c * src[q]
                left = min(pw, wo)
                for i in range(rows_out):  # the edge columns, from scratch
                    for k in range(left + wo - right):
                        oj = k if k < left else right + k - left
                        acc = zero
                        for t in range(kw):
                            col = oj + t - pw
                            if 0 <= col < w:
                                acc += horizontal[t, r] * vert[i * w + col]
                            else:
                                acc += horizontal[t, r] * zero
                        dst[i * wo + oj] = acc
            else:
                inner = row[pw:pw + w]
                for i in range(rows_out):
                    inner[:] = vert[i * w:(i + 1) * w]
                    orow = dst[i * wo:(i + 1) * wo]
                    for t in range(kw):
                        c = horizontal[t, r]
                        if sw == 1:
                            seg = row[t:t + wo]
                            for oj in range(wo):
                                orow[oj] += c * seg[oj]
                        else:
                            for oj in range(wo):
                                orow[oj] += c * row[oj * sw + t]


@cache
def _compiled():
    """The compiled depthwise loop (numba is imported and the loop compiled on first use)."""
    import numba

    return numba.njit(cache=True, fastmath=False, nogil=True)(_depthwise_pair)


def fused_kernel_ready() -> bool:
    """Whether the compiled loop is in memory in this process, for float32 or float64.

    It is after the first :func:`cp_conv2d_fused` call with either type (which compiles the
    loop, or loads it from numba's cache). Timings, as in chapter 6, call the layer once first
    so that neither is counted as run time. Does not import numba.
    """
    return _compiled.cache_info().currsize > 0 and bool(_compiled().signatures)


def _prepare(
    x: object, f: CPFactors, stride: Pair, padding: Pair, bias: object
) -> tuple[np.ndarray, bool, tuple[int, int], tuple[int, int], tuple[int, int],
           np.ndarray | None]:
    """The checks of :func:`lrconv.layers.cp_conv2d`, in the same order, with the same errors."""
    arr = as_array(x, "x")
    check_ndim(arr, "x", (3, 4), "(C_in, H, W) or (N, C_in, H, W)")
    batched = arr.ndim == 4
    arr = arr if batched else arr[None]
    c_in, kh, kw = f.inp.shape[0], f.vertical.shape[0], f.horizontal.shape[0]
    if arr.shape[1] != c_in:
        raise ValueError(f"x has {arr.shape[1]} channels but the CP factors expect C_in = "
                         f"{c_in}; received x of shape {np.shape(x)}")
    sh, sw = check_pair(stride, "stride", 1)
    ph, pw = check_pair(padding, "padding", 0)
    hp, wp = arr.shape[2] + 2 * ph, arr.shape[3] + 2 * pw
    if kh > hp or kw > wp:
        raise ValueError(f"the kernel ({kh}, {kw}) of the CP factors is larger than the padded "
                         f"input ({hp}, {wp}); received x of shape {np.shape(x)} and padding "
                         f"{(ph, pw)}")
    b = None
    if bias is not None:
        b = as_array(bias, "bias")
        if b.shape != (f.out.shape[0],):
            raise ValueError(f"bias must have shape ({f.out.shape[0]},) (C_out); received "
                             f"{b.shape}")
    check_nonempty(arr, "x")
    return arr, batched, (sh, sw), (ph, pw), ((hp - kh) // sh + 1, (wp - kw) // sw + 1), b


def cp_conv2d_fused(
    x: object, factors: CPFactors, *, stride: Pair = 1, padding: Pair = 0, bias: object = None
) -> np.ndarray:
    """Convolve with a CP kernel, the two depthwise stages fused in one compiled pass.

    Equals :func:`lrconv.layers.cp_conv2d` (and ``conv2d(x, cp_to_kernel(factors))``) to
    floating-point precision for every input, stride and padding. Introduced in chapter 6.

    Parameters
    ----------
    x : array_like, shape (C_in, H, W) or (N, C_in, H, W)
    factors : CPFactors
        ``out (C_out, R)``, ``inp (C_in, R)``, ``vertical (kh, R)``, ``horizontal (kw, R)``
        (or a 4-tuple of such arrays).
    stride, padding : int or (int, int)
        As for ``conv2d``; the vertical stage takes the first, the horizontal the second.
    bias : array_like, shape (C_out,), optional
        Added to every output pixel of its channel.

    Returns
    -------
    ndarray, shape (C_out, H', W') or (N, C_out, H', W')
        In the common floating type of ``x`` and the factors (float32 stays float32).

    Raises
    ------
    TypeError
        ``x``, ``bias`` or a factor not a real numeric array; stride or padding not integers;
        ``factors`` neither :class:`~lrconv.factors.CPFactors` nor a 4-tuple.
    ValueError
        Wrong number of dimensions, channel mismatch, empty ``x``, stride < 1, padding < 0, a
        kernel larger than the padded input, a bias of the wrong shape.
    """
    f = check_cp_factors(factors)
    xb, batched, (sh, sw), (ph, pw), (ho, wo), b = _prepare(x, f, stride, padding, bias)
    dtype = float_dtype(xb, *f)
    if dtype not in _COMPILED_TYPES:  # float16, longdouble: the numpy stages compute them
        from lrconv.layers import cp_conv2d

        return cp_conv2d(x, f, stride=stride, padding=padding, bias=bias)
    n, c_in, h, w = xb.shape
    c_out, rank = f.out.shape
    kh = f.vertical.shape[0]
    check_budget(n * c_out * ho * wo, dtype.itemsize, "the output of cp_conv2d_fused")
    # Tiles: a block of whole images when one image's first stage fits the tile, else a block
    # of output rows of one image (with the kh - 1 rows of overlap its vertical taps need).
    if rank * h * w <= _TILE_ELEMENTS:
        images, step = max(1, _TILE_ELEMENTS // (rank * h * w)), ho
    else:
        images, step = 1, max(1, (_TILE_ELEMENTS // (rank * w) - kh) // sh + 1)
    rows_in = min(h, (step - 1) * sh + kh)
    check_budget(images * rank * rows_in * w, dtype.itemsize,
                 "one tile of the first stage of cp_conv2d_fused")
    s1_buf = np.empty(images * rank * rows_in * w, dtype=dtype)
    s3_buf = np.empty(images * rank * step * wo, dtype=dtype)
    row = np.zeros(w + 2 * pw, dtype=dtype)
    tmp = np.empty(step * w, dtype=dtype)
    inp = f.inp.T.astype(dtype, copy=False)
    outw = f.out.astype(dtype, copy=False)
    vertical = np.ascontiguousarray(f.vertical, dtype=dtype)
    horizontal = np.ascontiguousarray(f.horizontal, dtype=dtype)
    fold = b is not None and np.result_type(dtype, b) == dtype
    bias_col = b.astype(dtype)[:, None] if fold else None
    xf = xb.astype(dtype, copy=False).reshape(n, c_in, h * w)
    y = np.empty((n, c_out, ho * wo), dtype=dtype)
    kernel = _compiled()
    for b0 in range(0, n, images):
        b1 = min(n, b0 + images)
        for o0 in range(0, ho, step):
            o1 = min(ho, o0 + step)
            r0 = min(h, max(0, o0 * sh - ph))  # the input rows this tile's taps reach
            r1 = max(r0, min(h, (o1 - 1) * sh - ph + kh))
            s1 = s1_buf[:(b1 - b0) * rank * (r1 - r0) * w].reshape(b1 - b0, rank, (r1 - r0) * w)
            np.matmul(inp, xf[b0:b1, :, r0 * w:r1 * w], out=s1)
            s3 = s3_buf[:(b1 - b0) * rank * (o1 - o0) * wo].reshape(b1 - b0, rank, o1 - o0, wo)
            kernel(s1.reshape(b1 - b0, rank, r1 - r0, w), r0, h, vertical, horizontal, sh, sw,
                   ph, o0, s3, tmp, row, dtype.type(0))
            tile = y[b0:b1, :, o0 * wo:o1 * wo]
            np.matmul(outw, s3.reshape(b1 - b0, rank, (o1 - o0) * wo), out=tile)
            if fold:
                tile += bias_col
    if b is not None and not fold:  # a bias of a wider type promotes, as ``y + bias`` does
        y = y + b[:, None]
    y = y.reshape(n, c_out, ho, wo)
    return y if batched else y[0]
