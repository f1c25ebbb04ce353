"""``pintel`` command line: simulate, ingest a team's own export, build the warehouse, and more."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import date
from pathlib import Path

import click
import duckdb

from pintel.simulate import DRIFTS, ActionsError, SimConfig, load_actions, simulate


@click.group()
@click.version_option(package_name="pintel")
def main() -> None:
    """pintel: warehouse-native product intelligence."""


@main.command("simulate")
@click.option("--users", default=5000, show_default=True, type=int, help="Number of users.")
@click.option("--days", default=90, show_default=True, type=int, help="Length of the window in days.")
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed (same seed, same bytes).")
@click.option("--start", default="2025-01-06", show_default=True, help="First day of the window (YYYY-MM-DD).")
@click.option("--out", "out", default="data/landing", show_default=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", default="parquet", show_default=True, type=click.Choice(["parquet", "jsonl"]))
@click.option("--defect-rate", default=0.005, show_default=True, type=float, help="Share of defective messages.")
@click.option(
    "--srm-loss",
    default=0.0,
    show_default=True,
    type=float,
    help="Plant a sample-ratio mismatch: share of treatment exposures lost.",
)
@click.option(
    "--causal-setting",
    default="observed",
    show_default=True,
    type=click.Choice(["observed", "unobserved"]),
    help="'unobserved' adds a confounder no adjustment can see (flagged in the manifest).",
)
@click.option("--no-incidents", is_flag=True, help="Do not plant metric incidents.")
@click.option(
    "--oracle-draws",
    default=32,
    show_default=True,
    type=int,
    help="Monte Carlo paths per user for the churn oracle (0 = skip the oracle).",
)
@click.option(
    "--actions",
    "actions_path",
    type=click.Path(path_type=Path),
    help="Replay the same seed with pintel's actions applied: flag changes and retention plays (JSON/YAML, "
    "or a CSV/Parquet list of plays).",
)
@click.option(
    "--drift",
    multiple=True,
    type=click.Choice([*DRIFTS, "all"]),
    help="Plant non-stationarity (repeatable): price_change doubles the free plan's churn hazard from --drift-day; "
    "persona_shift moves the persona mix of new signups over the window.",
)
@click.option("--drift-day", type=int, help="Day index the price change starts (default: mid-window).")
@click.option("--stream", is_flag=True, help="Release the batches one arrival hour at a time.")
@click.option("--speed", default=2.0, show_default=True, type=float, help="Seconds between batches with --stream.")
@click.option("--overwrite", is_flag=True, help="Replace an existing simulation in --out.")
def simulate_cmd(
    users,
    days,
    seed,
    start,
    out,
    fmt,
    defect_rate,
    srm_loss,
    causal_setting,
    no_incidents,
    oracle_draws,
    actions_path,
    drift,
    drift_day,
    stream,
    speed,
    overwrite,
) -> None:
    """Simulate a SaaS product's events with planted ground truth."""
    drifts = tuple(DRIFTS) if "all" in drift else tuple(d for d in DRIFTS if d in drift)
    try:
        cfg = SimConfig(
            users=users,
            days=days,
            seed=seed,
            start=date.fromisoformat(start),
            fmt=fmt,
            defect_rate=defect_rate,
            srm_loss=srm_loss,
            causal_setting=causal_setting,
            incidents=not no_incidents,
            oracle_draws=oracle_draws,
            drift=drifts,
            drift_day=drift_day,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    actions = None
    if actions_path is not None:
        try:
            actions = load_actions(actions_path, cfg)  # validated before anything is written
        except ActionsError as exc:
            raise click.BadParameter(str(exc), param_hint="--actions") from exc
    existing = [p for p in ("events", "identifies", "ground_truth") if (out / p).exists()]
    if existing and not overwrite:
        raise click.ClickException(
            f"{out} already holds a simulation ({', '.join(existing)}); pass --overwrite or choose another --out"
        )
    for name in existing:
        shutil.rmtree(out / name)
    target = out / ".staging" if stream else out
    manifest = simulate(cfg, target, progress=sys.stderr.isatty(), actions=actions)
    if stream:
        from pintel.simulate.stream import release

        shutil.copytree(target / "ground_truth", out / "ground_truth", dirs_exist_ok=True)
        shutil.rmtree(target / "ground_truth")
        released = release(target, out, speed, on_batch=lambda key: click.echo(f"released {key}"))
        click.echo(f"streamed {released} hourly batches into {out}")
    counts = manifest["counts"]
    click.echo(
        f"wrote {counts['messages_written']:,} messages ({counts['valid_events']:,} valid) for {users:,} users "
        f"over {days} days to {out}"
    )
    click.echo(json.dumps(manifest["realised"], indent=2))


@main.command("build")
@click.option("--warehouse", type=click.Path(path_type=Path), help="DuckDB file (default $PINTEL_WAREHOUSE).")
@click.option("--landing", type=click.Path(path_type=Path), help="Landing folder (default $PINTEL_LANDING).")
@click.option("--select", "select", multiple=True, help="dbt selection (default: everything).")
@click.option("--exclude", "exclude", multiple=True, help="dbt exclusion, e.g. path:models/ml.")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
def build_cmd(
    warehouse: Path | None, landing: Path | None, select: tuple[str, ...], exclude: tuple[str, ...], full_refresh: bool
) -> None:
    """Load landed batches into raw and build the dbt warehouse from them."""
    from pintel.build import BuildError, build
    from pintel.settings import Settings

    settings = Settings.from_env(warehouse=warehouse, landing=landing)
    try:
        report = build(settings, select=list(select) or None, full_refresh=full_refresh, exclude=list(exclude) or None)
    except (BuildError, FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"loaded {report.load.new_rows:,} new rows from {sum(report.load.loaded_files.values())} files "
        f"({report.load.skipped_files} already loaded) in {report.seconds_load:.1f}s; "
        f"dbt build: {len(report.nodes)} nodes in {report.seconds_dbt:.1f}s"
    )
    click.echo(f"warehouse: {settings.warehouse}")


@main.command("ingest")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--user-col", required=True, help="Column holding the user id.")
@click.option("--event-col", required=True, help="Column holding the event name.")
@click.option("--time-col", required=True, help="Column holding the event time (timestamp, ISO text or epoch s/ms).")
@click.option("--properties-col", help="Column holding event properties (JSON); default: all other columns.")
@click.option("--id-col", help="Column holding a unique message id (default: derived from file and row).")
@click.option("--source", default="custom", show_default=True, help="Name of this export's source.")
@click.option("--landing", type=click.Path(path_type=Path), help="Landing folder (default $PINTEL_LANDING).")
@click.option("--strict-taxonomy", is_flag=True, help="Quarantine event names not in seeds/event_taxonomy.csv.")
def ingest_cmd(path, user_col, event_col, time_col, properties_col, id_col, source, landing, strict_taxonomy) -> None:
    """Land your own export (CSV, Parquet or JSON lines; a file or a folder) for `pintel build`."""
    from pintel.ingest.foreign import ColumnMapping, ingest
    from pintel.settings import Settings

    settings = Settings.from_env(landing=landing)
    mapping = ColumnMapping(user_col, event_col, time_col, properties_col, id_col)
    try:
        report = ingest(path, settings.landing, mapping, source=source, strict_taxonomy=strict_taxonomy)
    except (ValueError, FileNotFoundError, duckdb.Error) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"landed {report.rows:,} rows from {len(report.files)} file(s) as source '{source}' "
        f"({len(report.events)} event names) in {settings.landing}; now run `pintel build`"
    )


