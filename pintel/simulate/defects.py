"""Planting data defects the way real pipelines produce them, each one recorded with its reason.

Every defective message is derived from a message the product really sent, so what is *valid* is exactly
what remains; duplicates are byte-identical redeliveries of valid messages that arrive later.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pintel.simulate.config import DEFECT_REASONS

BOGUS_EVENTS = ("Test Event", "dashbaord_viewed", "button_clicked_v0", "undefined")
BAD_TIMESTAMPS = ("not-a-timestamp", "2025-13-45T25:61:00Z", "yesterday", "0000-00-00 00:00:00", "NaN")
OVERSIZED_BLOB = "x" * 40_000


def assign_defects(
    rng: np.random.Generator, n: int, rate: float, has_int_property: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which messages become defective (reason index into DEFECT_REASONS, -1 = clean) and which are redelivered.

    The rate is split evenly over the seven quarantine reasons and duplicates. A wrong property type needs a
    typed property to break, so other messages drawn for it stay clean (the truth counts what was planted).
    """
    share = rate / (len(DEFECT_REASONS) + 1)
    u = rng.random(n)
    reason = np.where(u < rate - share, (u / share).astype(np.int64), -1)
    reason = np.minimum(reason, len(DEFECT_REASONS) - 1)
    wrong_type = DEFECT_REASONS.index("wrong_property_type")
    reason[(reason == wrong_type) & ~has_int_property] = -1
    duplicate = (u >= rate - share) & (u < rate)
    return reason, duplicate


def corrupt(
    rng: np.random.Generator,
    reason: np.ndarray,
    event: pa.Array,
    user_id: pa.Array,
    timestamp: pa.Array,
    received_ms: np.ndarray,
    properties: pa.Array,
) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    """Apply each planted defect to its message; returns event, user_id, timestamp, properties."""

    def replace(values: pa.Array, name: str, make) -> pa.Array:
        """Swap in a corrupted value for the messages planted with ``name`` (computed only for those)."""
        mask = reason == DEFECT_REASONS.index(name)
        if not mask.any():
            return values
        rows = np.flatnonzero(mask)
        return pc.replace_with_mask(values, pa.array(mask), make(rows, values.take(pa.array(rows))))

    def pick(options: tuple[str, ...]):
        return lambda rows, _: pa.array([options[i] for i in rng.integers(0, len(options), len(rows))], pa.string())

    def oversized(rows: np.ndarray, props: pa.Array) -> pa.Array:
        blob = f'"blob":"{OVERSIZED_BLOB}"}}'
        return pa.array([("{" + blob) if p == "{}" else p[:-1] + "," + blob for p in props.to_pylist()], pa.string())

    user_id = replace(user_id, "missing_user_id", lambda rows, _: pa.nulls(len(rows), pa.string()))
    timestamp = replace(timestamp, "unparseable_timestamp", pick(BAD_TIMESTAMPS))
    timestamp = replace(
        timestamp,
        "future_timestamp",
        lambda rows, _: format_timestamps(received_ms[rows] + rng.integers(2, 400, len(rows)) * 86_400_000),
    )
    event = replace(event, "unknown_event", pick(BOGUS_EVENTS))
    properties = replace(
        properties, "wrong_property_type", lambda _, p: pc.replace_substring_regex(p, r":\d+\}$", ':"n/a"}')
    )
    properties = replace(properties, "oversized_payload", oversized)
    properties = replace(properties, "invalid_json", lambda _, p: pc.utf8_slice_codeunits(p, 0, -1))
    return event, user_id, timestamp, properties


def format_timestamps(ms: np.ndarray) -> pa.Array:
    """ISO 8601 UTC with milliseconds, as Segment sends them: ``2025-01-06T09:31:12.345Z``."""
    text = pc.cast(pa.array(np.asarray(ms, dtype=np.int64).astype("datetime64[ms]")), pa.string())
    return pc.binary_join_element_wise(pc.replace_substring(text, " ", "T"), "Z", "")
