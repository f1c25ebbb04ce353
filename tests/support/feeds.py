"""A live collector feed made by hand: Segment track messages landed in hourly batches by arrival time.

:func:`write_feed` writes ``events/date=YYYY-MM-DD/hour=HH/part-0.parquet`` batches (the simulator's layout) for
``users`` users over an event-time window, each message received ``lag`` after it happened -- the way a live feed
looks to ``pintel build``. Windows are given relative to the real clock, so freshness is judged as of now: a feed
whose window ends hours ago has stalled, one ending minutes ago is fresh. Deterministic for a seed and window.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pandas as pd

EVENTS = ("app_opened", "page_viewed", "dashboard_viewed", "report_created", "search_performed")


def now_hour() -> dt.datetime:
    """The start of the current UTC hour (naive UTC)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)


def feed_frame(
    start: dt.datetime, end: dt.datetime, users: int = 40, seed: int = 0, lag: dt.timedelta = dt.timedelta(seconds=30)
) -> pd.DataFrame:
    """Messages with event times in ``[start, end)``: each user is active in about half the hours, 1-3 events."""
    rng = random.Random(seed)
    rows = []
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        for u in range(users):
            if rng.random() < 0.5:
                continue
            for _ in range(rng.randint(1, 3)):
                at = hour + dt.timedelta(seconds=rng.randrange(3600))
                if not start <= at < end:
                    continue
                rows.append(
                    {
                        "messageId": f"m-{seed}-{len(rows)}",
                        "type": "track",
                        "event": rng.choice(EVENTS),
                        "userId": f"u{u:03d}",
                        "anonymousId": None,
                        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                        "receivedAt": (at + lag).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                        "properties": "{}",
                        "context": json.dumps({"platform": "web", "library": {"name": "analytics.js"}}),
                        "_received": at + lag,
                    }
                )
        hour += dt.timedelta(hours=1)
    return pd.DataFrame(rows)


def write_feed(landing: Path, frame: pd.DataFrame) -> list[Path]:
    """Land ``frame`` as hourly batches by arrival hour; returns the files written."""
    written = []
    batch = frame["_received"].dt.floor("h")
    for hour, part in frame.groupby(batch):
        folder = landing / "events" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"part-{part['messageId'].iloc[0]}.parquet"
        part.drop(columns="_received").to_parquet(path, index=False)
        written.append(path)
    return written
