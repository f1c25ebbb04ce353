"""What a suite run returns: :class:`SuiteResult`, JSON-friendly and free of GX and Dagster types.

Its own module because three others need it — the runner builds results, the history table stores them and
Data Docs summarise them — and none of those should import another just for the type.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class SuiteResult:
    """The outcome of one suite on one warehouse.

    ``status`` is ``passed``, ``failed``, ``skipped`` (an optional table is absent; ``success`` is then True
    because there was nothing to violate) or ``error`` (the frame could not be loaded or GX crashed; counted
    as a failure so a broken check never passes silently). ``failures`` holds one JSON-safe dict per failed
    expectation: ``expectation``, ``column``, ``kwargs`` and ``observed`` (unexpected count, sample values and
    the offending rows by the suite's index columns). ``run_time`` is the wall time in seconds.
    """

    suite: str
    asset: str
    critical: bool
    success: bool
    status: str
    evaluated: int
    failed: int
    failures: list[dict[str, Any]]
    run_time: float
    observed_row_count: int | None
    validated_at: datetime
    run_id: str
    description: str = ""
    skip_reason: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def blocking(self) -> bool:
        """True when this result must stop downstream work: a critical suite that did not pass."""
        return self.critical and not self.success

    @property
    def failed_expectations(self) -> list[str]:
        return [failure_label(f) for f in self.failures]

    def to_metadata(self) -> dict[str, Any]:
        """A JSON-serialisable summary, sized for Dagster asset-check metadata."""
        return jsonable(
            {
                "suite": self.suite,
                "asset": self.asset,
                "critical": self.critical,
                "success": self.success,
                "status": self.status,
                "evaluated": self.evaluated,
                "failed": self.failed,
                "failed_expectations": self.failed_expectations,
                "failures": self.failures,
                "observed_row_count": self.observed_row_count,
                "run_time_seconds": round(self.run_time, 3),
                "validated_at": self.validated_at.isoformat(),
                "run_id": self.run_id,
                "skip_reason": self.skip_reason,
                "parameters": self.parameters,
            }
        )


def failure_label(failure: dict[str, Any]) -> str:
    column = failure.get("column")
    return f"{failure['expectation']}({column})" if column else str(failure["expectation"])


def jsonable(value: Any) -> Any:
    """Recursively turn numpy/pandas/datetime/enum values into plain JSON types (NaN and NaT -> None)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def failures_of(validation: Any, sample_limit: int) -> list[dict[str, Any]]:
    """One JSON-safe dict per failed expectation of a GX suite validation result (duck-typed, so this module
    stays free of GX imports): the expectation, its column(s) and kwargs, its severity and what GX observed,
    the offending rows (``unexpected_rows``) cut to ``sample_limit``."""
    failures = []
    for result in validation.results:
        if result.success:
            continue
        config = result.expectation_config
        kwargs = {k: v for k, v in (config.kwargs or {}).items() if k != "batch_id"}
        column = kwargs.get("column")
        if column is None and "column_A" in kwargs:
            column = f"{kwargs['column_A']},{kwargs['column_B']}"
        if column is None and "column_list" in kwargs:
            column = ",".join(kwargs["column_list"])
        observed = {
            key: value
            for key, value in (result.result or {}).items()
            if key
            in (
                "observed_value",
                "element_count",
                "unexpected_count",
                "unexpected_percent",
                "partial_unexpected_list",
                "partial_unexpected_counts",
                "partial_unexpected_index_list",
                "details",
            )
        }
        if "partial_unexpected_index_list" in observed:
            observed["unexpected_rows"] = observed.pop("partial_unexpected_index_list")[:sample_limit]
        exception = result.exception_info or {}
        if exception.get("raised_exception") is None:  # GX nests exception info per metric
            messages = [v.get("exception_message") for v in exception.values() if isinstance(v, dict)]
            messages = [m for m in messages if m]
        else:
            messages = [exception["exception_message"]] if exception.get("raised_exception") else []
        if messages:
            observed["exception"] = "; ".join(messages)
        failures.append(
            jsonable(
                {
                    "expectation": config.type,
                    "column": column,
                    "kwargs": kwargs,
                    "severity": str(getattr(config, "severity", "") or ""),
                    "observed": observed,
                }
            )
        )
    return failures
