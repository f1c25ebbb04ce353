"""``GET /users/{id}/recommendations``: a user's next-best features, from the in-memory snapshot.

See :mod:`pintel.serve.recommendations` for the snapshot and the cold-start fallback. 503 while no
recommendations were ever loaded, 404 when the user is unlisted and there is no cold-start list.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status

from pintel.serve.routes.copilot import _check_user_id

router = APIRouter()


@router.get("/users/{user_id}/recommendations")
async def user_recommendations(user_id: str, request: Request) -> Response:
    """Up to five features the user has not used yet, best first, each with its reason."""
    _check_user_id(user_id)
    store = request.app.state.recommendations
    body: dict[str, Any] | None = store.lookup(user_id)
    if body is None:
        if store.table is None:
            detail = "recommendations are not available yet" + (f": {store.last_error}" if store.last_error else "")
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail, headers={"Retry-After": "60"})
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"user {user_id!r} has no recommendations and there is no cold-start list"
        )
    return Response(json.dumps(body, separators=(",", ":"), default=str), media_type="application/json")
