"""Seeded synthetic users with planted personas for the segment tests.

Five personas: well separated on average, but with skewed counts (negative binomial / Poisson with lognormal
intensity), overlapping tails and a few missing values, as real behavioural features are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pintel.segments import SegmentResult

PERSONAS = {
    "power": dict(sessions=20, events=30, breadth=12, recency=1, purchases=1.0, mobile=0.4),
    "casual": dict(sessions=3, events=12, breadth=4, recency=6, purchases=0.05, mobile=0.5),
    "dormant": dict(sessions=0.4, events=6, breadth=1, recency=40, purchases=0.01, mobile=0.5),
    "buyer": dict(sessions=6, events=15, breadth=5, recency=3, purchases=4.0, mobile=0.3),
    "mobile": dict(sessions=12, events=5, breadth=3, recency=2, purchases=0.1, mobile=0.95),
}
WEIGHTS = {"power": 0.15, "casual": 0.3, "dormant": 0.25, "buyer": 0.1, "mobile": 0.2}


def make_users(
    n: int = 1500, seed: int = 0, personas: tuple[str, ...] = tuple(PERSONAS)
) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = np.array([WEIGHTS[p] for p in personas])
    truth = rng.choice(len(personas), n, p=weights / weights.sum())
    rows = []
    for t in truth:
        p = PERSONAS[personas[t]]
        rows.append(
            {
                "sessions_per_week": rng.negative_binomial(5, 5 / (5 + p["sessions"])),
                "events_per_session": p["events"] * rng.lognormal(0, 0.35),
                "feature_breadth": rng.poisson(p["breadth"]),
                "days_since_last": rng.gamma(3, p["recency"] / 3),
                "purchases": rng.poisson(p["purchases"] * rng.lognormal(0, 0.5)),
                "share_mobile": rng.beta(p["mobile"] * 20, (1 - p["mobile"]) * 20),
            }
        )
    users = pd.DataFrame(rows, index=pd.Index([f"u{i:05d}" for i in range(n)], name="user_id"))
    users.loc[rng.random(n) < 0.03, "share_mobile"] = np.nan
    return users, truth


def segment_ids_of(res: SegmentResult) -> pd.Series:
    return res.assignments.set_index("user_id")["segment_id"]
