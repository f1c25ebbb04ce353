"""Compare two warehouse tables row for row, whatever engine built them (Arrow in, differences out)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa


def _frame(table: pa.Table) -> pd.DataFrame:
    """Plain Python values: UTC-naive timestamps, lists as tuples, integers as int64, floats as float64."""
    frame = table.to_pandas(types_mapper=None)
    for name in frame.columns:
        column = frame[name]
        kind = table.schema.field(name).type
        if pa.types.is_timestamp(kind):
            column = pd.to_datetime(column, utc=True).dt.tz_localize(None)
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            column = column.map(lambda v: None if v is None else tuple(v))
        elif pa.types.is_date(kind):
            column = pd.to_datetime(column)
        elif pa.types.is_integer(kind):
            column = column.astype("Int64")
        elif pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            column = column.astype("float64")
        frame[name] = column
    return frame


def table_differences(expected: pa.Table, actual: pa.Table, name: str, rtol: float = 1e-9) -> list[str]:
    """What differs between two tables of the same model: columns, row count, then rows (in any order).

    Floating-point columns compare within ``rtol`` (sums in another order round differently); everything else
    exactly, nulls included.
    """
    if expected.column_names != actual.column_names:
        return [f"{name}: columns {expected.column_names} != {actual.column_names}"]
    if expected.num_rows != actual.num_rows:
        return [f"{name}: {expected.num_rows} rows != {actual.num_rows}"]
    left, right = _frame(expected), _frame(actual)
    floats = [c for c in left.columns if left[c].dtype == "float64" or right[c].dtype == "float64"]
    keys = [c for c in left.columns if c not in floats]

    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        text = frame[keys].astype(str) if keys else frame.astype(str)
        order = text.assign(**{c: frame[c].round(9).astype(str) for c in floats}).sort_values(list(text.columns))
        return frame.loc[order.index].reset_index(drop=True)

    left, right = ordered(left), ordered(right)
    problems = []
    for column in keys:
        same = (left[column].astype(str) == right[column].astype(str)) | (left[column].isna() & right[column].isna())
        if not same.all():
            row = int(np.flatnonzero(~same.to_numpy())[0])
            example = f"{left[column][row]!r} != {right[column][row]!r}"
            problems.append(f"{name}.{column}: {int((~same).sum())} rows differ, e.g. {example}")
    for column in floats:
        a, b = left[column].to_numpy(dtype=float), right[column].to_numpy(dtype=float)
        same = np.isclose(a, b, rtol=rtol, atol=1e-12, equal_nan=True)
        if not same.all():
            row = int(np.flatnonzero(~same)[0])
            problems.append(f"{name}.{column}: {int((~same).sum())} rows differ, e.g. {a[row]!r} != {b[row]!r}")
    return problems
