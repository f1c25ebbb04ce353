"""Answer independent feature x horizon questions in worker processes, results in the callers' order.

Why processes: the cost of the feature-impact table is scikit-learn fits that spend most of their time in Python
(gradient boosting grows its trees node by node in Python), so threads would serialise on the GIL; every question
is independent of the others (its own units, folds and seed), so processes answer them in any order and the
table is the same for any number of workers.

How: loky (shipped with joblib, a scikit-learn dependency), for three reasons that matter inside a dbt run --
the dbt-duckdb Python model runs in dbt's process, next to its threads:

* its workers are started by fork + exec of a fresh interpreter, so no thread of dbt's is forked in a bad state;
* unlike ``multiprocessing``'s spawn and forkserver, it does not re-import the parent's ``__main__`` in each
  worker (that would be dbt's command-line entry point: importing dbt, seconds per worker);
* each worker starts single-threaded (BLAS and OpenMP limited to one thread through the environment; the fits keep
  their own threadpoolctl limit, :mod:`pintel.causal.nuisance`): one process per core is the whole parallelism.

The pool lives for one table: started when there is more than one question to answer and more than one worker,
shut down when the last answer is in. Starting a worker costs about 1.5 CPU seconds (importing pandas and
scikit-learn): at 10M messages 3 % of the ~96 CPU s of the table with two workers. How many:
``pintel.settings.causal_workers`` (``PINTEL_CAUSAL_WORKERS``), passed by the dbt model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from joblib.externals.loky import ProcessPoolExecutor

SINGLE_THREADED = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}

T = TypeVar("T")


def answer_all(fn: Callable[[T], Any], items: Sequence[T], costs: Sequence[float], workers: int) -> list[Any]:
    """``[fn(item) for item in items]``, in ``workers`` processes when there are several (same list, same order).

    ``fn`` must be a module-level function and ``items`` picklable. ``costs`` only orders the submissions (the
    most expensive first, so that no long question starts last and leaves the other workers idle); results are
    gathered by position, so the list never depends on which worker finished first.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if workers == 1 or len(items) < 2:
        return [fn(item) for item in items]
    order = sorted(range(len(items)), key=lambda i: -costs[i])
    results: list[Any] = [None] * len(items)
    with ProcessPoolExecutor(max_workers=min(workers, len(items)), env=SINGLE_THREADED) as pool:
        futures = {i: pool.submit(fn, items[i]) for i in order}
        for i, future in futures.items():
            results[i] = future.result()
    return results