@main.command("summary")
@click.option("--warehouse", type=click.Path(path_type=Path), help="DuckDB file (default $PINTEL_WAREHOUSE).")
def summary_cmd(warehouse: Path | None) -> None:
    """Print rows per table, quarantined messages by reason and DAU for the last 7 days."""
    from pintel.report import warehouse_summary
    from pintel.settings import Settings

    settings = Settings.from_env(warehouse=warehouse)
    try:
        click.echo(warehouse_summary(settings))
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command("dq")
@click.option("--warehouse", type=click.Path(path_type=Path), help="DuckDB file (default $PINTEL_WAREHOUSE).")
@click.option("--reports", type=click.Path(path_type=Path), help="Reports folder (default $PINTEL_REPORTS).")
def dq_cmd(warehouse: Path | None, reports: Path | None) -> None:
    """Run the Great Expectations suites, record results, build Data Docs, print a one-screen summary."""
    from pintel.quality import main_dq
    from pintel.settings import Settings

    settings = Settings.from_env(warehouse=warehouse)
    code = main_dq(settings.warehouse, reports or settings.reports)
    raise SystemExit(code)


# --- actions: serve, flags, kill switch (pintel.act / pintel.serve) -------------------------------------------------


def _actor(actor: str | None) -> str:
    import getpass
    import os

    name = actor or os.environ.get("PINTEL_ACTOR") or getpass.getuser()
    if name.startswith("decision:"):
        raise click.BadParameter("decision:<id> is reserved for decisions; give your own name", param_hint="--actor")
    return name


