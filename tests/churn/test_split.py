"""pintel.churn.split: time-ordered windows that never mix snapshot dates."""

from __future__ import annotations

import pandas as pd
import pytest

from pintel.churn import time_split
from tests.support.churn_panel import make_synthetic_panel


def test_time_split_is_ordered_and_never_mixes_dates() -> None:
    df = make_synthetic_panel(n_users=300, n_snapshots=12, seed=1, censor_recent_labels=True)
    labelled_dates = sorted(pd.to_datetime(df.loc[df["churned_30d"].notna(), "snapshot_date"]).unique())
    assert df["churned_30d"].isna().any(), "fixture should contain unlabelled (recent) snapshots"

    parts = time_split(df)
    dates = [set(pd.to_datetime(p["snapshot_date"])) for p in parts]
    assert all(dates), "every window gets at least one date"
    assert max(dates[0]) < min(dates[1]) and max(dates[1]) < min(dates[2]), "windows are in time order"
    assert not (dates[0] & dates[1] or dates[1] & dates[2] or dates[0] & dates[2]), "no date in two windows"
    assert sorted(dates[0] | dates[1] | dates[2]) == labelled_dates, "all labelled dates used, nothing else"
    assert all(p["churned_30d"].notna().all() for p in parts), "only labelled rows"
    assert sum(map(len, parts)) == df["churned_30d"].notna().sum()
    n = len(labelled_dates)
    assert [len(d) for d in dates] == [round(0.6 * n), round(0.8 * n) - round(0.6 * n), n - round(0.8 * n)]
    for part in parts:  # sorted by (date, user) so fitting does not depend on upstream row order
        keys = list(zip(pd.to_datetime(part["snapshot_date"]), part["user_id"], strict=True))
        assert keys == sorted(keys)


def test_time_split_gap_purges_overlapping_labels() -> None:
    df = make_synthetic_panel(n_users=200, n_snapshots=24, seed=2)
    train, calibrate, test = time_split(df, gap_days=30)
    assert len(train) and len(calibrate) and len(test)
    assert (
        pd.to_datetime(train["snapshot_date"]).max() + pd.Timedelta(days=30)
        <= pd.to_datetime(calibrate["snapshot_date"]).min()
    )
    assert (
        pd.to_datetime(calibrate["snapshot_date"]).max() + pd.Timedelta(days=30)
        <= pd.to_datetime(test["snapshot_date"]).min()
    )


def test_time_split_rejects_too_few_dates_and_bad_fractions(panel: pd.DataFrame) -> None:
    two_dates = panel[pd.to_datetime(panel["snapshot_date"]).isin(sorted(panel["snapshot_date"].unique())[:2])]
    with pytest.raises(ValueError, match="at least 3 distinct"):
        time_split(two_dates)
    with pytest.raises(ValueError, match="fractions"):
        time_split(panel, fractions=(0.5, 0.5, 0.5))
