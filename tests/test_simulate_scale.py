"""The demo configuration produces a dataset of the promised size (about 2M messages).

The world is the suite's shared ``demo_sim`` (5 000 users x 90 days, seed 7: the Makefile's DEMO_* defaults),
simulated once per run for the experiment and causal tests too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_world_is_the_makefiles_demo(demo_sim: Path) -> None:
    makefile = (ROOT / "Makefile").read_text()
    defaults = {k: int(v) for k, v in re.findall(r"^DEMO_(USERS|DAYS|SEED) \?= (\d+)$", makefile, re.M)}
    config = json.loads((demo_sim / "ground_truth" / "manifest.json").read_text())["config"]
    assert (config["users"], config["days"], config["seed"]) == (defaults["USERS"], defaults["DAYS"], defaults["SEED"])


def test_default_demo_dataset_has_over_a_million_events(demo_sim: Path) -> None:
    manifest = json.loads((demo_sim / "ground_truth" / "manifest.json").read_text())
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
