"""`pintel flags` and `pintel kill-switch`: people's side of the flag store and the stop button."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pintel.cli._options import ACTOR, WAREHOUSE, actor_name, read_warehouse, write_warehouse


@click.group("flags")
def flags_group() -> None:
    """Feature flags: list, set, history, revert, export (flagd JSON)."""


@flags_group.command("list")
@WAREHOUSE
@click.option("--json", "as_json", is_flag=True, help="Print the flagd document instead of a table.")
def flags_list(warehouse, as_json) -> None:
    """Every flag with what it serves and its last change."""
    from pintel.act.flags import export_flagd, load_flags

    _, con = read_warehouse(warehouse)
    try:
        if as_json:
            click.echo(json.dumps(export_flagd(con), indent=2))
            return
        flags = load_flags(con)
    finally:
        con.close()
    if not flags:
        click.echo("no flags yet; create one with `pintel flags set KEY --reason ...`")
    for flag in flags.values():
        click.echo(f"{flag.key:<28} {flag.state:<9} {flag.summary()}")
        click.echo(f"{'':<28} revision {flag.revision} by {flag.updated_by} at {flag.updated_at}")


@flags_group.command("set")
@click.argument("key")
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
@ACTOR
@click.option("--variant", help="Serve this variant to everyone (clears targeting).")
@click.option("--rollout", type=float, help="Serve --on-variant to this percentage of users (stable by targetingKey).")
@click.option("--where", multiple=True, help="Limit the rollout to a context attribute, e.g. platform=android.")
@click.option("--on-variant", default="on", show_default=True, help="The variant a rollout serves.")
@click.option("--targeting", help="A flagd JsonLogic rule as JSON ('null' clears it).")
@click.option("--variants", help='Variants as JSON (default {"on": true, "off": false} for a new flag).')
@click.option("--state", type=click.Choice(["enabled", "disabled"], case_sensitive=False))
@click.option("--description")
@WAREHOUSE
def flags_set(
    key, reason, actor, variant, rollout, where, on_variant, targeting, variants, state, description, warehouse
):
    """Create or change flag KEY as a person; automatic changes then leave it alone for the policy's 24 h."""
    from pintel.act.edit import UNSET, edited, parse_where
    from pintel.act.flag import FlagError
    from pintel.act.flags import change_flag, get_flag

    try:
        parsed_targeting = json.loads(targeting) if targeting is not None else UNSET
        parsed_variants = json.loads(variants) if variants is not None else None
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}") from exc
    con = write_warehouse(warehouse)
    try:
        flag = edited(
            get_flag(con, key),
            key,
            variant=variant,
            variants=parsed_variants,
            targeting=parsed_targeting,
            state=state,
            description=description,
            rollout=rollout,
            where=parse_where(where),
            on_variant=on_variant,
        )
        made = change_flag(con, flag, actor=actor_name(actor), reason=reason)
    except FlagError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        con.close()
    if made is None:
        click.echo(f"{key}: no change ({flag.summary()})")
    else:
        click.echo(f"{key}: {flag.summary()} (audit #{made.audit_id}; undo with `pintel flags revert {made.audit_id}`)")


@flags_group.command("history")
@click.argument("key", required=False)
@click.option("--limit", default=20, show_default=True, type=int)
@WAREHOUSE
def flags_history(key, limit, warehouse) -> None:
    """Audit trail, newest first: who changed what, when and why (decision:<id> for automatic changes)."""
    from pintel.act.flags import history

    _, con = read_warehouse(warehouse)
    try:
        frame = history(con, key, limit)
    finally:
        con.close()
    if frame.empty:
        click.echo("no flag changes recorded")
    for row in frame.itertuples():
        after = json.loads(row.after) if isinstance(row.after, str) else {}
        click.echo(
            f"#{row.audit_id:<5} {row.changed_at:%Y-%m-%d %H:%M} {row.flag_key:<24} {row.change:<8} by {row.actor}: "
            f"{row.reason} -> default {after.get('default_variant')}{' + targeting' if after.get('targeting') else ''}"
        )


