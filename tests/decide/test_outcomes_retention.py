"""``decide.action_outcomes`` for a retention list, on hand-made rows: the contacted users' 30-day churn against
the random holdout's, with Newcombe's interval (checked against the worked example of Newcombe 1998)."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import pytest

from pintel.decide import evaluate_outcomes, load_policy
from pintel.decide.stats import two_proportions
from tests.support.decisions import decision, write_decisions

SNAPSHOT = "2025-03-31"


def test_newcombe_difference_matches_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, table II, method 10: 56/70 vs 48/80 -> 0.0524 to 0.3339
    diff = two_proportions(56, 70, 48, 80)
    assert diff.difference == pytest.approx(0.2)
    assert (diff.ci_low, diff.ci_high) == pytest.approx((0.0524, 0.3339), abs=5e-4)
    assert two_proportions(3, 10, 0, 0) is None


def _labels(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, int | None]]) -> None:
    con.execute("create schema marts")
    con.execute("create table marts.fct_churn_labels (user_id varchar, snapshot_date date, churned_30d integer)")
    con.executemany("insert into marts.fct_churn_labels values (?, ?, ?)", rows)


def _play(users: list[str], holdout: list[str], **overrides) -> dict:
    fields = {
        "source": "churn",
        "source_id": SNAPSHOT,
        "decision": "act",
        "action_type": "churn_retention_list",
        "target": f"retention-{SNAPSHOT}",
        "severity": "info",
        "payload": json.dumps({"users": users, "holdout": holdout, "snapshot_date": SNAPSHOT}),
        "as_of": datetime(2025, 3, 31, 1),
        "evaluate_after": datetime(2025, 4, 30, 1),
    }
    return decision(**(fields | overrides))


def test_retention_outcome_compares_contacted_users_with_the_holdout() -> None:
    con = duckdb.connect()
    treated = [f"u{i:07d}" for i in range(70)]
    held = [f"u{i:07d}" for i in range(100, 180)]
    rows = [(u, SNAPSHOT, int(i < 56)) for i, u in enumerate(treated)]
    rows += [(u, SNAPSHOT, int(i < 48)) for i, u in enumerate(held)]
    rows += [("u0000500", SNAPSHOT, None)]  # horizon not complete: left out
    rows += [(u, "2025-03-24", 0) for u in treated]  # another snapshot's labels are not this list's outcome
    _labels(con, rows)
    # a listed user without a label (signed out of the panel) counts in neither group
    write_decisions(con, [_play([*treated, "u0000500", "u0000999"], held)])

    early = evaluate_outcomes(con, load_policy(), datetime(2025, 4, 30, 0), created_at=datetime(2025, 4, 30))
    assert early.empty  # before the horizon nothing is judged

    out = evaluate_outcomes(con, load_policy(), datetime(2025, 4, 30, 1), created_at=datetime(2025, 4, 30, 2))
    assert len(out) == 1
    row = out.iloc[0]
    assert (row["n_treated"], row["n_control"]) == (70, 80)
    assert (row["after_value"], row["control_value"]) == pytest.approx((0.8, 0.6))
    assert row["effect"] == pytest.approx(0.2)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.0524, 0.3339), abs=5e-4)
    assert row["verdict"] == "failure"  # contacted users churned more: the interval is above zero

    again = evaluate_outcomes(con, load_policy(), datetime(2025, 5, 1), created_at=datetime(2025, 5, 1))
    assert again.empty  # judged once
    stored = con.execute("select count(*) from decide.action_outcomes").fetchone()[0]
    assert stored == 1


def test_retention_outcome_success_and_monitor_lists_are_not_judged() -> None:
    con = duckdb.connect()
    treated = [f"u{i:07d}" for i in range(200)]
    held = [f"u{i:07d}" for i in range(300, 340)]
    rows = [(u, SNAPSHOT, int(i < 20)) for i, u in enumerate(treated)]
    rows += [(u, SNAPSHOT, int(i < 24)) for i, u in enumerate(held)]
    _labels(con, rows)
    write_decisions(con, [_play(treated, held), _play(treated[:5], held[:1], decision="monitor", source_id="m")])
    out = evaluate_outcomes(con, load_policy(), datetime(2025, 5, 1), created_at=datetime(2025, 5, 1))
    assert len(out) == 1  # the proposed-only (monitor) list was never sent
    row = out.iloc[0]
    assert row["effect"] == pytest.approx(0.1 - 0.6)
    assert row["ci_high"] < 0
    assert row["verdict"] == "success"