def _write_warehouse(warehouse: Path | None, wait: float = 5.0):
    """A short write connection, or a ClickException naming the process that holds the file."""
    from pintel.act.warehouse import WarehouseLocked, open_writer
    from pintel.settings import Settings

    try:
        return open_writer(Settings.from_env(warehouse=warehouse).warehouse, wait_seconds=wait)
    except WarehouseLocked as exc:
        raise click.ClickException(str(exc)) from exc


_WAREHOUSE = click.option(
    "--warehouse", type=click.Path(path_type=Path), help="DuckDB file (default $PINTEL_WAREHOUSE)."
)
_ACTOR = click.option("--actor", help="Who makes the change (default $PINTEL_ACTOR or your user name).")


@main.command("serve")
@click.option("--host", help="Interface to listen on (default $PINTEL_SERVE_HOST or 127.0.0.1).")
@click.option("--port", type=int, help="Port (default $PINTEL_SERVE_PORT or 8000).")
@_WAREHOUSE
@click.option("--refresh-seconds", type=float, help="How often the flag snapshot is re-checked (default 1).")
@click.option("--log-level", default="info", show_default=True)
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log every request.")
def serve_cmd(host, port, warehouse, refresh_seconds, log_level, access_log) -> None:
    """Serve pintel over HTTP: OFREP flag evaluation, health; writes need $PINTEL_API_TOKEN."""
    from pintel.serve import ServeConfig, serve

    config = ServeConfig.from_env(warehouse=warehouse, host=host, port=port, refresh_seconds=refresh_seconds)
    click.echo(
        f"pintel serve on http://{config.host}:{config.port} (flags from {config.flags_file}; writes "
        f"{'enabled' if config.api_token else 'disabled: set PINTEL_API_TOKEN'})",
        err=True,
    )
    serve(config, log_level=log_level, access_log=access_log)


@main.group("flags")
def flags_group() -> None:
    """Feature flags: list, set, history, revert, export (flagd JSON)."""


@flags_group.command("list")
@_WAREHOUSE
@click.option("--json", "as_json", is_flag=True, help="Print the flagd document instead of a table.")
def flags_list(warehouse, as_json) -> None:
    """Every flag with what it serves and its last change."""
    from pintel.act.flags import export_flagd, load_flags
    from pintel.settings import Settings, connect

    path = Settings.from_env(warehouse=warehouse).warehouse
    try:
        con = connect(path, read_only=True)
    except (FileNotFoundError, duckdb.IOException) as exc:
        raise click.ClickException(str(exc)) from exc
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
@_ACTOR
@click.option("--variant", help="Serve this variant to everyone (clears targeting).")
@click.option("--rollout", type=float, help="Serve --on-variant to this percentage of users (stable by targetingKey).")
@click.option("--where", multiple=True, help="Limit the rollout to a context attribute, e.g. platform=android.")
@click.option("--on-variant", default="on", show_default=True, help="The variant a rollout serves.")
@click.option("--targeting", help="A flagd JsonLogic rule as JSON ('null' clears it).")
@click.option("--variants", help='Variants as JSON (default {"on": true, "off": false} for a new flag).')
@click.option("--state", type=click.Choice(["enabled", "disabled"], case_sensitive=False))
@click.option("--description")
@_WAREHOUSE
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
    con = _write_warehouse(warehouse)
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
        made = change_flag(con, flag, actor=_actor(actor), reason=reason)
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
@_WAREHOUSE
def flags_history(key, limit, warehouse) -> None:
    """Audit trail, newest first: who changed what, when and why (decision:<id> for automatic changes)."""
    from pintel.act.flags import history
    from pintel.settings import Settings, connect

    try:
        con = connect(Settings.from_env(warehouse=warehouse).warehouse, read_only=True)
    except (FileNotFoundError, duckdb.IOException) as exc:
        raise click.ClickException(str(exc)) from exc
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
@_ACTOR
@click.option("--force", is_flag=True, help="Revert even if the flag changed again since.")
@_WAREHOUSE
def flags_revert(audit_id, reason, actor, force, warehouse) -> None:
    """Put a flag back as it was before audit row AUDIT_ID (e.g. undo an automatic rollback)."""
    from pintel.act.flag import FlagError
    from pintel.act.flags import revert

    con = _write_warehouse(warehouse)
    try:
        made = revert(con, audit_id, actor=_actor(actor), reason=reason, force=force)
    except FlagError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        con.close()
    click.echo(f"reverted audit #{audit_id}" + (f" (new audit #{made.audit_id})" if made else " (already as before)"))


