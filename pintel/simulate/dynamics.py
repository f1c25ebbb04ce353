"""The latent world, one day at a time: engagement drift, activity, tickets, plan moves, adoption and churn.

One vectorised ``step`` advances any set of rows by one day. The same function drives the real users, their
counterfactual twins (for the causal truth, with common random numbers) and the Monte Carlo paths of the
churn oracle, so the truth is computed from exactly the model that produced the data.

Design rule that keeps the oracle cheap and exact in expectation: nothing latent depends on *unforced*
activity, except the early-adoption decision (which reads the first week's active days). Days a user is
forced to be active (signup, ticket, plan move, key-feature adoption, cancellation) are flagged, so the
probability of "no activity in the horizon" given a latent path is a product of per-day probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pintel.simulate.config import PERSONAS, Dynamics
from pintel.simulate.population import Population

TICKET_WINDOW = 28
EARLY_WINDOW = 7
TREATMENT_DAY = 14


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))``, in one buffer (the same float operations, without three temporaries)."""
    if not isinstance(x, np.ndarray) or x.ndim == 0 or x.dtype.kind != "f":
        return 1.0 / (1.0 + np.exp(-x))
    out = np.negative(x)
    np.exp(out, out=out)
    np.add(out, 1.0, out=out)
    return np.divide(1.0, out, out=out)


@dataclass
class State:
    """Mutable per-row latent state. ``user`` maps a row to its population index (twins share it)."""

    user: np.ndarray
    present: np.ndarray
    alive: np.ndarray
    cancelled: np.ndarray
    e: np.ndarray
    plan: np.ndarray
    tickets: np.ndarray  # (TICKET_WINDOW, rows) ring buffer of daily ticket counts
    ticket_sum: np.ndarray
    key_adopted: np.ndarray
    key_pending_day: np.ndarray
    early_days: np.ndarray
    decided: np.ndarray
    play_until: np.ndarray  # a retention play lowers the hazard on days < play_until (-1: none)

    @classmethod
    def empty(cls, users: np.ndarray) -> State:
        n = len(users)
        return cls(
            user=users.astype(np.int64),
            present=np.zeros(n, bool),
            alive=np.zeros(n, bool),
            cancelled=np.zeros(n, bool),
            e=np.zeros(n, np.float32),
            plan=np.zeros(n, np.int8),
            tickets=np.zeros((TICKET_WINDOW, n), np.int8),
            ticket_sum=np.zeros(n, np.int16),
            key_adopted=np.zeros(n, bool),
            key_pending_day=np.full(n, -1, np.int32),
            early_days=np.zeros(n, np.int8),
            decided=np.zeros(n, bool),
            play_until=np.full(n, -1, np.int32),
        )

    def take(self, rows: np.ndarray) -> State:
        """A copy of some rows (used to start twins and oracle paths)."""
        return State(
            user=self.user[rows].copy(),
            present=self.present[rows].copy(),
            alive=self.alive[rows].copy(),
            cancelled=self.cancelled[rows].copy(),
            e=self.e[rows].copy(),
            plan=self.plan[rows].copy(),
            tickets=self.tickets[:, rows].copy(),
            ticket_sum=self.ticket_sum[rows].copy(),
            key_adopted=self.key_adopted[rows].copy(),
            key_pending_day=self.key_pending_day[rows].copy(),
            early_days=self.early_days[rows].copy(),
            decided=self.decided[rows].copy(),
            play_until=self.play_until[rows].copy(),
        )

    def put(self, rows: np.ndarray, other: State) -> None:
        for name in self.__dataclass_fields__:
            target = getattr(self, name)
            if name == "tickets":
                target[:, rows] = other.tickets
            else:
                target[rows] = getattr(other, name)


@dataclass
class Draws:
    """All random numbers one row needs for one day; twins receive copies of their original's draws."""

    z: np.ndarray
    u_act: np.ndarray
    u_churn: np.ndarray
    u_kind: np.ndarray
    u_ticket: np.ndarray
    u_plan: np.ndarray
    u_key: np.ndarray
    u_early: np.ndarray
    u_offset: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int) -> Draws:
        u = rng.random((8, n), dtype=np.float32)
        z = rng.standard_normal(n, dtype=np.float32)
        return cls(z, *u)

    def take(self, rows: np.ndarray) -> Draws:
        return Draws(*(getattr(self, name)[rows] for name in self.__dataclass_fields__))

    @classmethod
    def concat(cls, parts: list[Draws]) -> Draws:
        return cls(*(np.concatenate([getattr(p, n) for p in parts]) for n in cls.__dataclass_fields__))


