"""The demo configuration produces a dataset of the promised size (about 2M messages)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pintel.cli import main


def test_default_demo_dataset_has_over_a_million_events(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["simulate", "--users", "5000", "--days", "90", "--seed", "7", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "ground_truth" / "manifest.json").read_text())
    assert manifest["counts"]["valid_events"] >= 1_000_000
    realised = manifest["realised"]
    assert 0.02 <= realised["monthly_churn_paid"] <= 0.08 < realised["monthly_churn_free"] or (
        realised["monthly_churn_free"] > realised["monthly_churn_paid"]
    )
    assert 0.10 <= realised["stickiness_dau_mau"] <= 0.35
    assert 0.20 <= realised["key_feature_adoption_14d"] <= 0.50
    assert 0.75 <= realised["oracle_auc_30d"] <= 0.92
    assert realised["naive_bias_over_half_effect"]
    assert realised["weekday_over_weekend_dau"] > 1.3
