"""Tests of lrconv.plotting: each helper returns a Figure or Axes with the expected content."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402

from lrconv import plotting as P  # noqa: E402
from lrconv.data import sample_photo, seed_example  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def texts(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_house_style_is_scoped():
    before = dict(matplotlib.rcParams)
    with P.house_style():
        assert matplotlib.rcParams["axes.spines.top"] is False
    assert matplotlib.rcParams["axes.spines.top"] == before["axes.spines.top"]


def test_house_style_keeps_interactive_mode_set_inside():
    """Jupyter's inline backend turns interactive mode on while the first figure is drawn;
    leaving the style must not turn it off again (later figures would not be shown)."""
    was = matplotlib.is_interactive()
    try:
        matplotlib.interactive(False)
        with P.house_style():
            matplotlib.interactive(True)
        assert matplotlib.is_interactive()
    finally:
        matplotlib.interactive(was)


def test_plot_kernel_writes_every_value():
    ax = P.plot_kernel(seed_example().K)
    assert isinstance(ax, Axes)
    assert texts(ax) == ["1", "0", "-1"] * 3
    assert ax.get_xlabel() == "column j" and ax.get_ylabel() == "row i"
    assert ax.get_title() == "kernel K"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]
    im = ax.images[0]
    assert im.get_cmap().name == "RdBu_r"
    assert im.get_clim() == (-1.0, 1.0)  # symmetric about zero


def test_plot_kernel_contrast_and_options():
    ax = P.plot_kernel(seed_example().K, annotate=False, title="K")
    assert texts(ax) == [] and ax.get_title() == "K"
    ax = P.plot_kernel([[0.5, 0.25]], fmt=".1f")
    assert texts(ax) == ["0.5", "0.2"]
    assert ax.images[0].get_cmap().name == "gray"
    # text colour follows the cell brightness: black on white, white on black
    ax = P.plot_matrix([[0.0, 1.0]])
    assert [t.get_color() for t in ax.texts] == ["white", "black"]


def test_plot_into_given_axes():
    fig, axes = plt.subplots(1, 2)
    ax = P.plot_kernel(seed_example().K, ax=axes[1])
    assert ax is axes[1] and len(fig.axes) == 2


def test_plot_feature_map():
    ax = P.plot_feature_map([[-2, -2, 2], [2, -2, -2], [2, 2, -2]])
    assert len(ax.texts) == 9 and ax.get_xlabel() == "output column"
    big = P.plot_feature_map(np.random.default_rng(0).normal(size=(20, 20)))
    assert len(big.texts) == 0 and len(big.figure.axes) == 2  # colour bar
    assert big.figure.axes[1].get_ylabel() == "output value"  # the colour bar says what it shows
    named = P.plot_feature_map(np.ones((20, 20)), colorbar_label="edge strength")
    assert named.figure.axes[1].get_ylabel() == "edge strength"


def test_tiny_negative_values_are_written_as_zero():
    ax = P.plot_matrix([[-1e-17, -0.004, -0.5]], fmt=".2f")
    assert texts(ax) == ["0.00", "0.00", "-0.50"]


def test_plot_channels():
    fig = P.plot_channels(sample_photo(40))
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == [
        "photo (3 channels)", "red channel", "green channel", "blue channel"]
    assert all(len(ax.images) == 1 for ax in fig.axes)
    assert fig.axes[1].images[0].get_cmap().name == "gray"
    assert all(ax.get_xlabel() for ax in fig.axes)


def test_plot_patch_cube():
    ax = P.plot_patch_cube((3, 7, 7), kernel_size=3, position=(1, 2))
    polys = [p for p in ax.patches if isinstance(p, Polygon)]
    assert len(polys) == 4 * 3  # input, patch, output, output cell: three faces each
    joined = " ".join(texts(ax))
    assert "3 x 3 x 3" in joined and "27 numbers" in joined and "output  5 x 5" in joined


def test_draw_box_faces():
    fig, ax = plt.subplots()
    faces = P.draw_box(ax, (0, 0, 0), (2, 2, 2), grid=True)
    assert len(faces) == 3 and len(ax.lines) == 5  # 2 + 1 + 2 interior grid lines


def test_plot_sliding_window():
    fig = P.plot_sliding_window((5, 5), kernel_size=3, stride=2, padding=1)
    assert len(fig.axes) == 4
    assert fig.axes[-1].get_title() == "output 3 x 3"
    # padded 7 x 7 grid: 24 padding cells marked 0
    assert texts(fig.axes[0]).count("0") == 24
    assert "stride 2, padding 1" in fig.get_suptitle()
    fig = P.plot_sliding_window((5, 5), kernel_size=3, positions=[(2, 2)])
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "window 1 makes output (3, 3)"
    # the window and the output cell it makes carry the same number; ticks count from 1
    assert "1" in texts(fig.axes[0]) and texts(fig.axes[1]) == ["1"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1", "2", "3", "4", "5"]
    padded = P.plot_sliding_window((5, 5), kernel_size=3, padding=1, positions=[(0, 0)])
    ticks = [t.get_text() for t in padded.axes[0].get_yticklabels()]
    assert ticks[0] == "0" and ticks[-1] == "6"  # the padding rows


def test_plot_toeplitz():
    t = np.zeros((2, 4))
    t[0, 0], t[1, 3] = 1, -1
    ax = P.plot_toeplitz(t)
    assert texts(ax) == ["1", "-1"]
    assert "2 of 8 entries non-zero" in ax.get_title()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: P.plot_kernel(np.ones(3)), ValueError, r"kernel must have"),
        (lambda: P.plot_kernel("abc"), TypeError, r"kernel must be"),
        (lambda: P.plot_channels(np.ones((4, 5, 5))), ValueError, r"photo must have"),
        (lambda: P.plot_channels(np.ones((5, 5))), ValueError, r"photo must have"),
        (lambda: P.plot_patch_cube((3, 2, 2), kernel_size=3), ValueError, r"kernel_size \(3, 3\)"),
        (lambda: P.plot_patch_cube((3, 7, 7), kernel_size=3, position=(5, 0)),
         ValueError, r"position \(5, 0\)"),
        (lambda: P.plot_sliding_window((5, 5), kernel_size=3, positions=[(3, 0)]),
         ValueError, r"position \(3, 0\)"),
        (lambda: P.plot_sliding_window((5, 5), kernel_size=3, stride=0),
         ValueError, r"stride must be"),
        (lambda: P.plot_kernel(np.ones((2, 2)), ax="axes"), TypeError, r"ax must be"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- chapter 3/4 helpers ------------------------------------------------------------------------


def test_plot_matrix_shares_given_limits():
    ax = P.plot_matrix([[0.5, -0.5]], limits=(-2.0, 2.0))
    assert ax.images[0].get_clim() == (-2.0, 2.0)


def test_plot_singular_values_panels_titles_and_hatching():
    values = {"a": [3.0, 1.0, 0.0], "b": [2.0, 0.0]}
    fig = P.plot_singular_values(values, ranks={"a": 2, "b": 1}, ncols=4)
    a, b = fig.axes[:2]
    assert a.get_title() == "a: rank 2" and b.get_title() == "b: rank 1"
    heights = [round(p.get_height(), 6) for p in a.patches]
    assert heights == [1.0, round(1 / 3, 6), 0.0]  # relative to the largest
    assert [p.get_hatch() for p in a.patches] == [None, None, "//"]
    assert texts(a) == ["1.00", "0.33", "0.00"]
    absolute = P.plot_singular_values(values, relative=False)
    assert [p.get_height() for p in absolute.axes[0].patches] == [3.0, 1.0, 0.0]


def test_plot_singular_values_hides_unused_panels():
    fig = P.plot_singular_values({str(i): [1.0] for i in range(5)}, ncols=3)
    assert len(fig.axes) == 6 and not fig.axes[5].axison


def test_plot_rank_approximations_partial_sums_and_errors():
    k = np.array([[1.0, 0.0], [0.0, 0.5]])
    terms = [np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 0.5]])]
    fig = P.plot_rank_approximations(k, terms)
    axes = fig.axes
    assert len(axes) == 6 and not axes[3].axison
    assert axes[4].get_title() == "rank 1: error 0.50"
    assert axes[5].get_title() == "rank 2: error 0.00"
    np.testing.assert_allclose(axes[5].images[0].get_array(), k)
    clims = {ax.images[0].get_clim() for ax in axes if ax.images}
    assert clims == {(-1.0, 1.0)}  # one shared scale


def test_plot_rank_outputs_rows_and_difference():
    ref = np.zeros((4, 4))
    out = np.full((4, 4), 0.25)
    fig = P.plot_rank_outputs(ref, [np.eye(2), np.eye(2)], [ref, out], ["full", "rank 1"])
    titles = [ax.get_title() for ax in fig.axes]
    assert "difference: none (below 1e-12)" in titles and "difference, max 0.25" in titles
    noise = P.plot_rank_outputs(ref + 1, [np.eye(2)], [ref + 1 + 1e-15], ["rank 2"])
    assert "difference: none (below 1e-12)" in [ax.get_title() for ax in noise.axes]
    assert "rank 1: output" in titles


def test_plot_rank_error_curve_lines():
    ax = P.plot_rank_error_curve([1, 2, 3], {"error": [3, 2, 1], "bound": [4, 3, 2]},
                                 logy=True, title="t")
    assert [line.get_label() for line in ax.lines] == ["error", "bound"]
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [4, 3, 2])
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "rank kept r"


def test_plot_hand_procedure_shows_both_step_ones_and_results():
    ex = seed_example()
    fig = P.plot_hand_procedure(ex.X[:3, :3], ex.a1, ex.b1)
    post, right = (" ".join(texts(ax)) for ax in fig.axes)
    # the post: b1 scaled by 1, 2, 3 and added to (6, 0, -6), then a1 gives 0
    assert "1 b1" in post and "3 b1" in post and "a1 \u00b7 (6, 0, -6) = 0" in post
    # corrected: b1 against each row gives (-2, -2, 2), then a1 gives -2 (the full convolution)
    assert "a1 \u00b7 (-2, -2, 2) = -2" in right and "row 3 \u00b7 b1 =" in right
    unread = [t for t in fig.axes[0].texts if t.get_fontstyle() == "italic"]
    assert len(unread) == 6  # rows 2 and 3 of the window are never read by the post's step 1
    with pytest.raises(ValueError, match="patch must have shape"):
        P.plot_hand_procedure(np.ones((2, 3)), ex.a1, ex.b1)


def test_plot_cp_stage_reads_draws_what_each_stage_reads():
    fig = P.plot_cp_stage_reads((3, 6, 6), rank=2, c_out=3, kernel_size=3)
    assert len(fig.axes) == 4
    counts = [next(t for t in texts(ax) if t.endswith("\u2192 1")) for ax in fig.axes]
    # C_in numbers, k_h numbers, k_w numbers, R numbers: each stage reads along one axis
    assert counts == ["3 numbers \u2192 1", "3 numbers \u2192 1", "3 numbers \u2192 1",
                      "2 numbers \u2192 1"]
    labels = " ".join(texts(fig.axes[1]) + texts(fig.axes[2]))
    assert "Z1  2 x 6 x 6" in labels and "Z2  2 x 4 x 6" in labels and "Z3  2 x 4 x 4" in labels
    with pytest.raises(ValueError, match="position"):
        P.plot_cp_stage_reads((3, 6, 6), position=(4, 0))
    with pytest.raises(TypeError, match="input_shape"):
        P.plot_cp_stage_reads((6, 6))


def test_plot_stage_diagram_labels_shapes_and_costs():
    from lrconv.cost import cp_stage_costs

    stages = cp_stage_costs(3, 5, 3, 3, 8, 8, 4)
    fig = P.plot_stage_diagram(stages, title="CP")
    ax = fig.axes[0]
    labels = texts(ax)
    for shape in ("3 x 8 x 8", "4 x 8 x 8", "4 x 6 x 8", "4 x 6 x 6", "5 x 6 x 6"):
        assert shape in labels
    assert any(t.startswith("1. pointwise") for t in labels)
    assert f"{stages[3].params:,} params\n{stages[3].macs:,} MACs" in labels
    assert sum(isinstance(p, Polygon) for p in ax.patches) == 3 * 5  # three faces per box


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: P.plot_singular_values({}), TypeError, r"values must be"),
        (lambda: P.plot_singular_values({"a": np.ones((2, 2))}),
         ValueError, r"values\['a'\] must have"),
        (lambda: P.plot_rank_approximations(np.ones((2, 2)), []), ValueError, r"terms must hold"),
        (lambda: P.plot_rank_approximations(np.ones((2, 2)), [np.ones((3, 3))]),
         ValueError, r"terms\[0\] must have"),
        (lambda: P.plot_rank_outputs(np.ones((3, 3)), [np.ones((2, 2))], [np.ones((3, 3))],
                                     []), ValueError, r"kernels, outputs and"),
        (lambda: P.plot_rank_outputs(np.ones((3, 3)), [np.ones((2, 2))], [np.ones((2, 3))],
                                     ["a"]), ValueError, r"outputs\[0\] must have"),
        (lambda: P.plot_rank_error_curve([1, 2], {"a": [1.0]}),
         ValueError, r"curves\['a'\] must have"),
        (lambda: P.plot_rank_error_curve([1, 2], {}), TypeError, r"curves must be"),
        (lambda: P.plot_stage_diagram([]), ValueError, r"stages must hold"),
        (lambda: P.plot_stage_diagram([(1, 2)]), TypeError, r"stages\[0\] must have"),
    ],
)
def test_chapter_3_4_helpers_reject_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- chapter 5 helpers


def test_plot_curves_draws_one_labelled_line_per_series():
    ax = P.plot_curves({"CP": ([10, 20, 40], [0.5, 0.3, 0.1]), "Tucker-2": ([15, 30], [0.6, 0.2])},
                       xlabel="parameters", ylabel="relative error", logy=True)
    assert [line.get_label() for line in ax.get_lines()] == ["CP", "Tucker-2"]
    np.testing.assert_array_equal(ax.get_lines()[1].get_xdata(), [15, 30])
    assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"
    assert ax.get_xlabel() == "parameters" and ax.get_legend() is not None


def test_plot_convergence_numbers_the_sweeps_from_one():
    ax = P.plot_convergence({"planted": [1.0, 0.1, 0.01], "random": [1.0, 0.9]})
    first, second = ax.get_lines()
    np.testing.assert_array_equal(first.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(second.get_ydata(), [1.0, 0.9])
    assert ax.get_xlabel() == "sweep" and ax.get_yscale() == "log"


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: P.plot_curves({}, xlabel="x", ylabel="y"), TypeError, r"series must be"),
        (lambda: P.plot_curves({"a": [1, 2, 3]}, xlabel="x", ylabel="y"),
         TypeError, r"series\['a'\] must be"),
        (lambda: P.plot_curves({"a": ([1, 2], [1.0])}, xlabel="x", ylabel="y"),
         ValueError, r"series\['a'\] needs x"),
        (lambda: P.plot_convergence([1.0, 0.5]), TypeError, r"histories must be"),
        (lambda: P.plot_convergence({"a": np.ones((2, 2))}),
         ValueError, r"histories\['a'\] must have"),
    ],
)
def test_chapter_5_helpers_reject_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_plot_filter_grid_shares_one_scale_and_hides_spare_panels():
    filters = np.stack([np.eye(3) - 0.5, 2 * np.eye(3), -np.ones((3, 3))])
    fig = P.plot_filter_grid(filters, titles=["a", "b", "c"], ncols=2)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 3
    assert {ax.images[0].get_clim() for ax in panels} == {(-2.0, 2.0)}
    assert panels[0].images[0].get_cmap().name == "RdBu_r"
    assert [ax.get_title() for ax in panels] == ["a", "b", "c"]
    images = P.plot_filter_grid(np.ones((2, 8, 8)))
    assert [ax for ax in images.axes if ax.images][0].images[0].get_clim() == (0.0, 1.0)
    plt.close("all")
    with pytest.raises(ValueError, match="titles"):
        P.plot_filter_grid(filters, titles=["a"])
    with pytest.raises(ValueError, match="dimensions"):
        P.plot_filter_grid(np.ones((3, 3)))


# --- the package's conventions


def test_every_public_helper_wears_the_house_style():
    seen = {}

    def probe(*_args, **_kwargs):
        seen["spines"] = matplotlib.rcParams["axes.spines.top"]
        return "drawn"

    matplotlib.rcParams["axes.spines.top"] = True
    try:
        assert P.styled(probe)(1, x=2) == "drawn"
        assert seen["spines"] is False
        assert matplotlib.rcParams["axes.spines.top"] is True  # restored afterwards
    finally:
        matplotlib.rcdefaults()
    for name in P.__all__:
        obj = getattr(P, name)
        if name.startswith("plot_") and obj is not P.plot_convergence \
                and obj is not P.plot_rank_error_curve:
            assert hasattr(obj, "__wrapped__"), name


@pytest.mark.parametrize("name", [n for n in P.__all__ if n.startswith("plot_")])
def test_argument_convention_ax_second_options_keyword_only(name):
    import inspect

    params = list(inspect.signature(getattr(P, name)).parameters.values())
    names = [p.name for p in params]
    positional = [p for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    # options (parameters with a default) are keyword-only; the only positional parameters with
    # a default are the data themselves when they come first (a default shape) and ``ax``
    options = [p.name for k, p in enumerate(positional)
               if p.default is not inspect.Parameter.empty and k > 0 and p.name != "ax"]
    assert not options, f"{name}: options that should be keyword-only: {options}"
    if "ax" in names:
        position = names.index("ax")
        assert params[position].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, name
        # the data come first: one argument before ax, or two for the rank-error alias
        assert position == (2 if name == "plot_rank_error_curve" else 1), name
        assert positional[-1].name == "ax", f"{name}: nothing positional after ax"


def test_plot_lines_is_the_one_line_chart():
    assert P.plot_curves is P.plot_lines
    ax = P.plot_lines({"a": ([1, 2, 3], [1.0, 2.0, 3.0]), "b": ([1, 2, 3], [1.0, 2.0, 3.0])},
                      xlabel="x", ylabel="y", xticks=[1, 2, 3])
    first, second = ax.get_lines()
    # lines that lie on each other stay visible: different dash, marker, size and fill
    assert first.get_linestyle() != second.get_linestyle()
    assert first.get_marker() != second.get_marker()
    assert second.get_markersize() < first.get_markersize()
    assert second.get_markerfacecolor() == "white"
    assert list(ax.get_xticks()) == [1, 2, 3]
    single = P.plot_lines({"only": ([1, 2], [3.0, 4.0])}, xlabel="x", ylabel="y")
    assert single.get_legend() is None
    assert P.plot_lines({"only": ([1, 2], [3.0, 4.0])}, xlabel="x", ylabel="y",
                        legend=True).get_legend() is not None


def test_pixels_are_numbered_from_one_as_in_the_formulas():
    big = P.plot_feature_map(np.zeros((20, 30)))
    assert big.images[0].get_extent() == [0.5, 30.5, 20.5, 0.5]  # pixel (1, 1) at (1, 1)
    small = P.plot_matrix(np.eye(3), one_based=True)
    assert [t.get_position() for t in small.texts][:2] == [(1, 1), (2, 1)]
    assert [t.get_text() for t in small.get_yticklabels()] == ["1", "2", "3"]
    zero_based = P.plot_matrix(np.eye(3))
    assert zero_based.texts[0].get_position() == (0, 0)
    fig = P.plot_channels(sample_photo(40))
    assert fig.axes[1].images[0].get_extent()[0] == 0.5
    toeplitz = P.plot_toeplitz(np.eye(2))
    assert [t.get_position() for t in toeplitz.texts] == [(1, 1), (2, 2)]
