"""What the actions side did lately, as text for ``pintel summary`` and markdown for the digest.

Dry-run messages (no Slack token) are shown here with their Block Kit JSON, so a team can see exactly what
pintel would post before it gives pintel a token.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from pintel.act import kill_switch, outbox
from pintel.act.flags import history, utcnow


def _recent(con: Any, days: int) -> tuple[datetime, Any, Any]:
    since = utcnow() - timedelta(days=days)
    items = outbox.frame(con, since)
    changes = history(con, limit=200)
    if not changes.empty:
        changes = changes[changes["changed_at"] >= since]
    return since, items, changes


def actions_lines(con: Any, days: int = 7) -> list[str]:
    """Plain-text lines (the kill switch, flag changes, messages by state) for the terminal summary."""
    on, why = kill_switch.is_on(con)
    _, items, changes = _recent(con, days)
    lines = [f"actions (last {days} days):", f"  kill switch: {'ON — ' + why if on else 'off'}"]
    if not changes.empty:
        for row in changes.head(10).itertuples():
            lines.append(f"  flag #{row.audit_id} {row.flag_key} {row.change} by {row.actor}: {row.reason}")
    if not items.empty:
        counts = items.groupby("state").size().to_dict()
        lines.append("  messages: " + ", ".join(f"{state} {n}" for state, n in sorted(counts.items())))
        for row in items[items["state"] == "failed"].head(5).itertuples():
            lines.append(f"  failed {row.idempotency_key}: {row.error}")
    return lines


def actions_markdown(con: Any, days: int = 7, max_dry_run: int = 5) -> str:
    """A digest section: the switch, flag changes with their undo command, and dry-run messages with Block Kit."""
    on, why = kill_switch.is_on(con)
    _, items, changes = _recent(con, days)
    out = ["## Actions", "", f"**Kill switch: {'ON — ' + why if on else 'off'}**", ""]
    if changes.empty:
        out.append(f"No flag changes in the last {days} days.")
    for row in changes.itertuples():
        out.append(
            f"- `{row.flag_key}` {row.change} by {row.actor} at {row.changed_at:%Y-%m-%d %H:%M} UTC — {row.reason} "
            f"(undo: `pintel flags revert {row.audit_id} --reason ...`)"
        )
    if not items.empty:
        counts = items.groupby("state").size().to_dict()
        out += ["", "Messages: " + ", ".join(f"{state} {n}" for state, n in sorted(counts.items()))]
        dry = items[items["state"] == "dry_run"].head(max_dry_run)
        if not dry.empty:
            out += ["", "### Dry run (no Slack token): what pintel would post", ""]
        for row in dry.itertuples():
            message = json.loads(row.message)
            out += [
                f"**{row.channel}** — {message['text'][:300]}",
                "",
                "```json",
                json.dumps(message["blocks"], indent=1)[:4000],
                "```",
                "",
            ]
    return "\n".join(out)
