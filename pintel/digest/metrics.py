"""Digest sections over the metric marts: KPI trends with their anomaly bands, incidents, retention heatmap.

Every number in a sentence is a cell of a query result (week-over-week changes are computed in the SQL), so
the provenance check can find it. The KPI bands are the incident detector's own (the daily ``dau`` and
``signups`` series run through :func:`pintel.incidents.series.detect_metrics` with its default configuration,
exactly as ``ml.metric_anomalies`` watches them); flagged days come from ``ml.metric_anomalies`` when it is built.
"""

from __future__ import annotations

import pandas as pd

from pintel.digest import charts
from pintel.digest.text import Reader, Section, change, count, missing, number, pct

#: The windows the text compares (days): the last complete week against the one before, and how far back the
#: trend charts and the anomaly list look. Constants of the digest, declared to the provenance check.
WEEK_DAYS = 7
TREND_DAYS = 56
RETENTION_COHORTS = 12
RETENTION_WEEKS = 8
PREVIOUS_COHORTS = 4
CONSTANTS = (WEEK_DAYS, TREND_DAYS, RETENTION_COHORTS, RETENTION_WEEKS, PREVIOUS_COHORTS)

_KPI_SQL = """
with daily as (
    select activity_date, dau, wau, mau, stickiness from marts.active_users_daily where segment_dim = 'all'
),
latest as (select max(activity_date) as last_day from daily),
signups as (
    select signup_date, signups from marts.signups_daily where segment_dim = 'all'
),
windows as (
    select
        latest.last_day,
        (select avg(dau) from daily where activity_date > last_day - $w) as dau_week,
        (select avg(dau) from daily where activity_date <= last_day - $w and activity_date > last_day - 2 * $w)
            as dau_prev_week,
        (select sum(signups) from signups where signup_date > last_day - $w) as signups_week,
        (select sum(signups) from signups where signup_date <= last_day - $w and signup_date > last_day - 2 * $w)
            as signups_prev_week,
        (select arg_max(mau, activity_date) from daily) as mau,
        (select arg_max(wau, activity_date) from daily) as wau,
        (select arg_max(stickiness, activity_date) from daily) as stickiness
    from latest
)
select *, dau_week / nullif(dau_prev_week, 0) - 1 as dau_change,
    signups_week / nullif(signups_prev_week, 0) - 1 as signups_change
from windows
"""


def kpis(reader: Reader) -> Section:
    """DAU, WAU/MAU, stickiness and signups of the last week against the week before, with the trend chart."""
    section = Section("kpis", "Key metrics")
    if not reader.exists("marts.active_users_daily"):
        return section.skip("The metric marts are not built yet: run `pintel build`.")
    row = reader.read("marts.active_users_daily:kpis", _KPI_SQL, {"w": WEEK_DAYS}).iloc[0]
    if missing(row["last_day"]):
        return section.skip("marts.active_users_daily is empty: nothing to report yet.")
    last = pd.Timestamp(row["last_day"]).date()
    section.title = f"Key metrics — week ending {last:%A %Y-%m-%d}"
    section.lines.append(
        f"Daily active users averaged {count(row['dau_week'])} a day, {change(row['dau_change'])} on the week "
        f"before" + ("." if missing(row["dau_prev_week"]) else f" ({count(row['dau_prev_week'])}).")
    )
    section.lines.append(
        f"Weekly actives {count(row['wau'])}, monthly actives {count(row['mau'])}; stickiness (DAU/MAU) "
        f"{pct(row['stickiness'])}."
    )
    if not missing(row["signups_week"]):
        section.lines.append(
            f"Signups: {count(row['signups_week'])} this week, {change(row['signups_change'])} on the week before."
        )
    section.lines += _flagged_days(reader, last)
    trends = _trends(reader, last)
    if trends:
        section.chart = charts.kpi_trends(trends)
        section.chart_alt = "Daily active users and signups with the anomaly detector's expected band"
    return section


def _trends(reader: Reader, last: object) -> dict[str, pd.DataFrame]:
    """The daily series of the last weeks with the detector's band (computed over the whole history)."""
    from pintel.incidents.series import daily_long, detect_metrics

    dau = reader.read(
        "marts.active_users_daily:trend",
        "select activity_date, segment_dim, segment_value, dau from marts.active_users_daily "
        "where segment_dim = 'all' order by activity_date",
    )
    signups = None
    if reader.exists("marts.signups_daily"):
        signups = reader.read(
            "marts.signups_daily:trend",
            "select signup_date, segment_dim, segment_value, signups from marts.signups_daily "
            "where segment_dim = 'all' order by signup_date",
        )
    detected = detect_metrics(daily_long(dau, signups))
    start = pd.Timestamp(last) - pd.Timedelta(days=TREND_DAYS - 1)
    out = {}
    for metric, title in (("dau", "Daily active users"), ("signups", "Signups per day")):
        frame = detected[detected["metric"].eq(metric) & (detected["ts"] >= start)]
        if not frame.empty:
            out[title] = frame.set_index("ts").sort_index()
    return out


def _flagged_days(reader: Reader, last: object) -> list[str]:
    if not reader.exists("ml.metric_anomalies"):
        return []
    flagged = reader.read(
        "ml.metric_anomalies",
        """
        select metric, cast(ts as date) as day, observed, expected, score from ml.metric_anomalies
        where grain = 'day' and segment_dim = 'all' and is_anomaly and ts > $last - $days
        order by ts desc
        """,
        {"last": last, "days": TREND_DAYS},
    )
    if flagged.empty:
        return [f"No day of the last {TREND_DAYS} was outside the expected band for DAU or signups."]
    names = {"dau": "DAU", "signups": "signups"}
    items = [
        f"{names.get(r.metric, r.metric)} on {r.day:%Y-%m-%d} "
        f"({count(r.observed)} against {count(r.expected)} expected)"
        for r in flagged.head(5).itertuples()
    ]
    return ["Outside the expected band (red on the chart): " + "; ".join(items) + "."]


