"""`pintel decide | outcomes | snooze`: decisions under the policy, what came of them, and a person's snooze."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from pintel.cli._options import ACTOR, WAREHOUSE, actor_name, write_warehouse

POLICY = click.option(
    "--policy", type=click.Path(path_type=Path), help="Policy YAML (default $PINTEL_POLICY or policies/default.yml)."
)


def _policy(path: Path | None):
    from pintel.decide.policy import PolicyError, load_policy

    try:
        return load_policy(path)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("decide")
@WAREHOUSE
@POLICY
@click.option("--as-of", type=click.DateTime(), help="Data hour to decide about, UTC (default: the latest hour).")
@click.option("--dry-run", is_flag=True, help="Show the decisions without recording them.")
def decide_cmd(warehouse: Path | None, policy: Path | None, as_of: datetime | None, dry_run: bool) -> None:
    """Turn the latest insights into act / rollback / monitor / escalate decisions (decide.decisions)."""
    from pintel.decide import decide, markdown_table

    rules = _policy(policy)  # an invalid policy fails here, naming the field, before anything is read
    con = write_warehouse(warehouse)
    try:
        run = decide(con, rules, as_of, dry_run=dry_run)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        con.close()
    counts = ", ".join(f"{v} {k}" for k, v in run.counts().items())
    state = "dry run, nothing recorded" if dry_run else f"{run.added} new rows in decide.decisions"
    click.echo(f"as of {run.as_of:%Y-%m-%d %H:%M} UTC, policy {rules.version}: {counts} ({state})")
    click.echo(f"data quality: {run.data_quality_status}; kill switch: {'ON' if run.kill_switch else 'off'}")
    for skipped in run.skipped:
        click.echo(f"skipped source {skipped}", err=True)
    click.echo(markdown_table(run.decisions))


@click.command("outcomes")
@WAREHOUSE
@POLICY
def outcomes_cmd(warehouse: Path | None, policy: Path | None) -> None:
    """Judge acted-on decisions whose horizon has passed (decide.action_outcomes) and list every outcome."""
    from pintel.decide import evaluate_outcomes, load_outcomes

    rules = _policy(policy)
    con = write_warehouse(warehouse)
    try:
        new = evaluate_outcomes(con, rules)
        every = load_outcomes(con)
    finally:
        con.close()
    click.echo(f"{len(new)} new outcomes, {len(every)} in all")
    for r in every.to_dict("records"):
        click.echo(f"- [{r['verdict']}] {r['action_type']} {r['target']}: {r['summary']}")


@click.command("snooze")
@WAREHOUSE
@ACTOR
@click.argument("target")
@click.option("--until", "until", type=click.DateTime(), required=True, help="UTC data time the snooze ends.")
@click.option("--reason", required=True, help="Why (kept with the snooze).")
def snooze_cmd(warehouse: Path | None, actor: str | None, target: str, until: datetime, reason: str) -> None:
    """Stop act / rollback / escalate on TARGET until a time (its decisions are recorded as monitor)."""
    from pintel.decide.tables import add_snooze

    con = write_warehouse(warehouse)
    try:
        add_snooze(con, target, until, reason, actor_name(actor), datetime.utcnow().replace(microsecond=0))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        con.close()
    click.echo(f"{target} snoozed until {until:%Y-%m-%d %H:%M} UTC")
