"""Readable segment names from the most distinguishing standardised centroid coordinates.

The two features with the largest |standardised centroid| (at least 0.5 SD) give names such as
"high sessions_per_week, high feature_breadth"; a segment with no such feature is "typical". A PM reads the
name, not the id, so names must be unique: features are added (then the id) when two segments would collide.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["names"]

_NAME_MIN_Z = 0.5


def _name(z: np.ndarray, columns: list[str], n_terms: int) -> str:
    order = sorted(range(len(columns)), key=lambda j: (-abs(z[j]), columns[j]))
    terms = [f"{'high' if z[j] > 0 else 'low'} {columns[j]}" for j in order[:n_terms] if abs(z[j]) >= _NAME_MIN_Z]
    return ", ".join(terms) if terms else "typical"


def names(centers: np.ndarray, columns: list[str], ids: list[int]) -> dict[int, str]:
    """Readable, unique names from the most distinguishing standardised centroid coordinates."""
    names = {seg: _name(centers[i], columns, 2) for i, seg in enumerate(ids)}
    for n_terms in range(3, len(columns) + 1):
        clashes = {n for n in names.values() if list(names.values()).count(n) > 1}
        if not clashes:
            break
        for i, seg in enumerate(ids):
            if names[seg] in clashes:
                names[seg] = _name(centers[i], columns, n_terms)
    counts = pd.Series(list(names.values())).value_counts()
    return {seg: (f"{n} #{seg}" if counts[n] > 1 else n) for seg, n in names.items()}
