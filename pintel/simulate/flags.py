"""Feature-flag rollouts: sticky assignment, ``feature_flag_called`` exposures, the bad rollout's harm, errors.

A flag serves ``on`` to an eligible user (one on the flag's platform) while the user's bucket is below the
current percentage of the flag's schedule: the planted ramp, overridden from each replayed action on. The
layer works on a finished day of messages, after every draw of the day's stream, and only *adds* messages or
*rewrites* some in place, with ids derived from the message that triggered them -- so turning a flag off in a
replay changes exactly the messages of the users it was on for, from that moment.

* **Exposures** -- a ``feature_flag_called`` (``flag``, ``variant``) at an eligible user's first valid event of
  each day the flag is live, and again at the first valid event after the user's variant changed.
* **Harm** (harmful flags) -- each valid ``report_created`` of a user the flag is on for fails with probability
  ``editor_failure_share`` and is sent as ``error_shown`` (surface ``reports``, code ``editor_save_failed``)
  instead: errors up, reports down, for exposed users only.
* **Baseline errors** -- every valid event is followed by an ``error_shown`` with probability ``error_rate``
  (whatever the flags), so the error series has a history a spike can stand out from.

Its random numbers (failure coins, error coins, codes, delays) come from their own per-day stream, drawn once
per message of the day, so every replay sees the same ones (common random numbers).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pintel.simulate.actions import Actions
from pintel.simulate.config import ERROR_CODES, FLAG_VARIANTS, INCIDENT_AT, PLATFORMS, ROLLOUTS, Rollout, SimConfig
from pintel.simulate.defects import format_timestamps
from pintel.simulate.events import DAY_MS, EventFactory
from pintel.simulate.strings import repeat_string

HOUR_MS = 3_600_000
EXPOSURE_EVENT = "feature_flag_called"
ERROR_EVENT = "error_shown"
HARMED_EVENT = "report_created"
PRE_PERIOD_DAYS = 7  # rollout_hourly starts this many days before a flag's first step (a pre-period for DiD)
HARM_PROPS = json.dumps({"surface": "reports", "error_code": "editor_save_failed"}, separators=(",", ":"))
# Hourly truth per flag x cohort: the metric columns of rollout_hourly.parquet, in this order.
HOURLY_METRICS = (
    "active_users",
    "exposed_users",
    "exposures",
    "report_created",
    "report_created_without_harm",
    "report_created_planted_schedule",
    "error_shown",
    "error_shown_without_harm",
    "error_shown_planted_schedule",
)


@dataclass
class Noise:
    """The flag layer's random numbers, one per message of the day (subset with the messages they belong to)."""

    u_fail: np.ndarray
    u_error: np.ndarray
    error_code: np.ndarray
    error_delay: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, m: int) -> Noise:
        return cls(rng.random(m), rng.random(m), rng.integers(0, len(ERROR_CODES), m), rng.integers(300, 8000, m))

    def take(self, rows: np.ndarray) -> Noise:
        return Noise(self.u_fail[rows], self.u_error[rows], self.error_code[rows], self.error_delay[rows])

    @classmethod
    def concat(cls, parts: list[Noise]) -> Noise:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__))


def _weekday_ok(start_weekday: int, day: int) -> bool:
    return (start_weekday + day) % 7 in (1, 2, 3)  # Tuesday to Thursday: when teams ship


