"""Feature validation and preparation (pintel.segments.features): bad input gets a clear error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pintel.segments import discover_segments


@pytest.mark.parametrize(
    ("features", "kwargs", "message"),
    [
        (pd.DataFrame(), {}, "empty"),
        (pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=["u1", "u2", "u3"]), {}, "more users"),
        (pd.DataFrame({"a": [1.0] * 20, "b": [2.0] * 20}), {}, "constant"),
        (pd.DataFrame({"a": np.arange(20.0), "plan": ["free"] * 20}), {}, "non-numeric"),
        (pd.DataFrame({"a": np.arange(20.0)}, index=[0] * 20), {}, "duplicates"),
        (pd.DataFrame({"a": np.r_[np.inf, np.arange(19.0)]}), {}, "infinite"),
        (pd.DataFrame({"a": np.arange(20.0)}), {"k_range": [1, 2]}, ">= 2"),
        (pd.DataFrame({"a": np.arange(20.0)}), {"previous": pd.DataFrame({"x": [1]})}, "centroids"),
    ],
)
def test_bad_input_raises_clear_value_error(features: pd.DataFrame, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        discover_segments(features, **kwargs)


def test_not_a_dataframe_raises() -> None:
    with pytest.raises(ValueError, match="DataFrame"):
        discover_segments(np.zeros((10, 2)))  # type: ignore[arg-type]