def incidents(reader: Reader) -> Section:
    """The latest metric incidents as the incident model wrote them (one cause each)."""
    section = Section("incidents", "Metric incidents")
    if not reader.exists("ml.metric_incidents_served"):
        return section.skip("The incident model is not built yet.")
    rows = reader.read(
        "ml.metric_incidents_served",
        'select incident_id, "start", severity, summary from ml.metric_incidents_served order by "start" desc limit 5',
    )
    if rows.empty:
        section.lines.append("No metric incident was raised.")
    section.lines += [f"**{r.severity}** — {r.summary}" for r in rows.itertuples()]
    return section


def quarantine(reader: Reader) -> Section:
    section = Section("quality", "Data quality")
    if reader.exists("intermediate.int_events_quarantined"):
        frame = reader.read(
            "intermediate.int_events_quarantined",
            "select quarantine_reason, count(*) as messages from intermediate.int_events_quarantined "
            "group by 1 order by 2 desc",
        )
        total = int(frame["messages"].sum()) if not frame.empty else 0
        reader.evidence.add("intermediate.int_events_quarantined:total", pd.DataFrame({"messages": [total]}))
        reasons = ", ".join(f"{r.quarantine_reason} {count(r.messages)}" for r in frame.head(3).itertuples())
        section.lines.append(
            f"{count(total)} messages are in quarantine with a reason" + (f" ({reasons})." if reasons else ".")
        )
    return section


_RETENTION_SQL = """
with recent as (
    select distinct cohort_week from marts.retention_cohorts order by cohort_week desc limit $cohorts
)
select r.cohort_week, r.week_number, r.retention_rate, r.cohort_users, r.eligible_users
from marts.retention_cohorts as r
inner join recent using (cohort_week)
where r.week_number between 0 and $weeks
order by r.cohort_week, r.week_number
"""

_WEEK1_SQL = """
with week1 as (
    select cohort_week, retention_rate, eligible_users from marts.retention_cohorts
    where week_number = 1 and eligible_users > 0 and retention_rate is not null
),
ranked as (select *, row_number() over (order by cohort_week desc) as recency from week1)
select
    max(cohort_week) filter (where recency = 1) as cohort_week,
    max(retention_rate) filter (where recency = 1) as retention_rate,
    max(eligible_users) filter (where recency = 1) as eligible_users,
    avg(retention_rate) filter (where recency between 2 and 1 + $previous) as previous_cohorts
from ranked
"""


def retention(reader: Reader) -> Section:
    """Bounded week-N retention of the latest weekly signup cohorts as a heatmap."""
    section = Section("retention", "Retention by signup week")
    if not reader.exists("marts.retention_cohorts"):
        return section.skip("marts.retention_cohorts is not built yet.")
    cells = reader.read(
        "marts.retention_cohorts", _RETENTION_SQL, {"cohorts": RETENTION_COHORTS, "weeks": RETENTION_WEEKS}
    )
    week1 = reader.read("marts.retention_cohorts:week1", _WEEK1_SQL, {"previous": PREVIOUS_COHORTS}).iloc[0]
    if not missing(week1["cohort_week"]):
        line = (
            f"Week-1 retention of the cohort that signed up in the week of "
            f"{pd.Timestamp(week1['cohort_week']):%Y-%m-%d}: "
            f"{pct(week1['retention_rate'])} of {count(week1['eligible_users'])} users"
        )
        if not missing(week1["previous_cohorts"]):
            line += f", against {pct(week1['previous_cohorts'])} for the {PREVIOUS_COHORTS} cohorts before"
        section.lines.append(line + ".")
    if cells.empty:
        return section.skip("No cohort has a full week yet.")
    grid = cells.pivot_table(index="cohort_week", columns="week_number", values="retention_rate", aggfunc="first")
    grid.index = [pd.Timestamp(i).strftime("%Y-%m-%d") for i in grid.index]
    section.chart = charts.retention_heatmap(grid)
    section.chart_alt = "Retention heatmap: share of each signup week's users active N weeks later"
    return section


def freshness(reader: Reader) -> Section:
    """How fresh the data under this digest is: the events feed and each data product's SLA (marts.data_freshness)."""
    from pintel.quality.freshness import FEED, FRESHNESS_TABLE, describe_feed

    section = Section("freshness", "Data freshness")
    if not reader.exists(FRESHNESS_TABLE):
        return section
    rows = reader.read(
        FRESHNESS_TABLE,
        f"select scope, name, feed_mode, status, complete_until, latest_event_at, arrival_age_hours, age_hours, "
        f"sla_hours, sla_met from {FRESHNESS_TABLE} where (scope = 'source' and name = ?) or scope = 'data_product' "
        "order by scope desc, sla_hours, name",
        [FEED],
    )
    feed = rows[rows["scope"].eq("source")]
    if feed.empty:
        return section
    section.lines.append(f"Events: {describe_feed(feed.iloc[0].to_dict())}.")
    for r in rows[rows["scope"].eq("data_product")].to_dict("records"):
        if r["status"] == "closed":
            section.lines.append(f"{r['name']}: SLA {count(r['sla_hours'])} h, not applicable to a closed export.")
            continue
        verdict = "met" if r["sla_met"] else "missed"
        section.lines.append(
            f"{r['name']}: data {number(r['age_hours'], 1)} h old, SLA {count(r['sla_hours'])} h ({verdict})."
        )
    return section
