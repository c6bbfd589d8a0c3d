"""Independent runs side by side in worker processes (chapters 7, 8).

The chapters repeat each training experiment for a few seeds; the runs share nothing, each is
deterministic given its seed, and each uses one BLAS thread. On Linux :func:`parallel_map`
therefore runs them in the calling process and forked workers, one process per run (up to
:data:`MAX_PROCESSES`), and returns exactly what the loop ``[fn(x) for x in items]`` would: the
same results, in the same order, whatever the number of cores. A forked worker inherits ``fn``
and ``items`` from memory, so ``fn`` may be a lambda defined in a notebook; only the results
travel back (pickled). Warnings raised in a worker are raised again in the caller, in order.

Elsewhere (macOS and Windows start workers by spawning a fresh interpreter, which cannot see a
notebook's lambdas), on a single core, inside a worker, or with the environment variable
``LRCONV_PROCESSES=1``, the loop runs in the calling process.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["MAX_PROCESSES", "parallel_map", "processes"]

T = TypeVar("T")
R = TypeVar("R")

MAX_PROCESSES = 8
"""At most this many workers at once."""

_in_worker = False
_task: tuple[Callable, Sequence] | None = None


def processes(n_items: int) -> int:
    """How many workers :func:`parallel_map` uses for ``n_items`` runs (1: in the caller).

    One per run, at most :data:`MAX_PROCESSES`, on a machine with two or more cores where
    workers are forked (Linux); ``LRCONV_PROCESSES`` (a positive integer) sets the upper limit.
    """
    if _in_worker or not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2:
        return 1
    limit = MAX_PROCESSES
    setting = os.environ.get("LRCONV_PROCESSES", "").strip()
    if setting:
        if not setting.isdigit() or int(setting) < 1:
            raise ValueError(f"LRCONV_PROCESSES must be a positive integer; received "
                             f"{setting!r}")
        limit = int(setting)
    return max(1, min(n_items, limit))


def _start_worker() -> None:
    global _in_worker
    _in_worker = True


def _run(index: int) -> tuple[object, list[tuple[type[Warning], str]]]:
    fn, items = _task  # set by the caller before the fork
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(items[index])
    return result, [(w.category, str(w.message)) for w in caught]


def parallel_map(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[fn(x) for x in items]``, the runs side by side where :func:`processes` allows.

    The first run goes on in the calling process while forked workers do the others, so a bad
    argument fails there first, with its own traceback. ``fn`` must not depend on state that
    another run changes (each worker has its own copy of memory) and must return a picklable
    result. An exception in a worker is raised here.
    """
    global _task
    items = list(items)
    workers = processes(len(items)) - 1
    if workers < 1:
        return [fn(x) for x in items]
    _task = (fn, items)
    try:
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a multi-threaded process (a Jupyter kernel) can
            # deadlock a child that takes a lock another thread held; the runs take none.
            warnings.simplefilter("ignore", DeprecationWarning)
            pool = multiprocessing.get_context("fork").Pool(workers, _start_worker)
        # The pool is closed and joined, never terminated: Pool.terminate can hang while its
        # workers are still busy, so the caller waits for them even when its own run fails.
        try:
            pending = pool.map_async(_run, range(1, len(items)), chunksize=1)
            try:
                first = fn(items[0])
            finally:
                pending.wait()
            outcomes = pending.get()
        finally:
            pool.close()
            pool.join()
    finally:
        _task = None
    results = [first]
    for result, caught in outcomes:
        for category, message in caught:
            warnings.warn(message, category, stacklevel=2)
        results.append(result)
    return results
