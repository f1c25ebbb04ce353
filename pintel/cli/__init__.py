"""``pintel`` command line: simulate, ingest a team's own export, build the warehouse, decide, act, ask.

Commands load lazily: each lives in its own module and imports its dependencies only when it runs, so a quick
command (``pintel ask``, ``pintel flags list``) does not pay for the simulator, dbt or scikit-learn.
"""

from __future__ import annotations

import importlib

import click

#: command name -> "module:attribute" of its click command.
COMMANDS = {
    "simulate": "pintel.cli.simulate:simulate_cmd",
    "build": "pintel.cli.warehouse:build_cmd",
    "ingest": "pintel.cli.warehouse:ingest_cmd",
    "summary": "pintel.cli.warehouse:summary_cmd",
    "dq": "pintel.cli.warehouse:dq_cmd",
    "serve": "pintel.cli.serve:serve_cmd",
    "flags": "pintel.cli.flags:flags_group",
    "kill-switch": "pintel.cli.flags:kill_switch_group",
    "ask": "pintel.cli.ask:ask_cmd",
    "decide": "pintel.cli.decide:decide_cmd",
    "outcomes": "pintel.cli.decide:outcomes_cmd",
    "snooze": "pintel.cli.decide:snooze_cmd",
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use (click's documented lazy-loading pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name].split(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        """Any command on a warehouse another process holds ends with the one-line message naming that process."""
        from pintel.settings import WarehouseLocked

        try:
            return super().invoke(ctx)
        except WarehouseLocked as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=LazyGroup)
@click.version_option(package_name="pintel")
def main() -> None:
    """pintel: warehouse-native product intelligence."""
