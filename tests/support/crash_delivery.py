"""Run delivery in this process and die at the worst moment: ``python -m tests.support.crash_delivery``.

``--when after``: the process exits right after Slack accepted ``chat.postMessage`` and before the outbox row is
updated (a crash between send and record). ``--when before``: it exits just before the HTTP call, with the
outbox row already pending. The real ``slack_sdk.WebClient`` talks to the fake server; only the exit is injected.
"""

from __future__ import annotations

import argparse
import os

from slack_sdk import WebClient

from pintel.act import deliver
from pintel.act.slack import Messenger
from pintel.act.warehouse import open_writer
from tests.support.decisions import POLICY, read_decisions

CRASH_CODE = 17


class CrashingClient(WebClient):
    when = "after"

    def chat_postMessage(self, **kwargs):  # type: ignore[no-untyped-def, override]
        if self.when == "before":
            os._exit(CRASH_CODE)
        response = super().chat_postMessage(**kwargs)
        os._exit(CRASH_CODE)
        return response  # pragma: no cover


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--when", choices=["before", "after"], default="after")
    args = parser.parse_args()
    token = os.environ["PINTEL_SLACK_BOT_TOKEN"]
    client = CrashingClient(token=token, base_url=args.base_url, timeout=2)
    client.when = args.when
    con = open_writer(args.warehouse)
    deliver(con, read_decisions(con), POLICY, Messenger(client, backoff=0.05))
    raise SystemExit("delivery finished without crashing")


if __name__ == "__main__":
    main()
