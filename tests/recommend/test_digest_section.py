"""The digest's "Recommendations & upgrades" section on hand-made model tables and a judged nudge: its numbers
pass the provenance check, and with no table built the section says so instead of showing a blank."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import duckdb
import pandas as pd
import pytest

from pintel.decide import evaluate_outcomes, load_policy
from pintel.digest import ProvenanceError, personal, render
from pintel.digest.personal import recommendations
from pintel.digest.text import Reader
from tests.support.decisions import decision, write_decisions


def _metrics(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists ml")
    con.execute(
        """create table ml.ml_recommendation_metrics as select * from (values
            ('blended', date '2025-03-17', 14, 5, 0.84, 0.58, 1848, 50, 1.0409),
            ('popularity', date '2025-03-17', 14, 5, 0.807, 0.535, 1848, 50, 1.0),
            ('oracle', date '2025-03-17', 14, 5, 0.851, 0.613, 1848, 50, 1.0545)
        ) as t(model, split_date, horizon_days, k, hit_rate_at_k, ndcg_at_k, users_judged, users_scored,
               lift_vs_popularity)"""
    )
    con.execute(
        """create table ml.ml_upgrade_metrics as select * from (values
            ('v1', date '2025-03-03', date '2025-03-03', 0.649, 0.012, 1947, 75),
            ('baseline', date '2025-03-03', date '2025-03-03', 0.629, 0.010, 1947, 75),
            ('oracle', date '2025-03-03', date '2025-03-03', 0.707, 0.006, 1947, 75)
        ) as t(model, test_from, test_to, roc_auc, ece, n, positives)"""
    )


def test_section_reports_the_recommender_the_upgrade_model_and_a_judged_nudge() -> None:
    con = duckdb.connect()
    _metrics(con)
    con.execute("create schema marts")
    con.execute("create table marts.fct_events (user_id varchar, feature_key varchar, event_at timestamp)")
    treated, held = [f"u{i:03d}" for i in range(60)], [f"u{i:03d}" for i in range(100, 130)]
    con.executemany(
        "insert into marts.fct_events values (?, 'charts', ?)",
        [(u, datetime(2025, 3, 5)) for u in treated[:30] + held[:3]],
    )
    as_of = datetime(2025, 3, 3, 1)
    horizon = load_policy().action("nudge_feature").horizon_hours
    payload = {"feature": "charts", "users": treated, "holdout": held, "as_of_date": "2025-03-03"}
    common = {"source": "recommendations", "action_type": "nudge_feature", "severity": "info", "as_of": as_of}
    write_decisions(
        con,
        [
            decision(
                **common,
                source_id="charts:2025-03-03",
                decision="act",
                target="nudge-charts",
                title="Nudge Charts to 60 users (recommendations of 2025-03-03)",
                payload=json.dumps(payload),
                evaluate_after=as_of + timedelta(hours=horizon),
            ),
            decision(
                **common,
                source_id="tasks:2025-03-03",
                decision="monitor",
                target="nudge-tasks",
                title="Nudge Tasks to 25 users",
                payload="{}",
                evaluate_after=None,
            ),
        ],
    )
    assert len(evaluate_outcomes(con, load_policy(), datetime(2025, 4, 1), created_at=datetime(2025, 4, 1))) == 1

    reader = Reader(con)
    section = recommendations(reader)
    text = "\n".join(section.lines)
    assert not section.empty
    assert "84.0% of 1,848 users, against 80.7% for the most popular features (x1.04)" in text
    assert "AUC 0.65 against 0.63 for recent activity alone (0.02 better), the simulator's truth 0.71" in text
    assert "2 feature nudges in the last 28 days: 1 proposed to act, 1 only monitored" in text
    assert "**success**" in text and "Adoption of charts within 14 days" in text  # 50 % vs 10 % held out
    assert sorted(row[-1] for row in section.table.rows) == ["success", "—"]
    reader.evidence.add("digest:constants", pd.DataFrame({"value": list(personal.CONSTANTS)}))
    digest = render([section], reader.evidence, "hand-made")  # every number is in a table the section read
    assert digest.numbers_checked >= 10
    section.lines.append("The recommender beat popularity by 7.5%.")
    with pytest.raises(ProvenanceError):
        render([section], reader.evidence, "hand-made")


def test_section_is_skipped_with_its_reason_when_nothing_is_built() -> None:
    section = recommendations(Reader(duckdb.connect()))
    assert section.empty
    assert section.lines == [
        "Recommendations and upgrade propensity are not built yet "
        "(ml.ml_recommendation_metrics, ml.ml_upgrade_metrics)."
    ]
