"""Options and helpers shared by the action commands (serve, flags, kill switch)."""

from __future__ import annotations

from pathlib import Path

import click


def actor_name(actor: str | None) -> str:
    import getpass
    import os

    name = actor or os.environ.get("PINTEL_ACTOR") or getpass.getuser()
    if name.startswith("decision:"):
        raise click.BadParameter("decision:<id> is reserved for decisions; give your own name", param_hint="--actor")
    return name


def write_warehouse(warehouse: Path | None, wait: float = 5.0):
    """A short write connection, or a ClickException naming the process that holds the file."""
    from pintel.act.warehouse import WarehouseLocked, open_writer
    from pintel.settings import Settings

    try:
        return open_writer(Settings.from_env(warehouse=warehouse).warehouse, wait_seconds=wait)
    except WarehouseLocked as exc:
        raise click.ClickException(str(exc)) from exc


def read_warehouse(warehouse: Path | None) -> tuple[Path, object]:
    """The warehouse path and a read-only connection to it, or a ClickException saying why it cannot be opened."""
    import duckdb

    from pintel.settings import Settings, connect

    path = Settings.from_env(warehouse=warehouse).warehouse
    try:
        return path, connect(path, read_only=True)
    except (FileNotFoundError, duckdb.IOException) as exc:
        raise click.ClickException(str(exc)) from exc


WAREHOUSE = click.option(
    "--warehouse", type=click.Path(path_type=Path), help="DuckDB file (default $PINTEL_WAREHOUSE)."
)
ACTOR = click.option("--actor", help="Who makes the change (default $PINTEL_ACTOR or your user name).")
