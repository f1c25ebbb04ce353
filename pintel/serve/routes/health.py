"""``GET /health``: is the server up, and how fresh are the flags it serves."""

from __future__ import annotations

from fastapi import APIRouter, Request

router = APIRouter(tags=["health"])


@router.get("/health")
def health(request: Request) -> dict[str, object]:
    store = request.app.state.flags
    flags = store.health()
    return {
        "status": "ok" if flags["error"] is None else "degraded",
        "flags": flags,
        "churn": request.app.state.churn.health(),
        "writes_enabled": bool(request.app.state.config.api_token),
    }
