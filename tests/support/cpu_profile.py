"""Opt-in pytest plugin: CPU seconds per test file (this process + its finished children), for tuning the suite.

``pytest -p tests.support.cpu_profile`` writes one line per test (``PINTEL_CPU_PROFILE``, default
``cpu_profile.tsv`` in the current folder; xdist workers append to the same file) with the test's node id and
its CPU seconds: ``time.process_time()`` of the worker plus ``getrusage(RUSAGE_CHILDREN)`` for dbt, Dagster or
CLI subprocesses. Setup (session fixtures, e.g. a shared warehouse) is charged to the test that triggered it.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    start, wall = _cpu(), time.perf_counter()
    yield
    line = f"{item.nodeid}\t{_cpu() - start:.2f}\t{time.perf_counter() - wall:.2f}\n"
    with Path(os.environ.get("PINTEL_CPU_PROFILE", "cpu_profile.tsv")).open("a") as out:
        out.write(line)
