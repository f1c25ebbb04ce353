"""Awkward event exports made by hand, the way a new team's first export looks, for ``pintel ingest``.

Real exports are not the simulator: a handful of users, a single day, one event name, no identify calls (so no
traits: plan, platform and signup date are all unknown), no experiment, nobody using the key feature, and time
columns in whatever format the exporting tool chose. :func:`write_export` writes such an export as files
``pintel ingest`` reads (columns ``account``, ``action``, ``happened_at``, ``screen``), deterministically.

Mixed time formats: when ``mixed_times`` is set, the rows go to a folder of two files -- a CSV whose text times
mix ``2025-03-04T10:00:00Z``, ``2025-03-04 10:00:00`` and ``2025-03-04T12:00:00+02:00``, and a JSON lines
file whose times are epoch milliseconds -- which one ``pintel ingest`` of the folder lands as one source.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

START = dt.datetime(2025, 3, 3, tzinfo=dt.UTC)
#: Everyday events that are not the key feature (automation_created) nor an experiment exposure.
EVERYDAY = ("app_opened", "page_viewed", "dashboard_viewed", "report_created", "search_performed")


@dataclass(frozen=True)
class Export:
    """What to write: ``users`` users active on some of ``days`` days, using only ``events``."""

    name: str
    users: int
    days: int
    events: Sequence[str] = EVERYDAY
    events_per_day: int = 4
    mixed_times: bool = False
    seed: int = 0
    start: dt.datetime = START


def export_frame(spec: Export) -> pd.DataFrame:
    """The export's rows: each user is active on a random subset of days (always their first), a few events a day."""
    rng = random.Random(spec.seed)
    rows = []
    for u in range(spec.users):
        first = rng.randrange(max(1, spec.days // 3))
        for day in range(first, spec.days):
            if day != first and rng.random() > 0.6:
                continue
            for _ in range(rng.randint(1, spec.events_per_day)):
                at = spec.start + dt.timedelta(days=day, seconds=rng.randrange(8 * 3600, 20 * 3600))
                rows.append(
                    (f"acct-{u:03d}", rng.choice(list(spec.events)), at, rng.choice(["home", "list", "detail"]))
                )
    frame = pd.DataFrame(rows, columns=["account", "action", "at", "screen"])
    return frame.sort_values(["at", "account"], kind="stable").reset_index(drop=True)


def _text_time(at: dt.datetime, i: int) -> str:
    """One of three ISO spellings of the same instant, by row."""
    if i % 3 == 0:
        return at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if i % 3 == 1:
        return at.strftime("%Y-%m-%d %H:%M:%S")
    return (at + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00")


def write_export(spec: Export, root: Path) -> Path:
    """Write the export under ``root`` and return the path to give ``pintel ingest`` (a file or a folder)."""
    frame = export_frame(spec)
    folder = root / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    if not spec.mixed_times:
        out = frame.assign(happened_at=frame["at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).drop(columns="at")
        out.to_csv(folder / "events.csv", index=False)
        return folder / "events.csv"
    half = len(frame) // 2
    text = frame.iloc[:half].copy()
    text["happened_at"] = [_text_time(at, i) for i, at in enumerate(text["at"])]
    text.drop(columns="at").to_csv(folder / "events_text.csv", index=False)
    epoch = frame.iloc[half:].copy()
    epoch["happened_at"] = [round(at.timestamp() * 1000) for at in epoch["at"]]
    epoch.drop(columns="at").to_json(folder / "events_epoch.jsonl", orient="records", lines=True)
    return folder


def ingest_args(path: Path, landing: Path, source: str = "acme") -> list[str]:
    """``pintel ingest`` arguments for an export written by :func:`write_export`."""
    return [
        "ingest",
        str(path),
        "--user-col",
        "account",
        "--event-col",
        "action",
        "--time-col",
        "happened_at",
        "--source",
        source,
        "--landing",
        str(landing),
    ]
