"""Shared fixtures: small simulated datasets with a fixed seed, made once per test session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pintel.simulate import SimConfig, simulate

SMALL = SimConfig(users=1000, days=90, seed=5)


@pytest.fixture(scope="session")
def small_sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1000 users over 90 days (about 400k messages): the landing folder of a simulation."""
    out = tmp_path_factory.mktemp("sim_small")
    simulate(SMALL, out)
    return out


@pytest.fixture(scope="session")
def small_manifest(small_sim: Path) -> dict:
    return json.loads((small_sim / "ground_truth" / "manifest.json").read_text())
