"""`pintel serve`: the one HTTP surface (OFREP flags, health, and the copilot's routes)."""

from __future__ import annotations

import click

from pintel.cli._options import WAREHOUSE


@click.command("serve")
@click.option("--host", help="Interface to listen on (default $PINTEL_SERVE_HOST or 127.0.0.1).")
@click.option("--port", type=int, help="Port (default $PINTEL_SERVE_PORT or 8000).")
@WAREHOUSE
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
