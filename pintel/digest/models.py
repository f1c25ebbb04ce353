"""Digest sections over the models' served tables: churn risk by segment, experiments, decisions and outcomes.

Each section reads the contracted, served table (never a raw prediction), says when it is stale, and says so
plainly when the model has not been built or there is nothing to show ("no decisions yet") -- a digest never
shows a blank section or a guess.
"""

from __future__ import annotations

import pandas as pd

from pintel.churn.served import served_churn_table
from pintel.digest import charts
from pintel.digest.text import Reader, Section, Table, count, number, pct
from pintel.status import degraded

#: Decisions shown: those created in the last DECISION_DAYS days, at most MAX_DECISIONS of them.
DECISION_DAYS = 7
MAX_DECISIONS = 15
CONSTANTS = (DECISION_DAYS, MAX_DECISIONS)
NOT_SEGMENTED = "not segmented"


def _risk_by(reader: Reader, table: str, name: str, sql_from: str, label: str) -> pd.DataFrame:
    sql = f"""
        select {label} as {name}, count(*) as users, avg(s.churn_probability) as mean_probability,
            avg(case when s.risk_band = 'high' then 1.0 else 0.0 end) as high_share,
            avg(case when s.risk_band = 'medium' then 1.0 else 0.0 end) as medium_share,
            avg(case when s.risk_band = 'low' then 1.0 else 0.0 end) as low_share,
            sum(case when s.risk_band = 'high' then 1 else 0 end) as high_users
        from {table} as s {sql_from}
        group by 1 order by mean_probability desc
    """
    return reader.read(f"{table}:by_{name}", sql)


def churn(reader: Reader) -> Section:
    """Users at risk, by behavioural segment (else by plan), from the served churn scores."""
    section = Section("churn", "Churn risk by segment")
    table = served_churn_table(reader.con)
    if table is None:
        return section.skip("Churn scores are not built yet (ml.churn_scores_v*).")
    head = reader.read(
        f"{table}:overall",
        f"""
        select count(*) as users, sum(case when risk_band = 'high' then 1 else 0 end) as high_users,
            avg(case when risk_band = 'high' then 1.0 else 0.0 end) as high_share,
            avg(churn_probability) as mean_probability,
            max(served_snapshot_date) as served_snapshot_date, max(expected_snapshot_date) as expected_snapshot_date,
            bool_or(is_stale) as is_stale, any_value(model_version) as model_version
        from {table}
        """,
    ).iloc[0]
    if not head["users"]:
        return section.skip(f"{table} has no scored users yet.")
    served = pd.Timestamp(head["served_snapshot_date"])
    section.lines.append(
        f"{count(head['high_users'])} of {count(head['users'])} scored users ({pct(head['high_share'])}) are at high "
        f"risk of churning; the mean probability is {pct(head['mean_probability'])} (scores of {served:%Y-%m-%d}, "
        f"model {head['model_version']})."
    )
    if head["is_stale"]:
        expected = pd.Timestamp(head["expected_snapshot_date"])
        section.lines.append(
            f"**Stale:** the {expected:%Y-%m-%d} snapshot had no scores; these are the last good ones, "
            f"of {served:%Y-%m-%d}."
        )
    if reader.exists("ml.user_segments_served"):
        frame = _risk_by(
            reader,
            table,
            "segment",
            "left join ml.user_segments_served as g using (user_id)",
            f"coalesce(g.segment_name, '{NOT_SEGMENTED}')",
        )
        label = "segment"
    else:
        join = "left join marts.dim_users as u using (user_id)"
        frame = _risk_by(reader, table, "plan", join, "coalesce(u.current_plan, 'unknown')")
        label = "plan"
    named = frame[frame[label] != NOT_SEGMENTED]  # users without a segment (too little activity) are no segment
    if not named.empty:
        top = named.iloc[0]
        section.lines.append(
            f"Highest risk: {label} **{top[label]}** — {pct(top['high_share'])} of its {count(top['users'])} users at "
            f"high risk, mean probability {pct(top['mean_probability'])}."
        )
    if not frame.empty:
        section.chart = charts.risk_by_segment(frame, label)
        section.chart_alt = f"Share of users per churn-risk band, by {label}"
    return section


