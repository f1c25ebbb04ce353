"""The ``act/actions`` asset: deliver the latest decisions (flag changes, Slack) and their outcomes.

Thin: the logic is ``pintel.act.deliver``. Downstream of ``decide/decisions`` and ``decide/action_outcomes``;
its asset check ``actions_delivered`` (non-blocking) fails while any message is left ``failed`` in the outbox.
"""

from datetime import timedelta
from typing import Any

import dagster as dg
import pandas as pd

from dagster_defs.resources import PintelResource
from pintel.act import deliver, deliver_outcomes
from pintel.act.flags import utcnow, write_snapshot
from pintel.act.policy import load_delivery_policy
from pintel.act.redact import redact
from pintel.act.summary import actions_markdown
from pintel.act.warehouse import WarehouseLocked, writer
from pintel.tables import table_exists

ACTIONS_KEY = ["act", "actions"]


class ActionsConfig(dg.Config):
    """``lookback_hours``: decisions this recent are (re)considered; older ones are never delivered late."""

    lookback_hours: int = 72
    policy_path: str = ""


def _recent(con: Any, table: str, since: Any) -> pd.DataFrame:
    schema, name = table.split(".")
    if not table_exists(con, schema, name):
        return pd.DataFrame()
    if name == "decisions":
        try:
            from pintel.decide import load_decisions  # the engine's reader, per the contract
        except ImportError:
            pass
        else:
            return load_decisions(con, since=since)
    return con.execute(f"select * from {table} where created_at >= ? order by created_at", [since]).df()


@dg.asset(
    key=ACTIONS_KEY,
    deps=[["decide", "decisions"], ["decide", "action_outcomes"]],
    group_name="actions",
    kinds={"slack", "duckdb"},
    description=(
        "Executes decisions: flag changes (audited, revertible) and one Slack message per decision and channel "
        "through the outbox (exactly once; dry run without PINTEL_SLACK_BOT_TOKEN); outcomes as thread replies."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            "actions_delivered", asset=ACTIONS_KEY, description="Every message of this run reached Slack."
        )
    ],
)
def actions(context: dg.AssetExecutionContext, config: ActionsConfig, pintel: PintelResource) -> dg.MaterializeResult:
    settings = pintel.settings()
    policy = load_delivery_policy(config.policy_path or None)  # an invalid policy fails here, before any action
    since = utcnow() - timedelta(hours=config.lookback_hours)
    try:
        with writer(settings.warehouse, wait_seconds=60) as con:
            decisions = _recent(con, "decide.decisions", since)
            report = deliver(con, decisions, policy)
            outcomes = _recent(con, "decide.action_outcomes", since)
            replies = deliver_outcomes(con, outcomes) if not outcomes.empty else None
            write_snapshot(con)  # the served flag file follows the store even after an interrupted run
            summary = actions_markdown(con)
    except WarehouseLocked as exc:
        raise dg.Failure(str(exc)) from exc
    settings.reports.mkdir(parents=True, exist_ok=True)
    (settings.reports / "actions.md").write_text(summary + "\n")
    counts = report.counts()
    failed = counts["messages_failed"] + (replies.counts()["messages_failed"] if replies else 0)
    context.log.info(redact(report.markdown()))
    metadata: dict[str, Any] = {
        **{name: dg.MetadataValue.int(value) for name, value in counts.items()},
        "decisions_considered": dg.MetadataValue.int(len(decisions)),
        "outcome_replies": dg.MetadataValue.int(replies.counts()["messages_sent"] if replies else 0),
        "kill_switch": dg.MetadataValue.text(f"ON — {report.kill_switch_reason}" if report.kill_switch else "off"),
        "dry_run": dg.MetadataValue.bool(report.dry_run),
        "deliveries": dg.MetadataValue.md(redact(report.markdown())),
        "summary": dg.MetadataValue.path(str(settings.reports / "actions.md")),
    }
    check = dg.AssetCheckResult(
        check_name="actions_delivered",
        passed=failed == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"failed_messages": dg.MetadataValue.int(failed)},
        description="failed messages stay in act.action_outbox and are retried (after a history check) next run",
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])
