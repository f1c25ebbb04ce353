"""Plain-text summaries of the warehouse for the terminal and CI logs."""

from __future__ import annotations

from pintel.settings import Settings, connect

SUMMARY_TABLES = (
    "raw.events",
    "intermediate.int_events_quarantined",
    "intermediate.int_events_duplicated",
    "marts.fct_events",
    "marts.fct_sessions",
    "marts.fct_user_daily",
    "marts.dim_users",
    "marts.active_users_daily",
    "marts.activity_hourly",
    "marts.retention_cohorts",
)


def warehouse_summary(settings: Settings) -> str:
    """Rows per table, quarantine by reason, DAU of the last 7 days, and where to look."""
    con = connect(settings.warehouse, read_only=True)
    try:
        present = {
            f"{schema}.{name}"
            for schema, name in con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        }
        lines = ["rows per table:"]
        for table in SUMMARY_TABLES:
            count = con.execute(f"select count(*) from {table}").fetchone()[0] if table in present else "missing"
            lines.append(f"  {table:<40} {count:>12,}" if isinstance(count, int) else f"  {table:<40} {count:>12}")
        if "intermediate.int_events_quarantined" in present:
            lines.append("quarantined by reason:")
            for reason, count in con.execute(
                "select quarantine_reason, count(*) from intermediate.int_events_quarantined group by 1 order by 2 desc"
            ).fetchall():
                lines.append(f"  {reason:<40} {count:>12,}")
        if "marts.active_users_daily" in present:
            lines.append("DAU, last 7 days (WAU, MAU, stickiness):")
            for day, dau, wau, mau, stick in con.execute(
                "select activity_date, dau, wau, mau, stickiness from marts.active_users_daily "
                "where segment_dim = 'all' order by activity_date desc limit 7"
            ).fetchall()[::-1]:
                lines.append(f"  {day}  DAU {dau:>7,}  WAU {wau:>7,}  MAU {mau:>7,}  stickiness {stick or 0:.2f}")
    finally:
        con.close()
    target = settings.warehouse.parent / "dbt_target"
    lines += [
        f"warehouse (DuckDB): {settings.warehouse}",
        f"dbt docs: {target / 'index.html'} (after `dbt docs generate`, see README)",
    ]
    return "\n".join(lines)
