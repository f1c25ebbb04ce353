"""Posting to Slack so that each message lands once: retries that look before they leap.

``slack_sdk``'s retry handlers do the retrying — 429 after ``Retry-After``, 5xx and connection errors with
back-off. A 429 is a refusal, so it is retried as is. A 5xx, a timeout or a dropped connection is ambiguous: Slack
may have posted the message and lost only the answer. Before such a retry pintel searches the channel's recent
history for the message's idempotency key (carried in its metadata) and retries only when it is not there; when it
cannot tell, it does not retry and leaves the item for the next run, which checks again. Needed scopes:
``chat:write``, ``channels:read``/``groups:read`` (names to ids), ``channels:history``/``groups:history``.
"""

from __future__ import annotations

import http.client
import json
import os
import re
from datetime import UTC, datetime
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import (
    BackoffRetryIntervalCalculator,
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryHandler,
    RetryState,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from pintel.act.redact import RedactingFilter, redact, redacting_logger

TOKEN_ENV = "PINTEL_SLACK_BOT_TOKEN"
BASE_URL_ENV = "PINTEL_SLACK_BASE_URL"
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
_CONNECTION_ERRORS: list[type[Exception]] = [
    URLError,
    ConnectionError,
    TimeoutError,
    http.client.HTTPException,
]
HISTORY_PAGES = 5


class DeliveryError(RuntimeError):
    """A message that could not be delivered now; the text is safe to store (secrets redacted)."""


def slack_client(token: str | None = None, *, base_url: str | None = None, timeout: float = 10.0) -> WebClient | None:
    """A ``WebClient`` from ``$PINTEL_SLACK_BOT_TOKEN`` (None without a token: delivery then dry-runs)."""
    token = token or os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        return None
    base_url = base_url or os.environ.get(BASE_URL_ENV) or WebClient.BASE_URL
    return WebClient(token=token, base_url=base_url, timeout=timeout, logger=redacting_logger("pintel.act.slack.http"))


class _LookBeforeRetry:
    """Mixin for retry handlers of ambiguous failures: after the back-off, retry only if the post is not there."""

    messenger: Messenger

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        super().prepare_for_next_attempt(state=state, request=request, response=response, error=error)  # type: ignore[misc]
        if not self.messenger.safe_to_retry(request):
            state.next_attempt_requested = False


class _ServerErrorRetry(_LookBeforeRetry, ServerErrorRetryHandler):
    def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[no-untyped-def]
        return response is not None and response.status_code >= 500


class _ConnectionErrorRetry(_LookBeforeRetry, ConnectionErrorRetryHandler):
    pass


class Messenger:
    """Channel lookup, history search and posting with look-before-retry, over one ``WebClient``.

    The client's retry handlers are replaced by pintel's (rate limit, server error and connection error, each
    up to ``max_retries``); a second client with the same token does the history searches.
    """

    def __init__(self, client: WebClient, *, max_retries: int = 3, backoff: float = 0.5) -> None:
        self.client = client
        interval = BackoffRetryIntervalCalculator(backoff_factor=backoff)
        handlers: list[RetryHandler] = [
            RateLimitErrorRetryHandler(max_retry_count=max_retries),
            _ServerErrorRetry(max_retry_count=max_retries, interval_calculator=interval),
            _ConnectionErrorRetry(
                max_retry_count=max_retries, interval_calculator=interval, error_types=_CONNECTION_ERRORS
            ),
        ]
        for handler in handlers:
            handler.messenger = self  # type: ignore[attr-defined]
        client.retry_handlers = handlers
        if not any(isinstance(f, RedactingFilter) for f in client.logger.filters):
            client.logger.addFilter(RedactingFilter())  # a caller's own client logs through the same mask
        self.reader = WebClient(
            token=client.token,
            base_url=client.base_url,
            timeout=client.timeout,
            logger=redacting_logger("pintel.act.slack.http"),
            retry_handlers=[
                RateLimitErrorRetryHandler(max_retry_count=max_retries),
                ConnectionErrorRetryHandler(max_retry_count=1, interval_calculator=interval),
            ],
        )
        self.found: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, str] = {}
        self._bot: dict[str, Any] | None = None
        self.since: dict[str, datetime] = {}

    def bot(self) -> dict[str, Any]:
        """``auth.test`` once: the bot's user and bot ids, so history matches only pintel's own messages."""
        if self._bot is None:
            try:
                self._bot = dict(self.reader.auth_test().data)  # type: ignore[arg-type]
            except (SlackApiError, SlackClientError, OSError) as exc:
                raise DeliveryError(f"Slack auth.test failed: {redact(exc)}") from exc
        return self._bot

    def channel_id(self, channel: str) -> str:
        """A channel id for ``#name``, ``name`` or an id (ids pass through)."""
        if _CHANNEL_ID.match(channel):
            return channel
        name = channel.lstrip("#")
        if name in self._channels:
            return self._channels[name]
        cursor = None
        try:
            for _ in range(50):
                page = self.reader.conversations_list(
                    types="public_channel,private_channel", exclude_archived=True, limit=1000, cursor=cursor
                )
                for conv in page.get("channels", []):
                    self._channels[conv["name"]] = conv["id"]
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if name in self._channels or not cursor:
                    break
        except (SlackApiError, SlackClientError, OSError) as exc:
            raise DeliveryError(f"could not list Slack channels to find #{name}: {redact(exc)}") from exc
        if name not in self._channels:
            raise DeliveryError(
                f"Slack channel #{name} not found; create it, invite the bot, and grant channels:read/groups:read"
            )
        return self._channels[name]

    def find(self, channel_id: str, key: str, since: datetime, thread_ts: str | None = None) -> dict | None:
        """pintel's message with idempotency ``key`` posted to ``channel_id`` since ``since`` (None if absent)."""
        bot = self.bot()
        cursor = None
        aware = since.replace(tzinfo=UTC) if since.tzinfo is None else since  # the warehouse keeps naive UTC
        oldest = f"{aware.timestamp() - 300:.6f}"  # five minutes of slack for clock skew
        for _ in range(HISTORY_PAGES):
            if thread_ts:
                page = self.reader.conversations_replies(
                    channel=channel_id, ts=thread_ts, oldest=oldest, limit=200, cursor=cursor, include_all_metadata=True
                )
            else:
                page = self.reader.conversations_history(
                    channel=channel_id, oldest=oldest, limit=200, cursor=cursor, include_all_metadata=True
                )
            for message in page.get("messages", []):
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                mine = message.get("bot_id") == bot.get("bot_id") or message.get("user") == bot.get("user_id")
                if payload.get("idempotency_key") == key and mine:
                    return message
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    def safe_to_retry(self, request: HttpRequest) -> bool:
        """For a failed ``chat.postMessage``: False when the message is already there or we cannot tell."""
        if not request.url.endswith("chat.postMessage"):
            return True
        try:
            body = json.loads(request.data or b"{}")
            key = body["metadata"]["event_payload"]["idempotency_key"]
            found = self.find(body["channel"], key, self.since.get(key, datetime.now(UTC)), body.get("thread_ts"))
        except (KeyError, TypeError, ValueError):
            return True  # not one of pintel's keyed messages
        except (SlackApiError, SlackClientError, DeliveryError, OSError):
            return False  # cannot verify: the next run checks again before sending
        if found is not None:
            self.found[key] = found
            return False
        return True

    def post(self, channel_id: str, message: dict[str, Any], since: datetime, thread_ts: str | None = None) -> str:
        """Post ``message`` (text, blocks, metadata) and return its ``ts``; :class:`DeliveryError` otherwise."""
        key = message["metadata"]["event_payload"]["idempotency_key"]
        self.since[key] = since
        try:
            response = self.client.chat_postMessage(
                channel=channel_id,
                text=message["text"],
                blocks=message["blocks"],
                metadata=message["metadata"],
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
            )
            return str(response["ts"])
        except (SlackApiError, SlackClientError, OSError, http.client.HTTPException) as exc:
            if key in self.found:
                return str(self.found[key]["ts"])
            raise DeliveryError(f"chat.postMessage failed: {redact(_describe(exc))}") from exc

    def lookup_existing(self, channel_id: str, key: str, since: datetime, thread_ts: str | None = None) -> str | None:
        """Reconciliation of a pending or failed item: the ``ts`` of the message if it was posted after all."""
        try:
            message = self.find(channel_id, key, since, thread_ts)
        except (SlackApiError, SlackClientError, OSError) as exc:
            raise DeliveryError(f"could not search #{channel_id} for an earlier attempt: {redact(exc)}") from exc
        return str(message["ts"]) if message else None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        response = exc.response
        return f"HTTP {response.status_code}: {response.get('error', '') or str(response.data)[:200]}"
    return f"{type(exc).__name__}: {exc}"
