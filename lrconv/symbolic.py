"""Symbolic convolution with sympy: windows of symbols, cross-correlation, the Toeplitz matrix, the
separable passes and the seed post's hand procedure.

Everything here works on :class:`sympy.Matrix` objects, so the same function computes with
symbols (``x_11, x_12, ...``) or with exact integers. Numeric arrays and nested lists are
converted to sympy matrices; integer entries stay exact.

Introduced in chapter 1 (windows, cross-correlation, the Toeplitz matrix) and chapter 2 (the
vertical and horizontal passes, the hand procedure); later chapters add helpers at the end.

Bad input: entries must be real numbers or sympy expressions (bools, complex numbers, strings
and other objects raise ``TypeError``), matrices 1-D or 2-D and not empty (``ValueError``).
sympy computes entry by entry, so a matrix here holds at most 10,000 entries (a Toeplitz
matrix 100,000) and a correlation at most 100,000 products; larger requests are refused with a
``ValueError`` before any work (:mod:`lrconv.conv` computes large convolutions).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy as sp

from lrconv._symbolic_checks import (
    MAX_PRODUCTS,
    as_matrix,
    as_vector,
    channel_stack,
    check_entries,
    cp_factor_matrices,
    dtype_kind,
)
from lrconv._validate import Pair, check_int, check_name, check_pair

__all__ = [
    "as_matrix",
    "bilinear_window",
    "correlate2d",
    "correlate_channels",
    "cp_kernel_slices",
    "expand_matrix",
    "horizontal_pass",
    "is_zero_matrix",
    "outer",
    "seed_hand_procedure",
    "separable_correlate2d",
    "symbolic_cp_factors",
    "symbolic_cp_stages",
    "symbolic_matrix",
    "symbolic_stack",
    "symbolic_vector",
    "to_numpy",
    "toeplitz_matrix",
    "vertical_pass",
    "window",
]


def symbolic_matrix(name: str, rows: int, cols: int, *, start: int = 1) -> sp.Matrix:
    """A ``rows x cols`` matrix of symbols ``name_ij`` (rendered :math:`x_{ij}`), chapter 1.

    Indices start at ``start`` (1 by default, as in the book's formulas). When an index has
    more than one digit the two are separated by a comma (``x_{10,2}``).

    Examples
    --------
    >>> symbolic_matrix("x", 2, 2)
    Matrix([
    [x_11, x_12],
    [x_21, x_22]])
    """
    name = check_name(name, "name")
    rows = check_int(rows, "rows", 1)
    cols = check_int(cols, "cols", 1)
    start = check_int(start, "start", 0)
    check_entries(rows * cols, f"a {rows} x {cols} matrix (rows = {rows}, cols = {cols})")
    wide = rows + start > 10 or cols + start > 10

    def sym(i: int, j: int) -> sp.Symbol:
        i, j = i + start, j + start
        return sp.Symbol(f"{name}_{{{i},{j}}}" if wide else f"{name}_{i}{j}")

    return sp.Matrix(rows, cols, sym)


def symbolic_vector(name: str, length: int, *, start: int = 1) -> sp.Matrix:
    """A column vector of symbols ``name_1, ..., name_length`` (chapter 2)."""
    name = check_name(name, "name")
    length = check_int(length, "length", 1)
    start = check_int(start, "start", 0)
    check_entries(length, f"a vector of length {length} (length)")
    return sp.Matrix([sp.Symbol(f"{name}_{k + start}") for k in range(length)])


def outer(a: object, b: object) -> sp.Matrix:
    """The outer product :math:`a b^T` of two vectors, a rank-one matrix (chapter 2)."""
    a_m, b_m = as_vector(a, "a"), as_vector(b, "b")
    return a_m * b_m.T


def window(x: object, row: int, col: int, kh: int, kw: int) -> sp.Matrix:
    """The ``kh x kw`` window of ``x`` whose top-left entry is ``x[row, col]`` (0-based), ch. 1."""
    mat = as_matrix(x, "x")
    row, col = check_int(row, "row", 0), check_int(col, "col", 0)
    kh, kw = check_int(kh, "kh", 1), check_int(kw, "kw", 1)
    if row + kh > mat.rows or col + kw > mat.cols:
        raise ValueError(f"the {kh} x {kw} window at (row, col) = ({row}, {col}) does not fit in "
                         f"x of shape {mat.shape}: row + kh must be <= {mat.rows} and col + kw "
                         f"<= {mat.cols}")
    return mat[row:row + kh, col:col + kw]


def _pad(mat: sp.Matrix, ph: int, pw: int) -> sp.Matrix:
    if ph == 0 and pw == 0:
        return mat
    out = sp.zeros(mat.rows + 2 * ph, mat.cols + 2 * pw)
    out[ph:ph + mat.rows, pw:pw + mat.cols] = mat
    return out


def correlate2d(x: object, kernel: object, *, stride: Pair = 1, padding: Pair = 0,
                expand: bool = True) -> sp.Matrix:
    """Symbolic 2-D cross-correlation (deep learning's "convolution"), chapter 1.

    ``out[i, j] = sum_{u, v} kernel[u, v] * xp[i*s + u, j*s + v]`` with ``xp`` the input padded
    with ``padding`` zeros on every side. No kernel flip.

    Parameters
    ----------
    x : sympy Matrix or array_like, shape (H, W)
    kernel : sympy Matrix or array_like, shape (kh, kw)
    stride, padding : int or (h, w) pair
    expand : bool
        Expand each output entry into a sum of products (default); with False, the entries
        are left as sympy builds them.

    Returns
    -------
    sympy.Matrix, shape (H', W') with H' = (H + 2p - kh) // s + 1 (and likewise W')
    """
    xm, km = as_matrix(x, "x"), as_matrix(kernel, "kernel")
    return _correlate(xm, km, stride, padding, expand, "kernel")


def _correlate(xm: sp.Matrix, km: sp.Matrix, stride: object, padding: object, expand: object,
               kernel_name: str) -> sp.Matrix:
    """:func:`correlate2d` on matrices; ``kernel_name`` is what the caller calls the kernel."""
    sh, sw = check_pair(stride, "stride", 1)
    ph, pw = check_pair(padding, "padding", 0)
    if not isinstance(expand, (bool, np.bool_)):
        raise TypeError(f"expand must be True or False; received {expand!r:.40}")
    kh, kw = km.shape
    hp, wp = xm.rows + 2 * ph, xm.cols + 2 * pw
    if kh > hp or kw > wp:
        raise ValueError(f"{kernel_name} of shape {km.shape} is larger than the padded input of "
                         f"shape {(hp, wp)} (x of shape {xm.shape}, padding {(ph, pw)})")
    check_entries(hp * wp, f"the padded input (x of shape {xm.shape}, padding {(ph, pw)})")
    h_out, w_out = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    check_entries(h_out * w_out * kh * kw, f"the correlation of x of shape {xm.shape} with "
                   f"{kernel_name} of shape {km.shape}", MAX_PRODUCTS, "products")
    xp = _pad(xm, ph, pw)

    def entry(i: int, j: int) -> sp.Expr:
        patch = xp[i * sh:i * sh + kh, j * sw:j * sw + kw]
        value = sum((patch[u, v] * km[u, v] for u in range(kh) for v in range(kw)), sp.S.Zero)
        return sp.expand(value) if expand else value

    return sp.Matrix(h_out, w_out, entry)


def toeplitz_matrix(input_shape: tuple[int, int], kernel: object, *, stride: Pair = 1,
                    padding: Pair = 0) -> sp.Matrix:
    """The matrix ``T`` of a 2-D cross-correlation: ``conv2d(X, K).ravel() == T @ X.ravel()``.

    Introduced in chapter 1. ``T`` is the Jacobian of the symbolic cross-correlation of an
    ``input_shape`` matrix of symbols with respect to those symbols (both in row-major order):
    one row per output position, one column per input pixel. It is exact (and symbolic if the
    kernel is).

    Returns
    -------
    sympy.Matrix, shape (H' * W', H * W)
    """
    if not (isinstance(input_shape, (tuple, list)) and len(input_shape) == 2):
        raise TypeError(f"input_shape must be a pair (H, W); received {input_shape!r}")
    h = check_int(input_shape[0], "input_shape[0]", 1)
    w = check_int(input_shape[1], "input_shape[1]", 1)
    check_entries(h * w, f"an input of shape {(h, w)} (input_shape)")
    km = as_matrix(kernel, "kernel")
    sh, sw = check_pair(stride, "stride", 1)
    ph, pw = check_pair(padding, "padding", 0)
    rows = max(0, (h + 2 * ph - km.rows) // sh + 1) * max(0, (w + 2 * pw - km.cols) // sw + 1)
    check_entries(rows * h * w, f"the matrix of the correlation of input_shape {(h, w)} "
                  f"(stride {(sh, sw)}, padding {(ph, pw)})", MAX_PRODUCTS)
    # a fresh symbol name that cannot clash with symbols of a symbolic kernel
    taken = {s.name for s in km.free_symbols}
    name = "xi"
    while any(t.startswith(name + "_") for t in taken):
        name += "i"
    x = symbolic_matrix(name, h, w)
    out = correlate2d(x, km, stride=stride, padding=padding)
    return out.reshape(len(out), 1).jacobian(x.reshape(h * w, 1))


def to_numpy(matrix: object, dtype: type = float) -> np.ndarray:
    """Convert a sympy Matrix of numbers (no free symbols) to a numpy array (chapter 1)."""
    mat = as_matrix(matrix, "matrix")
    if dtype is None or dtype_kind(dtype) not in ("i", "u", "f"):
        raise TypeError(f"dtype must be a real numeric type such as float or int; received "
                        f"{dtype!r:.40}")
    if mat.free_symbols:
        names = ", ".join(sorted(str(s) for s in mat.free_symbols)[:5])
        raise ValueError(f"matrix still holds symbols ({names}); substitute numbers first")
    try:
        return np.array(mat.tolist(), dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"matrix has an entry that is not a real number of type "
                         f"{np.dtype(dtype)} ({exc})") from None


def vertical_pass(x: object, column: object, *, stride: int = 1, padding: int = 0) -> sp.Matrix:
    """Cross-correlate every column of ``x`` with the vector ``column`` (a ``kh x 1`` kernel).

    Introduced in chapter 2. The output has ``(H + 2p - kh) // s + 1`` rows and the same
    columns as ``x``: stride and padding act on rows only.
    """
    col = as_vector(column, "column")
    s = check_int(stride, "stride", 1)
    p = check_int(padding, "padding", 0)
    return _correlate(as_matrix(x, "x"), col, (s, 1), (p, 0), True, "column")


def horizontal_pass(x: object, row: object, *, stride: int = 1, padding: int = 0) -> sp.Matrix:
    """Cross-correlate every row of ``x`` with the vector ``row`` (a ``1 x kw`` kernel).

    Introduced in chapter 2. Stride and padding act on columns only.
    """
    r = as_vector(row, "row")
    s = check_int(stride, "stride", 1)
    p = check_int(padding, "padding", 0)
    return _correlate(as_matrix(x, "x"), r.T, (1, s), (0, p), True, "row")


def separable_correlate2d(x: object, column: object, row: object, *,
                          order: str = "vertical-first", stride: Pair = 1,
                          padding: Pair = 0) -> sp.Matrix:
    """Cross-correlation with the rank-one kernel ``column row^T`` as two 1-D passes (chapter 2).

    ``order="vertical-first"`` runs :func:`vertical_pass` with ``column`` and then
    :func:`horizontal_pass` with ``row``; ``"horizontal-first"`` the other way round. Both equal
    ``correlate2d(x, outer(column, row))``.
    """
    sh, sw = check_pair(stride, "stride", 1)
    ph, pw = check_pair(padding, "padding", 0)
    if not isinstance(order, str):
        raise TypeError(f"order must be the string 'vertical-first' or 'horizontal-first'; "
                        f"received {order!r:.40} (type {type(order).__name__})")
    if order == "vertical-first":
        tmp = vertical_pass(x, column, stride=sh, padding=ph)
        return horizontal_pass(tmp, row, stride=sw, padding=pw)
    if order == "horizontal-first":
        tmp = horizontal_pass(x, row, stride=sw, padding=pw)
        return vertical_pass(tmp, column, stride=sh, padding=ph)
    raise ValueError(
        f"order must be 'vertical-first' or 'horizontal-first'; received {order!r}"
    )


def bilinear_window(patch: object, a: object, b: object) -> sp.Expr:
    """One output of the separable convolution with ``K = a b^T``: ``a^T W b`` (chapter 2).

    The vertical filter ``a`` combines the rows of the window ``W`` (one number per column),
    then the horizontal filter ``b`` combines those column results. Equal to
    ``sum(W * outer(a, b))``, the full kernel's output at that window.
    """
    w = as_matrix(patch, "patch")
    av, bv = as_vector(a, "a"), as_vector(b, "b")
    if w.shape != (len(av), len(bv)):
        raise ValueError(
            f"patch must have shape (len(a), len(b)) = ({len(av)}, {len(bv)}); "
            f"received {w.shape}"
        )
    return sp.expand((av.T * w * bv)[0, 0])


def seed_hand_procedure(patch: object, a: object, b: object) -> sp.Expr:
    """The seed post's hand procedure for the separable convolution, as the post describes it.

    Introduced in chapter 2, to reproduce (and explain) the post's 0. Step 1: scale the vector
    ``b`` by each entry of the patch's **first row** and add those vectors. Step 2: take the
    inner product of the sum with ``a``. The result is ``(sum of the first row) * (a . b)``:
    the other rows of the patch are never used and ``a . b`` (an inner product) stands where the
    outer product ``a b^T`` belongs. For ``a = (1, 1, 1)``, ``b = (1, 0, -1)`` it is 0 for every
    input.

    Parameters
    ----------
    patch : sympy Matrix or array_like, shape (kh, kw)
        The window of the input; only its first row is read, as in the post.
    a, b : vectors of length kh
        The post's a1 (applied "along the rows") and b1 (applied "along the columns"). The
        post's procedure needs them to have the same length as each other and as the patch's
        first row.

    Returns
    -------
    sympy.Expr
    """
    w = as_matrix(patch, "patch")
    av, bv = as_vector(a, "a"), as_vector(b, "b")
    if not (len(av) == len(bv) == w.cols):
        raise ValueError(
            f"a, b and the patch's rows must have the same length; received len(a)={len(av)}, "
            f"len(b)={len(bv)}, patch shape {w.shape}"
        )
    step1 = sum((w[0, j] * bv for j in range(w.cols)), sp.zeros(len(bv), 1))
    return sp.expand((av.T * step1)[0, 0])


def expand_matrix(matrix: object) -> sp.Matrix:
    """Expand every entry of a matrix (chapter 2): differences of polynomials reduce to 0."""
    return as_matrix(matrix, "matrix").applyfunc(sp.expand)


def is_zero_matrix(matrix: object) -> bool:
    """True when every entry of ``matrix`` simplifies to exactly 0 (chapter 2).

    Used for the symbolic proofs: ``is_zero_matrix(A - B)`` shows that ``A == B`` for every
    value of the symbols.
    """
    mat = as_matrix(matrix, "matrix")
    return all(sp.simplify(sp.expand(entry)) == 0 for entry in mat)


# --- chapter 4: many channels, and the four CP stages in symbols ------------------------------


def symbolic_stack(name: str, channels: int, rows: int, cols: int) -> list[sp.Matrix]:
    """A ``(channels, rows, cols)`` stack of symbol matrices, one per channel (chapter 4).

    Channel ``c`` (from 1) holds the symbols ``name_{c,ij}``, rendered :math:`x_{c,ij}`.
    """
    name = check_name(name, "name")
    channels = check_int(channels, "channels", 1)
    rows = check_int(rows, "rows", 1)
    cols = check_int(cols, "cols", 1)
    check_entries(channels * rows * cols, f"a stack of {channels} matrices {rows} x {cols} "
                   f"(channels, rows, cols)")
    return [sp.Matrix(rows, cols, lambda i, j, c=c: sp.Symbol(f"{name}_{c},{i + 1}{j + 1}"))
            for c in range(1, channels + 1)]


def symbolic_cp_factors(c_out: int, c_in: int, kh: int, kw: int,
                        rank: int) -> tuple[sp.Matrix, sp.Matrix, sp.Matrix, sp.Matrix]:
    """Symbolic CP factors ``(out, inp, vertical, horizontal)`` (chapter 4).

    Shapes ``(c_out, R)``, ``(c_in, R)``, ``(kh, R)`` and ``(kw, R)``, holding the symbols
    ``a_or``, ``b_ir``, ``v_yr`` and ``h_xr`` (indices from 1), in the order of
    :class:`lrconv.decompose.CPFactors`.
    """
    rank = check_int(rank, "rank", 1)
    sizes = {n: check_int(v, n, 1) for n, v in (("c_out", c_out), ("c_in", c_in), ("kh", kh),
                                                 ("kw", kw))}
    for n, size in sizes.items():
        check_entries(size * rank, f"the factor of {n} = {size} with rank = {rank}")
    return tuple(symbolic_matrix(letter, size, rank)
                 for letter, size in zip("abvh", sizes.values(), strict=True))


def cp_kernel_slices(out: object, inp: object, vertical: object,
                     horizontal: object) -> list[list[sp.Matrix]]:
    """The CP kernel as ``K[o][i]``, each a ``kh x kw`` sympy Matrix (chapter 4).

    ``K[o][i] = sum_r out[o, r] inp[i, r] vertical[:, r] horizontal[:, r]^T``, the symbolic twin
    of :func:`lrconv.decompose.cp_to_kernel`.
    """
    a, b, v, h = cp_factor_matrices(out, inp, vertical, horizontal)
    check_entries(a.rows * b.rows * v.rows * h.rows, f"the kernel of factors out {a.shape}, inp "
                   f"{b.shape}, vertical {v.shape} and horizontal {h.shape}")
    terms = [v[:, r] * h[:, r].T for r in range(a.cols)]
    return [[sum((a[o, r] * b[i, r] * terms[r] for r in range(a.cols)),
                 sp.zeros(v.rows, h.rows)) for i in range(b.rows)] for o in range(a.rows)]


def correlate_channels(x: Sequence[object], kernel: Sequence[Sequence[object]], *,
                       stride: Pair = 1, padding: Pair = 0) -> list[sp.Matrix]:
    """Symbolic multi-channel convolution: ``out[o] = sum_i correlate2d(x[i], kernel[o][i])``.

    Introduced in chapter 4; the symbolic twin of :func:`lrconv.conv.conv2d` for inputs
    ``(C_in, H, W)`` given as a list of matrices and kernels given as nested lists ``[o][i]``.
    """
    xs = channel_stack(x, "x")
    if not isinstance(kernel, (list, tuple)) or not kernel:
        raise TypeError("kernel must be a non-empty nested list kernel[o][i] of matrices")
    check_entries(len(kernel) * len(xs) * len(xs[0]), f"{len(kernel)} x {len(xs)} correlations "
                   f"of x of shape {xs[0].shape} (kernel)", MAX_PRODUCTS, "products at least")
    out = []
    for o, row in enumerate(kernel):
        if not isinstance(row, (list, tuple)) or len(row) != len(xs):
            raise ValueError(f"kernel[{o}] must hold one matrix per input channel "
                             f"({len(xs)}); received {row!r:.60}")
        parts = [_correlate(xi, as_matrix(ki, f"kernel[{o}][{i}]"), stride, padding, False,
                            f"kernel[{o}][{i}]") for i, (xi, ki) in enumerate(zip(xs, row,
                                                                                 strict=True))]
        out.append(expand_matrix(sum(parts[1:], parts[0])))
    return out


def symbolic_cp_stages(x: Sequence[object], out: object, inp: object, vertical: object,
                       horizontal: object, *, stride: Pair = 1,
                       padding: Pair = 0) -> list[list[sp.Matrix]]:
    """The four CP stages in symbols; the symbolic twin of :func:`lrconv.layers.cp_stages`.

    Introduced in chapter 4. Stage 1 mixes the input channels at every pixel
    (``z_r = sum_i inp[i, r] x_i``); stage 2 filters each ``z_r`` down its columns with
    ``vertical[:, r]`` (vertical stride and padding); stage 3 filters along the rows with
    ``horizontal[:, r]`` (horizontal stride and padding); stage 4 mixes the ``R`` channels into
    ``out[o] = sum_r out[o, r] z_r``.

    Returns
    -------
    list of four lists of sympy.Matrix
        The outputs of the four stages, each a list over channels (``R, R, R, C_out``).
    """
    xs = channel_stack(x, "x")
    a, b, v, h = cp_factor_matrices(out, inp, vertical, horizontal)
    if b.rows != len(xs):
        raise ValueError(f"x has {len(xs)} channels but inp expects C_in = {b.rows}")
    sh, sw = check_pair(stride, "stride", 1)
    ph, pw = check_pair(padding, "padding", 0)
    for m, n, size, pad in ((v, "vertical", xs[0].rows, ph), (h, "horizontal", xs[0].cols, pw)):
        if m.rows > size + 2 * pad:
            raise ValueError(f"{n} has {m.rows} taps, more than the padded input's {size + 2 * pad}"
                             f" (x of shape {xs[0].shape}, padding {(ph, pw)})")
    rank = a.cols
    padded = (xs[0].rows + 2 * ph) * (xs[0].cols + 2 * pw)
    check_entries(rank * (len(xs) + a.rows) * padded, f"the CP stages of rank {rank} on x of "
                   f"shape {xs[0].shape} (padding {(ph, pw)})", MAX_PRODUCTS, "products")
    s1 = [expand_matrix(sum((b[i, r] * xs[i] for i in range(len(xs))), sp.zeros(*xs[0].shape)))
          for r in range(rank)]
    s2 = [vertical_pass(s1[r], v[:, r], stride=sh, padding=ph) for r in range(rank)]
    s3 = [horizontal_pass(s2[r], h[:, r], stride=sw, padding=pw) for r in range(rank)]
    s4 = [expand_matrix(sum((a[o, r] * s3[r] for r in range(rank)), sp.zeros(*s3[0].shape)))
          for o in range(a.rows)]
    return [s1, s2, s3, s4]

