"""``pintel simulate --actions FILE``: pintel's actions, replayed on the same seed with common random numbers.

The file is JSON or YAML (or a CSV / Parquet list of retention plays)::

    {
      "flags": [
        {"flag": "new_editor", "at": "2025-03-26T17:00:00Z", "state": "off", "decision_id": "d-42"}
      ],
      "retention_plays": [{"user_id": "u0000123", "date": "2025-03-01"}]
    }

* ``flags[i]``: ``flag`` (a simulated rollout), ``at`` (ISO 8601; UTC if it has no offset) and either ``state``
  (``on`` = 100 %, ``off`` = 0 %) or ``percent`` (0-100). From ``at`` on the flag serves that percentage and
  the planted ramp steps after it are cancelled (nobody re-ramps a flag pintel turned off).
* ``retention_plays``: a list of ``{"user_id", "date"}`` (a date, or a timestamp whose UTC date is used), or the
  path of a CSV / Parquet file with those columns (relative to the actions file). A play lowers the user's
  daily churn hazard by ``retention_play_hazard_multiplier`` for ``retention_play_days`` from that date.
* ``decision_id`` (optional, any item): carried into the truth so evaluations can join on it.

Everything is checked before anything is simulated; the first problem raises :class:`ActionsError` naming the
field (``flags[0].at``) or the line (``plays.csv line 7``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pintel.simulate.config import ROLLOUTS, SimConfig

USER_ID = re.compile(r"^u(\d{7})$")
FLAG_FIELDS = {"flag", "at", "state", "percent", "decision_id"}
PLAY_FIELDS = {"user_id", "date", "decision_id"}
TOP_FIELDS = {"flags", "retention_plays"}


class ActionsError(ValueError):
    """An actions file that cannot be replayed; the message names the file and the bad field or line."""


@dataclass(frozen=True)
class FlagAction:
    flag: str
    at_ms: int
    percent: float
    decision_id: str | None = None


@dataclass(frozen=True)
class RetentionPlay:
    user: int
    day: int
    decision_id: str | None = None


@dataclass(frozen=True)
class Actions:
    """Validated actions, in file order (flag actions are applied in time order, ties in file order)."""

    flags: tuple[FlagAction, ...] = ()
    plays: tuple[RetentionPlay, ...] = ()

    def manifest(self, cfg: SimConfig) -> dict:
        """What the manifest records: the flag actions as given, and a summary of the plays."""
        return {
            "flags": [
                {
                    "flag": a.flag,
                    "at": _iso(a.at_ms),
                    "percent": a.percent,
                    "decision_id": a.decision_id,
                }
                for a in self.flags
            ],
            "retention_plays": {
                "plays": len(self.plays),
                "users": len({p.user for p in self.plays}),
                "hazard_multiplier": cfg.retention_play_hazard_multiplier,
                "days": cfg.retention_play_days,
                "truth_file": "retention_play_units.parquet",
            },
        }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_actions(path: str | Path, cfg: SimConfig) -> Actions:
    """Read and validate an actions file against the simulation ``cfg`` (window, users, flags)."""
    path = Path(path)
    if not path.is_file():
        raise ActionsError(f"{path}: no such actions file")
    suffix = path.suffix.lower()
    if suffix in {".csv", ".parquet"}:
        return Actions(plays=_plays_table(path, cfg, path.name))
    text = path.read_text()
    if not text.strip():
        return Actions()
    data = _parse(text, suffix, path.name)
    if data is None:
        return Actions()
    return parse_actions(data, cfg, path.name, path.parent)


def _parse(text: str, suffix: str, source: str) -> Any:
    if suffix in {".yml", ".yaml"}:
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
            raise ActionsError(f"{source}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ActionsError(f"{source} line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg})") from exc


def parse_actions(data: Any, cfg: SimConfig, source: str = "actions", base_dir: Path | None = None) -> Actions:
    """Validate already-parsed actions (a mapping with ``flags`` and/or ``retention_plays``)."""
    if not isinstance(data, dict):
        raise ActionsError(f"{source}: expected a mapping with 'flags' and/or 'retention_plays', got {_kind(data)}")
    unknown = sorted(set(data) - TOP_FIELDS)
    if unknown:
        raise ActionsError(f"{source}: unknown field {unknown[0]!r} (expected {', '.join(sorted(TOP_FIELDS))})")
    flags = data.get("flags") or []
    if not isinstance(flags, list):
        raise ActionsError(f"{source}: flags must be a list, got {_kind(flags)}")
    flag_actions = tuple(_flag(item, f"{source}: flags[{i}]", cfg) for i, item in enumerate(flags))
    plays = data.get("retention_plays") or []
    if isinstance(plays, str):
        table = (base_dir or Path.cwd()) / plays
        if not table.is_file():
            raise ActionsError(f"{source}: retention_plays file {plays!r} not found (looked in {table.parent})")
        return Actions(flag_actions, _plays_table(table, cfg, plays))
    if not isinstance(plays, list):
        raise ActionsError(f"{source}: retention_plays must be a list or a CSV/Parquet path, got {_kind(plays)}")
    return Actions(
        flag_actions, tuple(_play(item, f"{source}: retention_plays[{i}]", cfg) for i, item in enumerate(plays))
    )


def _kind(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"


def _check_fields(item: Any, where: str, allowed: set[str], required: tuple[str, ...]) -> dict:
    if not isinstance(item, dict):
        raise ActionsError(f"{where}: expected a mapping, got {_kind(item)}")
    extra = sorted(set(item) - allowed)
    if extra:
        raise ActionsError(f"{where}: unknown field {extra[0]!r} (allowed: {', '.join(sorted(allowed))})")
    for name in required:
        if item.get(name) is None:
            raise ActionsError(f"{where}: missing field {name!r}")
    return item


def _window(cfg: SimConfig) -> tuple[datetime, datetime]:
    start = datetime(cfg.start.year, cfg.start.month, cfg.start.day, tzinfo=UTC)
    return start, start + timedelta(days=cfg.days)


def _flag(item: Any, where: str, cfg: SimConfig) -> FlagAction:
    item = _check_fields(item, where, FLAG_FIELDS, ("flag", "at"))
    known = [r.flag for r in ROLLOUTS]
    if item["flag"] not in known:
        raise ActionsError(f"{where}.flag: {item['flag']!r} is not a simulated flag (known: {', '.join(known)})")
    at = _timestamp(item["at"], f"{where}.at")
    start, end = _window(cfg)
    if not start <= at < end:
        raise ActionsError(
            f"{where}.at: {at:%Y-%m-%dT%H:%M:%SZ} is outside the window [{start:%Y-%m-%d}, {end:%Y-%m-%d})"
        )
    state, percent = item.get("state"), item.get("percent")
    if (state is None) == (percent is None):
        raise ActionsError(f"{where}: give exactly one of 'state' (on/off) or 'percent' (0-100)")
    if state is not None:
        if state not in ("on", "off"):
            raise ActionsError(f"{where}.state: {state!r} must be 'on' or 'off'")
        value = 100.0 if state == "on" else 0.0
    else:
        if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100:
            raise ActionsError(f"{where}.percent: {percent!r} must be a number from 0 to 100")
        value = float(percent)
    return FlagAction(item["flag"], int(at.timestamp() * 1000), value, _decision_id(item, where))


def _decision_id(item: dict, where: str) -> str | None:
    value = item.get("decision_id")
    if value is not None and not isinstance(value, str | int):
        raise ActionsError(f"{where}.decision_id: must be a string, got {_kind(value)}")
    return None if value is None else str(value)


def _timestamp(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ActionsError(f"{where}: {value!r} is not an ISO 8601 timestamp (e.g. 2025-03-10T14:00:00Z)") from None
    else:
        raise ActionsError(f"{where}: expected an ISO 8601 timestamp string, got {_kind(value)}")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return _timestamp(value, where).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text) if len(text) == 10 else _timestamp(text, where).date()
        except (ValueError, ActionsError):
            raise ActionsError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None
    raise ActionsError(f"{where}: expected a date string (YYYY-MM-DD), got {_kind(value)}")


def _user(value: Any, where: str, cfg: SimConfig) -> int:
    match = USER_ID.match(str(value).strip()) if isinstance(value, str) else None
    if match is None or int(match.group(1)) >= cfg.users:
        raise ActionsError(f"{where}: {value!r} is not a simulated user (u0000000 to u{cfg.users - 1:07d})")
    return int(match.group(1))


def _play(item: Any, where: str, cfg: SimConfig) -> RetentionPlay:
    item = _check_fields(item, where, PLAY_FIELDS, ("user_id", "date"))
    user = _user(item["user_id"], f"{where}.user_id", cfg)
    day = (_date(item["date"], f"{where}.date") - cfg.start).days
    if not 0 <= day < cfg.days:
        raise ActionsError(
            f"{where}.date: {item['date']} is outside the window (days 0-{cfg.days - 1} from {cfg.start})"
        )
    return RetentionPlay(user, day, _decision_id(item, where))


def _plays_table(path: Path, cfg: SimConfig, source: str) -> tuple[RetentionPlay, ...]:
    """Retention plays from a CSV (errors name the line, header = line 1) or Parquet file (errors name the row)."""
    import pandas as pd

    try:
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path)
            label, first = "row", 1
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            label, first = "line", 2
    except Exception as exc:  # pandas/pyarrow raise many types for unreadable files
        raise ActionsError(f"{source}: cannot read the retention plays ({exc})") from exc
    missing = [c for c in ("user_id", "date") if c not in frame.columns]
    if missing:
        raise ActionsError(f"{source}: missing column {missing[0]!r} (need user_id, date; optional decision_id)")
    extra = sorted(set(frame.columns) - PLAY_FIELDS)
    if extra:
        raise ActionsError(f"{source}: unknown column {extra[0]!r} (allowed: {', '.join(sorted(PLAY_FIELDS))})")
    plays = []
    for i, row in enumerate(frame.to_dict("records")):
        item = {k: (None if (v is None or v == "" or v != v) else v) for k, v in row.items()}
        if hasattr(item["date"], "to_pydatetime"):
            item["date"] = item["date"].to_pydatetime()
        plays.append(_play(item, f"{source} {label} {first + i}", cfg))
    return tuple(plays)
