"""An invalid policy fails by field name before anything is decided; a failed critical GX suite leaves one
decision: an escalation about data quality, and no act or rollback."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from click.testing import CliRunner

from pintel.cli import main
from pintel.decide import decide, load_decisions, load_policy
from pintel.decide.policy import PolicyError, default_policy_path
from pintel.quality import run_suite
from pintel.settings import connect


def _write(tmp_path, change) -> str:
    data = yaml.safe_load(default_policy_path().read_text())
    change(data)
    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["rollouts"].update(false_rollback_budget=2), "rollouts.false_rollback_budget"),
        (
            lambda d: d["actions"]["rollback_flag"]["prior"].update(successes=-1),
            "actions.rollback_flag.prior.successes",
        ),
        (lambda d: d["churn"].update(holdout_share=0), "churn.holdout_share"),
        (lambda d: d.update(surprise=1), "surprise"),
        (lambda d: d["actions"].pop("escalate"), "actions.escalate"),
        (lambda d: d["routing"].pop("critical"), "routing"),
    ],
)
def test_invalid_policy_names_the_field(tmp_path, change, field) -> None:
    with pytest.raises(PolicyError, match=f"policy field {field.replace('.', '[.]')}"):
        load_policy(_write(tmp_path, change))


def test_cli_refuses_an_invalid_policy_before_opening_the_warehouse(tmp_path) -> None:
    bad = _write(tmp_path, lambda d: d["thresholds"].update(escalate_min_expected_loss=-5))
    result = CliRunner().invoke(main, ["decide", "--warehouse", str(tmp_path / "none.duckdb"), "--policy", bad])
    assert result.exit_code != 0 and "thresholds.escalate_min_expected_loss" in result.output
    assert not (tmp_path / "none.duckdb").exists()


def test_policy_hash_ignores_formatting(tmp_path) -> None:
    text = default_policy_path().read_text()
    path = tmp_path / "commented.yml"
    path.write_text("# a reviewer's note\n" + yaml.safe_dump(yaml.safe_load(text), sort_keys=True))
    assert load_policy(path).hash == load_policy().hash


def test_failed_critical_check_leaves_only_a_data_quality_escalation(warehouse, rollout_starts, policy) -> None:
    con = connect(warehouse.warehouse)
    try:  # an export re-sent: one day of events twice (fct_events' compound key breaks)
        con.execute(
            "insert into marts.fct_events select * from marts.fct_events "
            "where event_at >= (select max(event_at) - interval 1 day from marts.fct_events)"
        )
    finally:
        con.close()
    result = run_suite(warehouse.warehouse, "fct_events")
    assert result.critical and not result.success
    con = connect(warehouse.warehouse)
    try:
        run = decide(con, policy, rollout_starts["new_editor"] + timedelta(hours=48))
        stored = load_decisions(con)
    finally:
        con.close()
    assert run.data_quality_status == "failed"
    assert len(stored) == 1
    row = stored.iloc[0]
    assert (row["decision"], row["source"], row["action_type"]) == ("escalate", "data_quality", "escalate")
    assert "fct_events" in row["rationale"] and row["severity"] == "critical"


def test_invalid_policy_fails_the_dagster_asset_by_field(tmp_path, monkeypatch) -> None:
    import dagster as dg

    from dagster_defs.decisions import decisions
    from dagster_defs.resources import PintelResource

    bad = _write(tmp_path, lambda d: d["churn"].update(capacity_per_day="lots"))
    monkeypatch.setenv("PINTEL_POLICY", bad)
    monkeypatch.setenv("PINTEL_WAREHOUSE", str(tmp_path / "never.duckdb"))
    result = dg.materialize([decisions], resources={"pintel": PintelResource()}, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "churn.capacity_per_day" in str(failure.event_specific_data.error)
    assert not (tmp_path / "never.duckdb").exists()
