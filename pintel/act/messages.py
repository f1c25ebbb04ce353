"""Slack messages for decisions and their outcomes: Block Kit with a plain-text fallback and pintel's metadata.

A PM reads them on a phone: the headline first, then what happened with its numbers, the decision and why, what
pintel did (or why it did not), and where it came from (model and policy versions, a link to the Dagster asset).
The message metadata carries the idempotency key, which is how a crashed delivery finds its own message later.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any

import pandas as pd

EVENT_TYPE = "pintel_decision"
OUTCOME_EVENT_TYPE = "pintel_outcome"
DAGSTER_URL_ENV = "PINTEL_DAGSTER_URL"
DECISIONS_ASSET = ("decide", "decisions")
_EMOJI = {"act": ":white_check_mark:", "rollback": ":rewind:", "monitor": ":eyes:", "escalate": ":rotating_light:"}


@dataclass(frozen=True)
class Delivery:
    """What delivery made of a decision: the decision as delivered and one sentence on the action."""

    decision: str
    action_note: str
    kill_switch: bool = False
    kill_switch_reason: str = ""


def escape(text: Any) -> str:
    """Slack mrkdwn escaping (&, <, >), so numbers and names are never read as links or mentions."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fmt(value: Any) -> str:
    """A number as people read it: thousands separators, three significant digits for fractions."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
        return f"[{fmt(float(value[0]))}, {fmt(float(value[1]))}]"
    return str(value)


def _json(value: Any, default: Any) -> Any:
    if isinstance(value, str) and value.strip():
        try:
            return json.loads(value)
        except ValueError:
            return default
    return value if isinstance(value, dict | list) else default


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dagster_asset_url(asset_key: tuple[str, ...] = DECISIONS_ASSET) -> str | None:
    """The Dagster UI page of an asset, from ``$PINTEL_DAGSTER_URL`` (None when unset)."""
    base = os.environ.get(DAGSTER_URL_ENV, "").rstrip("/")
    return f"{base}/assets/{'/'.join(asset_key)}" if base else None


def metadata(event_type: str, key: str, decision_id: str, **extra: Any) -> dict[str, Any]:
    return {"event_type": event_type, "event_payload": {"idempotency_key": key, "decision_id": decision_id, **extra}}


def _value(row: dict[str, Any], name: str) -> Any:
    value = row.get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def render_decision(row: dict[str, Any], delivery: Delivery, key: str) -> dict[str, Any]:
    """``{"text", "blocks", "metadata"}`` for one decision row (columns of ``decide.decisions``)."""
    decision = delivery.decision
    title = str(_value(row, "title") or f"{row.get('action_type')} on {row.get('target')}")
    rationale = str(_value(row, "rationale") or "(no rationale recorded)")
    header = _truncate(f"{decision.upper()}: {title}", 150)
    evidence = _json(row.get("evidence"), {})
    models = _json(row.get("model_versions"), {})
    numbers = [
        ("P(success)", _value(row, "probability_success")),
        ("benefit", _value(row, "benefit")),
        ("cost", _value(row, "cost")),
        ("expected value", _value(row, "expected_value")),
        ("confidence", _value(row, "confidence")),
    ]
    priced = " · ".join(f"{name} {fmt(v)}" for name, v in numbers if v is not None)
    why = (
        f"*{escape(decision)}* · `{escape(row.get('action_type'))}` on `{escape(row.get('target'))}` · "
        f"severity {escape(row.get('severity'))}"
    )
    if decision != row.get("decision"):
        why += f" (the engine proposed *{escape(row.get('decision'))}*)"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _truncate(f"*What happened*\n{escape(rationale)}", 3000)},
        },
    ]
    fields = [
        {"type": "mrkdwn", "text": _truncate(f"*{escape(name)}*\n{escape(fmt(value))}", 2000)}
        for name, value in (evidence.items() if isinstance(evidence, dict) else [])
        if not isinstance(value, dict) and not (isinstance(value, list) and len(value) > 2)
    ][:10]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks.append(
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Decision and why*\n{why}\n{escape(priced)}"}}
    )
    if delivery.kill_switch:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f":octagonal_sign: *Kill switch is on* — {escape(delivery.kill_switch_reason)}. "
                    "No automatic action was taken; this is a monitor message.",
                },
            }
        )
    blocks.append(
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*What pintel did*\n{escape(delivery.action_note)}"}}
    )
    model_text = ", ".join(f"{escape(k)} {escape(v)}" for k, v in models.items()) if models else "none recorded"
    policy_hash = str(row.get("policy_hash") or "")[:8]
    as_of = pd.Timestamp(row["as_of"]).strftime("%Y-%m-%d %H:%M UTC") if _value(row, "as_of") is not None else "?"
    context = [
        f"models: {model_text}",
        f"policy {escape(row.get('policy_version'))} ({policy_hash})",
        f"decision `{escape(row.get('decision_id'))}` · as of {as_of}",
        f"data quality {escape(row.get('data_quality_status'))} · freshness {escape(row.get('freshness_status'))}",
    ]
    url = dagster_asset_url()
    context.append(f"<{url}|decide/decisions in Dagster>" if url else "Dagster asset: decide/decisions")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in context]})
    text = (
        f"[{decision}] {title} — {rationale} — {delivery.action_note}"
        + (f" — kill switch on: {delivery.kill_switch_reason}" if delivery.kill_switch else "")
        + f" (decision {row.get('decision_id')}, policy {row.get('policy_version')})"
    )
    return {
        "text": _truncate(text, 3900),
        "blocks": blocks,
        "metadata": metadata(
            EVENT_TYPE,
            key,
            str(row.get("decision_id")),
            decision=decision,
            kill_switch=delivery.kill_switch,
        ),
    }


def render_outcome(outcome: dict[str, Any], key: str) -> dict[str, Any]:
    """A thread reply with a decision's measured outcome (a row of ``decide.action_outcomes``)."""
    verdict = str(_value(outcome, "verdict") or "measured")
    summary = _value(outcome, "summary") or _value(outcome, "rationale") or ""
    skip = {"decision_id", "verdict", "summary", "rationale", "idempotency_key", "created_at"}
    numbers = {
        k: v for k, v in outcome.items() if k not in skip and isinstance(v, int | float) and not isinstance(v, bool)
    }
    numbers = {k: v for k, v in numbers.items() if not (isinstance(v, float) and math.isnan(v))}
    lines = " · ".join(f"{k} {fmt(v)}" for k, v in list(numbers.items())[:10])
    body = (
        f"*Outcome: {escape(verdict)}*"
        + (f"\n{escape(summary)}" if summary else "")
        + (f"\n{escape(lines)}" if lines else "")
    )
    return {
        "text": _truncate(f"Outcome: {verdict}. {summary} {lines}".strip(), 3900),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": _truncate(body, 3000)}}],
        "metadata": metadata(OUTCOME_EVENT_TYPE, key, str(outcome.get("decision_id")), verdict=verdict),
    }
