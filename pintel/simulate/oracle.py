"""The churn oracle: the true probability of churning within the horizon given the latent state at a snapshot.

It runs ``draws`` Monte Carlo paths of the very ``World.step`` that generated the data, and Rao-Blackwellises
the activity coin flips: given a latent path, "no activity in the horizon" has probability
``prod(1 - p_active)`` over the days that are not forced, so each path contributes an exact conditional
probability instead of a 0/1 outcome. Thirty-two paths then give a stable probability per user.
"""

from __future__ import annotations

import numpy as np

from pintel.simulate.dynamics import Draws, State, World


def oracle_probability(
    world: World, state: State, rows: np.ndarray, day: int, horizon: int, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """P(cancel in [day, day+horizon) or no activity in [day, day+horizon)) for each row, from its state."""
    if len(rows) == 0:
        return np.zeros(0)
    live = ~state.cancelled[rows]
    out = np.ones(len(rows))  # users who cancelled never come back: churn is certain
    live_rows = rows[live]
    if len(live_rows) == 0 or draws <= 0:
        return out if draws > 0 else np.full(len(rows), np.nan)
    paths = state.take(np.repeat(live_rows, draws))
    n = len(paths.user)
    cancelled = np.zeros(n, bool)
    touched = np.zeros(n, bool)  # forced activity, or sampled activity on days that feed back
    p_none = np.ones(n)
    for t in range(horizon):
        step = world.step(paths, day + t, Draws.draw(rng, n))
        cancelled |= step.cancel
        touched |= step.forced | (step.feedback & step.active)
        p_none *= np.where(step.feedback, 1.0, 1.0 - step.p_act)
    prob = np.where(cancelled, 1.0, np.where(touched, 0.0, p_none))
    out[live] = prob.reshape(len(live_rows), draws).mean(axis=1)
    return out
