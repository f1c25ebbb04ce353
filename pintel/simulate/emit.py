"""One day of latent outcomes -> Segment messages, for a set of ledger rows.

The :class:`Emitter` owns the per-row bookkeeping that only emission needs (features adopted, identify calls
made, experiment exposure and conversion state). The simulation has one emitter for the real users; a replay
with retention plays has a second one for the users whose world the play changed (see :mod:`.plays`), so
both are turned into messages by exactly the same code. Every random number comes from the ``rng`` passed in,
in a fixed order, so the main emitter's output is the same whatever else a replay adds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pintel.catalog import Catalog
from pintel.simulate.config import (
    CANCEL_REASONS,
    CHANNELS,
    COMPANY_SIZES,
    COUNTRIES,
    PLATFORMS,
    TICKET_SEVERITIES,
    SimConfig,
)
from pintel.simulate.defects import assign_defects, corrupt, format_timestamps
from pintel.simulate.dynamics import State, StepOut, sigmoid
from pintel.simulate.events import DAY_MS, EventFactory, Special
from pintel.simulate.population import Population
from pintel.simulate.strings import padded_numbers, repeat_string

PLAN_NAMES = ("free", "starter", "pro", "enterprise")
VARIANTS = ("control", "treatment")
OUTAGE_HOURS = (14, 18)
OUTAGE_DROP = 0.6


@dataclass
class Incidents:
    """Where the planted metric anomalies sit (day indices), derived from the window length."""

    outage_day: int | None
    bug_day: int | None
    spike_day: int | None
    outage_u: np.ndarray
    bug_event: str = "report_created"
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass
class Experiment:
    """The A/B test's fixed per-user draws (indexed by population user)."""

    start: int
    end: int
    variant: np.ndarray
    u_conv: np.ndarray
    conv_offset: np.ndarray
    exposure_logged: np.ndarray


@dataclass
class DayOutcome:
    """What happened to the emitting rows that are active today (parallel arrays over those rows)."""

    rows: np.ndarray  # ledger rows
    signup: np.ndarray
    ticket: np.ndarray
    upgrade: np.ndarray
    downgrade: np.ndarray
    cancel: np.ndarray
    key_adopt: np.ndarray
    plan: np.ndarray
    e: np.ndarray

    @classmethod
    def of(cls, out: StepOut, state: State, state_rows: np.ndarray, ledger_rows: np.ndarray) -> DayOutcome:
        """The outcome of latent ``state_rows``, emitted as ledger rows ``ledger_rows``."""
        return cls(
            ledger_rows,
            *(getattr(out, name)[state_rows] for name in ("signup", "ticket", "upgrade", "downgrade", "cancel")),
            out.key_adopt[state_rows],
            state.plan[state_rows],
            state.e[state_rows],
        )


@dataclass
class DayBatch:
    """One emitter's messages of one day, before flags touch them and before they are written."""

    table: pa.Table
    user: np.ndarray
    ts: np.ndarray
    received: np.ndarray
    code: np.ndarray
    seq: np.ndarray
    reason: np.ndarray
    dup: np.ndarray  # row indices redelivered
    redelivered: np.ndarray  # their second arrival (ms)
    identifies: pa.Table | None
    identify_user: np.ndarray
    identify_received: np.ndarray
    dropped: dict[str, np.ndarray]  # planted-incident losses: users of the dropped events, per incident

    def without_users(self, drop: np.ndarray) -> DayBatch:
        """The batch minus every message of the users flagged in ``drop`` (a boolean array over users)."""
        keep = ~drop[self.user]
        if keep.all() and (self.identifies is None or not drop[self.identify_user].any()):
            return self
        new_index = np.cumsum(keep) - 1
        dup_keep = keep[self.dup]
        id_keep = ~drop[self.identify_user]
        return DayBatch(
            table=self.table.filter(pa.array(keep)),
            user=self.user[keep],
            ts=self.ts[keep],
            received=self.received[keep],
            code=self.code[keep],
            seq=self.seq[keep],
            reason=self.reason[keep],
            dup=new_index[self.dup[dup_keep]],
            redelivered=self.redelivered[dup_keep],
            identifies=self.identifies.filter(pa.array(id_keep)) if self.identifies is not None else None,
            identify_user=self.identify_user[id_keep],
            identify_received=self.identify_received[id_keep],
            dropped={k: v[~drop[v]] for k, v in self.dropped.items()},
        )


