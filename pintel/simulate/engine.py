"""The simulation loop: one vectorised step per day, events out, truth recorded on the way.

Randomness is drawn per day from ``SeedSequence([seed, stream, day])``, so the output is a pure function of
the configuration (byte-identical reruns) and the oracle's own draws never disturb the events. Streams: 0
population, 1 the day's world and messages, 2 the oracle, 3 the experiment, 4 the outage, 5 the flag layer,
6/7/9 retention-play twins' messages, oracle and flag layer, 8 the persona drift. Features added later draw from new
streams, so the worlds they leave alone stay byte-identical.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from pintel.catalog import load_catalog
from pintel.simulate.actions import Actions
from pintel.simulate.config import INCIDENT_AT, SimConfig
from pintel.simulate.defects import format_timestamps
from pintel.simulate.drift import price_change, shift_personas
from pintel.simulate.dynamics import TREATMENT_DAY, Draws, State, StepOut, World
from pintel.simulate.emit import DayBatch, DayOutcome, Emitter, Experiment, Incidents
from pintel.simulate.events import DAY_MS, EventFactory
from pintel.simulate.flags import FlagLayer, Noise
from pintel.simulate.oracle import OracleJob, oracle_job
from pintel.simulate.plays import TWIN_FLAG_STREAM, TWIN_ORACLE_STREAM, TWIN_STREAM, PlayTwins
from pintel.simulate.population import Population, draw_population
from pintel.simulate.truth import write_truth
from pintel.simulate.worker import OracleProcess
from pintel.simulate.writer import BatchWriter

FLAG_STREAM = 5


# Runs from this many user-days (users x days) on run the churn oracle in its worker process (see
# :mod:`pintel.simulate.worker`); smaller runs, the tests' among them, do not pay for starting it. Measured on
# a busy 2-core box (BENCHMARKS.md): 12 500 x 180 gains (main thread 25-35 -> 12 CPU s), 2 500 x 90 does not
# (its oracle is ~1 CPU s, the worker costs ~1.4).
ORACLE_PROCESS_FROM = 1_000_000


class _Inline:
    """Runs each oracle job at once, on the simulating thread."""

    def __init__(self, world: World):
        self.world = world

    def submit(self, job: OracleJob) -> Future:
        future: Future = Future()
        future.set_result(job.run(self.world))
        return future

    def shutdown(self, cancel: bool = False) -> None:
        pass


class _Threaded(_Inline):
    """Runs the oracle jobs on a thread of their own (NumPy releases the GIL; worth it with a third core)."""

    def __init__(self, world: World):
        super().__init__(world)
        self.pool = ThreadPoolExecutor(max_workers=1)

    def submit(self, job: OracleJob) -> Future:
        return self.pool.submit(job.run, self.world)

    def shutdown(self, cancel: bool = False) -> None:
        self.pool.shutdown(cancel_futures=cancel)


def _rng(seed: int, stream: int, day: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream, day]))


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
    free_at_risk: list[int] = field(default_factory=list)  # live free-plan users before the day's step
    free_quits: list[int] = field(default_factory=list)  # ... of whom churned that day (latent)
    free_hazard_unshifted: list[float] = field(default_factory=list)  # ... their summed hazard without the drift
    upgrade_probability: list[np.ndarray] = field(default_factory=list)  # per snapshot, beside ``snapshots``
    messages: int = 0


class Simulation:
    def __init__(self, cfg: SimConfig, out_dir: Path, actions: Actions | None = None):
        self.cfg = cfg
        self.actions = actions or Actions()
        self.out = Path(out_dir)
        self.catalog = load_catalog()
        self.pop: Population = draw_population(cfg, _rng(cfg.seed, 0))
        if "persona_shift" in cfg.drift:
            shift_personas(cfg, self.pop)
        n = self.pop.n
        self.n = n
        new = np.flatnonzero(self.pop.signup_day >= 0)
        self.cohort = new[self.pop.signup_day[new] + TREATMENT_DAY < cfg.days]
        self.plays = PlayTwins(self.actions.plays, n, n + len(self.cohort), cfg.days, cfg.retention_play_days)
        self.state = State.empty(np.r_[np.arange(n), self.cohort, self.plays.users])
        self.world = World(
            self.pop,
            cfg.dynamics,
            cfg.start.weekday(),
            cfg.causal_setting == "unobserved",
            price_change=price_change(cfg),
            play_multiplier=cfg.retention_play_hazard_multiplier,
        )
        self.factory = EventFactory(self.catalog, cfg.days, cfg.seed)
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
        # The world without retention plays, for the oracle's draws and the plays' counterfactual (the same
        # arrays when there are no plays).
        self.last_valid_base = self.last_valid.copy() if len(self.plays) else self.last_valid
        self.valid_cancel_day_base = self.valid_cancel_day.copy() if len(self.plays) else self.valid_cancel_day
        self.experiment = self._setup_experiment()
        self.incidents = self._setup_incidents()
        self.emitter = Emitter(
            cfg, self.pop, self.catalog, self.factory, self.experiment, self.incidents, np.arange(n), self.start_ms
        )
        if len(self.plays):
            self.plays.emitter = Emitter(
                cfg,
                self.pop,
                self.catalog,
                self.factory,
                self.experiment,
                self.incidents,
                self.plays.users,
                self.start_ms,
                id_tag="r",
            )
        self.flags = FlagLayer(cfg, self.pop.platform, self.factory, self.start_ms, self.actions)
        self.events = BatchWriter(self.out, "events", cfg.fmt, "properties")
        self.identifies = BatchWriter(self.out, "identifies", cfg.fmt, "traits", hours=24)
        # The churn oracle's Monte Carlo paths run beside the simulation: in a worker process on large runs;
        # else on a thread when a third core is free (the writer thread has the second, and on two cores a
        # third thread only adds GIL hand-offs: ~20 % more CPU and no shorter wall time at 2 500 x 90).
        if cfg.oracle_draws > 0 and cfg.users * cfg.days >= ORACLE_PROCESS_FROM:
            self._oracle_pool: _Inline | OracleProcess = OracleProcess(self.world)
        else:
            self._oracle_pool = _Threaded(self.world) if len(os.sched_getaffinity(0)) >= 3 else _Inline(self.world)
        self._oracle: list[Callable[[], tuple]] = []

    # ----------------------------------------------------------------- setup
    def _setup_experiment(self) -> Experiment:
        cfg = self.cfg
        start = int(cfg.days * cfg.experiment_start_fraction)
        span = min(cfg.experiment_exposure_days, cfg.days - cfg.experiment_window_days - start)
        rng = _rng(cfg.seed, 3)
        n = self.n
        variant = (rng.random(n) < 0.5).astype(np.int8)  # 1 = treatment
        u_conv = rng.random(n)
        conv_offset = rng.integers(0, cfg.experiment_window_days, n)
        logged = ~((variant == 1) & (rng.random(n) < cfg.srm_loss))
        return Experiment(start, start + max(span, 1), variant, u_conv, conv_offset, logged)

    def _setup_incidents(self) -> Incidents:
        d = self.cfg.days
        on = self.cfg.incidents
        return Incidents(
            outage_day=round(d * INCIDENT_AT["android_outage"]) if on else None,
            bug_day=round(d * INCIDENT_AT["tracking_bug"]) if on else None,
            spike_day=self.pop.spike_day,
            outage_u=_rng(self.cfg.seed, 4).random(self.n),
        )

    # ------------------------------------------------------------------ loop
    def run(self, progress: bool = True) -> dict:
        cfg = self.cfg
        try:
            for day in tqdm(range(cfg.days), desc="simulating days", unit="day", disable=not progress):
                self._day(day)
                self.events.flush(before_ms=self.start_ms + (day + 1) * DAY_MS)
                self.identifies.flush(before_ms=self.start_ms + day * DAY_MS)
            self.events.flush()
            self.identifies.flush()
            self._collect_oracle()
        except BaseException:
            self._oracle_pool.shutdown(cancel=True)  # no orphaned worker
            raise
        self._adopt_twins()
        return write_truth(self)

    def _adopt_twins(self) -> None:
        """After a replay: a treated user's real world is the twin's once diverged (the truth reads these)."""
        p = self.plays
        j = np.flatnonzero(p.diverged)
        if len(j) == 0 or p.emitter is None:
            return
        u, r = p.users[j], p.rows[j]
        self.quit_day[u], self.quit_kind[u], self.adopt_day[u] = (
            p.twin_quit_day[j],
            p.twin_quit_kind[j],
            p.twin_adopt_day[j],
        )
        self.state.plan[u] = self.state.plan[r]
        for name in ("exposed_day", "p_conv", "conv_first_active"):
            getattr(self.emitter, name)[u] = getattr(p.emitter, name)[j]

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
        if len(self.plays):
            self.plays.start(day, state, self.quit_day, self.quit_kind, self.adopt_day)
        if self.is_snapshot(day):
            self._snapshot(day)
        tenure = day - pop.signup_day[state.user]
        deciding = np.flatnonzero((state.present & state.alive & ~state.decided & (tenure == 7))[:n])
        self.propensity[deciding] = self.world.propensity(state, deciding)
        at_risk = (state.present & state.alive & (state.plan == 0) & (tenure >= 1))[:n]
        draws = Draws.draw(rng, n)
        parts = [draws, draws.take(self.cohort)]
        if len(self.plays):
            parts.append(draws.take(self.plays.users))
        out = self.world.step(state, day, Draws.concat(parts))
        rows = n + len(self.cohort)
        self.y30 |= (out.active & (tenure >= 30) & (tenure < 37))[:rows]
        self.y60 |= (out.active & (tenure >= 60) & (tenure < 67))[:rows]
        self.adopt_day[np.flatnonzero(out.key_adopt[:n])] = day
        quit_rows = np.flatnonzero((out.cancel | out.quit_silent)[:n])
        self.rec.free_at_risk.append(int(at_risk.sum()))
        self.rec.free_quits.append(int(at_risk[quit_rows].sum()))
        self.rec.free_hazard_unshifted.append(float(out.hazard_unshifted[:n][at_risk].sum()))
        self.quit_day[quit_rows] = day
        self.quit_kind[quit_rows] = np.where(out.cancel[quit_rows], "cancelled", "silent")
        if len(self.plays):
            self.plays.track(day, state, out, self.emitter)
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
        """Queue the day's oracle (inline, on a thread or in the worker); its copy of the state is taken now."""
        w, cfg = self.cfg.churn_inactivity_days, self.cfg
        # Drawn for the base world's eligible users, so a replay's plays cannot shift anyone else's draws.
        eligible = np.flatnonzero((self.last_valid_base >= day - w) & (self.valid_cancel_day_base < 0))
        base = self._oracle_pool.submit(
            oracle_job(self.state, eligible, day, cfg.churn_horizon_days, cfg.oracle_draws, _rng(cfg.seed, 2, day))
        )
        plan = self.state.plan[eligible].copy()
        if not len(self.plays):
            self._oracle.append(lambda: (day, eligible, *base.result(), plan))
            return
        started = np.zeros(self.n, bool)
        started[self.plays.users[self.plays.started]] = True
        keep = ~started[eligible]
        real = np.flatnonzero((self.last_valid >= day - w) & (self.valid_cancel_day < 0) & started)
        rows = self.plays.rows[self.plays.index[real]]
        twin = self._oracle_pool.submit(
            oracle_job(
                self.state, rows, day, cfg.churn_horizon_days, cfg.oracle_draws, _rng(cfg.seed, TWIN_ORACLE_STREAM, day)
            )
        )
        users = np.r_[eligible[keep], real]
        order = np.argsort(users, kind="stable")
        plan = np.r_[plan[keep], self.state.plan[rows]][order]

        def merged() -> tuple:
            (prob, upgrade), (twin_prob, twin_upgrade) = base.result(), twin.result()
            prob = np.r_[prob[keep], twin_prob][order]
            upgrade = np.r_[upgrade[keep], twin_upgrade][order]
            return day, users[order], prob, upgrade, plan

        self._oracle.append(merged)

    def _collect_oracle(self) -> None:
        """Wait for every queued oracle and record the snapshots in day order (re-raising a failure)."""
        for finish in self._oracle:
            day, eligible, prob, upgrade, plan = finish()
            self.rec.snapshots.append((day, eligible, prob, plan))
            self.rec.upgrade_probability.append(upgrade)
        self._oracle = []
        self._oracle_pool.shutdown()

    # ---------------------------------------------------------------- events
    def _emit(self, day: int, rng: np.random.Generator, out: StepOut) -> None:
        act = np.flatnonzero(out.active[: self.n])
        batch = self.emitter.emit(day, rng, DayOutcome.of(out, self.state, act, act), self.seq)
        self.seq += len(batch.user)
        noise = Noise.draw(_rng(self.cfg.seed, FLAG_STREAM, day), len(batch.user))
        if len(self.plays):
            valid = batch.reason < 0
            self._note_valid(day, batch.user, batch.code, valid, self.last_valid_base, self.valid_cancel_day_base)
            self.plays.record_base(day, batch.user, valid)
            drop = self.plays.diverged_user
            keep = ~drop[batch.user]
            batch, noise = batch.without_users(drop), noise.take(np.flatnonzero(keep))
            twin_out = self.plays.outcome(self.state, out)
            if twin_out is not None and self.plays.emitter is not None:
                twin_rng = _rng(self.cfg.seed, TWIN_STREAM, day)
                twin = self.plays.emitter.emit(day, twin_rng, twin_out, self.plays.seq)
                self.plays.seq += len(twin.user)
                batch = _concat(batch, twin)
                noise = Noise.concat([noise, Noise.draw(_rng(self.cfg.seed, TWIN_FLAG_STREAM, day), len(twin.user))])
        self._write(day, batch, noise)

    def _note_valid(self, day, user, code, valid, last_valid, cancel_day) -> np.ndarray:
        valid_users = np.unique(user[valid])
        cancel_users = user[valid & (code == self.factory.code["subscription_cancelled"])]
        cancel_day[cancel_users] = np.where(cancel_day[cancel_users] < 0, day, cancel_day[cancel_users])
        last_valid[valid_users] = day
        return valid_users

    def _write(self, day: int, batch: DayBatch, noise: Noise) -> None:
        valid = batch.reason < 0
        table, code, extras, e_recv, e_ts, e_user = self.flags.apply(
            day, batch.table, batch.user, batch.ts, batch.received, batch.code, valid, noise
        )
        dup_table = table.take(pa.array(batch.dup))
        dup_table = dup_table.set_column(
            dup_table.schema.get_field_index("receivedAt"), "receivedAt", format_timestamps(batch.redelivered)
        )
        self.events.add(pa.concat_tables([table, dup_table, extras]), np.r_[batch.received, batch.redelivered, e_recv])
        if batch.identifies is not None and batch.identifies.num_rows:
            self.identifies.add(batch.identifies, batch.identify_received)
        for name, users in batch.dropped.items():
            self.incidents.dropped[name] = self.incidents.dropped.get(name, 0) + len(users)
        # Truth: what is valid is what the warehouse must count.
        valid_users = self._note_valid(day, batch.user, code, valid, self.last_valid, self.valid_cancel_day)
        rec = self.rec
        rec.active_day.append(np.full(len(valid_users), day, np.int32))
        rec.active_user.append(valid_users.astype(np.int32))
        rec.valid_events.append(int(valid.sum()) + len(e_user))
        rec.signups.append(int(np.unique(batch.user[valid & (code == self.factory.code["signed_up"])]).size))
        rec.defect_seq.append(batch.seq[~valid])
        rec.defect_reason.append(batch.reason[~valid].astype(np.int8))
        rec.duplicate_seq.append(batch.seq[batch.dup])
        rec.messages += len(batch.user) + len(batch.dup) + len(e_user)
        day_ms = self.start_ms + day * DAY_MS
        hours = ((np.r_[batch.ts[valid], e_ts] - day_ms) // 3_600_000).astype(np.int64)
        rec.hourly_events.append(np.bincount(hours, minlength=24))


def _concat(a: DayBatch, b: DayBatch) -> DayBatch:
    """Two emitters' batches as one (b's redeliveries re-indexed)."""
    ids = [t for t in (a.identifies, b.identifies) if t is not None]
    return DayBatch(
        table=pa.concat_tables([a.table, b.table]),
        user=np.r_[a.user, b.user],
        ts=np.r_[a.ts, b.ts],
        received=np.r_[a.received, b.received],
        code=np.r_[a.code, b.code],
        seq=np.r_[a.seq, b.seq],
        reason=np.r_[a.reason, b.reason],
        dup=np.r_[a.dup, b.dup + len(a.user)],
        redelivered=np.r_[a.redelivered, b.redelivered],
        identifies=pa.concat_tables(ids) if ids else None,
        identify_user=np.r_[a.identify_user, b.identify_user],
        identify_received=np.r_[a.identify_received, b.identify_received],
        dropped={k: np.r_[a.dropped.get(k, []), b.dropped.get(k, [])] for k in {*a.dropped, *b.dropped}},
    )
