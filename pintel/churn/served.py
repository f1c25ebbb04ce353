"""Which warehouse table serves churn scores to consumers (the digest, ``GET /users/{id}/churn``).

dbt builds one contracted table per model version (``ml.churn_scores_v1``, ``ml.churn_scores_v2``, ...); the
consumers read the highest version present, which is the project's ``latest_version`` once it is built (a
newer version that was never built is not served).
"""

from __future__ import annotations

import re
from typing import Any

SCHEMA = "ml"
_VERSIONED = re.compile(r"^churn_scores_v(\d+)$")


def served_churn_table(con: Any) -> str | None:
    """``ml.churn_scores_v<N>`` with the highest N on this connection, or None when no version is built."""
    names = con.execute(
        "select table_name from information_schema.tables where table_schema = ? and table_name like 'churn_scores_v%'",
        [SCHEMA],
    ).fetchall()
    versions = [(int(m.group(1)), name) for (name,) in names if (m := _VERSIONED.match(name))]
    return f"{SCHEMA}.{max(versions)[1]}" if versions else None