class Emitter:
    """Bookkeeping and message building for ``users`` (ledger row i is population user ``users[i]``)."""

    def __init__(
        self,
        cfg: SimConfig,
        pop: Population,
        catalog: Catalog,
        factory: EventFactory,
        experiment: Experiment,
        incidents: Incidents,
        users: np.ndarray,
        start_ms: int,
        id_tag: str = "",
    ):
        self.cfg, self.pop, self.catalog, self.factory = cfg, pop, catalog, factory
        self.experiment, self.incidents = experiment, incidents
        self.users = users.astype(np.int64)
        self.start_ms = start_ms
        self.id_tag = id_tag
        rows = len(users)
        self.adopted = np.zeros((rows, len(catalog.features)), bool)
        self.identified = np.zeros(rows, bool)
        self.exposed_day = np.full(rows, -1, np.int32)
        self.p_conv = np.zeros((rows, 2))
        self.conv_first_active = np.full(rows, -1, np.int32)
        self.user_ids = pa.array([f"u{idx:07d}" for idx in range(pop.n)], pa.string())
        self.anon_ids = pa.array([f"anon-{cfg.seed:x}-{idx:07d}" for idx in range(pop.n)], pa.string())

    LEDGER = ("adopted", "identified", "exposed_day", "p_conv", "conv_first_active")

    def copy_rows(self, source: Emitter, src_rows: np.ndarray, rows: np.ndarray) -> None:
        """Start ``rows`` from ``source``'s bookkeeping of ``src_rows`` (a twin inherits its user's past)."""
        for name in self.LEDGER:
            getattr(self, name)[rows] = getattr(source, name)[src_rows]

    # ---------------------------------------------------------------- specials
    def _specials(self, day: int, rng: np.random.Generator, out: DayOutcome) -> list[Special]:
        """The day's special events for the active rows (``Special.rows`` index into ``out.rows``)."""
        pop, cfg = self.pop, self.cfg
        act = out.rows
        users = self.users[act]
        specials: list[Special] = []
        rows = np.flatnonzero(out.signup)
        specials.append(
            Special(
                rows,
                ["signed_up"] * len(rows),
                [
                    json.dumps(
                        {"channel": CHANNELS[pop.channel[users[r]]], "plan": PLAN_NAMES[pop.plan0[users[r]]]},
                        separators=(",", ":"),
                    )
                    for r in rows
                ],
            )
        )
        rows = np.flatnonzero(out.ticket)
        sev = rng.integers(0, len(TICKET_SEVERITIES), len(rows))
        specials.append(
            Special(
                rows,
                ["support_ticket_created"] * len(rows),
                [f'{{"severity":"{TICKET_SEVERITIES[s]}"}}' for s in sev],
            )
        )
        for moved, name, delta in ((out.upgrade, "plan_upgraded", -1), (out.downgrade, "plan_downgraded", 1)):
            rows = np.flatnonzero(moved)
            props = []
            for r in rows:
                to_plan = int(out.plan[r])
                price = self.catalog.plan(PLAN_NAMES[to_plan]).monthly_price_usd
                props.append(
                    json.dumps(
                        {"from_plan": PLAN_NAMES[to_plan + delta], "to_plan": PLAN_NAMES[to_plan], "mrr": float(price)},
                        separators=(",", ":"),
                    )
                )
            specials.append(Special(rows, [name] * len(rows), props))
        rows = np.flatnonzero(out.cancel)
        reasons = rng.integers(0, len(CANCEL_REASONS), len(rows))
        specials.append(
            Special(
                rows,
                ["subscription_cancelled"] * len(rows),
                [
                    f'{{"plan":"{PLAN_NAMES[out.plan[r]]}","reason":"{CANCEL_REASONS[c]}"}}'
                    for r, c in zip(rows, reasons, strict=True)
                ],
            )
        )
        # Key feature first use, and first use of any other feature adopted today.
        key = self.factory.key_index
        self.adopted[act[out.key_adopt], key] = True
        p_adopt = np.minimum(0.9, cfg.dynamics.feature_adoption_base * self.factory.adoption_rate[pop.persona[users]])
        p_adopt[:, key] = 0.0
        new = (rng.random(p_adopt.shape) < p_adopt) & ~self.adopted[act]
        new[:, key] = out.key_adopt
        self.adopted[act] |= new
        r_idx, f_idx = np.nonzero(new)
        durations = np.round(rng.lognormal(9.0, 1.0, len(r_idx))).astype(np.int64)
        specials.append(
            Special(
                r_idx,
                [self.catalog.features[f].event_name for f in f_idx],
                [f'{{"duration_ms":{d}}}' for d in durations],
            )
        )
        specials += self._experiment(day, out)
        return specials

    def _experiment(self, day: int, out: DayOutcome) -> list[Special]:
        cfg, dyn, exp = self.cfg, self.cfg.dynamics, self.experiment
        act = out.rows
        users = self.users[act]
        specials: list[Special] = []
        if exp.start <= day < exp.end:
            rows = np.flatnonzero(self.exposed_day[act] < 0)
            self.exposed_day[act[rows]] = day
            base = dyn.conversion_intercept + dyn.conversion_engagement * out.e[rows]
            self.p_conv[act[rows], 0] = sigmoid(base)
            self.p_conv[act[rows], 1] = sigmoid(base + cfg.experiment_logit_lift)
            logged = rows[exp.exposure_logged[users[rows]]]
            specials.append(
                Special(
                    logged,
                    ["experiment_exposed"] * len(logged),
                    [
                        json.dumps(
                            {"flag": cfg.experiment_flag, "variant": VARIANTS[exp.variant[u]]}, separators=(",", ":")
                        )
                        for u in users[logged]
                    ],
                )
            )
        exposed = self.exposed_day[act]
        due = (exposed >= 0) & (self.conv_first_active[act] < 0) & (day >= exposed + exp.conv_offset[users])
        due &= day < exposed + cfg.experiment_window_days
        rows = np.flatnonzero(due)
        self.conv_first_active[act[rows]] = day
        converts = exp.u_conv[users[rows]] < self.p_conv[act[rows], exp.variant[users[rows]]]
        rows = rows[converts]
        specials.append(
            Special(
                rows,
                ["checkout_completed"] * len(rows),
                [f'{{"amount":{29.0 + 10.0 * (u % 5):.1f}}}' for u in users[rows]],
            )
        )
        return specials

    # ---------------------------------------------------------------- messages
    def emit(self, day: int, rng: np.random.Generator, out: DayOutcome, seq0: int) -> DayBatch:
        """Messages of the active rows ``out.rows``; message numbers start at ``seq0``."""
        cfg, pop = self.cfg, self.pop
        act = out.rows
        users = self.users[act]
        day_ms = self.start_ms + day * DAY_MS
        specials = self._specials(day, rng, out)
        first_second = np.where(pop.signup_day[users] == day, pop.signup_second[users], -1)
        ev = self.factory.build_day(
            rng,
            day,
            day_ms,
            users,
            pop.persona[users],
            out.e,
            pop.country[users],
            self.adopted[act],
            first_second,
            specials,
        )
        user = users[ev["user_row"]]
        ts, code, props = ev["ts_ms"], ev["code"], ev["props"]
        keep, dropped = self._incident_filter(day, user, ts, code)
        user, ts, code = user[keep], ts[keep], code[keep]
        props = props.filter(pa.array(keep))
        m = len(user)
        platform = pop.platform[user]
        late = rng.random(m) < np.where(platform == 0, 0.01, 0.06) * cfg.late_share / 0.03
        latency = np.round(rng.lognormal(np.log(1500.0), 1.0, m)).astype(np.int64)
        latency += late * rng.integers(3_600_000, 72 * 3_600_000, m)
        received = ts + latency
        seq = seq0 + np.arange(m, dtype=np.int64)
        is_int = np.isin(code, self.factory.feature_codes) | (code == self.factory.code["search_performed"])
        reason, duplicate = assign_defects(rng, m, cfg.defect_rate, is_int)
        event_names = pa.array(self.factory.event_names, pa.string()).take(pa.array(code))
        ctx = self.factory.context_index(day, platform, pop.country[user], pop.version_lag[user])
        event, user_id, timestamp, props = corrupt(
            rng,
            reason,
            event_names,
            self.user_ids.take(pa.array(user)),
            format_timestamps(ts),
            received,
            props,
        )
        message_id = padded_numbers(f"{cfg.seed:x}-", seq, 12)
        table = pa.table(
            {
                "messageId": message_id,
                "type": repeat_string("track", m),
                "event": event,
                "userId": user_id,
                "anonymousId": self.anon_ids.take(pa.array(user)),
                "timestamp": timestamp,
                "receivedAt": format_timestamps(received),
                "properties": props,
                "context": self.factory.contexts.take(pa.array(ctx)),
            }
        )
        dup = np.flatnonzero(duplicate)
        redelivered = received[dup] + rng.integers(30_000, 6 * 3_600_000, len(dup))
        identifies, id_user, id_received = self._identify(day, out, ev)
        return DayBatch(
            table, user, ts, received, code, seq, reason, dup, redelivered, identifies, id_user, id_received, dropped
        )

    def _incident_filter(
        self, day: int, user: np.ndarray, ts: np.ndarray, code: np.ndarray
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        inc = self.incidents
        keep = np.ones(len(user), bool)
        dropped: dict[str, np.ndarray] = {}
        day_ms = self.start_ms + day * DAY_MS
        if day == inc.outage_day:
            hour = (ts - day_ms) // 3_600_000
            hit = (self.pop.platform[user] == PLATFORMS.index("android")) & (hour >= OUTAGE_HOURS[0])
            hit &= (hour < OUTAGE_HOURS[1]) & (inc.outage_u[user] < OUTAGE_DROP)
            keep &= ~hit
            dropped["android_partial_outage"] = user[hit]
        if day == inc.bug_day:
            hit = code == self.factory.code[inc.bug_event]
            keep &= ~hit
            dropped["tracking_bug"] = user[hit]
        return keep, dropped

    def _identify(self, day: int, out: DayOutcome, ev: dict) -> tuple[pa.Table | None, np.ndarray, np.ndarray]:
        """identify calls: on signup, on the first visit in the window, and whenever the plan changes."""
        pop = self.pop
        act = out.rows
        moved = out.upgrade | out.downgrade
        who = np.flatnonzero(~self.identified[act] | moved)
        if len(who) == 0:
            return None, np.zeros(0, np.int64), np.zeros(0, np.int64)
        users = self.users[act[who]]
        self.identified[act[who]] = True
        first_ts = np.full(len(act), np.iinfo(np.int64).max)
        np.minimum.at(first_ts, ev["user_row"], ev["ts_ms"])
        ts = first_ts[who]
        recv = ts + 900
        signup_ms = self.start_ms + pop.signup_day[users].astype(np.int64) * DAY_MS + pop.signup_second[users] * 1000
        traits = [
            json.dumps(
                {
                    "plan": PLAN_NAMES[out.plan[w]],
                    "company_size": COMPANY_SIZES[pop.size[u]],
                    "country": COUNTRIES[pop.country[u]],
                    "channel": CHANNELS[pop.channel[u]],
                    "seats": int(pop.seats[u]),
                    "created_at": str(np.datetime64(int(s), "ms")) + "Z",
                },
                separators=(",", ":"),
            )
            for w, u, s in zip(who, users, signup_ms, strict=True)
        ]
        ctx = self.factory.context_index(day, pop.platform[users], pop.country[users], pop.version_lag[users])
        index = pc.cast(pa.array(users if self.id_tag else np.arange(len(users))), pa.string())
        table = pa.table(
            {
                "messageId": pc.binary_join_element_wise(f"id-{self.cfg.seed:x}-{day:04d}-{self.id_tag}", index, ""),
                "type": pa.array(["identify"] * len(users), pa.string()),
                "event": pa.nulls(len(users), pa.string()),
                "userId": self.user_ids.take(pa.array(users)),
                "anonymousId": self.anon_ids.take(pa.array(users)),
                "timestamp": format_timestamps(ts),
                "receivedAt": format_timestamps(recv),
                "traits": pa.array(traits, pa.string()),
                "context": self.factory.contexts.take(pa.array(ctx)),
            }
        )
        return table, users, recv
