"""Running suites side by side: one forked process per suite in flight, results back in the caller's order.

Why processes: GX's pandas work holds the GIL, so threads would take turns on one core while the other idles.
Why fork: a worker inherits the imported GX (~2 CPU s and ~4 s wall to import again per worker) and the suite
registry exactly as the caller has it. Forking is safe here because the caller has opened no DuckDB connection
and computed nothing on pandas' or Arrow's thread pools yet; each worker opens the warehouse read-only itself
(DuckDB admits many reading processes; the one read-write open, the history insert, happens after every worker
has finished) and takes the GX context's file lock like parallel Dagster checks do.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

DQ_WORKERS = 2
"""Suites validated at once. Two, because two suites grow with the event log (``raw_events`` and ``fct_events``,
~95 % of a run's time at 10M events) and each keeps a core busy; a third would only overlap the small ones. Each
worker holds at most one batch of ``PINTEL_DQ_BATCH_ROWS`` rows, so the stage holds at most two suites' working
sets (measured at 10M: BENCHMARKS.md, "pintel dq at 10M"). Capped at the usable cores."""


def worker_count(workers: int | None, jobs: int) -> int:
    """How many processes to run ``jobs`` in: ``workers`` (default :data:`DQ_WORKERS`), at most the usable cores
    and the jobs; 1 (in the caller's process) where the platform cannot fork."""
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover - Windows
        return 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(DQ_WORKERS if workers is None else workers, usable, jobs))


def _call(job: tuple[Callable[..., Any], tuple[Any, ...]]) -> Any:
    function, arguments = job
    return function(*arguments)


def in_processes(
    function: Callable[..., T], jobs: Sequence[tuple[Any, ...]], workers: int, *, first: Sequence[bool] = ()
) -> list[T | BaseException]:
    """``function(*job)`` for every job, ``workers`` at a time in forked processes, in the order of ``jobs``.

    Jobs flagged in ``first`` start first (the long ones, so they run side by side and the short ones fill in
    around them). A job whose worker died comes back as the exception, for the caller to report; ``function``
    must catch its own errors. ``workers`` <= 1 runs everything here, one after another."""
    if workers <= 1 or len(jobs) <= 1:
        return [function(*job) for job in jobs]
    flagged = list(first) + [False] * (len(jobs) - len(first))
    order = sorted(range(len(jobs)), key=lambda i: not flagged[i])  # stable: the caller's order within
    outcomes: dict[int, T | BaseException] = {}
    gc.freeze()  # the inherited heap (GX: ~1M objects) is never collected nor copied-on-write by a worker's GC
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {i: pool.submit(_call, (function, tuple(jobs[i]))) for i in order}
        for i, future in futures.items():
            try:
                outcomes[i] = future.result()
            except Exception as error:  # BrokenProcessPool: the worker was killed; the verdict must not pass
                outcomes[i] = error
    gc.unfreeze()
    return [outcomes[i] for i in range(len(jobs))]
