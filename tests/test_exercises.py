"""Tests of lrconv.exercises: each checker passes a right answer, fails a wrong one and reports
a stub without raising."""

from __future__ import annotations

import numpy as np

from lrconv import exercises as E


def _stub(*args, **kwargs):
    raise NotImplementedError


def test_check_cross_correlation():
    def right(x, k):
        kh, kw = k.shape
        h, w = x.shape[0] - kh + 1, x.shape[1] - kw + 1
        return np.array([[np.sum(x[i:i + kh, j:j + kw] * k) for j in range(w)]
                         for i in range(h)])

    def flipped(x, k):  # true convolution: flips the kernel
        return right(x, k[::-1, ::-1])

    assert E.check_cross_correlation(right).passed
    bad = E.check_cross_correlation(flipped)
    assert not bad.passed and "off by" in bad.message
    stub = E.check_cross_correlation(_stub)
    assert not stub.passed and "still a stub" in repr(stub)


def test_check_two_passes():
    def right(x, a, b):
        kh, kw = len(a), len(b)
        v = sum(a[u] * x[u:x.shape[0] - kh + 1 + u, :] for u in range(kh))
        return sum(b[j] * v[:, j:v.shape[1] - kw + 1 + j] for j in range(kw))

    def swapped(x, a, b):  # b applied vertically: the wrong orientation
        return right(x, b, a) if len(a) == len(b) else right(x, a, b)[:-1]

    assert E.check_two_passes(right).passed
    assert not E.check_two_passes(swapped).passed
    stub = E.check_two_passes(_stub)
    assert not stub.passed and "still a stub" in repr(stub)


def test_check_rank_r_approximation():
    def right(kernel, rank):
        u, s, vt = np.linalg.svd(np.asarray(kernel, dtype=float), full_matrices=False)
        return (u[:, :rank] * s[:rank]) @ vt[:rank]

    def smallest(kernel, rank):  # keeps the smallest singular values instead
        u, s, vt = np.linalg.svd(np.asarray(kernel, dtype=float), full_matrices=False)
        return (u[:, -rank:] * s[-rank:]) @ vt[-rank:]

    def no_sigma(kernel, rank):  # forgets the singular values
        u, _, vt = np.linalg.svd(np.asarray(kernel, dtype=float), full_matrices=False)
        return u[:, :rank] @ vt[:rank]

    assert E.check_rank_r_approximation(right).passed
    assert not E.check_rank_r_approximation(smallest).passed
    assert not E.check_rank_r_approximation(no_sigma).passed
    stub = E.check_rank_r_approximation(_stub)
    assert not stub.passed and "still a stub" in repr(stub)


def test_check_cp_stages():
    def right(x, f):
        kh, kw = f.vertical.shape[0], f.horizontal.shape[0]
        z = np.einsum("ir,ihw->rhw", f.inp, x)
        h = z.shape[1] - kh + 1
        z = sum(f.vertical[u][:, None, None] * z[:, u:u + h] for u in range(kh))
        w = z.shape[2] - kw + 1
        z = sum(f.horizontal[v][:, None, None] * z[:, :, v:v + w] for v in range(kw))
        return np.einsum("or,rhw->ohw", f.out, z)

    def swapped(x, f):  # vertical and horizontal factors exchanged
        return right(x, f._replace(vertical=f.horizontal, horizontal=f.vertical))

    assert E.check_cp_stages(right).passed
    bad = E.check_cp_stages(swapped)
    assert not bad.passed
    stub = E.check_cp_stages(_stub)
    assert not stub.passed and "still a stub" in repr(stub)


def test_check_tucker2_hosvd():
    from lrconv.decompose import unfold

    def right(kernel, ranks):
        out = np.linalg.svd(unfold(kernel, 0))[0][:, :ranks[0]]
        inp = np.linalg.svd(unfold(kernel, 1))[0][:, :ranks[1]]
        return np.einsum("oihw,oa,ib->abhw", kernel, out, inp), out, inp

    def trailing(kernel, ranks):  # the smallest singular vectors instead of the leading ones
        out = np.linalg.svd(unfold(kernel, 0))[0][:, ::-1][:, :ranks[0]]
        inp = np.linalg.svd(unfold(kernel, 1))[0][:, ::-1][:, :ranks[1]]
        return np.einsum("oihw,oa,ib->abhw", kernel, out, inp), out, inp

    assert E.check_tucker2_hosvd(right).passed
    bad = E.check_tucker2_hosvd(trailing)
    assert not bad.passed and "off by" in bad.message
    stub = E.check_tucker2_hosvd(_stub)
    assert not stub.passed and "still a stub" in repr(stub)


def test_check_cp_inp_grad():
    def right(g, out, vertical, horizontal):
        return np.einsum("oihw,or,hr,wr->ir", g, out, vertical, horizontal)

    def swapped(g, out, vertical, horizontal):  # vertical and horizontal axes confused
        return np.einsum("oihw,or,wr,hr->ir", g, out, vertical, horizontal)

    assert E.check_cp_inp_grad(right).passed
    bad = E.check_cp_inp_grad(swapped)
    assert not bad.passed
    stub = E.check_cp_inp_grad(_stub)
    assert not stub.passed and "still a stub" in repr(stub)


def test_check_merge_locon():
    def right(kernel, down, up, scale):
        c_out, c_in, kh, kw = kernel.shape
        delta = up @ down.reshape(down.shape[0], -1)  # LoRA's B A on the reshaped kernel
        return kernel + scale * delta.reshape(c_out, c_in, kh, kw)

    def no_scale(kernel, down, up, scale):
        return right(kernel, down, up, 1.0)

    def update_only(kernel, down, up, scale):  # forgets the frozen kernel
        return right(np.zeros_like(kernel), down, up, scale)

    assert E.check_merge_locon(right).passed
    assert not E.check_merge_locon(no_scale).passed
    bad = E.check_merge_locon(update_only)
    assert not bad.passed and "off by" in bad.message
    stub = E.check_merge_locon(_stub)
    assert not stub.passed and "still a stub" in repr(stub)


def test_check_cp_break_even():
    from lrconv.cost import conv_cost, cp_cost

    def right(c_in, c_out, kh, kw, h, w, stride, padding):
        dense = conv_cost(c_in, c_out, kh, kw, h, w, stride=stride, padding=padding).macs
        rank = 0
        while cp_cost(c_in, c_out, kh, kw, h, w, rank + 1, stride=stride,
                      padding=padding).macs < dense:
            rank += 1
        return rank

    def padded_input(c_in, c_out, kh, kw, h, w, stride, padding):  # pads before the 1x1 stage
        hp, wp = h + 2 * padding, w + 2 * padding
        ho, wo = (hp - kh) // stride + 1, (wp - kw) // stride + 1
        per_rank = hp * wp * c_in + ho * wp * kh + ho * wo * kw + ho * wo * c_out
        return (ho * wo * c_out * c_in * kh * kw - 1) // per_rank

    assert E.check_cp_break_even(right).passed
    assert right(128, 128, 3, 3, 32, 32, 1, 1) == 562
    assert right(1, 1, 3, 3, 8, 8, 1, 0) == 0
    bad = E.check_cp_break_even(padded_input)
    assert not bad.passed and "off by" in bad.message
    stub = E.check_cp_break_even(_stub)
    assert not stub.passed and "still a stub" in repr(stub)