@flags_group.command("export")
@click.option(
    "--out", type=click.Path(path_type=Path), help="File to write (default: the snapshot pintel serve reads)."
)
@_WAREHOUSE
def flags_export(out, warehouse) -> None:
    """Write the flags as a flagd flag-definition file (`flagd start --uri file:...`); '-' prints it."""
    from pintel.act.flags import export_flagd, snapshot_path, write_document
    from pintel.settings import Settings, connect

    path = Settings.from_env(warehouse=warehouse).warehouse
    try:
        con = connect(path, read_only=True)
    except (FileNotFoundError, duckdb.IOException) as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        document = export_flagd(con)
    finally:
        con.close()
    if out is not None and str(out) == "-":
        click.echo(json.dumps(document, indent=2))
        return
    target = write_document(document, out or snapshot_path(path))
    click.echo(f"wrote {len(document['flags'])} flags (revision {document['metadata']['version']}) to {target}")


@main.group("kill-switch")
def kill_switch_group() -> None:
    """Stop (or resume) automatic actions: on, every act/rollback is delivered as monitor."""


def _switch(on: bool, reason: str, actor: str | None, warehouse: Path | None) -> None:
    from pintel.act import kill_switch
    from pintel.act.warehouse import WarehouseLocked, open_writer
    from pintel.settings import Settings

    path = Settings.from_env(warehouse=warehouse).warehouse
    who = _actor(actor)
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
@_ACTOR
@_WAREHOUSE
def kill_switch_on(reason, actor, warehouse) -> None:
    """Turn automatic actions off now (audited)."""
    _switch(True, reason, actor, warehouse)


@kill_switch_group.command("off")
@click.option("--reason", required=True)
@_ACTOR
@_WAREHOUSE
def kill_switch_off(reason, actor, warehouse) -> None:
    """Let pintel act on its own again (audited)."""
    _switch(False, reason, actor, warehouse)


@kill_switch_group.command("status")
@_WAREHOUSE
def kill_switch_status(warehouse) -> None:
    """Whether the kill switch is on, why, and its recent history."""
    from pintel.act import kill_switch
    from pintel.settings import Settings, connect

    try:
        con = connect(Settings.from_env(warehouse=warehouse).warehouse, read_only=True)
    except (FileNotFoundError, duckdb.IOException) as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        on, why = kill_switch.is_on(con)
        frame = kill_switch.history(con, 5)
    finally:
        con.close()
    click.echo(f"kill switch {'ON' if on else 'off'}" + (f": {why}" if why else ""))
    for row in frame.itertuples():
        click.echo(f"  {row.changed_at:%Y-%m-%d %H:%M} {'on ' if row.state else 'off'} by {row.actor}: {row.reason}")


@main.command("ask")
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object (the answer contract).")
@click.option("--warehouse", type=click.Path(path_type=Path), help="DuckDB file (default $PINTEL_WAREHOUSE).")
@click.option("--manifest", type=click.Path(path_type=Path), help="dbt semantic_manifest.json (default: the build's).")
@click.option("--warm", is_flag=True, help="Compile every metric's common query shapes now (MetricFlow), then exit.")
def ask_cmd(question: str | None, as_json: bool, warehouse: Path | None, manifest: Path | None, warm: bool) -> None:
    """Answer a question about the product's metrics, e.g. "weekly actives by platform last week"."""
    import os

    if warm:
        from pintel.ask import warm as warm_shapes

        click.echo(f"compiled {warm_shapes(warehouse, manifest)} new query shapes")
        return
    if not question:
        raise click.UsageError("ask needs a QUESTION (or --warm)")
    from pintel.ask import ask

    result = ask(question, warehouse, manifest=manifest, llm=os.environ.get("PINTEL_LLM") or None)
    if as_json:
        click.echo(json.dumps(result.to_dict(), default=str))
    else:
        click.echo(result.explanation)
    if result.status != "answered":
        raise SystemExit(2)
