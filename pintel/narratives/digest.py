"""The metrics digest: what happened to the product last week, in sentences a PM can read in a minute.

Every number comes from the metric marts (one definition each); the text only explains them. Written as
Markdown so it renders in Slack, a README or the Dagster UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pintel.settings import connect
from pintel.status import degraded


@dataclass(frozen=True)
class WeekOverWeek:
    metric: str
    current: float
    previous: float

    @property
    def change(self) -> float | None:
        return None if not self.previous else self.current / self.previous - 1.0

    def sentence(self) -> str:
        if self.change is None:
            return f"{self.metric} was {self.current:,.0f} (no earlier week to compare)."
        direction = "up" if self.change > 0 else "down"
        return (
            f"{self.metric} averaged {self.current:,.0f} a day, {direction} {abs(self.change):.1%} "
            f"on the week before ({self.previous:,.0f})."
        )


def build_digest(warehouse: str | Path) -> str:
    """Markdown digest of the last complete 7 days against the 7 before, from the marts."""
    con = connect(warehouse, read_only=True)
    try:
        last = con.execute("select max(activity_date) from marts.active_users_daily").fetchone()[0]
        if last is None:
            raise ValueError("active_users_daily is empty: nothing to report")
        dau = con.execute(
            """
            select
                avg(dau) filter (where activity_date > $last - 7),
                avg(dau) filter (where activity_date <= $last - 7 and activity_date > $last - 14),
                arg_max(mau, activity_date), arg_max(stickiness, activity_date)
            from marts.active_users_daily where segment_dim = 'all'
            """,
            {"last": last},
        ).fetchone()
        signups = con.execute(
            """
            select
                sum(signups) filter (where signup_date > $last - 7) / 7.0,
                sum(signups) filter (where signup_date <= $last - 7 and signup_date > $last - 14) / 7.0
            from marts.signups_daily where segment_dim = 'all'
            """,
            {"last": last},
        ).fetchone()
        channels = con.execute(
            """
            select segment_value, sum(signups) as n from marts.signups_daily
            where segment_dim = 'channel' and signup_date > $last - 7 group by 1 order by n desc limit 3
            """,
            {"last": last},
        ).fetchall()
        retention = con.execute(
            """
            select cohort_week, retention_rate from marts.retention_cohorts
            where week_number = 1 and eligible_users > 0 order by cohort_week desc limit 1
            """
        ).fetchone()
        quarantined = con.execute("select count(*) from intermediate.int_events_quarantined").fetchone()[0]
        models = degraded(con)
    finally:
        con.close()
    lines = [f"# Product digest — week ending {last}", ""]
    lines.append("- " + WeekOverWeek("Daily active users", dau[0] or 0, dau[1] or 0).sentence())
    lines.append(f"- Monthly active users: {dau[2]:,}; stickiness (DAU/MAU) {dau[3] or 0:.0%}.")
    lines.append("- " + WeekOverWeek("Signups", signups[0] or 0, signups[1] or 0).sentence())
    if channels:
        lines.append("- Top signup channels this week: " + ", ".join(f"{c} ({n:,})" for c, n in channels) + ".")
    if retention:
        lines.append(f"- Week-1 retention of the {retention[0]} cohort: {retention[1]:.0%}.")
    lines.append(f"- {quarantined:,} messages are in quarantine with a reason (see int_events_quarantined).")
    if models is not None and models[1]:
        lines.append(f"- {len(models[1])} of {models[0]} models could not learn from this data (ml_model_status):")
        lines += [f"  - {line}" for line in models[1]]
    return "\n".join(lines) + "\n"
