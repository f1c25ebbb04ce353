"""``act.action_outbox``: one row per message pintel means to send, written before it is sent.

States: ``pending`` (written, being sent — or left by a crash), ``sent`` (with the Slack ``ts``), ``failed`` (with
the error; retried next run), ``dry_run`` (no token: the rendered Block Kit is kept for the summary and digest).
The key is one per (decision, channel[, outcome]), so a re-run finds the row and sends nothing new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from pintel.act.flags import utcnow
from pintel.act.redact import redact
from pintel.act.schema import SCHEMA
from pintel.tables import table_exists

FINAL_STATES = ("sent", "dry_run")


def outbox_key(decision_id: str, channel: str, kind: str = "decision") -> str:
    """The idempotency key of one message: readable, and unique per (decision, channel, kind)."""
    return f"{decision_id}:{channel}" if kind == "decision" else f"{decision_id}:{channel}:{kind}"


@dataclass
class Item:
    key: str
    decision_id: str
    kind: str
    channel: str
    state: str
    message: dict[str, Any]
    created_at: datetime
    attempts: int = 0
    channel_id: str | None = None
    message_ts: str | None = None
    thread_ts: str | None = None
    error: str | None = None
    delivered_decision: str | None = None


_COLUMNS = (
    "idempotency_key, decision_id, kind, channel, state, message, created_at, attempts, channel_id, message_ts, "
    "thread_ts, error, delivered_decision"
)


def get(con: Any, key: str) -> Item | None:
    if not table_exists(con, SCHEMA, "action_outbox"):
        return None
    row = con.execute(f"select {_COLUMNS} from {SCHEMA}.action_outbox where idempotency_key = ?", [key]).fetchone()
    if row is None:
        return None
    values = list(row)
    values[5] = json.loads(values[5])
    return Item(*values)


def insert(con: Any, item: Item, *, severity: str | None, kill_switch: bool, state: str | None = None) -> None:
    """Record an item before anything is sent (the write that makes a crash recoverable)."""
    now = utcnow()
    con.execute(
        f"""insert into {SCHEMA}.action_outbox (idempotency_key, decision_id, kind, channel, channel_id, state,
            delivered_decision, severity, kill_switch, attempts, message_ts, thread_ts, message, error, created_at,
            updated_at, sent_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, null, ?, ?, ?, ?, ?, null)""",
        [
            item.key,
            item.decision_id,
            item.kind,
            item.channel,
            item.channel_id,
            state or item.state,
            item.delivered_decision,
            severity,
            kill_switch,
            item.thread_ts,
            json.dumps(item.message, sort_keys=True),
            redact(item.error) if item.error else None,
            item.created_at,
            now,
        ],
    )


def attempt(con: Any, key: str, channel_id: str) -> None:
    """Count one send attempt (and remember the resolved channel id) just before the HTTP call."""
    con.execute(
        f"""update {SCHEMA}.action_outbox set attempts = attempts + 1, channel_id = ?, state = 'pending',
            updated_at = ? where idempotency_key = ?""",
        [channel_id, utcnow(), key],
    )


def mark_sent(con: Any, key: str, ts: str, channel_id: str | None = None) -> None:
    now = utcnow()
    con.execute(
        f"""update {SCHEMA}.action_outbox set state = 'sent', message_ts = ?, channel_id = coalesce(?, channel_id),
            error = null, updated_at = ?, sent_at = ? where idempotency_key = ?""",
        [ts, channel_id, now, now, key],
    )


def mark_failed(con: Any, key: str, error: str) -> None:
    con.execute(
        f"update {SCHEMA}.action_outbox set state = 'failed', error = ?, updated_at = ? where idempotency_key = ?",
        [redact(error)[:2000], utcnow(), key],
    )


def sent_parents(con: Any, decision_id: str) -> list[Item]:
    """The decision messages of ``decision_id`` (sent or dry-run): where its outcome replies are threaded."""
    if not table_exists(con, SCHEMA, "action_outbox"):
        return []
    keys = con.execute(
        f"""select idempotency_key from {SCHEMA}.action_outbox
            where decision_id = ? and kind = 'decision' and state in ('sent', 'dry_run') order by created_at""",
        [decision_id],
    ).fetchall()
    return [item for (key,) in keys if (item := get(con, key)) is not None]


def frame(con: Any, since: datetime | None = None) -> pd.DataFrame:
    """Outbox rows (newest first), for the summary, the digest and the asset metadata."""
    if not table_exists(con, SCHEMA, "action_outbox"):
        return pd.DataFrame()
    where, params = ("where updated_at >= ?", [since]) if since else ("", [])
    return con.execute(f"select * from {SCHEMA}.action_outbox {where} order by created_at desc", params).df()
