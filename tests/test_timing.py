"""Tests of lrconv.timing: a fake clock makes every timing exact."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import assert_rejected, bad_arrays, bad_floats, bad_ints, not_callables

import lrconv.timing as timing
from lrconv.timing import Timing, calls_per_round, compare, median_time, speedup


class FakeClock:
    """A clock that only moves when a timed function says how long it took."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(timing, "time", fake)
    return fake


def takes(clock: FakeClock, seconds, log: list | None = None, name: str = ""):
    """A function whose k-th call takes seconds[k] (or always `seconds` if a number)."""
    calls = iter(seconds) if not np.isscalar(seconds) else None

    def fn():
        if log is not None:
            log.append(name)
        clock.advance(next(calls) if calls is not None else seconds)

    return fn


def test_median_time_is_the_median_round(clock):
    # warm-up call (10 s, ignored), then rounds of 1, 5, 2 seconds
    fn = takes(clock, [10.0, 1.0, 5.0, 2.0])
    assert median_time(fn, repeat=3, number=1, warmup=1) == 2.0


def test_rounds_report_seconds_per_call(clock):
    fn = takes(clock, 0.25)
    t = compare({"f": fn}, repeat=4, number=8)["f"]
    assert t.number == 8
    np.testing.assert_allclose(t.times, 0.25)
    assert t.spread == 0.0


def test_compare_interleaves_and_rotates_order(clock):
    log: list[str] = []
    fns = {n: takes(clock, 1.0, log, n) for n in "abc"}
    compare(fns, repeat=3, number=1, warmup=1)
    assert log[:3] == ["a", "b", "c"]  # warm-up
    assert log[3:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]


def test_warmup_calls_are_not_timed(clock):
    log: list[str] = []
    fn = takes(clock, [100.0, 100.0, 1.0, 1.0], log, "f")
    t = compare({"f": fn}, repeat=2, warmup=2)["f"]
    assert len(log) == 4
    np.testing.assert_allclose(t.times, [1.0, 1.0])


def test_speedup_is_median_of_roundwise_ratios(clock):
    slow = takes(clock, [3.0, 30.0, 3.0])
    fast = takes(clock, [1.0, 10.0, 2.0])
    res = compare({"slow": slow, "fast": fast}, repeat=3, warmup=0)
    # round ratios 3, 3, 1.5 -> median 3 (the ratio of medians would be 3 / 2 = 1.5)
    assert speedup(res["slow"], res["fast"]) == 3.0
    assert speedup(res["fast"], res["slow"]) == pytest.approx(1 / 3)


def test_calls_per_round_reaches_min_time(clock):
    fn = takes(clock, 0.001)
    assert calls_per_round(fn, min_time=0.02) == 32
    assert calls_per_round(fn, min_time=0.02, max_number=10) == 10
    assert calls_per_round(takes(clock, 1.0), min_time=0.02) == 1


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(1e-6, 1e3), min_size=1, max_size=9))
def test_median_matches_numpy(durations):
    fake = FakeClock()
    original = timing.time
    timing.time = fake
    try:
        t = compare({"f": takes(fake, durations)}, repeat=len(durations), warmup=0)["f"]
    finally:
        timing.time = original
    assert t.median == pytest.approx(float(np.median(durations)))
    assert min(durations) * (1 - 1e-6) <= t.median <= max(durations) * (1 + 1e-6)


def test_real_clock_measures_a_sleep():
    t = median_time(lambda: time.sleep(0.002), repeat=3)
    assert 0.0015 < t < 0.2


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"fns": {}}, ValueError, "fns must hold at least one function"),
        ({"fns": {3: lambda: None}}, TypeError, "fns must be named by strings"),
        ({"fns": [lambda: None]}, TypeError, "mapping"),
        ({"fns": {"f": 3}}, TypeError, r"fns\['f'\] must be callable"),
        ({"fns": {"f": lambda: None}, "repeat": 0}, ValueError, "repeat must be >= 1"),
        ({"fns": {"f": lambda: None}, "number": 1.5}, TypeError, "number must be an integer"),
        ({"fns": {"f": lambda: None}, "warmup": -1}, ValueError, "warmup must be >= 0"),
    ],
)
def test_compare_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        compare(**kwargs)


