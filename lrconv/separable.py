"""2-D kernels as sums of outer products, and separable convolution.

Introduced in chapter 2 (a rank-one kernel ``K = a b^T`` convolved as a column pass then a row
pass) and chapter 3 (every kernel is a sum of rank-one kernels: the SVD, the best rank-r
approximation of Eckart and Young, and its error).

Sign convention: the SVD determines each pair of singular vectors only up to a common sign.
:func:`kernel_svd` (and so :func:`separable_factors`) flips each pair so that the entry of
largest magnitude of the left (column) vector is positive; among entries whose magnitudes tie
to rounding, the first one counts. For the seed's ``K = [[1, 0, -1]] * 3`` this gives the column
vector ``[1, 1, 1]`` (times a positive number) and the row vector ``[1, 0, -1]`` (likewise).

Data types: float32 and float64 kernels keep their type; integer (and other) kernels become
float64. :func:`separable_conv2d` follows :func:`lrconv._validate.float_dtype`, as
:func:`lrconv.conv.conv2d` does.

Bad input: non-numeric, bool, complex or ragged arrays and non-integer ranks, strides or
paddings raise ``TypeError``; wrong dimensions, arrays with an axis of length 0, non-finite
kernels (for the SVD), ranks outside ``1 .. min(kh, kw)``, filters that do not fit the padded
input and requests above the 2 GiB memory budget raise ``ValueError``. Every message names the
argument.
"""

from __future__ import annotations

import numpy as np

from lrconv._validate import (
    Pair,
    as_array,
    check_budget,
    check_finite,
    check_int,
    check_ndim,
    check_nonempty,
    check_pair,
    float_dtype,
)

__all__ = ["kernel_svd", "low_rank_kernel", "separable_conv2d", "separable_factors"]


def _as_float(arr: np.ndarray) -> np.ndarray:
    """float32 and float64 unchanged; every other real type (LAPACK has no other) to float64."""
    return arr if arr.dtype in (np.float32, np.float64) else arr.astype(np.float64)


def _check_kernel(kernel: object) -> np.ndarray:
    k = as_array(kernel, "kernel")
    check_ndim(k, "kernel", (2,), "(kh, kw)")
    check_nonempty(k, "kernel")
    kh, kw = k.shape
    check_budget(kh * kw + min(kh, kw) * (kh + kw + 1), 8, f"the SVD of a kernel of shape "
                                                           f"{k.shape}")
    check_finite(k, "kernel")
    return _as_float(k)


def _check_rank(rank: object, kernel: np.ndarray) -> int:
    r = check_int(rank, "rank", 1)
    most = min(kernel.shape)
    if r > most:
        raise ValueError(
            f"rank must be at most min(kh, kw) = {most} for a kernel of shape {kernel.shape}; "
            f"received rank {r}"
        )
    return r


