"""Shared fixtures: the simulated worlds and built warehouses the suite reuses, each made once per test run.

Simulating a product and building its warehouse are the slow parts of the suite, so a few fixed worlds are
shared instead of each module making its own:

``small_sim``        1 000 users x 90 days, seed 5 (~400k messages): warehouse, segments and simulator tests.
``demo_sim``         5 000 users x 90 days, seed 7 -- the ``make demo`` world: experiments and causal impact.
``srm_sim``          ``demo_sim`` with 10 % of the treatment arm's exposures never logged (a planted SRM).
``small_warehouse``  the small world's warehouse proper (seeds, staging, intermediate, marts; no ML models).
``demo_warehouse``   the demo world's marts that the experiment and causal models read (no ML models).

Each is made once per ``pytest`` run, not once per xdist worker: the first worker that needs it makes it under
a file lock in the run's shared temporary folder; the others wait for it and reuse it. All of them are
read-only for the tests. A test that changes a landing copies it first (:mod:`tests.support.landing`); a test
that builds on a shared warehouse builds on its own copy (``tests.support.warehouse.copy_warehouse``), so no
two processes ever write one DuckDB file.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

import __main__
from pintel.settings import Settings
from pintel.simulate import SimConfig, simulate
from tests.support.landing import manifest_of
from tests.support.warehouse import SQL_LAYER_TESTS, settings_for, without_dbt_artifacts

_NO_MAIN_FILE = getattr(__main__, "__spec__", None) is None and not hasattr(__main__, "__file__")
if _NO_MAIN_FILE and importlib.util.find_spec("pyspark") is not None:
    # pytest-xdist's workers run from `python -c`, so __main__ has no file; with the optional Spark extra installed
    # (`make install-spark`) GX imports pyspark.sql.connect, which then takes the process for a doctest run and
    # calls sys.exit(0). Naming the worker's main module keeps `make test` working after `make test-spark`.
    __main__.__file__ = "<pytest-xdist worker>"

#: dbt's file log (dbt.log, debug level by default: every statement of every node) is ~10 % of a small build's CPU
#: (1.0-1.6 of 12.4-13.9 CPU s for a tiny world's SQL layer, three interleaved pairs, 2026-12-02). No test reads it:
#: a failing build's error reaches the test through dbt's result. The environment, so dbt's subprocesses (Dagster's
#: dbt assets, the CLI) see it too; setdefault, so a developer debugging a build can ask for the file log back.
os.environ.setdefault("DBT_LOG_LEVEL_FILE", "none")

SMALL = SimConfig(users=1000, days=90, seed=5)
DEMO = SimConfig(users=5000, days=90, seed=7)
SRM = SimConfig(users=5000, days=90, seed=7, srm_loss=0.1)
#: The marts the experiment and causal models read: their lineage without the ML folder.
DEMO_MARTS = ["+ml_experiment_units", "+ml_feature_adoption_cohort"]

_COMPLETE = ".complete"

#: The test files that build warehouses, longest first (CPU seconds measured on the 2-core CI machine's kind). With
#: ``--dist loadfile --no-loadscope-reorder`` (``make test``) xdist hands out files in collection order, so starting
#: the long ones first keeps both workers busy to the end instead of leaving one of them a long file at the tail.
#: (xdist's default, ``--loadscope-reorder``, sorts files by their number of tests and ignores this order: the
#: few-test, long files then ran last.) A scheduling hint only: a file missing here runs after these, in its usual
#: order.
LONGEST_FIRST = (
    "tests/test_dagster_defs.py",
    "tests/test_causal_wiring.py",
    "tests/test_warehouse.py",
    "tests/test_small_exports.py",
    "tests/test_experiment_wiring.py",
    "tests/test_simulate_actions.py",
    "tests/test_ask_questions.py",
    "tests/incidents/test_dbt_models.py",
    "tests/churn/test_dbt_models.py",
    "tests/test_simulate.py",
    "tests/decide/test_policy_and_quality.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable: file order kept


def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder every xdist worker of this run sees (the per-worker base folder's parent)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], object]) -> Path:
    """``shared_dir / name``, made by ``make(path)`` by the first worker that asks; the others wait for it.

    A failed ``make`` leaves no completion marker, so the next worker tries again (and reports the same error).
    """
    path = shared_dir(tmp_path_factory) / name
    with FileLock(str(path) + ".lock"):
        if not (path / _COMPLETE).exists():
            shutil.rmtree(path, ignore_errors=True)
            make(path)
            (path / _COMPLETE).touch()
    return path


@pytest.fixture(scope="session")
def small_sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1000 users over 90 days (about 400k messages): the landing folder of a simulation."""
    return made_once(tmp_path_factory, "sim_small", lambda out: simulate(SMALL, out))


@pytest.fixture(scope="session")
def small_manifest(small_sim: Path) -> dict:
    return manifest_of(small_sim)


@pytest.fixture(scope="session")
def demo_sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5000 users over 90 days, seed 7 (the ``make demo`` world): the landing folder, with its ground truth."""
    return made_once(tmp_path_factory, "sim_demo", lambda out: simulate(DEMO, out))


@pytest.fixture(scope="session")
def srm_sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo world with a planted sample-ratio mismatch (10 % of treatment exposures never logged)."""
    return made_once(tmp_path_factory, "sim_srm", lambda out: simulate(SRM, out))


def _built(
    tmp_path_factory: pytest.TempPathFactory, name: str, landing: Path, lean: bool = False, **selection: list[str]
) -> Settings:
    """``lean``: without dbt's JSON artifacts and the SQL layer's data tests (tests.support.warehouse) -- for
    marts that are only the lineage of ML models under test, in a warehouse whose target folder nobody reads.
    No build here runs dbt's unit tests (a production build leaves them out; tests/test_dbt_unit_tests.py runs
    each once)."""
    from pintel.build import build

    def make(path: Path) -> None:
        if not lean:
            build(settings_for(path, landing), **selection)
            return
        lineage = {**selection, "exclude": [*selection.get("exclude", []), *SQL_LAYER_TESTS]}
        with without_dbt_artifacts():
            build(settings_for(path, landing), **lineage)

    root = made_once(tmp_path_factory, name, make)
    return settings_for(root, landing)


@pytest.fixture(scope="session")
def small_warehouse(small_sim: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The small world's warehouse proper (seeds, staging, intermediate, marts and their tests; no ML models).

    Its dbt target (the semantic manifest) is what the ``pintel ask`` tests read.
    """
    return _built(tmp_path_factory, "warehouse_small", small_sim, exclude=["path:models/ml"])


@pytest.fixture(scope="session")
def demo_warehouse(demo_sim: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The demo world's marts that the experiment and causal models read (their lineage, no ML models)."""
    return _built(
        tmp_path_factory, "warehouse_demo", demo_sim, lean=True, select=DEMO_MARTS, exclude=["path:models/ml"]
    )
