"""`pintel build | ingest | summary | dq`: land events, build the warehouse, read it, check it."""

from __future__ import annotations

from pathlib import Path

import click
import duckdb

VARS = click.option("--vars", "dbt_vars", help="dbt --vars, YAML or JSON (default $PINTEL_DBT_VARS).")


@click.command("build")
@click.option("--warehouse", type=click.Path(path_type=Path), help="DuckDB file (default $PINTEL_WAREHOUSE).")
@click.option("--landing", type=click.Path(path_type=Path), help="Landing folder (default $PINTEL_LANDING).")
@click.option("--select", "select", multiple=True, help="dbt selection (default: everything).")
@click.option("--exclude", "exclude", multiple=True, help="dbt exclusion, e.g. path:models/ml.")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
@click.option("--unit-tests", is_flag=True, help="Also run dbt's unit tests (left out of production builds).")
@VARS
def build_cmd(
    warehouse: Path | None,
    landing: Path | None,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    full_refresh: bool,
    unit_tests: bool,
    dbt_vars: str | None,
) -> None:
    """Load landed batches into raw and build the dbt warehouse from them.

    Then `dbt source freshness` reports how old each source is (marts.data_freshness holds it per source and
    per data product). One writer at a time: while another process (a build, Dagster) holds the warehouse,
    this stops with one line naming that process's PID; wait for it or stop it, then run again.
    """
    from pintel.build import BuildError, build
    from pintel.settings import Settings, WarehouseLocked

    try:  # a malformed --vars fails here, before anything is loaded
        settings = Settings.from_env(warehouse=warehouse, landing=landing, dbt_vars=dbt_vars)
        report = build(
            settings,
            select=list(select) or None,
            full_refresh=full_refresh,
            exclude=list(exclude) or None,
            unit_tests=unit_tests,
        )
        from pintel.quality.freshness import freshness_lines, source_freshness

        freshness = source_freshness(settings)
    except (BuildError, WarehouseLocked, FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"loaded {report.load.new_rows:,} new rows from {sum(report.load.loaded_files.values())} files "
        f"({report.load.skipped_files} already loaded) in {report.seconds_load:.1f}s; "
        f"dbt build: {len(report.nodes)} nodes in {report.seconds_dbt:.1f}s"
    )
    click.echo("\n".join(freshness_lines(freshness)))
    click.echo(f"warehouse: {settings.warehouse}")


@click.command("ingest")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--user-col", required=True, help="Column holding the user id.")
@click.option("--event-col", required=True, help="Column holding the event name.")
@click.option(
    "--time-col",
    required=True,
    help="Column holding the event time: timestamps, ISO 8601 text or epoch seconds / milliseconds, "
    "mixed freely (each value is parsed on its own; an unparseable one is quarantined, not dropped).",
)
@click.option("--properties-col", help="Column holding event properties (JSON); default: all other columns.")
@click.option("--id-col", help="Column holding a unique message id (default: derived from file and row).")
@click.option("--source", default="custom", show_default=True, help="Name of this export's source.")
@click.option("--landing", type=click.Path(path_type=Path), help="Landing folder (default $PINTEL_LANDING).")
@click.option("--strict-taxonomy", is_flag=True, help="Quarantine event names not in seeds/event_taxonomy.csv.")
def ingest_cmd(path, user_col, event_col, time_col, properties_col, id_col, source, landing, strict_taxonomy) -> None:
    """Land your own export (CSV, Parquet or JSON lines; a file or a folder) for `pintel build`.

    A file named .csv that is not text (a Parquet file, a workbook, an archive) is refused in one line that
    says what it looks like.
    """
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


@click.command("summary")
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


@click.command("dq")
@click.option("--warehouse", type=click.Path(path_type=Path), help="DuckDB file (default $PINTEL_WAREHOUSE).")
@click.option("--reports", type=click.Path(path_type=Path), help="Reports folder (default $PINTEL_REPORTS).")
@VARS
def dq_cmd(warehouse: Path | None, reports: Path | None, dbt_vars: str | None) -> None:
    """Run the Great Expectations suites, record results, build Data Docs, print a one-screen summary."""
    from pintel.quality import main_dq
    from pintel.settings import Settings

    try:
        settings = Settings.from_env(warehouse=warehouse, reports=reports, dbt_vars=dbt_vars)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--vars") from exc
    code = main_dq(settings.warehouse, settings.reports, dbt_vars=settings.dbt_vars)
    raise SystemExit(code)
