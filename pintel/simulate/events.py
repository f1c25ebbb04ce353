"""Turning one day of latent activity into Segment-spec ``track`` messages, vectorised with numpy and pyarrow.

Sessions follow an hour-of-day curve in each user's local time; within a session events are seconds to
minutes apart, so a 30-minute inactivity rule separates sessions. The event mix of a session is drawn from
the user's persona and the features the user has adopted. Special events (signup, tickets, plan moves,
cancellation, experiment exposure and conversion, first use of a feature) ride in the day's first session.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pintel.catalog import Catalog
from pintel.simulate.config import (
    COUNTRIES,
    COUNTRY_UTC_OFFSET_HOURS,
    LIBRARIES,
    PAGE_PATHS,
    PERSONAS,
    PLATFORMS,
)
from pintel.simulate.strings import repeat_string

DAY_MS = 86_400_000
RELEASE_EVERY_DAYS = 21
# Local-time hour-of-day curve of session starts: a working-day double hump, quiet nights.
LOCAL_HOUR_WEIGHTS = np.array(
    [
        0.3,
        0.2,
        0.15,
        0.15,
        0.2,
        0.4,
        0.9,
        1.8,
        3.2,
        4.4,
        4.8,
        4.5,
        3.6,
        4.0,
        4.5,
        4.3,
        3.8,
        3.0,
        2.2,
        1.8,
        1.6,
        1.3,
        0.9,
        0.5,
    ]
)
FEATURE_POPULARITY = {
    "dashboards": 6.0,
    "reports": 3.0,
    "charts": 2.0,
    "data_sources": 5.0,
    "filters": 2.0,
    "sharing": 1.5,
    "comments": 1.5,
    "exports": 1.2,
}


@dataclass
class Special:
    """A batch of special events: user rows, event names and preformatted JSON properties."""

    rows: np.ndarray
    events: list[str]
    props: list[str]


def app_version_index(day: int, lag: np.ndarray) -> np.ndarray:
    return np.maximum(0, (day - lag + 2 * RELEASE_EVERY_DAYS) // RELEASE_EVERY_DAYS)


def app_version_label(index: int) -> str:
    return f"{5 + index // 10}.{index % 10}.0"


class EventFactory:
    """Precomputed lookup tables so a day's events are built with array operations only."""

    def __init__(self, catalog: Catalog, days: int, seed: int):
        self.catalog = catalog
        self.event_names = list(catalog.events)
        self.code = {name: i for i, name in enumerate(self.event_names)}
        self.features = catalog.features
        self.feature_codes = np.array([self.code[f.event_name] for f in self.features], dtype=np.int16)
        self.key_index = next(i for i, f in enumerate(self.features) if f.is_key_feature)
        self.seed = seed
        popularity = np.array([FEATURE_POPULARITY.get(f.key, 1.0) for f in self.features])
        cat_weights = np.array([[p.category_weights.get(f.category, 0.15) for f in self.features] for p in PERSONAS])
        self.usage_weight = cat_weights * popularity  # persona x feature
        adoption = np.array([p.adoption_multiplier for p in PERSONAS])[:, None]
        self.adoption_rate = adoption * (0.3 + cat_weights) * np.sqrt(popularity)  # persona x feature
        self.sessions_lambda = np.array([p.sessions_lambda for p in PERSONAS])
        self.events_lambda = np.array([p.events_lambda for p in PERSONAS])
        self.n_versions = app_version_index(days + 1, np.zeros(1, np.int32))[0] + 1
        contexts = []
        for p, platform in enumerate(PLATFORMS):
            for v in range(self.n_versions):
                for country in COUNTRIES:
                    contexts.append(
                        json.dumps(
                            {
                                "platform": platform,
                                "app": {"version": app_version_label(v)},
                                "location": {"country": country},
                                "library": {"name": LIBRARIES[p]},
                            },
                            separators=(",", ":"),
                        )
                    )
        self.contexts = pa.array(contexts, pa.string())
        self.context_platform = np.repeat(np.arange(len(PLATFORMS)), self.n_versions * len(COUNTRIES))
        hour_cdf = np.cumsum(LOCAL_HOUR_WEIGHTS / LOCAL_HOUR_WEIGHTS.sum())
        self.hour_cdf = hour_cdf
        self.country_offset = np.asarray(COUNTRY_UTC_OFFSET_HOURS)
        self.path_props = pa.array([json.dumps({"path": p}, separators=(",", ":")) for p in PAGE_PATHS])

    def context_index(self, day: int, platform: np.ndarray, country: np.ndarray, lag: np.ndarray) -> np.ndarray:
        version = np.minimum(app_version_index(day, lag), self.n_versions - 1)
        return (platform.astype(np.int64) * self.n_versions + version) * len(COUNTRIES) + country

    def build_day(
        self,
        rng: np.random.Generator,
        day: int,
        day_start_ms: int,
        users: np.ndarray,
        persona: np.ndarray,
        engagement: np.ndarray,
        country: np.ndarray,
        adopted: np.ndarray,
        first_second: np.ndarray,
        specials: list[Special],
    ) -> dict[str, np.ndarray]:
        """Events of the active users of one day, as parallel arrays (strings are built later).

        ``users``/``persona``/``engagement``/``country``/``adopted``/``first_second`` are per active user; the
        ``rows`` of each :class:`Special` index into them.
        """
        n_users = len(users)
        lam_s = self.sessions_lambda[persona] * np.exp(0.3 * engagement)
        n_sess = 1 + np.minimum(rng.poisson(lam_s), 4)
        sess_user = np.repeat(np.arange(n_users), n_sess)
        first_of_user = np.r_[0, np.cumsum(n_sess)[:-1]]
        local_hour = np.searchsorted(self.hour_cdf, rng.random(len(sess_user)) * self.hour_cdf[-1])
        utc_hour = (local_hour - self.country_offset[country[sess_user]]) % 24
        sess_start = (utc_hour * 3600 + rng.integers(0, 3600, len(sess_user))).astype(np.int64)
        forced_start = first_second >= 0
        sess_start[first_of_user[forced_start]] = first_second[forced_start]
        lam_e = self.events_lambda[persona[sess_user]] * np.exp(0.25 * engagement[sess_user])
        n_extra = np.minimum(rng.poisson(lam_e), 60)
        n_ev = 1 + n_extra
        ev_sess = np.repeat(np.arange(len(sess_user)), n_ev)
        ev_user = sess_user[ev_sess]
        pos = np.arange(len(ev_sess)) - np.repeat(np.r_[0, np.cumsum(n_ev)[:-1]], n_ev)
        gaps = np.minimum(rng.exponential(40_000.0, len(ev_sess)), 1_500_000.0).astype(np.int64)
        gaps[pos == 0] = 0
        cum_gaps = np.cumsum(gaps)
        within = cum_gaps - np.repeat(cum_gaps[np.r_[0, np.cumsum(n_ev)[:-1]]], n_ev)
        within += rng.integers(0, 1000, len(ev_sess)) * (pos > 0)
        # A session that would run past midnight starts earlier instead: events keep distinct times and the
        # day they were simulated on stays their UTC day.
        length = np.maximum.reduceat(within, np.r_[0, np.cumsum(n_ev)[:-1]]) if len(within) else within
        latest_start = (DAY_MS - 2_000 - length * 1) // 1000
        sess_start = np.maximum(0, np.minimum(sess_start, latest_start))
        offset_ms = sess_start[ev_sess] * 1000 + within
        # Event type: app_opened first; then page views, searches and the user's adopted features.
        weights = np.concatenate(
            [
                np.full((n_users, 1), 4.0),
                np.full((n_users, 1), 1.5),
                self.usage_weight[persona] * adopted,
            ],
            axis=1,
        )
        cum = np.cumsum(weights, axis=1)
        draw = rng.random(len(ev_sess)) * cum[ev_user, -1]
        # How many of the user's cumulative weights lie below the draw, one weight column at a time (a gather
        # from a small column is cheaper than a (events x kinds) matrix and a row sum).
        choice = np.zeros(len(draw), np.int64)
        for column in np.ascontiguousarray(cum.T):
            choice += column[ev_user] < draw
        type_codes = np.r_[self.code["page_viewed"], self.code["search_performed"], self.feature_codes]
        code = type_codes[np.minimum(choice, len(type_codes) - 1)].astype(np.int16)
        code[pos == 0] = self.code["app_opened"]
        int_value = np.full(len(ev_sess), -1, np.int64)
        is_feature = np.isin(code, self.feature_codes)
        int_value[is_feature] = np.round(rng.lognormal(9.0, 1.0, int(is_feature.sum()))).astype(np.int64)
        is_search = code == self.code["search_performed"]
        int_value[is_search] = rng.integers(1, 40, int(is_search.sum()))
        path_index = np.where(code == self.code["page_viewed"], rng.integers(0, len(PAGE_PATHS), len(code)), -1)
        special_props: list[str] = []

        # Special events: placed a few seconds after the start of the user's first session.
        if specials:
            s_rows = np.concatenate([s.rows for s in specials])
            s_events = np.array([e for s in specials for e in s.events], dtype=object)
            s_props = np.array([p for s in specials for p in s.props], dtype=object)
            order = np.argsort(s_rows, kind="stable")
            s_rows, s_events, s_props = s_rows[order], s_events[order], s_props[order]
            rank = np.arange(len(s_rows)) - np.searchsorted(s_rows, s_rows, side="left")
            s_offset = sess_start[first_of_user[s_rows]] * 1000 + 1000 + 4000 * rank
            s_code = np.array([self.code[e] for e in s_events], dtype=np.int16)
            ev_user = np.concatenate([ev_user, s_rows])
            offset_ms = np.concatenate([offset_ms, s_offset])
            code = np.concatenate([code, s_code])
            int_value = np.concatenate([int_value, np.full(len(s_rows), -1, np.int64)])
            path_index = np.concatenate([path_index, np.full(len(s_rows), -1)])
            special_props = list(s_props)
        offset_ms = np.minimum(offset_ms, DAY_MS - 1)
        n_regular = len(code) - len(special_props)
        return {
            "user_row": ev_user,
            "ts_ms": day_start_ms + offset_ms,
            "code": code,
            "props": self.properties(code[:n_regular], int_value[:n_regular], path_index[:n_regular], special_props),
        }

    def properties(
        self, code: np.ndarray, int_value: np.ndarray, path_index: np.ndarray, special: list[str]
    ) -> pa.Array:
        """JSON properties per event; the few special events come preformatted last.

        Each kind of row (page view, search, feature use, the rest) gets its JSON built for its own rows only,
        and one ``take`` puts them back in row order: two passes over the day's strings instead of seven.
        """
        is_path = path_index >= 0
        is_search = (code == self.code["search_performed"]) & ~is_path
        is_feature = np.isin(code, self.feature_codes) & ~is_search & ~is_path
        groups = [np.flatnonzero(is_feature), np.flatnonzero(is_search), np.flatnonzero(is_path)]
        groups.append(np.flatnonzero(~(is_feature | is_search | is_path)))

        def ints(rows: np.ndarray) -> pa.Array:
            return pc.cast(pa.array(np.maximum(int_value[rows], 0)), pa.string())

        parts = [
            pc.binary_join_element_wise('{"duration_ms":', ints(groups[0]), "}", ""),
            pc.binary_join_element_wise('{"query_length":', ints(groups[1]), "}", ""),
            self.path_props.take(pa.array(path_index[groups[2]])),
            repeat_string("{}", len(groups[3])),
            pa.array(special, pa.string()),
        ]
        n = len(code)
        position = np.empty(n + len(special), np.int64)
        position[np.concatenate(groups)] = np.arange(n)
        position[n:] = np.arange(n, n + len(special))
        return pa.concat_arrays([part.cast(pa.string()) for part in parts]).take(pa.array(position))