@dataclass
class StepOut:
    """What happened to each row on the day."""

    p_act: np.ndarray
    forced: np.ndarray
    active: np.ndarray
    feedback: np.ndarray
    cancel: np.ndarray
    quit_silent: np.ndarray
    returning: np.ndarray
    ticket: np.ndarray
    upgrade: np.ndarray
    downgrade: np.ndarray
    key_adopt: np.ndarray
    signup: np.ndarray
    hazard_unshifted: np.ndarray  # the day's churn hazard before the planted multipliers (drift, plays)
    p_upgrade_free: np.ndarray  # the day's upgrade probability from the engagement alone (as if on a lower plan)


class World:
    """Static parameters bound to a population, with the vectorised daily transition."""

    def __init__(
        self,
        pop: Population,
        dyn: Dynamics,
        start_weekday: int,
        unobserved_confounding: bool,
        price_change: tuple[int, float] | None = None,
        play_multiplier: float = 1.0,
    ):
        self.pop = pop
        self.dyn = dyn
        self.start_weekday = start_weekday
        self.unobserved = unobserved_confounding
        self.persona_ticket = np.array([p.ticket_shift for p in PERSONAS], dtype=np.float32)
        self.price_change = price_change  # (from day, hazard multiplier on the free plan)
        self.play_multiplier = play_multiplier

    def init_rows(self, state: State, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Bring rows into the world: pre-existing users at day 0, new users on their signup day."""
        users = state.user[rows]
        pop, dyn = self.pop, self.dyn
        stationary_sd = dyn.engagement_sigma / np.sqrt(1 - dyn.engagement_phi**2)
        state.present[rows] = True
        state.alive[rows] = True
        state.e[rows] = pop.mu[users] + rng.normal(0, stationary_sd, len(rows)).astype(np.float32)
        state.plan[rows] = pop.plan0[users]
        pre = pop.signup_day[users] < 0
        # Pre-existing users arrive with their early decision long made; some already use the key feature.
        state.decided[rows] = pre
        p_key = 0.12 + 0.25 * sigmoid(pop.mu[users])
        state.key_adopted[rows] = pre & (rng.random(len(rows)) < p_key)

    def propensity(self, state: State, rows: np.ndarray) -> np.ndarray:
        """True probability of adopting the key feature in days 7-13, from what is observable by day 7.

        With ``unobserved_confounding`` the latent engagement enters too, which no adjustment can see.
        """
        pop, dyn = self.pop, self.dyn
        users = state.user[rows]
        logit = (
            dyn.propensity_intercept
            + dyn.propensity_early_days * (state.early_days[rows] - 3.0)
            + np.asarray(dyn.propensity_plan)[pop.plan0[users]]
            + np.asarray(dyn.propensity_size)[pop.size[users]]
            + np.asarray(dyn.propensity_channel)[pop.channel[users]]
        )
        if self.unobserved:
            logit = logit + dyn.propensity_latent * (state.e[rows] - pop.mu[users])
        return sigmoid(logit)

    def _hazard_shifts(self, state: State, day: int, hazard: np.ndarray) -> np.ndarray:
        """Planted multipliers on the daily churn hazard: a price change on the free plan, retention plays."""
        if self.price_change is not None and day >= self.price_change[0]:
            hazard = np.where(state.plan == 0, np.minimum(1.0, hazard * self.price_change[1]), hazard)
        played = state.play_until > day
        if played.any():
            hazard = np.where(played, hazard * self.play_multiplier, hazard)
        return hazard

    def _per_row(self, state: State) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each row's signup day, mean engagement and persona ticket shift, gathered once per state.

        A row's user never changes, and the oracle steps the same 32 x eligible paths 30 times a snapshot.
        """
        cached = state.__dict__.get("_per_row")
        if cached is None or cached[0] is not state.user:
            users = state.user
            cached = (
                users,
                self.pop.signup_day[users],
                self.pop.mu[users],
                self.persona_ticket[self.pop.persona[users]],
            )
            state.__dict__["_per_row"] = cached
        return cached[1], cached[2], cached[3]

    def step(self, state: State, day: int, draws: Draws) -> StepOut:
        dyn = self.dyn
        signup_day, mu, persona_ticket = self._per_row(state)
        tenure = day - signup_day
        # Silent quitters are dormant, not gone: a few come back each day (resurrected users).
        returning = state.present & ~state.alive & ~state.cancelled & (draws.u_kind < dyn.return_rate)
        state.alive |= returning
        state.e[returning] = mu[returning]
        live = state.present & state.alive
        signup = state.present & (tenure == 0)

        # Early key-feature decision on day 7 of tenure (in-window signups only).
        decide = live & ~state.decided & (tenure == EARLY_WINDOW)
        if decide.any():
            rows = np.flatnonzero(decide)
            adopt = draws.u_early[rows] < self.propensity(state, rows)
            offset = np.minimum((draws.u_offset[rows] * EARLY_WINDOW).astype(np.int32), EARLY_WINDOW - 1)
            state.key_pending_day[rows[adopt]] = day + offset[adopt]
            state.decided[rows] = True

        # Engagement: AR(1) around the user's mean, lifted once the key feature has become a habit.
        key_active = state.key_adopted & (tenure >= TREATMENT_DAY)
        mean = mu + dyn.key_engagement_effect * key_active
        state.e[:] = np.where(
            live, mean + dyn.engagement_phi * (state.e - mean) + dyn.engagement_sigma * draws.z, state.e
        )

        # Churn hazard from engagement, tenure, plan, recent tickets and key-feature use.
        hazard = sigmoid(
            dyn.hazard_intercept
            + dyn.hazard_engagement * state.e
            + dyn.hazard_tenure * np.log1p(np.maximum(tenure, 0) / 30.0)
            + np.asarray(dyn.hazard_plan)[state.plan]
            + dyn.hazard_ticket * state.ticket_sum
            + dyn.hazard_key_feature * key_active
        )
        unshifted = hazard
        hazard = self._hazard_shifts(state, day, hazard)
        churn = live & ~returning & (tenure >= 1) & (draws.u_churn < hazard)
        cancel = churn & (state.plan > 0) & (draws.u_kind < dyn.cancel_share_paid)
        quit_silent = churn & ~cancel
        stays = live & ~churn

        slot = day % TICKET_WINDOW
        state.ticket_sum -= state.tickets[slot]
        p_ticket = sigmoid(dyn.ticket_intercept + dyn.ticket_engagement * state.e + persona_ticket)
        ticket = stays & (draws.u_ticket < p_ticket)
        state.tickets[slot] = ticket
        state.ticket_sum += ticket

        p_upgrade_free = sigmoid(dyn.upgrade_intercept + dyn.upgrade_engagement * state.e)
        p_up = p_upgrade_free * (state.plan < 3)
        p_down = sigmoid(dyn.downgrade_intercept + dyn.downgrade_engagement * state.e) * (state.plan > 0)
        upgrade = stays & (draws.u_plan < p_up)
        downgrade = stays & ~upgrade & (draws.u_plan > 1.0 - p_down)
        state.plan += upgrade.astype(np.int8) - downgrade.astype(np.int8)

        pending = stays & (state.key_pending_day == day)
        natural = stays & ~state.key_adopted & (tenure >= TREATMENT_DAY) & (draws.u_key < dyn.key_natural_adoption)
        key_adopt = pending | natural
        state.key_adopted |= key_adopt
        state.key_pending_day[pending] = -1

        weekday = (self.start_weekday + day) % 7
        p_act = sigmoid(
            state.e
            + dyn.weekday_activity[weekday]
            + dyn.honeymoon_boost * np.exp(-np.maximum(tenure, 0) / dyn.honeymoon_days)
        ).astype(np.float32)
        forced = signup | returning | ticket | upgrade | downgrade | key_adopt | cancel
        forced &= ~quit_silent
        active = (forced | (stays & (draws.u_act < p_act))) & ~quit_silent
        feedback = stays & ~state.decided & (tenure < EARLY_WINDOW)
        state.early_days += (active & (tenure >= 0) & (tenure < EARLY_WINDOW)).astype(np.int8)

        state.alive &= ~churn
        state.cancelled |= cancel
        p_act = np.where(stays, p_act, 0.0).astype(np.float32)
        return StepOut(
            p_act=p_act,
            forced=forced,
            active=active,
            feedback=feedback,
            cancel=cancel,
            quit_silent=quit_silent,
            returning=returning,
            ticket=ticket,
            upgrade=upgrade,
            downgrade=downgrade,
            key_adopt=key_adopt,
            signup=signup,
            hazard_unshifted=unshifted,
            p_upgrade_free=p_upgrade_free,
        )
