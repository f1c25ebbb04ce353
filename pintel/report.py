"""Plain-text summaries of the warehouse for the terminal and CI logs."""

from __future__ import annotations

from pintel.settings import Settings, connect
from pintel.status import degraded

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
        from pintel.quality.freshness import describe_feed, read_feed

        lines.append(f"data freshness (marts.data_freshness): {describe_feed(read_feed(con))}")
        lines += _ml_sections(con, present)
    finally:
        con.close()
    target = settings.warehouse.parent / "dbt_target"
    lines += [
        f"warehouse (DuckDB): {settings.warehouse}",
        f"dbt docs: {target / 'index.html'} (after `dbt docs generate`, see README)",
        f"reports (digest, Data Docs, incident charts, calibration plot): {settings.reports}",
    ]
    return "\n".join(lines)


def _churn_lines(con) -> list[str]:
    """ROC-AUC / ECE per scorer and, at the cost-weighted high-risk threshold, the seeds' churn metrics (here, not
    in pintel.churn, so the summary does not import scikit-learn)."""
    cols = "model, roc_auc, ece, recall_14d, high_risk_precision, expected_cost, cost_flag_none, cost_flag_all"
    cols += ", max(high_risk_threshold) over ()"
    if "recall_14d" not in {r[0] for r in con.execute("describe ml.ml_churn_metrics").fetchall()}:
        cols = "model, roc_auc, ece"  # a warehouse built before the operating point existed
    rows = con.execute(f"select {cols} from ml.ml_churn_metrics").fetchall()

    def fmt(value, spec=".3f"):
        return "-" if value is None or value != value else format(value, spec)

    lines = ["churn model, held-out later window (ROC-AUC / ECE"]
    if rows and len(rows[0]) > 3:
        lines[0] += f"; high risk = p >= {fmt(rows[0][-1])}: churners flagged 14+ days ahead, high-risk precision,"
        lines[0] += " cost per user vs flagging none / all"
    lines[0] += "):"
    for model, auc, ece, *rest in rows:
        line = f"  {model:<10} {fmt(auc)} / {fmt(ece)}"
        if len(rest) > 1:
            recall, precision, cost, none, every, _ = rest
            line += f"  recall {fmt(recall, '.0%')}  precision {fmt(precision, '.0%')}"
            line += f"  cost {fmt(cost, '.2f')} vs {fmt(none, '.2f')} / {fmt(every, '.2f')}"
        lines.append(line)
    return lines


def _ml_sections(con, present: set[str]) -> list[str]:
    """What the models concluded, when their tables exist: one line each, the detail stays in the tables."""
    lines: list[str] = []
    status = degraded(con)
    if status is not None:
        total, skipped = status
        lines.append(f"ML models skipped or stale ({len(skipped)} of {total}; ml.ml_model_status):")
        lines += [f"  {line}" for line in skipped] or ["  (none: every model learnt from this build's data)"]
    if "ml.ml_churn_metrics" in present:
        lines += _churn_lines(con)
    sections = (
        ("ml.experiment_results_served", "experiments:", "select summary from ml.experiment_results_served"),
        (
            "ml.causal_feature_impact_served",
            "key feature impact:",
            "select summary from ml.causal_feature_impact_served where is_key_feature order by horizon_days",
        ),
        (
            "ml.metric_incidents_served",
            "metric incidents (latest 5):",
            'select summary from ml.metric_incidents_served order by "start" desc limit 5',
        ),
    )
    for table, title, sql in sections:
        if table in present:
            rows = con.execute(sql).fetchall()
            lines.append(title)
            lines += [f"  - {row[0]}" for row in rows] or ["  (none)"]
    if "decide.decisions" in present:
        from pintel.decide.summary import decisions_lines

        lines += decisions_lines(con)
    from pintel.act.summary import actions_lines

    lines += actions_lines(con)
    return lines
