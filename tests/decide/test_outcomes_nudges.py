"""``decide.action_outcomes`` for a feature nudge, on hand-made rows: adoption of the nudged feature by the nudged
users against the random holdout within the action's horizon (Newcombe interval, judged once after the horizon)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import duckdb
import pytest

from pintel.decide import evaluate_outcomes, load_policy
from tests.support.decisions import decision, write_decisions

AS_OF = datetime(2025, 3, 3, 1)


def _events(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str | None, datetime]]) -> None:
    con.execute("create schema marts")
    con.execute("create table marts.fct_events (user_id varchar, feature_key varchar, event_at timestamp)")
    con.executemany("insert into marts.fct_events values (?, ?, ?)", rows)


def _nudge(users: list[str], holdout: list[str], **overrides) -> dict:
    horizon = load_policy().action("nudge_feature").horizon_hours
    fields = {
        "source": "recommendations",
        "source_id": "charts:2025-03-03",
        "decision": "act",
        "action_type": "nudge_feature",
        "target": "nudge-charts",
        "severity": "info",
        "payload": json.dumps({"feature": "charts", "users": users, "holdout": holdout, "as_of_date": "2025-03-03"}),
        "as_of": AS_OF,
        "evaluate_after": AS_OF + timedelta(hours=horizon),
    }
    return decision(**(fields | overrides))


def test_nudge_outcome_compares_adoption_of_nudged_users_with_the_holdout() -> None:
    con = duckdb.connect()
    policy = load_policy()
    horizon_days = policy.action("nudge_feature").horizon_hours / 24
    treated = [f"u{i:07d}" for i in range(70)]
    held = [f"u{i:07d}" for i in range(100, 180)]
    inside = datetime(2025, 3, 5, 12)
    late = datetime(2025, 3, 3) + timedelta(days=horizon_days, hours=2)
    rows = [(u, "charts", inside) for u in treated[:56]] + [(u, "charts", inside) for u in held[:48]]
    rows += [(u, "charts", late) for u in treated[56:]]  # adopted after the horizon: not this nudge's outcome
    rows += [(u, "reports", inside) for u in held[48:]]  # another feature is not an adoption of charts
    rows += [("u0000500", "charts", datetime(2025, 2, 20)), ("u0000500", "charts", inside)]  # had used it already
    rows += [("u0000900", None, inside)]
    _events(con, rows)
    write_decisions(con, [_nudge([*treated, "u0000500"], held)])

    early = evaluate_outcomes(con, policy, datetime(2025, 3, 17, 0), created_at=datetime(2025, 3, 17))
    assert early.empty  # before the horizon nothing is judged

    out = evaluate_outcomes(con, policy, datetime(2025, 3, 17, 1), created_at=datetime(2025, 3, 17, 2))
    assert len(out) == 1
    row = out.iloc[0]
    assert (row["n_treated"], row["n_control"]) == (70, 80)  # the user who had used charts counts in neither
    assert (row["after_value"], row["control_value"]) == pytest.approx((0.8, 0.6))
    # Newcombe (1998) table II, method 10: 56/70 vs 48/80 -> 0.0524 to 0.3339
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.0524, 0.3339), abs=5e-4)
    assert row["verdict"] == "success"  # nudged users adopted more: the interval is above zero
    assert row["metric"] == "adopted_charts"
    assert f"within {horizon_days:.0f} days" in row["summary"]

    again = evaluate_outcomes(con, policy, datetime(2025, 4, 1), created_at=datetime(2025, 4, 1))
    assert again.empty  # judged once
    assert con.execute("select count(*) from decide.action_outcomes").fetchone()[0] == 1


def test_nudge_that_lowers_adoption_fails_and_an_even_one_is_inconclusive() -> None:
    con = duckdb.connect()
    treated = [f"u{i:07d}" for i in range(200)]
    held = [f"u{i:07d}" for i in range(300, 340)]
    inside = datetime(2025, 3, 6)
    worse = [(u, "charts", inside) for u in treated[:20]] + [(u, "charts", inside) for u in held[:24]]
    even = [(u, "tasks", inside) for u in treated[:20]] + [(u, "tasks", inside) for u in held[:4]]
    _events(con, worse + even)
    tasks = json.dumps({"feature": "tasks", "users": treated, "holdout": held, "as_of_date": "2025-03-03"})
    write_decisions(
        con,
        [
            _nudge(treated, held),
            _nudge(treated, held, source_id="tasks:2025-03-03", target="nudge-tasks", payload=tasks),
            _nudge(treated[:5], held[:1], decision="monitor", source_id="m"),
        ],
    )
    out = evaluate_outcomes(con, load_policy(), datetime(2025, 4, 1), created_at=datetime(2025, 4, 1))
    verdicts = dict(zip(out["target"], out["verdict"], strict=True))
    assert verdicts == {"nudge-charts": "failure", "nudge-tasks": "inconclusive"}  # the monitor list was never sent