@flags_group.command("revert")
@click.argument("audit_id", type=int)
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
@ACTOR
@click.option("--force", is_flag=True, help="Revert even if the flag changed again since.")
@WAREHOUSE
def flags_revert(audit_id, reason, actor, force, warehouse) -> None:
    """Put a flag back as it was before audit row AUDIT_ID (e.g. undo an automatic rollback)."""
    from pintel.act.flag import FlagError
    from pintel.act.flags import revert

    con = write_warehouse(warehouse)
    try:
        made = revert(con, audit_id, actor=actor_name(actor), reason=reason, force=force)
    except FlagError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        con.close()
    click.echo(f"reverted audit #{audit_id}" + (f" (new audit #{made.audit_id})" if made else " (already as before)"))


@flags_group.command("export")
@click.option(
    "--out", type=click.Path(path_type=Path), help="File to write (default: the snapshot pintel serve reads)."
)
@WAREHOUSE
def flags_export(out, warehouse) -> None:
    """Write the flags as a flagd flag-definition file (`flagd start --uri file:...`); '-' prints it."""
    from pintel.act.flags import export_flagd, snapshot_path, write_document

    path, con = read_warehouse(warehouse)
    try:
        document = export_flagd(con)
    finally:
        con.close()
    if out is not None and str(out) == "-":
        click.echo(json.dumps(document, indent=2))
        return
    target = write_document(document, out or snapshot_path(path))
    click.echo(f"wrote {len(document['flags'])} flags (revision {document['metadata']['version']}) to {target}")


@click.group("kill-switch")
def kill_switch_group() -> None:
    """Stop (or resume) automatic actions: on, every act/rollback is delivered as monitor."""


def _switch(on: bool, reason: str, actor: str | None, warehouse: Path | None) -> None:
    from pintel.act import kill_switch
    from pintel.act.warehouse import WarehouseLocked, open_writer
    from pintel.settings import Settings

    path = Settings.from_env(warehouse=warehouse).warehouse
    who = actor_name(actor)
    try:
        con = open_writer(path, wait_seconds=3)
    except WarehouseLocked as exc:
        if not on:
            raise click.ClickException(str(exc)) from exc
        marker = kill_switch.write_marker(path, actor=who, reason=reason)
        click.echo(f"kill switch ON via {marker} ({exc.holder} holds the warehouse; audited at the next switch)")
        return
    try:
        kill_switch.set_state(con, on, actor=who, reason=reason)
        state, why = kill_switch.is_on(con)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        con.close()
    click.echo(f"kill switch {'ON' if state else 'off'}" + (f": {why}" if why else ""))
    if not on and state:
        click.echo("note: it is still on because of the environment (unset PINTEL_KILL_SWITCH)")


@kill_switch_group.command("on")
@click.option("--reason", required=True)
@ACTOR
@WAREHOUSE
def kill_switch_on(reason, actor, warehouse) -> None:
    """Turn automatic actions off now (audited)."""
    _switch(True, reason, actor, warehouse)


@kill_switch_group.command("off")
@click.option("--reason", required=True)
@ACTOR
@WAREHOUSE
def kill_switch_off(reason, actor, warehouse) -> None:
    """Let pintel act on its own again (audited)."""
    _switch(False, reason, actor, warehouse)


@kill_switch_group.command("status")
@WAREHOUSE
def kill_switch_status(warehouse) -> None:
    """Whether the kill switch is on, why, and its recent history."""
    from pintel.act import kill_switch

    _, con = read_warehouse(warehouse)
    try:
        on, why = kill_switch.is_on(con)
        frame = kill_switch.history(con, 5)
    finally:
        con.close()
    click.echo(f"kill switch {'ON' if on else 'off'}" + (f": {why}" if why else ""))
    for row in frame.itertuples():
        click.echo(f"  {row.changed_at:%Y-%m-%d %H:%M} {'on ' if row.state else 'off'} by {row.actor}: {row.reason}")