def place_rollouts(cfg: SimConfig) -> dict[str, int]:
    """First-step day of each rollout: nearest its ``at_fraction`` on a Tuesday-Thursday, clear of the incidents.

    Positions are those of the default world whatever ``--no-incidents`` says, so the benign rollout is the same
    with and without incidents. A rollout's whole ramp keeps more than a day from each incident and each other.
    """
    busy = [round(cfg.days * share) for share in INCIDENT_AT.values()]
    placed: dict[str, int] = {}
    for rollout in ROLLOUTS:
        span = -(-rollout.steps[-1][0] // 24)
        target = cfg.days * rollout.at_fraction
        clear = [
            d
            for d in range(1, cfg.days - span - 1)
            if all(abs(x - b) > 1 for x in range(d, d + span + 1) for b in busy)
        ] or list(range(1, max(2, cfg.days - span - 1)))
        near = [d for d in clear if _weekday_ok(cfg.start.weekday(), d) and abs(d - target) <= 7]
        day = min(near or clear, key=lambda d: (abs(d - target), d))
        placed[rollout.flag] = day
        busy += list(range(day, day + span + 1))
    return placed


def bucket(flag: str, seed: int, n: int) -> np.ndarray:
    """Sticky per-user bucket in [0, 1): a hash of flag, salt and user id (as LaunchDarkly-style services do)."""
    out = np.empty(n)
    for i in range(n):
        digest = hashlib.sha1(f"{flag}.{seed}.u{i:07d}".encode()).hexdigest()
        out[i] = int(digest[:15], 16) / float(0xFFFFFFFFFFFFFFF + 1)
    return out


@dataclass
class FlagSchedule:
    """One flag in one run: who is eligible, their buckets, and the planted and effective percentage steps."""

    rollout: Rollout
    eligible: np.ndarray
    bucket: np.ndarray
    planted_ms: np.ndarray
    planted_pct: np.ndarray
    ms: np.ndarray
    pct: np.ndarray
    source: list[str]
    decision_id: list[str | None]

    @property
    def live_ms(self) -> int | None:
        """When the flag is first evaluated (its first step); None if it never is."""
        return int(self.ms[0]) if len(self.ms) else None

    @property
    def assigned(self) -> np.ndarray:
        """Users the planted schedule would ever turn on (the intent-to-treat cohort)."""
        peak = self.planted_pct.max() if len(self.planted_pct) else 0.0
        return self.eligible & (self.bucket * 100.0 < peak)

    @staticmethod
    def _percent(ms: np.ndarray, pct: np.ndarray, ts: np.ndarray) -> np.ndarray:
        if len(ms) == 0:
            return np.zeros(len(ts))
        i = np.searchsorted(ms, ts, side="right") - 1
        return np.where(i >= 0, pct[np.maximum(i, 0)], 0.0)

    def on(self, user: np.ndarray, ts: np.ndarray, planted: bool = False) -> np.ndarray:
        ms, pct = (self.planted_ms, self.planted_pct) if planted else (self.ms, self.pct)
        return self.eligible[user] & (self.bucket[user] * 100.0 < self._percent(ms, pct, ts))

    def intervals(self, planted: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Per user: when the flag first turned on for them, and when it next turned off (-1 = never)."""
        ms, pct = (self.planted_ms, self.planted_pct) if planted else (self.ms, self.pct)
        n = len(self.bucket)
        on_from, on_until = np.full(n, -1, np.int64), np.full(n, -1, np.int64)
        if len(ms) == 0:
            return on_from, on_until
        on = self.eligible[None, :] & (self.bucket[None, :] * 100.0 < pct[:, None])  # steps x users
        first = np.argmax(on, axis=0)
        ever = on.any(axis=0)
        on_from[ever] = ms[first[ever]]
        after = (~on) & (np.arange(len(ms))[:, None] > first[None, :]) & ever[None, :]
        off = after.any(axis=0)
        on_until[off] = ms[np.argmax(after, axis=0)[off]]
        return on_from, on_until


def schedules(cfg: SimConfig, pop_platform: np.ndarray, start_ms: int, actions: Actions) -> list[FlagSchedule]:
    days = place_rollouts(cfg)
    out = []
    for rollout in ROLLOUTS:
        planted = cfg.incidents or not rollout.harmful  # the bad rollout is a planted incident
        first = start_ms + days[rollout.flag] * DAY_MS + rollout.start_hour * HOUR_MS
        steps = [
            (first + h * HOUR_MS, p) for h, p in rollout.steps if first + h * HOUR_MS < start_ms + cfg.days * DAY_MS
        ]
        steps = steps if planted else []
        mine = sorted(
            ((a.at_ms, i, a) for i, a in enumerate(actions.flags) if a.flag == rollout.flag), key=lambda t: t[:2]
        )
        cut = mine[0][0] if mine else None
        eff = [(t, p, "planted", None) for t, p in steps if cut is None or t < cut]
        eff += [(a.at_ms, a.percent, "action", a.decision_id) for _, _, a in mine]
        eligible = (
            np.ones(len(pop_platform), bool)
            if rollout.platform is None
            else pop_platform == PLATFORMS.index(rollout.platform)
        )
        out.append(
            FlagSchedule(
                rollout=rollout,
                eligible=eligible,
                bucket=bucket(rollout.flag, cfg.seed, len(pop_platform)),
                planted_ms=np.array([t for t, _ in steps], np.int64),
                planted_pct=np.array([p for _, p in steps], float),
                ms=np.array([t for t, *_ in eff], np.int64),
                pct=np.array([p for _, p, *_ in eff], float),
                source=[s for *_, s, _ in eff],
                decision_id=[d for *_, d in eff],
            )
        )
    return out


@dataclass
class _Rows:
    """The day's messages as the hourly truth reads them."""

    user: np.ndarray
    ts: np.ndarray
    code: np.ndarray
    mask: np.ndarray  # valid (messages) or flag index (added messages)
    harm: np.ndarray | None
    harm_planted: np.ndarray | None
    on_by_flag: dict[int, np.ndarray]


def _first_or_changed(user: np.ndarray, ts: np.ndarray, variant: np.ndarray) -> np.ndarray:
    """Indices of events that are a user's first of the batch, or whose variant differs from the previous one."""
    order = np.lexsort((ts, user))
    u, v = user[order], variant[order]
    new = np.ones(len(order), bool)
    new[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    return order[new]


class FlagLayer:
    """Applies the flags to each finished day of messages and keeps their hourly truth."""

    def __init__(self, cfg: SimConfig, platform: np.ndarray, factory: EventFactory, start_ms: int, actions: Actions):
        self.cfg, self.factory, self.start_ms = cfg, factory, start_ms
        self.flags = schedules(cfg, platform, start_ms, actions)
        self.rc_code = factory.code[HARMED_EVENT]
        self.error_code = factory.code[ERROR_EVENT]
        self.exposure_code = factory.code[EXPOSURE_EVENT]
        n_hours = cfg.days * 24
        self.hourly = np.zeros((len(self.flags), n_hours, 2, len(HOURLY_METRICS)), np.int64)
        self.exposed = np.zeros((len(self.flags), len(platform)), bool)
        self.replaced = np.zeros(len(self.flags), np.int64)
        self.exposures = np.zeros(len(self.flags), np.int64)
        surfaces = {f.event_name: f.key for f in factory.features}
        self.surface = np.array(
            [surfaces.get(e, "search" if e == "search_performed" else "app") for e in factory.event_names], object
        )
        self.error_props = pa.array(
            [
                json.dumps({"surface": s, "error_code": c}, separators=(",", ":"))
                for s in self.surface
                for c in ERROR_CODES
            ],
            pa.string(),
        )

    def apply(
        self, day: int, table: pa.Table, user: np.ndarray, ts: np.ndarray, received: np.ndarray, code, valid, noise
    ) -> tuple[pa.Table, np.ndarray, pa.Table, np.ndarray, np.ndarray, np.ndarray]:
        """Harm rewrites, then exposures and baseline errors as new messages.

        Returns the rewritten table and codes, and the added messages with their arrival times, event times and
        users (added messages are valid by construction: never planted defects, never redelivered).
        """
        day_end = self.start_ms + (day + 1) * DAY_MS
        share = self.cfg.editor_failure_share
        is_rc = valid & (code == self.rc_code) & (noise.u_fail < share)
        harm = np.zeros(len(user), bool)
        harm_planted = np.zeros(len(user), bool)
        tracked = [
            (k, f)
            for k, f in enumerate(self.flags)
            if f.live_ms is not None and f.live_ms - PRE_PERIOD_DAYS * DAY_MS < day_end
        ]
        live = [(k, f) for k, f in tracked if f.live_ms < day_end]
        on_by_flag = {}
        for k, f in tracked:
            on = f.on(user, ts) & valid
            on_by_flag[k] = on
            if f.rollout.harmful:
                harm |= on & is_rc
                harm_planted |= f.on(user, ts, planted=True) & valid & is_rc
                self.replaced[k] += int((on & is_rc).sum())
        code = code.copy()
        if harm.any():
            rows = pa.array(harm)
            table = table.set_column(
                table.schema.get_field_index("event"),
                "event",
                pc.replace_with_mask(table["event"].combine_chunks(), rows, pa.array([ERROR_EVENT] * int(harm.sum()))),
            )
            table = table.set_column(
                table.schema.get_field_index("properties"),
                "properties",
                pc.replace_with_mask(
                    table["properties"].combine_chunks(), rows, pa.array([HARM_PROPS] * int(harm.sum()), pa.string())
                ),
            )
            code[harm] = self.error_code
        parts: list[pa.Table] = []
        extra_user, extra_ts, extra_recv, extra_code, extra_flag = [], [], [], [], []
        for k, f in live:
            cand = np.flatnonzero(f.eligible[user] & valid & (ts >= f.live_ms))
            if len(cand) == 0:
                continue
            variant = on_by_flag[k][cand]
            rows = cand[_first_or_changed(user[cand], ts[cand], variant)]
            rows.sort()
            props = pa.array(
                [f'{{"flag":"{f.rollout.flag}","variant":"{FLAG_VARIANTS[int(v)]}"}}' for v in on_by_flag[k][rows]],
                pa.string(),
            )
            parts.append(self._derive(table.take(pa.array(rows)), f"-f{k}", EXPOSURE_EVENT, props))
            self.exposures[k] += len(rows)
            self.exposed[k, user[rows[on_by_flag[k][rows]]]] = True
            extra_user.append(user[rows])
            extra_ts.append(ts[rows])
            extra_recv.append(received[rows])
            extra_code.append(np.full(len(rows), self.exposure_code, np.int16))
            extra_flag.append(np.full(len(rows), k))
        err = np.flatnonzero(valid & (noise.u_error < self.cfg.error_rate))
        if len(err):
            delay = noise.error_delay[err]
            e_ts = np.minimum(ts[err] + delay, day_end - 1)
            props = self.error_props.take(
                pa.array(code_before(code, harm, self.rc_code)[err] * len(ERROR_CODES) + noise.error_code[err])
            )
            derived = self._derive(table.take(pa.array(err)), "-e", ERROR_EVENT, props)
            derived = derived.set_column(
                derived.schema.get_field_index("timestamp"), "timestamp", format_timestamps(e_ts)
            )
            derived = derived.set_column(
                derived.schema.get_field_index("receivedAt"), "receivedAt", format_timestamps(received[err] + delay)
            )
            parts.append(derived)
            extra_user.append(user[err])
            extra_ts.append(e_ts)
            extra_recv.append(received[err] + delay)
            extra_code.append(np.full(len(err), self.error_code, np.int16))
            extra_flag.append(np.full(len(err), -1))
        extras = pa.concat_tables(parts) if parts else table.slice(0, 0)
        e_user, e_ts, e_recv = _cat(extra_user, np.int64), _cat(extra_ts, np.int64), _cat(extra_recv, np.int64)
        e_code, e_flag = _cat(extra_code, np.int16), _cat(extra_flag, np.int64)
        day_rows = _Rows(user, ts, code, valid, harm, harm_planted, on_by_flag)
        self._hourly(tracked, day_rows, _Rows(e_user, e_ts, e_code, e_flag, None, None, {}))
        return table, code, extras, e_recv, e_ts, e_user

    @staticmethod
    def _derive(rows: pa.Table, suffix: str, event: str, props: pa.Array) -> pa.Table:
        """New messages from their triggers: same user, context and times, id = trigger id + suffix."""
        ids = pc.binary_join_element_wise(rows["messageId"].combine_chunks(), pa.scalar(suffix), "")
        rows = rows.set_column(rows.schema.get_field_index("messageId"), "messageId", ids)
        rows = rows.set_column(rows.schema.get_field_index("event"), "event", repeat_string(event, rows.num_rows))
        return rows.set_column(rows.schema.get_field_index("properties"), "properties", props)

    def _hourly(self, tracked: list[tuple[int, FlagSchedule]], rows: _Rows, extra: _Rows) -> None:
        """Add the day's counts to ``rollout_hourly`` (``extra.mask`` holds the added messages' flag, -1 = error)."""
        hours = self.hourly.shape[1]
        user, ts, code, valid, harm, harm_planted = (
            rows.user,
            rows.ts,
            rows.code,
            rows.mask,
            rows.harm,
            rows.harm_planted,
        )
        e_user, e_ts, e_flag = extra.user, extra.ts, extra.mask
        base_err = extra.code == self.error_code
        for k, f in tracked:
            cohort = f.assigned.astype(np.int64)
            acc = self.hourly[k]
            sel = f.eligible[user] & valid
            hour = np.clip((ts[sel] - self.start_ms) // HOUR_MS, 0, hours - 1)
            key = hour * 2 + cohort[user[sel]]
            rc = code[sel] == self.rc_code
            was_rc = rc | harm[sel]
            cols = {
                "report_created": rc,
                "report_created_without_harm": was_rc,
                "report_created_planted_schedule": was_rc & ~harm_planted[sel],
                "error_shown": harm[sel],
                "error_shown_planted_schedule": harm_planted[sel],
            }
            flat = acc.reshape(-1, len(HOURLY_METRICS))
            for name, mask in cols.items():
                flat[:, HOURLY_METRICS.index(name)] += np.bincount(key[mask], minlength=hours * 2)
            users_hour = np.unique(key * len(f.bucket) + user[sel])
            flat[:, 0] += np.bincount(users_hour // len(f.bucket), minlength=hours * 2)
            on = rows.on_by_flag[k][sel]
            exposed_hour = np.unique((key * len(f.bucket) + user[sel])[on])
            flat[:, 1] += np.bincount(exposed_hour // len(f.bucket), minlength=hours * 2)
            e_sel = f.eligible[e_user]
            e_key = np.clip((e_ts[e_sel] - self.start_ms) // HOUR_MS, 0, hours - 1) * 2 + cohort[e_user[e_sel]]
            ex = e_flag[e_sel] == k
            flat[:, 2] += np.bincount(e_key[ex], minlength=hours * 2)
            errs = base_err[e_sel]
            for name in ("error_shown", "error_shown_without_harm", "error_shown_planted_schedule"):
                flat[:, HOURLY_METRICS.index(name)] += np.bincount(e_key[errs], minlength=hours * 2)


def _cat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def code_before(code: np.ndarray, harm: np.ndarray, rc_code: int) -> np.ndarray:
    """Event codes as generated (a rewritten report is still a report for the baseline error's surface)."""
    return np.where(harm, rc_code, code)
