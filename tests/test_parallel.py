"""lrconv._parallel: independent runs in forked workers give what the plain loop gives."""

from __future__ import annotations

import os
import warnings

import pytest

from lrconv import _parallel
from lrconv._parallel import parallel_map, processes


def _warn_and_square(x: int) -> int:
    warnings.warn(f"run {x}", UserWarning, stacklevel=2)
    return x * x


def test_same_results_in_order_as_the_loop():
    items = list(range(7))
    assert parallel_map(lambda x: (x, os.getpid() > 0, x ** 3), items) == [
        (x, True, x ** 3) for x in items]
    assert parallel_map(lambda x: x, []) == []
    assert parallel_map(lambda x: -x, [5]) == [-5]


def test_a_lambda_sees_the_callers_memory():
    table = {k: k + 0.5 for k in range(4)}  # not passed: a forked worker inherits it
    assert parallel_map(lambda k: table[k], list(table)) == [0.5, 1.5, 2.5, 3.5]


def test_runs_use_other_processes_where_the_platform_forks():
    pids = parallel_map(lambda _: os.getpid(), range(3))
    assert pids[0] == os.getpid()  # the first run stays in the caller
    if processes(3) > 1:  # the others go to the pool's workers (one may take both)
        assert os.getpid() not in pids[1:]


def test_warnings_of_every_run_reach_the_caller_in_order():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert parallel_map(_warn_and_square, [1, 2, 3]) == [1, 4, 9]
    assert [str(w.message) for w in caught] == ["run 1", "run 2", "run 3"]


@pytest.mark.parametrize("bad", [0, 2])
def test_an_error_in_any_run_is_raised_in_the_caller(bad):
    def run(x):
        if x == bad:
            raise ValueError(f"seed must be ...; received {x}")
        return x

    with pytest.raises(ValueError, match=f"received {bad}"):
        parallel_map(run, [0, 1, 2])


def test_nested_calls_run_in_the_worker_itself():
    inner = parallel_map(lambda x: parallel_map(lambda y: (os.getpid(), y), [x, x + 1]),
                         [0, 10, 20])
    assert [[y for _, y in pairs] for pairs in inner] == [[0, 1], [10, 11], [20, 21]]
    for pairs in inner[1:]:  # a worker runs an inner call itself, forking no more workers
        assert len({pid for pid, _ in pairs}) == 1


def test_the_environment_sets_the_limit(monkeypatch):
    monkeypatch.setenv("LRCONV_PROCESSES", "1")
    assert processes(5) == 1
    assert parallel_map(lambda _: os.getpid(), range(3)) == [os.getpid()] * 3
    monkeypatch.setenv("LRCONV_PROCESSES", "2")
    assert processes(5) in (1, 2)
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("LRCONV_PROCESSES", bad)
        with pytest.raises(ValueError, match="LRCONV_PROCESSES must be a positive integer"):
            processes(3)
    monkeypatch.delenv("LRCONV_PROCESSES")
    assert 1 <= processes(100) <= _parallel.MAX_PROCESSES
