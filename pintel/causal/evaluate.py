"""Score the causal model against the simulator's planted potential outcomes, on the units it analysed.

The simulator writes both potential outcomes of every unit (``ground_truth/causal_units.parquet``), so the true
effect is exact for any subset of units. The estimand of ``causal_feature_impact`` is the effect among users
present at the landmark (the end of the adoption window), so the truth it is judged against is the average
over exactly those units -- not the manifest's all-cohort figure, which includes early leavers whose two
potential outcomes are both "gone".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PlantedEffect:
    """Truth and the naive comparison on one population of units."""

    units: int
    treated: int
    true_ate: float
    true_att: float
    naive_difference: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def planted_effect(planted: pd.DataFrame, horizon: int, users: pd.Series | None = None) -> PlantedEffect:
    """The planted effect on ``horizon``-day retention over units with an observed outcome (and in ``users``).

    Args:
        planted: ``causal_units.parquet`` (``user_id``, ``treated``, ``y{h}_treated``, ``y{h}_control``,
            ``observed_{h}d``).
        users: restrict to these user ids (e.g. the warehouse's ``present_at_landmark`` units); None = all.
    """
    rows = planted[planted[f"observed_{horizon}d"].astype(bool)]
    if users is not None:
        rows = rows[rows["user_id"].isin(set(users))]
    if rows.empty:
        raise ValueError(f"no planted units with an observed {horizon}-day outcome in the given population")
    t = rows["treated"].astype(bool).to_numpy()
    y1 = rows[f"y{horizon}_treated"].astype(float).to_numpy()
    y0 = rows[f"y{horizon}_control"].astype(float).to_numpy()
    y = np.where(t, y1, y0)
    nan = float("nan")
    return PlantedEffect(
        units=len(rows),
        treated=int(t.sum()),
        true_ate=float(np.mean(y1 - y0)),
        true_att=float(np.mean((y1 - y0)[t])) if t.any() else nan,
        naive_difference=float(y[t].mean() - y[~t].mean()) if t.any() and (~t).any() else nan,
    )
