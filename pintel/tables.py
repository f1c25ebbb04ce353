"""Column typing shared by the Python models that write warehouse tables."""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd


def nullable_typed(
    frame: pd.DataFrame,
    *,
    text: Collection[str],
    flags: Collection[str],
    counts: Collection[str],
    dates: Collection[str] = (),
) -> pd.DataFrame:
    """Nullable dtypes throughout, so the warehouse table gets real NULLs and stable types even when empty.

    ``text`` -> string, ``flags`` -> boolean, ``counts`` -> Int64, ``dates`` -> datetime; every other column
    is a measurement (Float64).
    """

    def dtype(column: str) -> str:
        if column in text:
            return "string"
        if column in flags:
            return "boolean"
        return "Int64" if column in counts else "Float64"

    frame = frame.copy()
    for column in dates:
        frame[column] = pd.to_datetime(frame[column])
    return frame.astype({c: dtype(c) for c in frame.columns if c not in dates})
