"""lrconv.experiments: spreads over seeds and the rule for calling two results different."""

from __future__ import annotations

import statistics

import numpy as np
import pytest
from factories import tiny_nets
from hypothesis import given
from hypothesis import strategies as st

from lrconv.decompose import relative_error
from lrconv.experiments import Spread, adaptation_runs, differ, factorized_runs, over_seeds, spread

finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(st.lists(finite, min_size=2, max_size=12))
def test_spread_matches_the_statistics_module(values):
    s = spread(values)
    assert s.n == len(values)
    assert s.mean == pytest.approx(statistics.fmean(values), rel=1e-9, abs=1e-6)
    assert s.std == pytest.approx(statistics.stdev(values), rel=1e-6, abs=1e-6)
    assert (s.low, s.high) == (min(values), max(values))


def test_known_values_and_format():
    s = spread([0.98, 0.99, 1.0])
    assert s.mean == pytest.approx(0.99) and s.std == pytest.approx(0.01)
    assert format(s, ".3f") == "0.990 ± 0.010" and str(s) == "0.990 ± 0.010"
    assert spread([3]) == Spread(3.0, 0.0, 3.0, 3.0, 1)


def test_differ_needs_more_than_the_spreads():
    a, b = spread([0.90, 0.92, 0.94]), spread([0.95, 0.96, 0.97])
    assert a.std + b.std == pytest.approx(0.03)
    assert differ(a, b) is True  # means 0.05 apart
    assert differ(a, spread([0.93, 0.94, 0.95])) is False  # 0.02 apart, inside 0.03
    assert differ(a, a) is False


@pytest.mark.parametrize(
    ("values", "error", "match"),
    [([], ValueError, "non-empty"), ("abc", TypeError, "sequence"), (5, TypeError, "sequence"),
     ([1, None], TypeError, r"values\[1\]"), ([1, True], TypeError, r"values\[1\]"),
     ([1.0, float("nan")], ValueError, r"values\[1\] must be finite"),
     ([[1, 2], [3, 4]], ValueError, "1-D")],
)
def test_spread_rejects_bad_values(values, error, match):
    with pytest.raises(error, match=match):
        spread(values)


@given(st.one_of(st.none(), st.integers(), st.text(), st.floats()))
def test_differ_takes_only_spreads(other):
    with pytest.raises(TypeError, match="must be a Spread"):
        differ(spread([1.0]), other)


def test_over_seeds():
    assert over_seeds(lambda s: s * s, [0, 1, 2]) == [0, 1, 4]
    with pytest.raises(ValueError, match="distinct"):
        over_seeds(lambda s: s, [1, 1])
    with pytest.raises(ValueError, match="non-empty"):
        over_seeds(lambda s: s, [])
    with pytest.raises(ValueError, match=r"seeds\[0\] must be >= 0"):
        over_seeds(lambda s: s, [-1])
    with pytest.raises(TypeError, match="run must be callable"):
        over_seeds(3, [0])


# --------------------------------------------------------------------------- runs over seeds

def test_factorized_runs_scores_before_and_after_and_leaves_the_nets_alone():
    from lrconv import nn

    nets, data = tiny_nets()
    kernels = {s: net[3].kernel().copy() for s, net in nets.items()}
    runs = factorized_runs(nets, data, "cp", 2, epochs=1)
    assert [len(runs[k]) for k in ("error", "before", "after", "models")] == [2, 2, 2, 2]
    for s, net in nets.items():
        assert np.array_equal(net[3].kernel(), kernels[s])
        model = net.replace(3, nn.FactorizedConv2d.from_conv(net[3], "cp", 2, seed=s))
        assert runs["before"][s] == nn.correct(model, data[1], data[3]) / 10
        # the error of the factorization itself, before fine-tuning moved the factors
        assert runs["error"][s] == relative_error(net[3].kernel(), model[3].kernel())
    assert all(0 <= a <= 1 for a in runs["after"]) and all(0 < e < 1.5 for e in runs["error"])
    with pytest.raises(TypeError, match="nets must be a non-empty mapping"):
        factorized_runs({}, data, "cp", 2)
    with pytest.raises(TypeError, match="data must be the digits split"):
        factorized_runs(nets, data[:2], "cp", 2)


def test_adaptation_runs_trains_what_make_returns():
    nets, (x_tr, x_te, y_tr, y_te) = tiny_nets()
    frozen = adaptation_runs(nets, lambda net, s: net.only_trainable(), (x_tr, y_tr),
                             (x_te, y_te), epochs=0)
    probe = adaptation_runs(nets, lambda net, s: net.only_trainable(7), (x_tr, y_tr),
                            (x_te, y_te), epochs=2)
    assert frozen["trainable"] == [0, 0] and probe["trainable"] == [4 * 2 * 2 * 3 + 3] * 2
    for s, model in enumerate(probe["models"]):
        assert np.array_equal(model[3].kernel(), nets[s][3].kernel())
        assert not np.array_equal(model[7].params()["weight"], nets[s][7].params()["weight"])
    with pytest.raises(TypeError, match="make must be callable"):
        adaptation_runs(nets, None, (x_tr, y_tr), (x_te, y_te))
    with pytest.raises(TypeError, match="make must return"):
        adaptation_runs(nets, lambda net, s: 5, (x_tr, y_tr), (x_te, y_te))


def test_runs_in_workers_equal_the_plain_loop(monkeypatch):
    """The same numbers, in the same order, whether the seeds run side by side or one by one."""
    from lrconv import _parallel

    nets, data = tiny_nets()
    x_tr, x_te, y_tr, y_te = data
    make = lambda net, s: net.only_trainable(3, 7)  # noqa: E731  (a lambda, as in a notebook)
    results = []
    for setting in ("1", ""):
        monkeypatch.setenv("LRCONV_PROCESSES", setting)
        fact = factorized_runs(nets, data, "cp", 2, epochs=1)
        adapt = adaptation_runs(nets, make, (x_tr, y_tr), (x_te, y_te), epochs=2)
        trained = [m[3].kernel() for m in adapt["models"]]
        results.append((fact["error"], fact["before"], fact["after"], adapt["accuracy"],
                        trained))
    assert _parallel.processes(3) >= 2  # the default did use workers on this machine
    serial, parallel = results
    assert serial[:4] == parallel[:4]
    assert all(np.array_equal(a, b) for a, b in zip(serial[4], parallel[4], strict=True))
