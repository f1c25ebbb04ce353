"""The label horizon is the dbt var ``churn_horizon_days`` everywhere: labels, metrics and monitoring follow it.

The session's small simulation (1 000 users x 90 days, seed 5) is built once with ``churn_horizon_days: 14``.
The labels are checked against the churn definition applied to the warehouse's own activity and cancellations
at 14 days (and shown to differ from the 30-day definition, so the check could fail); the metrics' test
window, early-flag window and monitoring horizon move with the var; and the simulator's truth, simulated for
30 days, is not passed off as the oracle of a 14-day label.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pintel.build import production_args, run_dbt
from pintel.churn import warehouse as wh
from pintel.churn.evaluation import early_flag_rows, early_flag_share
from pintel.ingest.landing import load_landing
from pintel.settings import Settings, query
from tests.support.warehouse import SQL_LAYER_TESTS, without_dbt_artifacts

HORIZON = 14
SELECT = ["+ml_churn_metrics", "+ml_churn_monitoring"]


@pytest.fixture(scope="module")
def built(small_sim: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("churn_horizon")
    settings = Settings(
        home=root, landing=small_sim, warehouse=root / "pintel.duckdb", dbt_target="duckdb", reports=root / "reports"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PINTEL_REPORTS", str(settings.reports))
        load_landing(settings.landing, settings.warehouse)
        horizon = json.dumps({"churn_horizon_days": HORIZON})
        with without_dbt_artifacts():
            args = ["--select", *SELECT, "--indirect-selection", "cautious", "--vars", horizon]
            args += ["--exclude", *SQL_LAYER_TESTS]
            run_dbt(settings, ["build", *production_args(), *args])

    def read(sql: str) -> pd.DataFrame:
        return query(settings.warehouse, sql)

    features = read("select * from marts.fct_user_features")
    labels = read("select * from marts.fct_churn_labels")
    registry = read("select * from ml.ml_model_registry")
    labelled = wh.training_frame(features, labels)
    test, score_cols, _ = wh.score_holdout(registry, labelled)
    churn_dates = read("select user_id, churn_date from marts.dim_users where churn_date is not null")
    return {
        "labels": labels,
        "activity": read("select user_id, activity_date from marts.fct_user_daily"),
        "users": read("select user_id, cancelled_date from marts.dim_users"),
        "last_date": pd.Timestamp(read("select max(date_day) as d from marts.dim_dates")["d"].iloc[0]),
        "metrics": read("select * from ml.ml_churn_metrics").set_index("model"),
        "monitoring": read("select * from ml.ml_churn_monitoring"),
        "test": test.merge(churn_dates, on="user_id", how="left"),
        "score_cols": score_cols,
    }


def _definition(built: dict, horizon: int) -> pd.DataFrame:
    """The churn label by its written definition: cancelled in [s, s + h) or no valid activity in [s, s + h),
    null until s + h - 1 is in the data."""
    labels = built["labels"][["user_id", "snapshot_date"]].copy()
    labels["snapshot_date"] = pd.to_datetime(labels["snapshot_date"])
    activity = built["activity"].assign(activity_date=lambda f: pd.to_datetime(f["activity_date"]))
    pairs = labels.merge(activity, on="user_id")
    lead = (pairs["activity_date"] - pairs["snapshot_date"]).dt.days
    active = pairs[(lead >= 0) & (lead < horizon)].drop_duplicates(["user_id", "snapshot_date"])
    out = labels.merge(active[["user_id", "snapshot_date"]].assign(active=True), how="left")
    out = out.merge(built["users"].assign(cancelled_date=lambda f: pd.to_datetime(f["cancelled_date"])), how="left")
    cancel_lead = (out["cancelled_date"] - out["snapshot_date"]).dt.days
    churned = ((cancel_lead >= 0) & (cancel_lead < horizon)) | out["active"].isna()
    complete = out["snapshot_date"] + pd.Timedelta(days=horizon - 1) <= built["last_date"]
    out["expected"] = pd.array(np.where(complete, churned.astype(int), pd.NA), dtype="Int64")
    return out[["user_id", "snapshot_date", "expected"]]


def test_labels_follow_the_horizon_var(built: dict) -> None:
    labels = built["labels"].assign(snapshot_date=lambda f: pd.to_datetime(f["snapshot_date"]))
    got = labels.merge(_definition(built, HORIZON), on=["user_id", "snapshot_date"], validate="one_to_one")
    assert got["churned_30d"].notna().sum() > 3000
    pd.testing.assert_series_equal(
        got["churned_30d"].astype("Int64"), got["expected"], check_names=False, check_index=False
    )
    window = got["snapshot_date"] + pd.Timedelta(days=HORIZON - 1) <= built["last_date"]
    assert (got["is_horizon_complete"] == window).all()
    # The 30-day definition labels fewer snapshots and some rows differently: the var made a difference.
    thirty = labels.merge(_definition(built, 30), on=["user_id", "snapshot_date"])
    assert thirty["expected"].notna().sum() < got["churned_30d"].notna().sum()
    both = thirty["expected"].notna()
    assert (thirty.loc[both, "expected"] != got.loc[both, "churned_30d"]).any()


def test_metrics_use_the_horizon_for_windows_and_early_flags(built: dict) -> None:
    metrics, test = built["metrics"], built["test"]
    assert {"v1", "v2", "baseline"} <= set(metrics.index)
    # The simulator's truth is for 30 days: its realised labels differ, so it is no oracle for this label.
    assert "oracle" not in metrics.index
    # The test window reaches snapshots whose 14-day (not 30-day) outcome is known.
    test_end = pd.Timestamp(metrics["test_end"].iloc[0])
    assert test_end + pd.Timedelta(days=HORIZON - 1) <= built["last_date"] < test_end + pd.Timedelta(days=29)
    assert (metrics["n"] == len(test)).all()

    # Early flags count churners 14 days to one horizon ahead of a test snapshot: here exactly 14 days.
    def churners(horizon: int) -> int:
        return test.loc[early_flag_rows(test, horizon_days=horizon), "user_id"].nunique()

    assert (metrics["early_flag_churners"] == churners(HORIZON)).all()
    assert churners(30) > churners(HORIZON) > 0
    for model, column in built["score_cols"].items():
        at_horizon = early_flag_share(test, column, horizon_days=HORIZON)
        assert metrics.loc[model, "early_flag_share"] == pytest.approx(at_horizon)


def test_monitoring_waits_one_horizon_for_outcomes(built: dict) -> None:
    decisions = built["monitoring"].query("check_type == 'decision'")
    assert len(decisions) == 2
    assert decisions["reasons"].str.contains(f"no predictions {HORIZON}+ days old", regex=False).all()
