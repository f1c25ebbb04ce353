"""A Slack-compatible Web API on 127.0.0.1 for tests: a real HTTP server thread the real ``slack_sdk`` talks to.

It implements ``auth.test``, ``conversations.list``, ``chat.postMessage``, ``chat.update``,
``conversations.history`` and ``conversations.replies`` (with ``include_all_metadata``), records every request,
and can be scripted per method to answer 429 with ``Retry-After``, answer 500, hang past the client's timeout, or
drop the connection — each either before or after the message is posted, which is the ambiguity pintel's
delivery must survive without double-posting.
"""

from __future__ import annotations

import collections
import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

BEHAVIOURS = (
    "ok",
    "rate_limit",  # 429 + Retry-After, not posted
    "error_500",  # 500, not posted
    "error_500_posted",  # posted, then 500 (Slack lost the answer)
    "hang",  # posted, then no answer until past the client's timeout
    "hang_unposted",  # no answer, never posted
    "drop",  # posted, then the connection is closed without an answer
    "drop_unposted",  # connection closed before anything happened
)


@dataclass
class Recorded:
    method: str
    params: dict[str, Any]
    authorization: str
    behaviour: str
    status: int


@dataclass
class FakeSlack:
    """Start with ``FakeSlack.start()``; point ``WebClient(base_url=fake.url)`` at it; ``close()`` at the end."""

    token: str
    channels: dict[str, str] = field(
        default_factory=lambda: {
            "product-alerts": "C0ALERTS01",
            "product-updates": "C0UPDATE01",
            "data-oncall": "C0ONCALL1",
        }
    )
    retry_after: int = 1
    hang_seconds: float = 3.0
    requests: list[Recorded] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: collections.defaultdict(list))
    plans: dict[str, collections.deque] = field(default_factory=lambda: collections.defaultdict(collections.deque))
    lock: threading.Lock = field(default_factory=threading.Lock)
    _last_ts: float = 0.0

    @classmethod
    def start(cls, token: str, **kwargs: Any) -> FakeSlack:
        fake = cls(token=token, **kwargs)
        handler = type("Handler", (_Handler,), {"fake": fake})
        fake.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        fake.server.daemon_threads = True
        fake.server.block_on_close = False
        fake.thread = threading.Thread(target=fake.server.serve_forever, name="fake-slack", daemon=True)
        fake.thread.start()
        return fake

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, method: str, *behaviours: str) -> None:
        """The next requests to ``method`` behave like this, in order; then ``ok`` again."""
        for behaviour in behaviours:
            assert behaviour in BEHAVIOURS, behaviour
            self.plans[method].append(behaviour)

    # --- what tests count ---------------------------------------------------------------------------------------

    def posted(self) -> list[dict[str, Any]]:
        return [m for msgs in self.messages.values() for m in msgs]

    def posts_per_key(self) -> collections.Counter:
        """Messages in the channels per idempotency key (what a person sees)."""
        return collections.Counter(
            ((m.get("metadata") or {}).get("event_payload") or {}).get("idempotency_key") for m in self.posted()
        )

    def post_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "chat.postMessage"]

    # --- the API -----------------------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        with self.lock:
            ts = max(time.time(), self._last_ts + 0.000001)
            self._last_ts = ts
        return f"{ts:.6f}"

    def _channel_id(self, channel: str) -> str | None:
        name = channel.lstrip("#")
        if channel in self.channels.values():
            return channel
        return self.channels.get(name)

    def post(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_id(str(params.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        message = {
            "type": "message",
            "ts": self._next_ts(),
            "text": params.get("text", ""),
            "blocks": params.get("blocks"),
            "bot_id": "B0PINTEL",
            "user": "U0PINTEL",
            "metadata": metadata,
        }
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        with self.lock:
            self.messages[channel].append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def history(self, params: dict[str, Any], replies: bool = False) -> dict[str, Any]:
        channel = self._channel_id(str(params.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        oldest = float(params.get("oldest") or 0)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        with self.lock:
            messages = list(self.messages[channel])
        if replies:
            parent = str(params.get("ts"))
            found = [m for m in messages if m["ts"] == parent or m.get("thread_ts") == parent]
            found.sort(key=lambda m: float(m["ts"]))
        else:
            found = [m for m in messages if "thread_ts" not in m or m["thread_ts"] == m["ts"]]
            found.sort(key=lambda m: float(m["ts"]), reverse=True)
        found = [m for m in found if float(m["ts"]) >= oldest]
        limit = int(params.get("limit") or 100)
        start = int(params.get("cursor") or 0)
        page = found[start : start + limit]
        cursor = str(start + limit) if start + limit < len(found) else ""
        shown = [m if with_metadata else {k: v for k, v in m.items() if k != "metadata"} for m in page]
        return {"ok": True, "messages": shown, "has_more": bool(cursor), "response_metadata": {"next_cursor": cursor}}

    def channel_list(self, params: dict[str, Any]) -> dict[str, Any]:
        items = [{"id": cid, "name": name, "is_member": True} for name, cid in self.channels.items()]
        page_size = 2  # small pages, so callers must follow the cursor
        start = int(params.get("cursor") or 0)
        cursor = str(start + page_size) if start + page_size < len(items) else ""
        return {"ok": True, "channels": items[start : start + page_size], "response_metadata": {"next_cursor": cursor}}

    def update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_id(str(params.get("channel", "")))
        with self.lock:
            for message in self.messages.get(channel or "", []):
                if message["ts"] == params.get("ts"):
                    message.update({k: params[k] for k in ("text", "blocks") if k in params})
                    return {"ok": True, "channel": channel, "ts": message["ts"]}
        return {"ok": False, "error": "message_not_found"}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSlack
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the records instead
        pass

    def _params(self) -> dict[str, Any]:
        parsed = urlparse(self.path)
        params: dict[str, Any] = dict(parse_qsl(parsed.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if raw:
            if "json" in (self.headers.get("Content-Type") or ""):
                params.update(json.loads(raw))
            else:
                params.update(dict(parse_qsl(raw.decode())))
        for name in ("blocks", "metadata"):
            if isinstance(params.get(name), str):
                with contextlib.suppress(ValueError):
                    params[name] = json.loads(params[name])
        return params

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        fake = self.fake
        method = urlparse(self.path).path.rsplit("/", 1)[-1]
        params = self._params()
        with fake.lock:
            behaviour = fake.plans[method].popleft() if fake.plans[method] else "ok"
        auth = self.headers.get("Authorization", "")
        record = Recorded(method, params, auth, behaviour, 200)
        fake.requests.append(record)
        if auth != f"Bearer {fake.token}":
            self._reply({"ok": False, "error": "invalid_auth"})
            return
        if behaviour == "rate_limit":
            record.status = 429
            self._reply({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(fake.retry_after)})
            return
        if behaviour == "error_500":
            record.status = 500
            self._reply({"ok": False, "error": "internal_error"}, 500)
            return
        if behaviour in ("drop_unposted", "hang_unposted"):
            if behaviour == "hang_unposted":
                time.sleep(fake.hang_seconds)
            record.status = 0
            self._drop()
            return
        body = self._dispatch(method, params)
        if behaviour == "error_500_posted":
            record.status = 500
            self._reply({"ok": False, "error": "internal_error"}, 500)
        elif behaviour == "drop":
            record.status = 0
            self._drop()
        elif behaviour == "hang":
            time.sleep(fake.hang_seconds)
            record.status = 0
            self._drop()
        else:
            self._reply(body)

    def _dispatch(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        fake = self.fake
        if method == "auth.test":
            return {"ok": True, "user_id": "U0PINTEL", "bot_id": "B0PINTEL", "user": "pintel", "team": "test"}
        if method == "chat.postMessage":
            return fake.post(params)
        if method == "chat.update":
            return fake.update(params)
        if method == "conversations.history":
            return fake.history(params)
        if method == "conversations.replies":
            return fake.history(params, replies=True)
        if method == "conversations.list":
            return fake.channel_list(params)
        return {"ok": False, "error": "unknown_method"}

    def _reply(self, body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
