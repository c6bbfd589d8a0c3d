"""The contractions of the factor types, written as a few large matrix products.

``np.einsum(..., optimize=True)`` finds a good contraction order but searches for it on every
call, which costs more than the arithmetic for the kernels of this book (tens of microseconds of
work). These functions fix the order once, as reshapes and BLAS matrix products; the einsum
each one equals is in its docstring, and ``tests/test_factors.py`` holds them to it.
Unfoldings are row-major (the last remaining index changes fastest), as in the rest of lrconv.
"""

from __future__ import annotations

import numpy as np


def khatri_rao_rows(*matrices: np.ndarray) -> np.ndarray:
    """Column-wise Kronecker product, row-major: row ``(i, j, ...)`` is ``a_i * b_j * ...``."""
    out = matrices[0]
    for m in matrices[1:]:
        out = (out[:, None, :] * m[None, :, :]).reshape(-1, m.shape[1])
    return out


def cp_kernel(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``einsum('or,ir,hr,wr->oihw', a, b, c, d)`` as ``A (B ⊙ C ⊙ D)^T``."""
    shape = (a.shape[0], b.shape[0], c.shape[0], d.shape[0])
    return (a @ khatri_rao_rows(b, c, d).T).reshape(shape)


def cp_grads(g: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray,
             d: np.ndarray) -> tuple[np.ndarray, ...]:
    """The four ``einsum('oihw,...->xr', G, ...)``: each factor's gradient is the unfolding of
    ``G`` along its mode times the Khatri-Rao product of the other three factors."""
    factors = (a, b, c, d)
    grads = []
    for mode in range(4):
        others = [f for k, f in enumerate(factors) if k != mode]
        unfolded = np.moveaxis(g, mode, 0).reshape(g.shape[mode], -1)
        grads.append(unfolded @ khatri_rao_rows(*others))
    return tuple(grads)


def tucker2_kernel(core: np.ndarray, out: np.ndarray, inp: np.ndarray) -> np.ndarray:
    """``einsum('abhw,oa,ib->oihw', core, out, inp)``."""
    ra, rb, kh, kw = core.shape
    t = (out @ core.reshape(ra, -1)).reshape(out.shape[0], rb, kh * kw)  # (o, b, hw)
    k = np.matmul(inp, t)  # (o, i, hw)
    return k.reshape(out.shape[0], inp.shape[0], kh, kw)


def tucker2_grads(g: np.ndarray, core: np.ndarray, out: np.ndarray,
                  inp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gradients of the core, the output and the input factor: ``einsum('oihw,oa,ib->abhw')``,
    ``einsum('oihw,abhw,ib->oa')`` and ``einsum('oihw,abhw,oa->ib')`` of ``G`` with the others."""
    c_out, c_in, kh, kw = g.shape
    ra, rb = core.shape[:2]
    g3 = g.reshape(c_out, c_in, kh * kw)
    core3 = core.reshape(ra, rb, kh * kw)
    g_core = np.matmul(inp.T, (out.T @ g3.reshape(c_out, -1)).reshape(ra, c_in, -1))
    with_inp = np.matmul(inp, core3)  # (a, i, hw): the kernel before the output factor
    g_out = g3.reshape(c_out, -1) @ with_inp.reshape(ra, -1).T
    with_out = (out @ core3.reshape(ra, -1)).reshape(c_out, rb, -1)  # (o, b, hw)
    g_inp = g3.transpose(1, 0, 2).reshape(c_in, -1) @ with_out.transpose(1, 0, 2).reshape(rb, -1).T
    return g_core.reshape(core.shape), g_out, g_inp
