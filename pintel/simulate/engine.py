"""The simulation loop: one vectorised step per day, events out, truth recorded on the way.

Randomness is drawn per day from ``SeedSequence([seed, stream, day])``, so the output is a pure function of
the configuration (byte-identical reruns) and the oracle's own draws never disturb the events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from pintel.catalog import load_catalog
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
from pintel.simulate.dynamics import TREATMENT_DAY, Draws, State, World, sigmoid
from pintel.simulate.events import DAY_MS, EventFactory, Special
from pintel.simulate.oracle import oracle_probability
from pintel.simulate.population import Population, draw_population
from pintel.simulate.writer import BatchWriter

PLAN_NAMES = ("free", "starter", "pro", "enterprise")
VARIANTS = ("control", "treatment")
OUTAGE_HOURS = (14, 18)
OUTAGE_DROP = 0.6


def _rng(seed: int, stream: int, day: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream, day]))


@dataclass
class Incidents:
    """Where the planted metric anomalies sit (day indices), derived from the window length."""

    outage_day: int | None
    bug_day: int | None
    spike_day: int | None
    bug_event: str = "report_created"
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass
class Recorder:
    """Everything the truth needs, accumulated day by day."""

    active_day: list[np.ndarray] = field(default_factory=list)
    active_user: list[np.ndarray] = field(default_factory=list)
    valid_events: list[int] = field(default_factory=list)
    signups: list[int] = field(default_factory=list)
    defect_seq: list[np.ndarray] = field(default_factory=list)
    defect_reason: list[np.ndarray] = field(default_factory=list)
    duplicate_seq: list[np.ndarray] = field(default_factory=list)
    snapshots: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    hourly_events: list[np.ndarray] = field(default_factory=list)
    messages: int = 0


class Simulation:
    def __init__(self, cfg: SimConfig, out_dir: Path):
        self.cfg = cfg
        self.out = Path(out_dir)
        self.catalog = load_catalog()
        self.pop: Population = draw_population(cfg, _rng(cfg.seed, 0))
        n = self.pop.n
        self.n = n
        new = np.flatnonzero(self.pop.signup_day >= 0)
        self.cohort = new[self.pop.signup_day[new] + TREATMENT_DAY < cfg.days]
        self.state = State.empty(np.r_[np.arange(n), self.cohort])
        self.world = World(self.pop, cfg.dynamics, cfg.start.weekday(), cfg.causal_setting == "unobserved")
        self.factory = EventFactory(self.catalog, cfg.days, cfg.seed)
        self.adopted = np.zeros((n, len(self.catalog.features)), bool)
        self.start_ms = int(datetime(cfg.start.year, cfg.start.month, cfg.start.day, tzinfo=UTC).timestamp() * 1000)
        self.rec = Recorder()
        self.seq = 0
        rows = n + len(self.cohort)
        self.y30 = np.zeros(rows, bool)
        self.y60 = np.zeros(rows, bool)
        self.treated = np.zeros(len(self.cohort), bool)
        self.propensity = np.full(n, np.nan)
        self.adopt_day = np.full(n, -1, np.int32)
        self.quit_day = np.full(n, -1, np.int32)
        self.quit_kind = np.full(n, "", dtype=object)
        self.last_valid = np.full(n, -(10**6), np.int64)
        self.valid_cancel_day = np.full(n, -1, np.int64)
        self.identified = np.zeros(n, bool)
        self.plan_at_snapshot: list[np.ndarray] = []
        self._setup_experiment()
        self._setup_incidents()
        user_ids = [f"u{idx:07d}" for idx in range(n)]
        self.user_ids = pa.array(user_ids, pa.string())
        self.anon_ids = pa.array([f"anon-{cfg.seed:x}-{idx:07d}" for idx in range(n)], pa.string())
        self.events = BatchWriter(self.out, "events", cfg.fmt, "properties")
        self.identifies = BatchWriter(self.out, "identifies", cfg.fmt, "traits", hours=24)

    # ----------------------------------------------------------------- setup
    def _setup_experiment(self) -> None:
        cfg = self.cfg
        self.exp_start = int(cfg.days * cfg.experiment_start_fraction)
        span = min(cfg.experiment_exposure_days, cfg.days - cfg.experiment_window_days - self.exp_start)
        self.exp_end = self.exp_start + max(span, 1)
        rng = _rng(cfg.seed, 3)
        n = self.n
        self.variant = (rng.random(n) < 0.5).astype(np.int8)  # 1 = treatment
        self.u_conv = rng.random(n)
        self.conv_offset = rng.integers(0, cfg.experiment_window_days, n)
        self.exposure_logged = ~((self.variant == 1) & (rng.random(n) < cfg.srm_loss))
        self.exposed_day = np.full(n, -1, np.int32)
        self.p_conv = np.zeros((n, 2))
        self.conv_first_active = np.full(n, -1, np.int32)

    def _setup_incidents(self) -> None:
        d = self.cfg.days
        on = self.cfg.incidents
        self.incidents = Incidents(
            outage_day=round(d * 0.72) if on else None,
            bug_day=round(d * 0.84) if on else None,
            spike_day=self.pop.spike_day,
        )
        self.outage_u = _rng(self.cfg.seed, 4).random(self.n)

    # ------------------------------------------------------------------ loop
    def run(self, progress: bool = True) -> dict:
        cfg = self.cfg
        for day in tqdm(range(cfg.days), desc="simulating days", unit="day", disable=not progress):
            self._day(day)
            self.events.flush(before_ms=self.start_ms + (day + 1) * DAY_MS)
            self.identifies.flush(before_ms=self.start_ms + day * DAY_MS)
        self.events.flush()
        self.identifies.flush()
        from pintel.simulate.truth import write_truth

        return write_truth(self)

    def is_snapshot(self, day: int) -> bool:
        weekday = (self.cfg.start.weekday() + day) % 7
        return weekday == 0 and day >= self.cfg.churn_inactivity_days

    def _day(self, day: int) -> None:
        cfg, pop, state, n = self.cfg, self.pop, self.state, self.n
        rng = _rng(cfg.seed, 1, day)
        if day == 0:
            self.world.init_rows(state, np.flatnonzero(pop.signup_day[:n] < 0), rng)
        self.world.init_rows(state, np.flatnonzero(pop.signup_day[state.user[:n]] == day), rng)
        self._start_twins(day)
        if self.is_snapshot(day):
            self._snapshot(day)
        tenure = day - pop.signup_day[state.user]
        deciding = np.flatnonzero((state.present & state.alive & ~state.decided & (tenure == 7))[:n])
        self.propensity[deciding] = self.world.propensity(state, deciding)
        draws = Draws.draw(rng, n)
        out = self.world.step(state, day, Draws.concat([draws, draws.take(self.cohort)]))
        self.y30 |= out.active & (tenure >= 30) & (tenure < 37)
        self.y60 |= out.active & (tenure >= 60) & (tenure < 67)
        self.adopt_day[np.flatnonzero(out.key_adopt[:n])] = day
        quit_rows = np.flatnonzero((out.cancel | out.quit_silent)[:n])
        self.quit_day[quit_rows] = day
        self.quit_kind[quit_rows] = np.where(out.cancel[quit_rows], "cancelled", "silent")
        self._emit(day, rng, out)

    def _start_twins(self, day: int) -> None:
        """At tenure day 14 each cohort user gets a twin with the opposite key-feature status."""
        j = np.flatnonzero(self.pop.signup_day[self.cohort] + TREATMENT_DAY == day)
        if len(j) == 0:
            return
        origin = self.cohort[j]
        twin = self.state.take(origin)
        self.treated[j] = twin.key_adopted
        twin.key_adopted = ~twin.key_adopted
        twin.key_pending_day[:] = -1
        self.state.put(self.n + j, twin)

    def _snapshot(self, day: int) -> None:
        w = self.cfg.churn_inactivity_days
        eligible = np.flatnonzero((self.last_valid >= day - w) & (self.valid_cancel_day < 0))
        prob = oracle_probability(
            self.world,
            self.state,
            eligible,
            day,
            self.cfg.churn_horizon_days,
            self.cfg.oracle_draws,
            _rng(self.cfg.seed, 2, day),
        )
        self.rec.snapshots.append((day, eligible, prob, self.state.plan[eligible].copy()))

    # ---------------------------------------------------------------- events
    def _specials(self, day: int, rng: np.random.Generator, out, act: np.ndarray) -> list[Special]:
        """The day's special events for active users ``act`` (rows index into ``act``)."""
        pop, state, cfg = self.pop, self.state, self.cfg
        n = self.n
        specials: list[Special] = []
        pos = {
            "signup": out.signup[:n][act],
            "ticket": out.ticket[:n][act],
            "up": out.upgrade[:n][act],
            "down": out.downgrade[:n][act],
            "cancel": out.cancel[:n][act],
            "key": out.key_adopt[:n][act],
        }
        rows = np.flatnonzero(pos["signup"])
        specials.append(
            Special(
                rows,
                ["signed_up"] * len(rows),
                [
                    json.dumps(
                        {"channel": CHANNELS[pop.channel[act[r]]], "plan": PLAN_NAMES[pop.plan0[act[r]]]},
                        separators=(",", ":"),
                    )
                    for r in rows
                ],
            )
        )
        rows = np.flatnonzero(pos["ticket"])
        sev = rng.integers(0, len(TICKET_SEVERITIES), len(rows))
        specials.append(
            Special(
                rows,
                ["support_ticket_created"] * len(rows),
                [f'{{"severity":"{TICKET_SEVERITIES[s]}"}}' for s in sev],
            )
        )
        for kind, name, delta in (("up", "plan_upgraded", -1), ("down", "plan_downgraded", 1)):
            rows = np.flatnonzero(pos[kind])
            props = []
            for r in rows:
                to_plan = int(state.plan[act[r]])
                price = self.catalog.plan(PLAN_NAMES[to_plan]).monthly_price_usd
                props.append(
                    json.dumps(
                        {
                            "from_plan": PLAN_NAMES[to_plan + delta],
                            "to_plan": PLAN_NAMES[to_plan],
                            "mrr": float(price),
                        },
                        separators=(",", ":"),
                    )
                )
            specials.append(Special(rows, [name] * len(rows), props))
        rows = np.flatnonzero(pos["cancel"])
        reasons = rng.integers(0, len(CANCEL_REASONS), len(rows))
        specials.append(
            Special(
                rows,
                ["subscription_cancelled"] * len(rows),
                [
                    f'{{"plan":"{PLAN_NAMES[state.plan[act[r]]]}","reason":"{CANCEL_REASONS[c]}"}}'
                    for r, c in zip(rows, reasons, strict=True)
                ],
            )
        )
        # Key feature first use, and first use of any other feature adopted today.
        key = self.factory.key_index
        self.adopted[act[pos["key"]], key] = True
        p_adopt = np.minimum(0.9, cfg.dynamics.feature_adoption_base * self.factory.adoption_rate[pop.persona[act]])
        p_adopt[:, key] = 0.0
        new = (rng.random(p_adopt.shape) < p_adopt) & ~self.adopted[act]
        new[:, key] = pos["key"]
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
        specials += self._experiment(day, act)
        return specials

    def _experiment(self, day: int, act: np.ndarray) -> list[Special]:
        cfg, dyn = self.cfg, self.cfg.dynamics
        out: list[Special] = []
        if self.exp_start <= day < self.exp_end:
            rows = np.flatnonzero(self.exposed_day[act] < 0)
            users = act[rows]
            self.exposed_day[users] = day
            base = dyn.conversion_intercept + dyn.conversion_engagement * self.state.e[users]
            self.p_conv[users, 0] = sigmoid(base)
            self.p_conv[users, 1] = sigmoid(base + cfg.experiment_logit_lift)
            logged = rows[self.exposure_logged[users]]
            out.append(
                Special(
                    logged,
                    ["experiment_exposed"] * len(logged),
                    [
                        json.dumps(
                            {"flag": cfg.experiment_flag, "variant": VARIANTS[self.variant[u]]}, separators=(",", ":")
                        )
                        for u in act[logged]
                    ],
                )
            )
        exposed = self.exposed_day[act]
        due = (exposed >= 0) & (self.conv_first_active[act] < 0) & (day >= exposed + self.conv_offset[act])
        due &= day < exposed + cfg.experiment_window_days
        rows = np.flatnonzero(due)
        users = act[rows]
        self.conv_first_active[users] = day
        converts = self.u_conv[users] < self.p_conv[users, self.variant[users]]
        rows = rows[converts]
        out.append(
            Special(
                rows,
                ["checkout_completed"] * len(rows),
                [f'{{"amount":{29.0 + 10.0 * (u % 5):.1f}}}' for u in act[rows]],
            )
        )
        return out

    def _emit(self, day: int, rng: np.random.Generator, out) -> None:
        cfg, pop, n = self.cfg, self.pop, self.n
        act = np.flatnonzero(out.active[:n])
        day_ms = self.start_ms + day * DAY_MS
        specials = self._specials(day, rng, out, act)
        first_second = np.where(pop.signup_day[act] == day, pop.signup_second[act], -1)
        ev = self.factory.build_day(
            rng,
            day,
            day_ms,
            act,
            pop.persona[act],
            self.state.e[act],
            pop.country[act],
            self.adopted[act],
            first_second,
            specials,
        )
        user = act[ev["user_row"]]
        ts, code, props = ev["ts_ms"], ev["code"], ev["props"]
        keep = self._incident_filter(day, user, ts, code)
        user, ts, code = user[keep], ts[keep], code[keep]
        props = props.filter(pa.array(keep))
        m = len(user)
        platform = pop.platform[user]
        late = rng.random(m) < np.where(platform == 0, 0.01, 0.06) * cfg.late_share / 0.03
        latency = np.round(rng.lognormal(np.log(1500.0), 1.0, m)).astype(np.int64)
        latency += late * rng.integers(3_600_000, 72 * 3_600_000, m)
        received = ts + latency
        seq = self.seq + np.arange(m, dtype=np.int64)
        self.seq += m
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
        message_id = pc.binary_join_element_wise(
            f"{cfg.seed:x}-", pc.utf8_lpad(pc.cast(pa.array(seq), pa.string()), 12, "0"), ""
        )
        table = pa.table(
            {
                "messageId": message_id,
                "type": pa.array(np.full(m, "track", dtype=object), pa.string()),
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
        dup_table = table.take(pa.array(dup))
        dup_table = dup_table.set_column(
            dup_table.schema.get_field_index("receivedAt"), "receivedAt", format_timestamps(redelivered)
        )
        self.events.add(pa.concat_tables([table, dup_table]), np.r_[received, redelivered])
        self._identify(day, act, ev, out, received)
        # Truth: what is valid is what the warehouse must count.
        valid = reason < 0
        valid_users = np.unique(user[valid])
        self.rec.active_day.append(np.full(len(valid_users), day, np.int32))
        self.rec.active_user.append(valid_users.astype(np.int32))
        self.rec.valid_events.append(int(valid.sum()))
        self.rec.signups.append(int(np.unique(user[valid & (code == self.factory.code["signed_up"])]).size))
        cancel_users = user[valid & (code == self.factory.code["subscription_cancelled"])]
        self.valid_cancel_day[cancel_users] = np.where(
            self.valid_cancel_day[cancel_users] < 0, day, self.valid_cancel_day[cancel_users]
        )
        self.last_valid[valid_users] = day
        self.rec.defect_seq.append(seq[reason >= 0])
        self.rec.defect_reason.append(reason[reason >= 0].astype(np.int8))
        self.rec.duplicate_seq.append(seq[dup])
        self.rec.messages += m + len(dup)
        hours = ((ts[valid] - day_ms) // 3_600_000).astype(np.int64)
        self.rec.hourly_events.append(np.bincount(hours, minlength=24))

    def _incident_filter(self, day: int, user: np.ndarray, ts: np.ndarray, code: np.ndarray) -> np.ndarray:
        inc = self.incidents
        keep = np.ones(len(user), bool)
        day_ms = self.start_ms + day * DAY_MS
        if day == inc.outage_day:
            hour = (ts - day_ms) // 3_600_000
            hit = (self.pop.platform[user] == PLATFORMS.index("android")) & (hour >= OUTAGE_HOURS[0])
            hit &= (hour < OUTAGE_HOURS[1]) & (self.outage_u[user] < OUTAGE_DROP)
            keep &= ~hit
            inc.dropped["android_partial_outage"] = int(hit.sum())
        if day == inc.bug_day:
            hit = code == self.factory.code[inc.bug_event]
            keep &= ~hit
            inc.dropped["tracking_bug"] = int(hit.sum())
        return keep

    def _identify(self, day: int, act: np.ndarray, ev: dict, out, received: np.ndarray) -> None:
        """identify calls: on signup, on the first visit in the window, and whenever the plan changes."""
        pop, state, n = self.pop, self.state, self.n
        moved = (out.upgrade | out.downgrade)[:n][act]
        who = np.flatnonzero(~self.identified[act] | moved)
        if len(who) == 0:
            return
        users = act[who]
        self.identified[users] = True
        first_ts = np.full(len(act), np.iinfo(np.int64).max)
        np.minimum.at(first_ts, ev["user_row"], ev["ts_ms"])
        ts = first_ts[who]
        recv = ts + 900
        signup_ms = self.start_ms + pop.signup_day[users].astype(np.int64) * DAY_MS + pop.signup_second[users] * 1000
        traits = [
            json.dumps(
                {
                    "plan": PLAN_NAMES[state.plan[u]],
                    "company_size": COMPANY_SIZES[pop.size[u]],
                    "country": COUNTRIES[pop.country[u]],
                    "channel": CHANNELS[pop.channel[u]],
                    "seats": int(pop.seats[u]),
                    "created_at": str(np.datetime64(int(s), "ms")) + "Z",
                },
                separators=(",", ":"),
            )
            for u, s in zip(users, signup_ms, strict=True)
        ]
        ctx = self.factory.context_index(day, pop.platform[users], pop.country[users], pop.version_lag[users])
        table = pa.table(
            {
                "messageId": pc.binary_join_element_wise(
                    f"id-{self.cfg.seed:x}-{day:04d}-",
                    pc.cast(pa.array(np.arange(len(users))), pa.string()),
                    "",
                ),
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
        self.identifies.add(table, recv)
