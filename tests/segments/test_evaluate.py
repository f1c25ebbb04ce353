"""Segment evaluation (pintel.segments.evaluate) on hand-made assignments."""

from __future__ import annotations

import pandas as pd
import pytest

from pintel.segments import segment_agreement, segment_stability

USERS = [f"u{i}" for i in range(6)]


def test_stability_tells_a_relabelled_partition_from_kept_ids() -> None:
    first = pd.DataFrame({"user_id": USERS, "segment_id": [0, 0, 1, 1, 2, 2]})
    relabelled = first.assign(segment_id=[1, 1, 2, 2, 0, 0])  # same partition, every id changed
    assert segment_stability(first, relabelled) == (pytest.approx(1.0), 0.0)
    assert segment_stability(first, first) == (pytest.approx(1.0), 1.0)
    with pytest.raises(ValueError, match="no user in common"):
        segment_stability(first, first.assign(user_id=[f"v{i}" for i in range(6)]))


def test_agreement_with_personas_ignores_label_names() -> None:
    personas = pd.DataFrame({"user_id": USERS, "persona": ["power", "power", "casual", "casual", "idle", "idle"]})
    segments = pd.DataFrame({"user_id": USERS, "segment_id": [5, 5, 3, 3, 4, 4]})
    assert segment_agreement(segments, personas) == pytest.approx(1.0)
    assert segment_agreement(segments.assign(segment_id=[0, 1, 0, 1, 0, 1]), personas) < 0.1
    with pytest.raises(ValueError, match="no user in common"):
        segment_agreement(segments.iloc[:0], personas)
