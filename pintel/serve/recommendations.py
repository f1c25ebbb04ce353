"""Feature recommendations for ``GET /users/{id}/recommendations``: a read-only in-memory snapshot.

Same life cycle as the churn scores (:class:`pintel.serve.churn.ChurnStore`, whose file watching it reuses): the
warehouse is opened read-only only to reload ``ml.feature_recommendations_served`` after a build has settled,
then closed; a lookup is a dict access.

Cold start: a user the table does not list (no activity in the last 28 days, or unknown) gets the list the
recommender gives a user with no feature use -- popularity x causal lift -- marked ``"fallback": true``; it is
taken from a cold-start row of the table itself, so the API never invents a ranking the warehouse did not make.
Without any such row (every scored user had used a feature) the answer is 404.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import duckdb

from pintel.serve.churn import ChurnStore, _iso
from pintel.settings import connect
from pintel.tables import table_exists

log = logging.getLogger("pintel.serve")

TABLE = "ml.feature_recommendations_served"
_COLUMNS = ("user_id", "as_of_date", "rank", "feature_key", "feature_name", "score", "source", "reason")
COLD_SOURCES = ("popularity", "causal_prior", "catalogue")


class RecommendationStore(ChurnStore):
    """Holds ``{user_id: [recommendation, ...]}`` and the cold-start list; reloads when the warehouse changed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lists: dict[str, list[dict[str, Any]]] = {}
        self.fallback: list[dict[str, Any]] | None = None
        self.as_of = None
        self.table: str | None = None

    def _load(self, stat: tuple[int, ...]) -> bool:
        try:
            con = connect(self.warehouse, read_only=True)
        except (duckdb.Error, OSError) as exc:
            self.last_error = f"warehouse unavailable, serving the snapshot loaded earlier: {exc}"
            return False
        try:
            present = table_exists(con, *TABLE.split("."))
            rows = (
                con.execute(f"select {', '.join(_COLUMNS)} from {TABLE} order by user_id, rank").fetchall()
                if present
                else []
            )
        except duckdb.Error as exc:
            self.last_error = f"could not read recommendations: {exc}"
            return False
        finally:
            con.close()
        lists: dict[str, list[dict[str, Any]]] = {}
        for user, _as_of, rank, key, name, score, source, reason in rows:
            lists.setdefault(str(user), []).append(
                {
                    "rank": rank,
                    "feature_key": key,
                    "feature_name": name,
                    "score": score,
                    "source": source,
                    "reason": reason,
                }
            )
        cold = next((items for items in lists.values() if all(i["source"] in COLD_SOURCES for i in items)), None)
        with self._lock:
            self.lists, self.fallback = lists, cold
            self.as_of = rows[0][1] if rows else None
            self.table = TABLE if present else None
            self._loaded_stat = stat
            self._pending = None
        self.last_error = None
        log.info("recommendations snapshot: %d users from %s", len(lists), TABLE)
        return True

    def lookup(self, user_id: str) -> dict[str, Any] | None:
        """The response body for ``user_id`` (the cold-start list when unlisted), None when there is none."""
        items, fallback = self.lists.get(user_id), False
        if items is None:
            items, fallback = self.fallback, True
        if items is None:
            return None
        return {
            "user_id": user_id,
            "as_of_date": _iso(self.as_of),
            "fallback": fallback,
            "recommendations": items,
            "table": self.table,
            "loaded_at": datetime.fromtimestamp(self.current.loaded_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def health(self) -> dict[str, Any]:
        return {
            "users": len(self.lists),
            "table": self.table,
            "as_of_date": _iso(self.as_of),
            "has_fallback": self.fallback is not None,
            "error": self.last_error,
        }