def experiments(reader: Reader) -> Section:
    """Each experiment's relative lift with its interval, SRM verdict and the model's own summary."""
    section = Section("experiments", "Experiments")
    if not reader.exists("ml.experiment_results_served"):
        return section.skip("The experiment readouts are not built yet.")
    rows = reader.read(
        "ml.experiment_results_served",
        """
        select experiment, variant, control, outcome, units, control_units, lift_rel, lift_rel_ci_low,
            lift_rel_ci_high, p_value, srm_detected, trustworthy, summary
        from ml.experiment_results_served order by experiment, variant, outcome
        """,
    )
    if rows.empty:
        return section.skip("No experiment has a readout yet.")
    section.lines += [r.summary for r in rows.itertuples() if isinstance(r.summary, str) and r.summary]
    rows = rows.assign(label=rows["experiment"] + ": " + rows["variant"] + " (" + rows["outcome"] + ")")
    shown = rows.dropna(subset=["lift_rel", "lift_rel_ci_low", "lift_rel_ci_high"])
    if not shown.empty:
        section.chart = charts.intervals(
            shown,
            "label",
            "lift_rel",
            "lift_rel_ci_low",
            "lift_rel_ci_high",
            "Relative lift with its 95% interval",
            percent=True,
        )
        section.chart_alt = "Experiments: relative lift of each variant with its 95% interval"
    section.table = Table(
        ["experiment", "variant", "outcome", "units", "lift", "95% interval", "p", "SRM", "trustworthy"],
        [
            [
                r.experiment,
                r.variant,
                r.outcome,
                f"{count(r.units)} / {count(r.control_units)}",
                "—" if pd.isna(r.lift_rel) else pct(r.lift_rel),
                "—" if pd.isna(r.lift_rel_ci_low) else f"{pct(r.lift_rel_ci_low)} to {pct(r.lift_rel_ci_high)}",
                "—" if pd.isna(r.p_value) else number(r.p_value, 3),
                "mismatch" if r.srm_detected else "ok",
                "yes" if r.trustworthy else "no",
            ]
            for r in rows.itertuples()
        ],
    )
    reader.evidence.add("digest:interval_level", pd.DataFrame({"value": [95]}))
    return section


_OUTCOME_COLUMNS = ("decision_id", "verdict", "metric", "effect", "ci_low", "ci_high", "summary")


def decisions(reader: Reader) -> Section:
    """Decisions of the last week and, for those whose horizon passed, whether the action worked."""
    section = Section("decisions", "Decisions and their outcomes")
    if not reader.exists("decide.decisions"):
        return section.skip("No decisions yet: the decision engine has not run on this warehouse.")
    rows = reader.read(
        "decide.decisions",
        """
        select decision_id, created_at, source, decision, action_type, target, severity, title, kill_switch, automatic
        from decide.decisions where created_at >= (select max(created_at) from decide.decisions) - to_days($days)
        order by created_at desc limit $limit
        """,
        {"days": DECISION_DAYS, "limit": MAX_DECISIONS},
    )
    if rows.empty:
        return section.skip("No decisions yet.")
    outcomes = pd.DataFrame(columns=list(_OUTCOME_COLUMNS))
    if reader.exists("decide.action_outcomes"):
        present = {
            c
            for (c,) in reader.con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'decide' and table_name = 'action_outcomes'"
            ).fetchall()
        }
        cols = ", ".join(f'"{c}"' if c in present else f'null as "{c}"' for c in _OUTCOME_COLUMNS)
        outcomes = reader.read("decide.action_outcomes", f"select {cols} from decide.action_outcomes")
    counts = rows.groupby("decision").size()
    reader.evidence.add("decide.decisions:counts", counts.rename("n").reset_index())
    latest = pd.Timestamp(rows["created_at"].max())
    section.lines.append(
        f"{count(len(rows))} decisions in the {DECISION_DAYS} days to {latest:%Y-%m-%d}: "
        + ", ".join(f"{n} {kind}" for kind, n in counts.sort_values(ascending=False).items())
        + "."
    )
    reader.evidence.add("decide.decisions:total", pd.DataFrame({"n": [len(rows)]}))
    if rows["kill_switch"].fillna(False).any():
        section.lines.append("The kill switch turned some actions into monitoring (see the table).")
    merged = rows.merge(outcomes, on="decision_id", how="left")
    judged = merged.dropna(subset=["verdict"])
    section.lines += [
        f"Outcome of “{r.title}”: **{r.verdict}** — {r.summary}"
        for r in judged.itertuples()
        if isinstance(r.summary, str)
    ]
    with_ci = judged.dropna(subset=["effect", "ci_low", "ci_high"])
    if not with_ci.empty:
        section.chart = charts.intervals(
            with_ci.assign(label=with_ci["target"].astype(str)),
            "label",
            "effect",
            "ci_low",
            "ci_high",
            "Measured effect of each action with its interval",
        )
        section.chart_alt = "Action outcomes: measured effect with its interval"
    section.table = Table(
        ["when (UTC)", "decision", "action", "target", "severity", "outcome", "headline"],
        [
            [
                f"{pd.Timestamp(r.created_at):%Y-%m-%d %H:%M}",
                r.decision + (" (kill switch)" if r.kill_switch else ""),
                r.action_type,
                str(r.target),
                r.severity,
                r.verdict if isinstance(r.verdict, str) else "pending",
                r.title,
            ]
            for r in merged.itertuples()
        ],
    )
    return section


def model_status(reader: Reader) -> Section:
    """The models that could not learn from this data, each with its reason (``ml.ml_model_status``)."""
    section = Section("models", "Models that could not learn")
    found = degraded(reader.con)
    if found is None or not found[1]:
        return section
    total, lines = found
    status = reader.read(
        "ml.ml_model_status", "select model_name, status, reason, last_ok_at from ml.ml_model_status order by 1"
    )
    reader.evidence.add("ml.ml_model_status:counts", pd.DataFrame({"models": [len(status)], "degraded": [len(lines)]}))
    section.lines.append(f"{len(lines)} of {total} models could not learn from this data (ml_model_status):")
    section.lines += lines
    return section