def kernel_svd(kernel: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Singular value decomposition ``kernel = U @ diag(s) @ Vt`` of a 2-D kernel.

    Introduced in chapter 3.

    Parameters
    ----------
    kernel : array_like, shape (kh, kw)
        Finite real entries.

    Returns
    -------
    U : ndarray, shape (kh, m)
        Left singular vectors (columns), ``m = min(kh, kw)``.
    s : ndarray, shape (m,)
        Singular values, non-negative and in decreasing order.
    Vt : ndarray, shape (m, kw)
        Right singular vectors (rows).

    Notes
    -----
    Each pair ``U[:, k]``, ``Vt[k]`` is signed so that the largest-magnitude entry of
    ``U[:, k]`` is positive (see the module docstring).
    """
    k = _check_kernel(kernel)
    try:
        u, s, vt = np.linalg.svd(k, full_matrices=False)
    except np.linalg.LinAlgError as exc:  # only for extreme values
        raise ValueError(f"kernel: the SVD did not converge ({exc}); received a kernel of shape "
                         f"{k.shape} with largest magnitude {np.abs(k).max()!r}") from None
    magnitude = np.abs(u)
    tol = 1e-9 * magnitude.max(axis=0, keepdims=True)
    first_largest = np.argmax(magnitude >= magnitude.max(axis=0, keepdims=True) - tol, axis=0)
    signs = np.where(u[first_largest, np.arange(u.shape[1])] < 0, -1, 1).astype(u.dtype)
    # Adding 0.0 turns negative zeros (from the sign flip) into zeros, for cleaner printing.
    return u * signs + 0.0, s, vt * signs[:, None] + 0.0


def low_rank_kernel(kernel: object, rank: int) -> np.ndarray:
    """The best rank-``rank`` approximation of a 2-D kernel (Eckart-Young).

    Introduced in chapter 3. Keeps the ``rank`` largest singular values; the error in the
    Frobenius norm is ``sqrt(sum of the dropped squared singular values)``, and no other
    kernel of that rank comes closer.

    Parameters
    ----------
    kernel : array_like, shape (kh, kw)
    rank : int
        From 1 to ``min(kh, kw)``.

    Returns
    -------
    ndarray, shape (kh, kw)
    """
    k = _check_kernel(kernel)
    r = _check_rank(rank, k)
    u, s, vt = kernel_svd(k)
    return (u[:, :r] * s[:r]) @ vt[:r]


def separable_factors(kernel: object, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Column and row filters whose product is the best rank-``rank`` kernel.

    Introduced in chapter 2 (rank one) and chapter 3 (any rank).

    Parameters
    ----------
    kernel : array_like, shape (kh, kw)
    rank : int
        From 1 to ``min(kh, kw)``.

    Returns
    -------
    columns : ndarray, shape (kh, rank)
        ``columns[:, k] = sqrt(s[k]) * U[:, k]``: the vertical filters.
    rows : ndarray, shape (rank, kw)
        ``rows[k] = sqrt(s[k]) * Vt[k]``: the horizontal filters.
        ``columns @ rows == low_rank_kernel(kernel, rank)``; signs follow :func:`kernel_svd`.

    Examples
    --------
    >>> columns, rows = separable_factors([[1, 0, -1]] * 3, 1)
    >>> (columns @ rows).round(12) + 0.0
    array([[ 1.,  0., -1.],
           [ 1.,  0., -1.],
           [ 1.,  0., -1.]])
    """
    k = _check_kernel(kernel)
    r = _check_rank(rank, k)
    u, s, vt = kernel_svd(k)
    root = np.sqrt(s[:r])
    return u[:, :r] * root + 0.0, root[:, None] * vt[:r] + 0.0


def _check_filters(columns: object, rows: object) -> tuple[np.ndarray, np.ndarray]:
    col = as_array(columns, "columns")
    row = as_array(rows, "rows")
    check_ndim(col, "columns", (1, 2), "(kh,) or (kh, r)")
    check_ndim(row, "rows", (1, 2), "(kw,) or (r, kw)")
    check_nonempty(col, "columns")
    check_nonempty(row, "rows")
    col = col[:, None] if col.ndim == 1 else col
    row = row[None] if row.ndim == 1 else row
    if col.shape[1] != row.shape[0]:
        raise ValueError(
            f"columns and rows must hold the same number r of filters, columns (kh, r) and rows "
            f"(r, kw); received columns of shape {np.shape(columns)} and rows of shape "
            f"{np.shape(rows)}"
        )
    return col, row


def separable_conv2d(
    x: object, columns: object, rows: object, *, stride: Pair = 1, padding: Pair = 0
) -> np.ndarray:
    """Convolve with the kernel ``columns @ rows`` as ``r`` column passes then row passes.

    Introduced in chapter 2. For each ``k`` the input is filtered down its columns by the
    ``kh x 1`` filter ``columns[:, k]`` (this pass takes the vertical stride and padding), then
    along its rows by the ``1 x kw`` filter ``rows[k]`` (horizontal stride and padding); the
    ``r`` results are summed. This equals ``conv2d(x, columns @ rows, stride=stride,
    padding=padding)`` and costs ``r (kh + kw)`` instead of ``kh kw`` multiplications per output.

    Parameters
    ----------
    x : array_like, shape (H, W), (C, H, W) or (N, C, H, W)
        A 2-D image, or a stack whose channels are each filtered independently by the same
        2-D kernel (a depthwise convolution; channels are not summed).
    columns : array_like, shape (kh, r) or (kh,)
        Vertical filters; a 1-D array is a single filter (``r = 1``).
    rows : array_like, shape (r, kw) or (kw,)
        Horizontal filters; a 1-D array is a single filter.
    stride, padding : int or (int, int), optional
        As for :func:`lrconv.conv.conv2d`.

    Returns
    -------
    ndarray, shape ``x.shape[:-2] + (H', W')``
        Floating type common to the arguments (integers become float64).
    """
    xa = as_array(x, "x")
    check_ndim(xa, "x", (2, 3, 4), "(H, W), (C, H, W) or (N, C, H, W)")
    check_nonempty(xa, "x")
    col, row = _check_filters(columns, rows)
    sh, sw = check_pair(stride, "stride", 1)
    ph, pw = check_pair(padding, "padding", 0)
    kh, kw = col.shape[0], row.shape[1]
    h, w = xa.shape[-2:]
    if kh > h + 2 * ph or kw > w + 2 * pw:
        raise ValueError(
            f"the kernel columns @ rows ({kh} x {kw}) must fit the padded "
            f"input ({h + 2 * ph} x {w + 2 * pw}); received x of shape {xa.shape}, columns of "
            f"shape {np.shape(columns)}, rows of shape {np.shape(rows)} and padding {(ph, pw)}"
        )
    dtype = float_dtype(xa, col, row)
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    images = xa.reshape(-1, h, w)
    b, r = images.shape[0], col.shape[1]
    what = f"separable_conv2d (x of shape {xa.shape}, padding {(ph, pw)}, {r} filters)"
    check_budget(b * (h + 2 * ph) * w, dtype.itemsize, f"the padded input of {what}")
    check_budget(r * b * ho * (w + 2 * pw), dtype.itemsize, f"the column pass of {what}")
    check_budget(b * ho * wo, dtype.itemsize, f"the output of {what}")
    # Column pass: pad rows, then (r, B, H', W) = sum over the kh taps.
    xp = np.zeros((images.shape[0], h + 2 * ph, w), dtype=dtype)
    xp[:, ph:ph + h] = images
    col, row = col.astype(dtype, copy=False), row.astype(dtype, copy=False)
    vertical = np.zeros((col.shape[1], images.shape[0], ho, w + 2 * pw), dtype=dtype)
    inner = vertical[..., pw:pw + w]  # zero columns on both sides pad the row pass
    for i in range(kh):
        inner += col[i, :, None, None, None] * xp[None, :, i:i + sh * (ho - 1) + 1:sh]
    # Row pass: (B, H', W') = sum over the kw taps and the r terms.
    out = np.zeros((images.shape[0], ho, wo), dtype=dtype)
    for j in range(kw):
        window = vertical[..., j:j + sw * (wo - 1) + 1:sw]
        out += np.tensordot(row[:, j], window, axes=(0, 0))
    return out.reshape(xa.shape[:-2] + (ho, wo))
