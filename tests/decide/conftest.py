"""The small world's warehouse (tests/conftest.py ``small_warehouse``: 1 000 users x 90 days, seed 5) and its two
planted rollouts, read from the simulator's manifest: ``new_editor`` harms exposed web users, ``new_sidebar``
changes nothing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from pintel.decide import Policy, load_policy
from pintel.settings import Settings
from tests.support.landing import manifest_of
from tests.support.warehouse import copy_warehouse


@pytest.fixture(scope="session")
def rollout_starts(small_sim: Path) -> dict[str, datetime]:
    """Flag -> the hour its planted ramp started (naive UTC)."""
    rollouts = manifest_of(small_sim)["rollouts"]
    return {r["flag"]: pd.Timestamp(r["planted_schedule"][0]["at"]).tz_localize(None).to_pydatetime() for r in rollouts}


@pytest.fixture(scope="session")
def policy() -> Policy:
    """The default policy, except that no recorded validation does not block actions (the shared warehouse was
    built without running the GX suites; the data-quality tests record real results on their own copy)."""
    rules = load_policy()
    return rules.model_copy(
        update={"data_quality": rules.data_quality.model_copy(update={"unknown_blocks_actions": False})}
    )


@pytest.fixture
def warehouse(small_warehouse: Settings, tmp_path: Path) -> Settings:
    """A private copy of the small warehouse, for tests that write decisions."""
    return copy_warehouse(small_warehouse, tmp_path / "wh")
