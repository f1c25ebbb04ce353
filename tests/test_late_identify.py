"""A late identify restates a user's plan for days that get no new events; incremental must still equal full.

An identify call is attributed by its own timestamp, not by when it arrived: one that lands days late (a backend
sync, a replayed queue) changes the plan history behind days the warehouse has already written. Those days get
no new events, so a build that recomputes only the days with newly loaded events would keep their old plan while
a full rebuild of the same raw data gives the new one.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb

from pintel.build import build as _build
from pintel.settings import Settings, query
from pintel.simulate import SimConfig, simulate
from tests.support.landing import landing_days
from tests.support.tables import table_differences
from tests.support.warehouse import SQL_LAYER_TESTS, settings_for, without_dbt_artifacts

#: 36 days from a Monday: the last day is the first weekly churn snapshot (dim_dates.is_churn_snapshot: a Monday
#: at least var('churn_inactivity_days') = 30 days into the data), so fct_user_features holds rows to restate.
WORLD = SimConfig(users=80, days=36, seed=12, incidents=False)
#: The hourly marts (their lineage holds fct_user_daily and int_user_hourly_segments) and the churn features: the
#: incremental models a plan or another identify trait feeds.
SELECT = ["+activity_hourly", "+event_segments_hourly", "+fct_user_features"]
COMPARED = (
    "marts.fct_user_daily",
    "intermediate.int_user_hourly_segments",
    "marts.activity_hourly",
    "marts.event_segments_hourly",
    "marts.fct_user_features",
)
TESTED = ("fct_user_daily", "fct_user_features")
#: When a row was loaded or written: two builds of the same data differ there by design.
WHEN_COLUMNS = ("loaded_at", "refreshed_at")
RESTATED_DAYS_AGO = 6
"""How far before the data's last day the late identify's timestamp lies: several already-written days."""


def build(settings: Settings, *, data_tests: bool, full_refresh: bool = False):
    exclude = None if data_tests else list(SQL_LAYER_TESTS)
    with without_dbt_artifacts():
        return _build(settings, select=SELECT, exclude=exclude, full_refresh=full_refresh)


def _late_identify(settings: Settings) -> tuple[dict, dt.date]:
    """An identify moving one user to another plan as of RESTATED_DAYS_AGO days before the data ends.

    The user is one whose current plan started before that day, who was active on at least two days since and
    who has a churn snapshot after it, so the call restates rows already written; their latest traits are kept
    but for the plan and one more seat (which counts if the call is their latest).
    """
    day = query(settings.warehouse, "select max(activity_date) as d from marts.fct_user_daily").d[0].date()
    since = day - dt.timedelta(days=RESTATED_DAYS_AGO)
    picked = query(
        settings.warehouse,
        f"""
        select plans.user_id, plans.plan,
            (select min(other.plan) from intermediate.int_user_plans_versioned as other
             where other.plan != plans.plan) as new_plan,
            (select traits from raw.identifies as raw where raw.user_id = plans.user_id
             order by raw.event_timestamp desc limit 1) as traits
        from intermediate.int_user_plans_versioned as plans
        inner join marts.fct_user_daily as daily
            on plans.user_id = daily.user_id and daily.activity_date >= date '{since}'
        where plans.is_current and plans.valid_from < timestamp '{since}' and plans.user_id in
            (select features.user_id from marts.fct_user_features as features
             where features.snapshot_date > date '{since}')
        group by plans.user_id, plans.plan
        having count(*) >= 2
        order by plans.user_id
        limit 1
        """,
    ).iloc[0]
    at = dt.datetime.combine(since, dt.time(0, 0, 1))
    traits = json.loads(picked.traits)
    message = {
        "messageId": "late-identify-1",
        "type": "identify",
        "userId": picked.user_id,
        "anonymousId": None,
        "timestamp": f"{at:%Y-%m-%dT%H:%M:%S}.000Z",
        "receivedAt": f"{day + dt.timedelta(days=1):%Y-%m-%d}T06:00:00.000Z",
        "traits": {**traits, "plan": picked.new_plan, "seats": int(traits.get("seats") or 1) + 1},
        "context": {"library": {"name": "analytics-node"}},
    }
    return message, since


def _table(settings: Settings, name: str):
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        columns = [row[0] for row in con.execute(f"describe {name}").fetchall() if row[0] not in WHEN_COLUMNS]
        return con.execute(f"select {', '.join(columns)} from {name}").to_arrow_table()
    finally:
        con.close()


def test_a_late_identify_restates_the_plan_of_days_without_new_events(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    simulate(WORLD, landing)
    settings = settings_for(tmp_path / "warehouse", landing)
    build(settings, data_tests=False)
    message, since = _late_identify(settings)
    batch = landing / "identifies" / f"date={message['receivedAt'][:10]}" / "late.jsonl"
    assert batch.parent.name > f"date={landing_days(landing, 'identifies')[-1]}"  # arrives after everything else
    batch.parent.mkdir(parents=True)
    batch.write_text(json.dumps(message) + "\n")

    late = build(settings, data_tests=True)
    assert late.load.loaded_files == {"identifies": 1}
    # the rewritten days pass the models' data tests (a failing one fails the build)
    tested = {
        uid: status
        for uid, status in late.nodes.items()
        if uid.startswith("test.") and any(model in uid for model in TESTED)
    }
    assert all(any(model in uid for uid in tested) for model in TESTED)
    assert set(tested.values()) == {"pass"}
    incremental = {name: _table(settings, name) for name in COMPARED}

    build(settings, data_tests=False, full_refresh=True)  # the same raw data, every model rebuilt from scratch
    # the call matters: a full rebuild moves the user's days since then to the new plan
    restated = query(
        settings.warehouse,
        f"select distinct plan from marts.fct_user_daily where user_id = '{message['userId']}' "
        f"and activity_date >= date '{since}'",
    )
    assert list(restated.plan) == [message["traits"]["plan"]]
    snapshots = query(
        settings.warehouse,
        f"select distinct plan from marts.fct_user_features where user_id = '{message['userId']}' "
        f"and snapshot_date > date '{since}'",
    )
    assert list(snapshots.plan) == [message["traits"]["plan"]]
    problems = [p for name in COMPARED for p in table_differences(_table(settings, name), incremental[name], name)]
    assert problems == []
