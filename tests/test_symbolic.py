"""Tests of lrconv.symbolic: symbolic windows, cross-correlation, the Toeplitz matrix, the
separable passes and the seed's hand procedure."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import NON_NUMERIC, assert_rejected, bad_ints, bad_pairs

from lrconv import symbolic as S
from lrconv.conv import conv2d
from lrconv.data import seed_example

SETTINGS = settings(max_examples=40, deadline=None)


def loop_correlate(x: np.ndarray, k: np.ndarray, stride=(1, 1), padding=(0, 0)) -> np.ndarray:
    """Plain-loop reference cross-correlation."""
    xp = np.pad(x, ((padding[0],) * 2, (padding[1],) * 2))
    kh, kw = k.shape
    h_out = (xp.shape[0] - kh) // stride[0] + 1
    w_out = (xp.shape[1] - kw) // stride[1] + 1
    out = np.zeros((h_out, w_out), dtype=np.int64)
    for i in range(h_out):
        for j in range(w_out):
            for u in range(kh):
                for v in range(kw):
                    out[i, j] += k[u, v] * xp[i * stride[0] + u, j * stride[1] + v]
    return out


@st.composite
def problems(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 1)), draw(st.integers(0, 1))
    h = draw(st.integers(max(1, kh - 2 * ph), 5))
    w = draw(st.integers(max(1, kw - 2 * pw), 5))
    ints = st.integers(-4, 4)
    x = draw(hnp.arrays(np.int64, (h, w), elements=ints))
    k = draw(hnp.arrays(np.int64, (kh, kw), elements=ints))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    return x, k, stride, (ph, pw)


def test_symbolic_matrix_names_and_shape():
    x = S.symbolic_matrix("x", 2, 3)
    assert x.shape == (2, 3)
    assert str(x[0, 0]) == "x_11" and str(x[1, 2]) == "x_23"
    assert sp.latex(x[1, 2]) == "x_{23}"
    big = S.symbolic_matrix("x", 11, 2)
    assert sp.latex(big[10, 1]) == "x_{11,2}"
    assert len(big.free_symbols) == 22
    assert str(S.symbolic_matrix("k", 1, 1, start=0)[0, 0]) == "k_00"


def test_symbolic_vector_and_outer():
    a = S.symbolic_vector("a", 3)
    assert a.shape == (3, 1) and str(a[2]) == "a_3"
    m = S.outer([1, 1, 1], [1, 0, -1])
    assert m == sp.Matrix([[1, 0, -1]] * 3)
    assert m.rank() == 1


def test_seed_window_in_symbols_and_numbers():
    ex = seed_example()
    x = S.symbolic_matrix("x", 3, 3)
    top_left = S.correlate2d(x, ex.K)[0, 0]
    x11, x13, x21, x23, x31, x33 = (x[0, 0], x[0, 2], x[1, 0], x[1, 2], x[2, 0], x[2, 2])
    assert sp.expand(top_left - (x11 - x13 + x21 - x23 + x31 - x33)) == 0
    full = S.correlate2d(ex.X, ex.K)
    assert full == sp.Matrix([[-2, -2, 2], [2, -2, -2], [2, 2, -2]])


@SETTINGS
@given(problems())
def test_correlate2d_matches_loop_and_conv2d(problem):
    x, k, stride, padding = problem
    got = S.to_numpy(S.correlate2d(x, k, stride=stride, padding=padding), dtype=np.int64)
    want = loop_correlate(x, k, stride, padding)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(conv2d(x, k, stride=stride, padding=padding), want)


@SETTINGS
@given(problems())
def test_toeplitz_matrix_reproduces_the_convolution(problem):
    x, k, stride, padding = problem
    t = S.to_numpy(S.toeplitz_matrix(x.shape, k, stride=stride, padding=padding))
    want = loop_correlate(x, k, stride, padding)
    assert t.shape == (want.size, x.size)
    np.testing.assert_allclose(t @ x.ravel(), want.ravel())


def test_toeplitz_of_the_seed_kernel_is_sparse_and_banded():
    ex = seed_example()
    t = S.toeplitz_matrix((5, 5), ex.K)
    assert t.shape == (9, 25)
    arr = S.to_numpy(t)
    assert np.count_nonzero(arr) == 9 * 6  # six non-zero taps per output
    # output (0, 0) reads pixels (0..2, 0..2): columns 0, 2, 5, 7, 10, 12 are non-zero
    assert list(np.nonzero(arr[0])[0]) == [0, 2, 5, 7, 10, 12]


def test_toeplitz_with_a_symbolic_kernel_named_like_the_input():
    k = S.symbolic_matrix("xi", 2, 2)
    t = S.toeplitz_matrix((3, 3), k)
    assert t.shape == (4, 9)
    assert t.free_symbols == set(k)


@SETTINGS
@given(
    hnp.arrays(np.int64, (4, 5), elements=st.integers(-5, 5)),
    hnp.arrays(np.int64, 3, elements=st.integers(-3, 3)),
    hnp.arrays(np.int64, 2, elements=st.integers(-3, 3)),
    st.integers(1, 2), st.integers(0, 1),
)
def test_two_passes_equal_the_rank_one_convolution(x, a, b, s, p):
    full = S.correlate2d(x, np.outer(a, b), stride=s, padding=p)
    for order in ("vertical-first", "horizontal-first"):
        assert S.separable_correlate2d(x, a, b, order=order, stride=s, padding=p) == full


def test_symbolic_proof_of_separability():
    x = S.symbolic_matrix("x", 5, 5)
    a, b = S.symbolic_vector("a", 3), S.symbolic_vector("b", 3)
    diff = S.separable_correlate2d(x, a, b) - S.correlate2d(x, S.outer(a, b))
    assert S.is_zero_matrix(diff)
    assert not S.is_zero_matrix(S.correlate2d(x, S.outer(a, b)))
    assert S.expand_matrix(diff) == sp.zeros(3, 3)


def test_passes_shapes():
    x = S.symbolic_matrix("x", 5, 6)
    assert S.vertical_pass(x, [1, 1, 1]).shape == (3, 6)
    assert S.horizontal_pass(x, [1, 0, -1]).shape == (5, 4)
    assert S.vertical_pass(x, [1, 1, 1], stride=2, padding=1).shape == (3, 6)


def test_seed_hand_procedure_reproduces_the_post():
    ex = seed_example()
    patch = ex.X[:3, :3]
    assert S.seed_hand_procedure(patch, ex.a1, ex.b1) == 0
    assert S.bilinear_window(patch, ex.a1, ex.b1) == -2
    x = S.symbolic_matrix("x", 3, 3)
    assert S.seed_hand_procedure(x, ex.a1, ex.b1) == 0  # zero for every input


def test_seed_hand_procedure_formula_in_symbols():
    x = S.symbolic_matrix("x", 3, 3)
    a, b = S.symbolic_vector("a", 3), S.symbolic_vector("b", 3)
    got = S.seed_hand_procedure(x, a, b)
    want = (x[0, 0] + x[0, 1] + x[0, 2]) * (a.T * b)[0, 0]
    assert sp.expand(got - want) == 0
    # only the first row is read
    assert got.free_symbols & set(x) == {x[0, 0], x[0, 1], x[0, 2]}


@SETTINGS
@given(
    hnp.arrays(np.int64, (3, 3), elements=st.integers(-9, 9)),
    hnp.arrays(np.int64, 3, elements=st.integers(-9, 9)),
    hnp.arrays(np.int64, 3, elements=st.integers(-9, 9)),
)
def test_hand_procedure_is_row_sum_times_inner_product(patch, a, b):
    got = S.seed_hand_procedure(patch, a, b)
    assert got == int(patch[0].sum()) * int(a @ b)
    assert S.bilinear_window(patch, a, b) == int((patch * np.outer(a, b)).sum())


def test_window():
    ex = seed_example()
    w = S.window(ex.X, 1, 2, 3, 3)
    assert w == sp.Matrix(ex.X[1:4, 2:5].tolist())
    with pytest.raises(ValueError, match="does not fit"):
        S.window(ex.X, 3, 0, 3, 3)


def test_to_numpy_refuses_symbols():
    with pytest.raises(ValueError, match="symbols"):
        S.to_numpy(S.symbolic_matrix("x", 2, 2))
    np.testing.assert_array_equal(S.to_numpy(sp.Matrix([[1, 2]]), dtype=int), [[1, 2]])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: S.correlate2d(np.ones((2, 2)), np.ones((3, 3))), ValueError, "larger"),
        (lambda: S.correlate2d(np.ones((3, 3)), np.ones((2, 2)), stride=0), ValueError, "stride"),
        (lambda: S.correlate2d(np.ones((3, 3)), np.ones((2, 2)), padding=-1), ValueError,
         "padding"),
        (lambda: S.correlate2d(np.ones((3, 3)), np.ones((2, 2)), stride=1.5), TypeError,
         "stride"),
        (lambda: S.correlate2d(np.ones((2, 2, 2)), np.ones((2, 2))), ValueError, "x must"),
        (lambda: S.correlate2d("abc", np.ones((2, 2))), TypeError, "x must"),
        (lambda: S.correlate2d([[True, False]], [[1]]), TypeError, "x must"),
        (lambda: S.correlate2d([[1, 2], [3]], [[1]]), TypeError, "x"),
        (lambda: S.correlate2d(np.ones((0, 2)), [[1]]), ValueError, "empty"),
        (lambda: S.symbolic_matrix("x", 0, 2), ValueError, "rows"),
        (lambda: S.symbolic_matrix(3, 2, 2), TypeError, "name"),
        (lambda: S.toeplitz_matrix((3,), [[1]]), TypeError, "input_shape"),
        (lambda: S.seed_hand_procedure(np.ones((3, 3)), [1, 1], [1, 1, 1]), ValueError, "len"),
        (lambda: S.bilinear_window(np.ones((3, 2)), [1, 1, 1], [1, 1, 1]), ValueError, "patch"),
        (lambda: S.outer(np.ones((2, 2)), [1]), ValueError, "vector"),
        (lambda: S.separable_correlate2d(np.ones((3, 3)), [1], [1], order="diag"), ValueError,
         "order"),
    ],
)
def test_bad_input_is_reported(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- chapter 4: many channels and the CP stages -----------------------------------------------


def test_symbolic_stack_names_and_shape():
    x = S.symbolic_stack("x", 2, 3, 4)
    assert len(x) == 2 and x[0].shape == (3, 4)
    assert str(x[1][0, 2]) == "x_2,13" and sp.latex(x[1][0, 2]) == "x_{2,13}"
    assert len(set().union(*(m.free_symbols for m in x))) == 24


def test_symbolic_cp_factors_shapes():
    a, b, v, h = S.symbolic_cp_factors(3, 2, 4, 5, 2)
    assert (a.shape, b.shape, v.shape, h.shape) == ((3, 2), (2, 2), (4, 2), (5, 2))
    assert str(a[2, 1]) == "a_32" and str(h[4, 0]) == "h_51"


def test_cp_kernel_slices_match_numpy_einsum():
    rng = np.random.default_rng(0)
    f = [rng.integers(-3, 4, size=s) for s in ((2, 3), (3, 3), (3, 3), (2, 3))]
    k = S.cp_kernel_slices(*f)
    want = np.einsum("or,ir,hr,wr->oihw", *f)
    got = np.array([[S.to_numpy(k[o][i], dtype=int) for i in range(3)] for o in range(2)])
    np.testing.assert_array_equal(got, want)


def test_correlate_channels_matches_conv2d():
    rng = np.random.default_rng(1)
    x = rng.integers(-3, 4, size=(2, 5, 4))
    k = rng.integers(-2, 3, size=(3, 2, 2, 3))
    got = S.correlate_channels(list(x), [list(k[o]) for o in range(3)], stride=(2, 1),
                               padding=(1, 0))
    want = conv2d(x, k, stride=(2, 1), padding=(1, 0))
    np.testing.assert_array_equal(np.array([S.to_numpy(g, dtype=int) for g in got]), want)


@settings(max_examples=8, deadline=None)
@given(stride=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       padding=st.tuples(st.integers(0, 1), st.integers(0, 1)))
def test_cp_stages_equal_the_convolution_in_symbols(stride, padding):
    x = S.symbolic_stack("x", 2, 4, 3)
    f = S.symbolic_cp_factors(1, 2, 2, 3, 2)
    stages = S.symbolic_cp_stages(x, *f, stride=stride, padding=padding)
    full = S.correlate_channels(x, S.cp_kernel_slices(*f), stride=stride, padding=padding)
    assert len(stages) == 4 and len(stages[0]) == 2 and len(stages[3]) == 1
    assert stages[0][0].shape == (4, 3)  # the 1x1 stage keeps the size
    assert stages[1][0].shape[1] == 3  # the vertical stage keeps the columns
    assert S.is_zero_matrix(stages[3][0] - full[0])


def test_cp_stages_with_swapped_factors_differ():
    x = S.symbolic_stack("x", 1, 3, 3)
    a, b, v, h = S.symbolic_cp_factors(1, 1, 3, 3, 1)
    wrong = S.symbolic_cp_stages(x, a, b, h, v)[3][0]  # vertical and horizontal exchanged
    full = S.correlate_channels(x, S.cp_kernel_slices(a, b, v, h))[0]
    assert not S.is_zero_matrix(wrong - full)


def test_cp_stages_numeric_values_match_layers():
    from lrconv.decompose import CPFactors
    from lrconv.layers import cp_conv2d

    rng = np.random.default_rng(2)
    x = rng.integers(-3, 4, size=(2, 4, 5))
    f = [rng.integers(-2, 3, size=s) for s in ((3, 2), (2, 2), (3, 2), (2, 2))]
    got = S.symbolic_cp_stages(list(x), *f, stride=(1, 2), padding=1)[3]
    want = cp_conv2d(x, CPFactors(*f), stride=(1, 2), padding=1)
    np.testing.assert_allclose(np.array([S.to_numpy(g) for g in got]), want)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: S.symbolic_stack("", 1, 2, 2), TypeError, "name"),
        (lambda: S.symbolic_stack("x", 0, 2, 2), ValueError, "channels"),
        (lambda: S.symbolic_cp_factors(1, 1, 3, 3, 0), ValueError, "rank"),
        (lambda: S.cp_kernel_slices(np.ones((2, 2)), np.ones((2, 3)), np.ones((3, 2)),
                                    np.ones((3, 2))), ValueError, "inp"),
        (lambda: S.correlate_channels(np.ones((2, 3, 3)), [[np.ones((2, 2))] * 2]), TypeError,
         "list"),
        (lambda: S.correlate_channels([np.ones((3, 3)), np.ones((3, 2))], [[np.ones((2, 2))] * 2]),
         ValueError, "same shape"),
        (lambda: S.correlate_channels([np.ones((3, 3))], [[np.ones((2, 2))] * 2]), ValueError,
         "one matrix per input channel"),
        (lambda: S.symbolic_cp_stages([np.ones((3, 3))], *S.symbolic_cp_factors(1, 2, 2, 2, 1)),
         ValueError, "C_in"),
    ],
)
def test_chapter_4_helpers_reject_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- generated bad input ----------------------------------------------------------------------

X3 = S.symbolic_matrix("x", 3, 3)
K2 = S.symbolic_matrix("k", 2, 2)
XS = S.symbolic_stack("x", 2, 3, 3)
F = S.symbolic_cp_factors(2, 2, 2, 2, 2)


def bad_matrices(max_len: int = 10**9) -> st.SearchStrategy:
    """Values that are no 1-D or 2-D, non-empty matrix of real numbers or expressions."""
    types = st.one_of(
        st.sampled_from(NON_NUMERIC + [True, [[1, "a"]], [[1, None]], [[1, 2], [3]],
                                       np.ones((2, 2), dtype=complex), [[1j, 2]],
                                       np.ones((2, 2), dtype=bool), [[1, 2.0, True]],
                                       np.ones((2, 2)).astype("datetime64[s]")]),
    ).map(lambda v: (v, TypeError))
    shapes = st.sampled_from([np.ones((2, 2, 2)), np.ones((0, 2)), [], [[]], 3.0,
                              sp.zeros(0, 2), np.ones((101, 100))]).map(lambda v: (v, ValueError))
    return st.one_of(types, shapes)


def bad_vectors() -> st.SearchStrategy:
    return st.one_of(bad_matrices(), st.just((np.ones((2, 2)), ValueError)))


SETS = [
    (S.as_matrix, dict(value=[[1, 2]], name="value"), "value", bad_matrices()),
    (S.as_matrix, dict(value=[[1, 2]], name="value"), "name",
     st.sampled_from([None, 3, "", b"x"]).map(lambda v: (v, TypeError))),
    (S.symbolic_matrix, dict(name="x", rows=2, cols=2), "rows", bad_ints(1)),
    (S.symbolic_matrix, dict(name="x", rows=2, cols=2), "cols", bad_ints(1)),
    (S.symbolic_matrix, dict(name="x", rows=2, cols=2, start=1), "start", bad_ints(0)),
    (S.symbolic_vector, dict(name="x", length=2), "length", bad_ints(1)),
    (S.symbolic_stack, dict(name="x", channels=2, rows=2, cols=2), "channels", bad_ints(1)),
    (S.symbolic_cp_factors, dict(c_out=1, c_in=1, kh=2, kw=2, rank=1), "rank", bad_ints(1)),
    (S.symbolic_cp_factors, dict(c_out=1, c_in=1, kh=2, kw=2, rank=1), "kh", bad_ints(1)),
    (S.outer, dict(a=[1, 2], b=[1, 2]), "b", bad_vectors()),
    (S.window, dict(x=X3, row=0, col=0, kh=2, kw=2), "x", bad_matrices()),
    (S.window, dict(x=X3, row=0, col=0, kh=2, kw=2), "row", bad_ints(0)),
    (S.window, dict(x=X3, row=0, col=0, kh=2, kw=2), "col",
     st.one_of(bad_ints(0), st.integers(2, 10**30).map(lambda v: (v, ValueError)))),
    (S.correlate2d, dict(x=X3, kernel=K2), "x", bad_matrices()),
    (S.correlate2d, dict(x=X3, kernel=K2), "kernel", bad_matrices()),
    (S.correlate2d, dict(x=X3, kernel=K2), "stride", bad_pairs(1)),
    (S.correlate2d, dict(x=X3, kernel=K2), "padding",
     st.one_of(bad_pairs(0), st.integers(50, 10**30).map(lambda v: (v, ValueError)))),
    (S.correlate2d, dict(x=X3, kernel=K2), "expand",
     st.sampled_from([None, "yes", 1, np.ones(2)]).map(lambda v: (v, TypeError))),
    (S.toeplitz_matrix, dict(input_shape=(3, 3), kernel=K2), "input_shape",
     st.one_of(st.sampled_from([None, 3, (3,), (3, "a"), (True, 3), (2.5, 3), "ab"]).map(
         lambda v: (v, TypeError)),
               st.sampled_from([(0, 3), (3, -1), (10**4, 10**4)]).map(lambda v: (v, ValueError)))),
    (S.toeplitz_matrix, dict(input_shape=(3, 3), kernel=K2), "kernel", bad_matrices()),
    (S.to_numpy, dict(matrix=[[1, 2]]), "matrix",
     st.one_of(bad_matrices(), st.just((X3, ValueError)), st.just(([[sp.I]], ValueError)))),
    (S.to_numpy, dict(matrix=[[1, 2]]), "dtype",
     st.sampled_from([None, "zz", 3, object, complex, bool, str]).map(lambda v: (v, TypeError))),
    (S.vertical_pass, dict(x=X3, column=[1, 2]), "column",
     st.one_of(bad_vectors(), st.just(([1, 2, 3, 4], ValueError)))),
    (S.vertical_pass, dict(x=X3, column=[1, 2]), "stride", bad_ints(1)),
    (S.horizontal_pass, dict(x=X3, row=[1, 2]), "row",
     st.one_of(bad_vectors(), st.just(([1, 2, 3, 4], ValueError)))),
    (S.horizontal_pass, dict(x=X3, row=[1, 2]), "padding", bad_ints(0)),
    (S.separable_correlate2d, dict(x=X3, column=[1, 2], row=[1, 2]), "order",
     st.one_of(st.sampled_from([None, 3, ["vertical-first"]]).map(lambda v: (v, TypeError)),
               st.just(("diagonal", ValueError)))),
    (S.separable_correlate2d, dict(x=X3, column=[1, 2], row=[1, 2]), "row", bad_vectors()),
    (S.bilinear_window, dict(patch=K2, a=[1, 2], b=[1, 2]), "patch", bad_matrices()),
    (S.seed_hand_procedure, dict(patch=K2, a=[1, 2], b=[1, 2]), "a", bad_vectors()),
    (S.expand_matrix, dict(matrix=X3), "matrix", bad_matrices()),
    (S.is_zero_matrix, dict(matrix=X3), "matrix", bad_matrices()),
    (S.cp_kernel_slices, dict(out=F[0], inp=F[1], vertical=F[2], horizontal=F[3]), "horizontal",
     st.one_of(bad_matrices(), st.just((np.ones((2, 3)), ValueError)))),
    (S.correlate_channels, dict(x=XS, kernel=[[K2, K2]]), "x",
     st.one_of(st.sampled_from([None, 3, "ab"]).map(lambda v: (v, TypeError)),
               st.just(([], ValueError)),
               bad_matrices().map(lambda b: ([b[0], X3], b[1])))),
    (S.correlate_channels, dict(x=XS, kernel=[[K2, K2]]), "kernel",
     st.one_of(st.sampled_from([None, 3, []]).map(lambda v: (v, TypeError)),
               st.sampled_from([[[K2]], [[K2, K2, K2]], [[K2, np.ones((5, 5))]]]).map(
                   lambda v: (v, ValueError)),
               bad_matrices().map(lambda b: ([[K2, b[0]]], b[1])))),
    (S.symbolic_cp_stages, dict(x=XS, out=F[0], inp=F[1], vertical=F[2], horizontal=F[3]),
     "vertical", st.one_of(bad_matrices(), st.just((np.ones((4, 2)), ValueError)))),
    (S.symbolic_cp_stages, dict(x=XS, out=F[0], inp=F[1], vertical=F[2], horizontal=F[3]),
     "padding", bad_pairs(0)),
]


@pytest.mark.parametrize("func, args, name, bad", SETS,
                         ids=[f"{c[0].__name__}-{c[2]}-{i}" for i, c in enumerate(SETS)])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_generated_bad_input_is_rejected_naming_the_argument(func, args, name, bad, data):
    assert_rejected(func, args, name, data.draw(bad))


@pytest.mark.parametrize("call, pattern", [
    (lambda: S.symbolic_matrix("x", 10**9, 10**9), r"1000000000 x 1000000000 matrix .*rows"),
    (lambda: S.symbolic_stack("x", 1000, 10, 10), r"stack of 1000 matrices"),
    (lambda: S.correlate2d(X3, K2, padding=10**5), r"padded input .*padding \(100000"),
    (lambda: S.correlate2d(np.ones((100, 100)), np.ones((50, 50))), r"100,000"),
    (lambda: S.toeplitz_matrix((50, 50), [[1]]), r"input_shape \(50, 50\)"),
    (lambda: S.as_matrix(np.ones((101, 100)), "image"), r"^image of shape \(101, 100\) would "
                                                        r"have 10,100 entries"),
])
def test_requests_beyond_the_symbolic_limits_are_refused(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_messages_name_the_vector_that_does_not_fit():
    with pytest.raises(ValueError, match=r"^column of shape \(4, 1\) is larger than the padded"):
        S.vertical_pass(X3, [1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"^row of shape \(1, 4\) is larger"):
        S.horizontal_pass(X3, [1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"\(row, col\) = \(0, 2\) does not fit.*col \+ kw"):
        S.window(X3, 0, 2, 2, 2)


def test_complex_numbers_are_refused_but_expressions_are_kept():
    with pytest.raises(TypeError, match=r"^x must be a rectangular array of real numbers"):
        S.correlate2d([[1 + 2j]], [[1]])
    assert S.correlate2d([[sp.Rational(1, 2)]], [[sp.sqrt(2)]])[0, 0] == sp.sqrt(2) / 2
