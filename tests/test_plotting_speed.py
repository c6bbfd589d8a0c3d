"""Tests of lrconv.plotting.speed: stacked stage bars, the roofline and point labels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from lrconv import plotting as P  # noqa: E402
from lrconv.plotting.speed import label_points, plot_roofline, plot_stage_bars  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


STAGES = ["1x1 in", "3x1", "1x3", "1x1 out"]


def _segments(ax):
    """(x centre, bottom, height) of every bar segment, in drawing order."""
    return [(round(p.get_x() + p.get_width() / 2, 6), p.get_y(), p.get_height())
            for p in ax.patches]


def test_stage_bars_stack_the_values_in_order():
    values = {"R = 8": [1.0, 2.0, 3.0, 4.0], "R = 32": [4.0, 0.5, 0.5, 4.0]}
    ax = plot_stage_bars(values, stages=STAGES, ylabel="MACs (millions)")
    assert isinstance(ax, Axes)
    segs = _segments(ax)
    assert len(segs) == 8
    # stage j of bar i: drawn stage by stage, so bar 0's segments are at even positions
    bar0 = [s for s in segs if s[0] == 0]
    assert [s[2] for s in bar0] == [1.0, 2.0, 3.0, 4.0]
    assert [s[1] for s in bar0] == [0.0, 1.0, 3.0, 6.0]  # cumulative bottoms
    assert [t.get_text() for t in ax.get_xticklabels()] == ["R = 8", "R = 32"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == STAGES
    assert ax.get_ylabel() == "MACs (millions)"
    # grey-scale readable: neighbouring stages differ in fill or hatch
    fills = [(p.get_facecolor(), p.get_hatch()) for p in ax.patches[::2]]
    assert len(set(map(str, fills))) == 4


def test_stage_bars_as_shares_add_up_to_100():
    ax = plot_stage_bars({"a": [1, 1, 2, 0], "b": [3, 1, 0, 0]}, stages=STAGES, ylabel="%",
                         shares=True, legend=False)
    tops = {}
    for x, bottom, height in _segments(ax):
        tops[x] = max(tops.get(x, 0), bottom + height)
    assert tops == {0: pytest.approx(100), 1: pytest.approx(100)}
    assert ax.get_ylim() == (0, 100) and ax.get_legend() is None
    heights = [s[2] for s in _segments(ax) if s[0] == 0]
    assert heights == pytest.approx([25, 25, 50, 0])


@pytest.mark.parametrize(("values", "stages", "error", "match"), [
    ({}, STAGES, TypeError, "values"),
    ({"a": [1, 2, 3]}, STAGES, ValueError, "one value per stage"),
    ({"a": [1, -2, 3, 4]}, STAGES, ValueError, ">= 0"),
    ({"a": [1, np.nan, 3, 4]}, STAGES, ValueError, "finite"),
    ({"a": [1, 2, 3, 4]}, "1x1", TypeError, "stages"),
])
def test_stage_bars_reject_bad_input(values, stages, error, match):
    with pytest.raises(error, match=match):
        plot_stage_bars(values, stages=stages, ylabel="ms")


def test_roofline_draws_min_of_the_two_roofs():
    ax = plot_roofline({"dense": (184.0, 150.0), "depthwise": (0.8, 3.0)}, peak=300.0,
                       bandwidth=15.0, peak_label="sgemm", bandwidth_label="copy")
    roof = ax.lines[0]
    x, y = roof.get_xdata(), roof.get_ydata()
    np.testing.assert_allclose(y, np.minimum(300.0, 15.0 * x))
    assert x.min() <= 0.8 / 2 and x.max() >= 184 * 2  # the roof spans every point
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    legend = ax.get_legend().get_texts()[0].get_text()
    assert "sgemm: 300 GFLOP/s" in legend and "copy: 15 GB/s" in legend
    words = [t.get_text() for t in ax.texts]
    assert words == ["dense", "depthwise"]
    points = [(line.get_xdata()[0], line.get_ydata()[0]) for line in ax.lines[1:]]
    assert points == [(184.0, 150.0), (0.8, 3.0)]
    assert "FLOPs per byte" in ax.get_xlabel() and "GFLOP/s" in ax.get_ylabel()
    lo, hi = ax.get_ylim()
    assert lo < 3.0 and hi > 300.0  # every point and the peak inside


def test_roofline_stacks_the_labels_of_points_at_the_same_place():
    ax = plot_roofline({"a": (1.0, 2.0), "b": (1.05, 2.1), "c": (100.0, 50.0)}, peak=100.0,
                       bandwidth=10.0)
    offsets = {t.get_text(): t.xyann for t in ax.texts}
    assert offsets["a"] != offsets["b"] and offsets["a"] == offsets["c"]


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    (dict(points={"a": (1.0, 1.0)}, peak=0.0, bandwidth=1.0), ValueError, "peak"),
    (dict(points={"a": (1.0, 1.0)}, peak=1.0, bandwidth="fast"), TypeError, "bandwidth"),
    (dict(points={}, peak=1.0, bandwidth=1.0), TypeError, "points"),
    (dict(points={"a": (1.0,)}, peak=1.0, bandwidth=1.0), TypeError, "pair"),
    (dict(points={"a": (-1.0, 2.0)}, peak=1.0, bandwidth=1.0), ValueError, "points"),
])
def test_roofline_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        plot_roofline(**kwargs)


def test_label_points_writes_one_label_per_point():
    _, ax = plt.subplots()
    ax.plot([1, 2, 3], [3, 2, 1])
    label_points(ax, [1, 2, 3], [3, 2, 1], [4, 8, 16], prefix="R = ")
    assert [t.get_text() for t in ax.texts] == ["R = 4", "R = 8", "R = 16"]
    assert [t.xy for t in ax.texts] == [(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)]
    with pytest.raises(ValueError, match="same length"):
        label_points(ax, [1, 2], [1, 2], [1])
    with pytest.raises(TypeError, match="Axes"):
        label_points(None, [1], [1], [1])


def test_speed_charts_are_importable_from_the_package():
    assert P.plot_stage_bars is plot_stage_bars and P.plot_roofline is plot_roofline
    assert P.label_points is label_points
