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
