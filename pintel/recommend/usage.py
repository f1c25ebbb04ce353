"""The user x feature usage matrix: who had used which catalogued feature before a cut-off date.

Implicit feedback: a user either used a feature before the cut-off or did not (the first-use date is all the
recommender reads), so a heavy user's thousand dashboard views weigh no more than a single first use. That is
what "has not used it yet" means for a recommendation, and it keeps the model from learning event volume
(which the churn model already reads) instead of taste.

Point-in-time: every matrix is built from first uses strictly before ``before``; the evaluation's training
matrix and its inner validation split are built the same way, so what the model saw at training time is
exactly what it sees when it scores.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["UsageMatrix", "first_uses", "usage_matrix"]


@dataclass(frozen=True)
class UsageMatrix:
    """A binary CSR matrix ``X`` (users x features) with its row and column labels."""

    users: np.ndarray
    features: np.ndarray
    X: sp.csr_matrix

    @property
    def popularity(self) -> np.ndarray:
        """Share of the matrix's users who had used each feature (0 for a feature nobody used)."""
        n = max(len(self.users), 1)
        return np.asarray(self.X.sum(axis=0)).ravel() / n

    def used(self) -> np.ndarray:
        """Dense boolean users x features (small: features are a catalogue, tens of columns)."""
        return self.X.toarray().astype(bool)


def first_uses(events: pd.DataFrame) -> pd.DataFrame:
    """``user_id, feature_key, first_used_date`` from rows of ``user_id, feature_key, event_date`` (any order).

    Accepts already-aggregated first uses too (a ``first_used_date`` column), so callers can aggregate in SQL.
    """
    if "first_used_date" in events.columns:
        out = events[["user_id", "feature_key", "first_used_date"]].copy()
    else:
        out = (
            events.dropna(subset=["feature_key"])
            .groupby(["user_id", "feature_key"], as_index=False)["event_date"]
            .min()
            .rename(columns={"event_date": "first_used_date"})
        )
    out["first_used_date"] = pd.to_datetime(out["first_used_date"]).dt.date
    return out


def usage_matrix(
    uses: pd.DataFrame, users: np.ndarray | list[str], features: np.ndarray | list[str], before: dt.date
) -> UsageMatrix:
    """The matrix of ``users`` x ``features`` (catalogue order) from first uses strictly before ``before``.

    Users with no use are all-zero rows (the cold-start rows); uses of users or features outside the lists
    are ignored (an uncatalogued event cannot be recommended).
    """
    users = np.asarray(users, dtype=object)
    features = np.asarray(features, dtype=object)
    user_index = pd.Index(users)
    feature_index = pd.Index(features)
    seen = uses[pd.to_datetime(uses["first_used_date"]).dt.date < before]
    rows = user_index.get_indexer(seen["user_id"])
    cols = feature_index.get_indexer(seen["feature_key"])
    ok = (rows >= 0) & (cols >= 0)
    X = sp.csr_matrix(
        (np.ones(int(ok.sum()), np.float32), (rows[ok], cols[ok])), shape=(len(users), len(features)), dtype=np.float32
    )
    X.data[:] = 1.0  # duplicates summed by the constructor: binary again
    return UsageMatrix(users, features, X)