def test_other_functions_reject_bad_arguments():
    with pytest.raises(TypeError, match="fn must be callable"):
        calls_per_round(None)
    with pytest.raises(ValueError, match="min_time"):
        calls_per_round(lambda: None, min_time=-1)
    with pytest.raises(TypeError, match="baseline must be a Timing"):
        speedup(1.0, Timing(np.ones(3), 1))
    with pytest.raises(ValueError, match="same number of rounds"):
        speedup(Timing(np.ones(3), 1), Timing(np.ones(2), 1))
    with pytest.raises(ValueError, match="no measurable time"):
        speedup(Timing(np.ones(2), 1), Timing(np.array([1.0, 0.0]), 1))


def _noop():
    return None


CASES = [
    (calls_per_round, dict(fn=_noop, min_time=0.0, max_number=2), "fn", not_callables()),
    (calls_per_round, dict(fn=_noop, min_time=0.0, max_number=2), "min_time", bad_floats(0.0)),
    (calls_per_round, dict(fn=_noop, min_time=0.0, max_number=2), "max_number", bad_ints(1)),
    (compare, dict(fns={"f": _noop}, repeat=1, number=1, warmup=0), "repeat", bad_ints(1)),
    (compare, dict(fns={"f": _noop}, repeat=1, number=1, warmup=0), "number", bad_ints(1)),
    (compare, dict(fns={"f": _noop}, repeat=1, number=1, warmup=0), "warmup", bad_ints(0)),
    (compare, dict(fns={"f": _noop}, repeat=1, number=1, warmup=0), "fns",
     st.one_of(not_callables().map(lambda b: ({"f": b[0]}, TypeError)),
               st.sampled_from([None, 3, "f", [_noop]]).map(lambda v: (v, TypeError)))),
    (median_time, dict(fn=_noop, repeat=1, number=1, warmup=0), "fn", not_callables()),
    (median_time, dict(fn=_noop, repeat=1, number=1, warmup=0), "repeat", bad_ints(1)),
    (Timing, dict(times=np.ones(3), number=1), "times", bad_arrays((1,))),
    (Timing, dict(times=np.ones(3), number=1), "number", bad_ints(1)),
    (Timing, dict(times=np.ones(3), number=1), "times",
     st.sampled_from([[1.0, np.nan], [np.inf], [-1.0, 2.0]]).map(lambda v: (v, ValueError))),
    (speedup, dict(baseline=Timing(np.ones(3), 1), other=Timing(np.ones(3), 1)), "other",
     st.sampled_from([None, 1.0, (np.ones(3), 1), "t"]).map(lambda v: (v, TypeError))),
]


@pytest.mark.parametrize("func, args, name, bad", CASES,
                         ids=[f"{c[0].__name__}-{c[2]}-{i}" for i, c in enumerate(CASES)])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_generated_bad_input_is_rejected_naming_the_argument(func, args, name, bad, data):
    assert_rejected(func, args, name, data.draw(bad))


def test_a_timing_keeps_valid_fields_as_float_arrays():
    t = Timing([1, 2, 3], 2)
    assert t.times.dtype == np.float64 and t.number == 2 and t.median == 2.0
    times, number = t  # still a named tuple
    assert number == 2 and list(times) == [1.0, 2.0, 3.0]


def test_more_rounds_than_the_memory_budget_are_refused():
    with pytest.raises(ValueError, match=r"timings of 3000 functions \(repeat = 1000000\)"):
        compare({str(i): _noop for i in range(3000)}, repeat=10**6)


@pytest.mark.parametrize("kwargs", [dict(repeat=10**7), dict(number=10**30),
                                    dict(warmup=10**7, repeat=1)])
def test_runs_that_would_not_end_are_refused(kwargs):
    with pytest.raises(ValueError, match=r"^warmup \+ repeat \* number must be at most "
                                         r"10,000,000 calls"):
        compare({"f": _noop}, **kwargs)
    with pytest.raises(ValueError, match=r"^max_number must be at most 5,000,000"):
        calls_per_round(_noop, max_number=10**9)
