"""Decision assets: ``decide/decisions`` and ``decide/action_outcomes``, downstream of the blocking checks.

Thin: the logic is ``pintel.decide``. Both depend on the tables they read, so a failed blocking GX check
stops them in that run; the ``data_quality_escalation`` sensor then runs ``decide_after_failed_quality``,
whose decisions asset sees the failed suites in ``quality.validation_results`` and makes its only decision:
an escalation about data quality (delivered by ``act/actions``).
"""

from typing import Any

import dagster as dg
import pandas as pd

from dagster_defs.resources import PintelResource
from pintel.act.warehouse import WarehouseLocked, writer

DECISIONS_KEY = ["decide", "decisions"]
OUTCOMES_KEY = ["decide", "action_outcomes"]
INPUTS = [
    ["marts", "fct_flag_exposures"],
    ["marts", "fct_flag_user_hourly"],
    ["ml", "metric_incidents_served"],
    ["ml", "experiment_results_served"],
    ["ml", "churn_scores_v2"],
    ["ml", "causal_feature_impact_served"],
    ["ml", "feature_recommendations_served"],
    ["ml", "ml_recommendation_metrics"],
]


class DecisionsConfig(dg.Config):
    """``catch_up_hours``: rollout hours since the last decided one (at most this far back) are each decided
    as an hourly run would have; ``policy_path``: default ``$PINTEL_POLICY`` or ``policies/default.yml``."""

    catch_up_hours: int = 336
    policy_path: str = ""


def _policy(path: str) -> Any:
    from pintel.decide.policy import PolicyError, load_policy

    try:
        return load_policy(path or None)
    except PolicyError as exc:  # fails the asset by field name, before anything is read or decided
        raise dg.Failure(str(exc)) from exc


@dg.asset(
    key=DECISIONS_KEY,
    deps=INPUTS,
    group_name="decisions",
    kinds={"duckdb", "python"},
    description=(
        "One audited decision per finding (act / rollback / monitor / escalate) by expected value under the "
        "versioned policy; append-only with idempotency keys (decide.decisions)."
    ),
)
def decisions(
    context: dg.AssetExecutionContext, config: DecisionsConfig, pintel: PintelResource
) -> dg.MaterializeResult:
    from pintel.decide import markdown_table
    from pintel.decide.engine import decide_since

    policy = _policy(config.policy_path)
    try:
        with writer(pintel.settings().warehouse, wait_seconds=60) as con:
            runs = decide_since(con, policy, max_hours=config.catch_up_hours)
    except WarehouseLocked as exc:
        raise dg.Failure(str(exc)) from exc
    last = runs[-1]
    made = pd.concat([r.decisions for r in runs if not r.decisions.empty] or [last.decisions], ignore_index=True)
    counts = {k: int((made["decision"] == k).sum()) for k in ("act", "rollback", "monitor", "escalate")}
    for skipped in last.skipped:
        context.log.warning(f"decision source skipped: {skipped}")
    return dg.MaterializeResult(
        metadata={
            **{name: dg.MetadataValue.int(n) for name, n in counts.items()},
            "rows_added": dg.MetadataValue.int(sum(r.added for r in runs)),
            "hours_decided": dg.MetadataValue.int(len(runs)),
            "as_of": dg.MetadataValue.text(f"{last.as_of:%Y-%m-%d %H:%M} UTC"),
            "policy": dg.MetadataValue.text(f"{policy.version} ({policy.hash[:12]})"),
            "data_quality": dg.MetadataValue.text(last.data_quality_status),
            "kill_switch": dg.MetadataValue.text(f"ON — {last.kill_switch_reason}" if last.kill_switch else "off"),
            "decisions": dg.MetadataValue.md(markdown_table(made)),
        }
    )


@dg.asset(
    key=OUTCOMES_KEY,
    deps=[DECISIONS_KEY, ["marts", "fct_churn_labels"]],
    group_name="decisions",
    kinds={"duckdb", "python"},
    description="Did it work? Each acted-on decision judged once its horizon has passed (decide.action_outcomes).",
)
def action_outcomes(
    context: dg.AssetExecutionContext, config: DecisionsConfig, pintel: PintelResource
) -> dg.MaterializeResult:
    from pintel.decide import evaluate_outcomes

    policy = _policy(config.policy_path)
    try:
        with writer(pintel.settings().warehouse, wait_seconds=60) as con:
            new = evaluate_outcomes(con, policy)
    except WarehouseLocked as exc:
        raise dg.Failure(str(exc)) from exc
    verdicts = new["verdict"].value_counts().to_dict() if not new.empty else {}
    lines = [f"- **{r['verdict']}** {r['action_type']} {r['target']}: {r['summary']}" for r in new.to_dict("records")]
    return dg.MaterializeResult(
        metadata={
            "outcomes_added": dg.MetadataValue.int(len(new)),
            **{f"verdict_{k}": dg.MetadataValue.int(int(v)) for k, v in verdicts.items()},
            "outcomes": dg.MetadataValue.md("\n".join(lines) or "_No decision reached its horizon._"),
        }
    )


decide_after_failed_quality = dg.define_asset_job(
    "decide_after_failed_quality",
    selection=dg.AssetSelection.assets(DECISIONS_KEY, ["act", "actions"]),
    description="After a run whose blocking check failed: the data-quality escalation, and its delivery.",
    executor_def=dg.in_process_executor,
)


@dg.run_failure_sensor(
    monitored_jobs=None,
    request_job=decide_after_failed_quality,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="A failed pipeline run (a blocking GX check) still gets one decision: escalate about data quality.",
)
def data_quality_escalation(context: dg.RunFailureSensorContext) -> dg.RunRequest | dg.SkipReason:
    if context.dagster_run.job_name == decide_after_failed_quality.name:
        return dg.SkipReason("the escalation run itself failed: not retrying in a loop")
    return dg.RunRequest(run_key=f"dq-escalation:{context.dagster_run.run_id}")
