"""Fixtures of the segment tests: 1 500 synthetic users with planted personas, segmented once per module."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pintel.segments import SegmentResult, discover_segments
from tests.segments.personas import make_users


@pytest.fixture(scope="module")
def users() -> tuple[pd.DataFrame, np.ndarray]:
    return make_users()


@pytest.fixture(scope="module")
def result(users: tuple[pd.DataFrame, np.ndarray]) -> SegmentResult:
    return discover_segments(users[0], seed=0)
