"""lrconv.plotting.experiments: error-bar charts of results over seeds."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lrconv import plotting  # noqa: E402
from lrconv.experiments import spread  # noqa: E402


def test_error_bars_and_band_show_mean_and_spread():
    cp = [spread([0.90, 0.92, 0.94]), spread([0.97, 0.98, 0.99])]
    ax = plotting.plot_spreads({"CP": ([4, 24], cp)}, xlabel="x", ylabel="test error",
                               band=("dense", spread([0.98, 0.985, 0.99])), transform="error",
                               logx=True, logy=True)
    line = ax.containers[0].lines[0]
    assert np.allclose(line.get_ydata(), [0.08, 0.02])
    bars = ax.containers[0].lines[2][0].get_segments()
    assert np.allclose([b[:, 1] for b in bars], [[0.06, 0.10], [0.01, 0.03]])
    ys = ax.patches[0].get_path().transformed(ax.patches[0].get_patch_transform()).vertices[:, 1]
    assert np.allclose([ys.min(), ys.max()], [0.01, 0.02])
    assert ax.get_yscale() == "log" and ax.get_xscale() == "log"
    ax2 = plotting.plot_spreads({"CP": ([4, 24], cp)}, xlabel="x", ylabel="y", logx=True,
                                xticks=[4, 10, 24])
    assert [t.get_text() for t in ax2.get_xticklabels()] == ["4", "10", "24"]
    plt.close("all")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [({"series": {}}, TypeError, "non-empty mapping"),
     ({"series": {"a": ([1], [0.5])}}, TypeError, "must be a sequence of Spread"),
     ({"series": {"a": ([1, 2], [spread([1.0])])}}, ValueError, "one Spread per x value"),
     ({"series": {"a": ([1], [spread([1.0])])}, "transform": "log"}, ValueError, "transform"),
     ({"series": {"a": ([1], [spread([1.0])])}, "band": 0.5}, TypeError, "band must be a pair")],
)
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        plotting.plot_spreads(**kwargs, xlabel="x", ylabel="y")
    plt.close("all")
