"""Every dbt unit test of the project, run once.

Production builds leave dbt's unit tests out (:data:`pintel.build.PRODUCTION_EXCLUDE`, dbt's advice: they check
SQL logic on fixed inputs, so they belong to development and CI). This file is where CI runs them: on a warehouse
whose relations exist but are empty (``dbt run --empty``), which is all a unit test needs of the models upstream
of the one it tests (dbt reads their columns to fill the fixtures' missing ones).
"""

from __future__ import annotations

import json
from pathlib import Path

from pintel.build import dbt_paths, production_args, run_dbt
from pintel.ingest.landing import load_landing
from tests.support.warehouse import settings_for


def test_every_unit_test_of_the_project_passes(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    settings = settings_for(tmp_path, landing)
    load_landing(landing, settings.warehouse)  # the raw tables, empty
    # The unit-tested models and their parents as empty relations, by a production build of that selection: it
    # builds the models and leaves the unit tests out (data tests are left out here too: nothing to test).
    parents = ["build", "--empty", *production_args(), "--select", "+test_type:unit", "--exclude", "resource_type:test"]
    built = {r.node.resource_type for r in run_dbt(settings, parents).result.results}
    assert "model" in built and "unit_test" not in built
    result = run_dbt(settings, ["test", "--select", "test_type:unit"])
    statuses = {r.node.unique_id: str(r.status) for r in result.result.results if r.node.resource_type == "unit_test"}

    target = Path(dbt_paths(settings)[5])
    manifest = json.loads((target / "manifest.json").read_text())
    unit_tests = set(manifest["unit_tests"])
    assert len(unit_tests) >= 15
    assert set(statuses) == unit_tests
    assert set(statuses.values()) == {"pass"}
