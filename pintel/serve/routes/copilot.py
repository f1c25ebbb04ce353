"""The copilot's read endpoints: ``GET /ask?q=``, ``GET /digest`` and ``GET /users/{id}/churn``.

``/ask`` answers exactly like ``pintel ask --json`` (the same function; the warehouse is opened read-only for
the one question and closed). ``/digest`` serves the last digest the pipeline wrote (``reports/digest.html``,
or ``?format=md``). ``/users/{id}/churn`` reads the in-memory churn snapshot (:mod:`pintel.serve.churn`).
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status

router = APIRouter(tags=["copilot"])

MAX_QUESTION = 500
MAX_USER_ID = 256


@router.get("/ask")
def ask(request: Request, q: Annotated[str, Query(description="the question, e.g. 'DAU last week by platform'")]):
    """Answer one question from the governed metrics (the JSON of ``pintel ask --json``)."""
    question = q.strip()
    if not question:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "q: ask a question, e.g. /ask?q=weekly+active+users+last+week")
    if len(question) > MAX_QUESTION:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"q: a question is at most {MAX_QUESTION} characters")
    from pintel.ask import ask as answer

    result = answer(question, request.app.state.config.warehouse, llm=os.environ.get("PINTEL_LLM") or None)
    body = json.dumps(result.to_dict(), default=str)
    return Response(body, media_type="application/json")


@router.get("/digest")
def digest(request: Request, format: Annotated[str, Query(pattern="^(html|md)$")] = "html") -> Response:
    """The latest insight digest as the pipeline wrote it (404 until it has been built once)."""
    reports = request.app.state.config.reports
    path = reports / ("digest.html" if format == "html" else "digest.md")
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no digest yet at {path}: materialise reports/insight_digest (make demo, or the pintel_daily job)",
        ) from None
    media = "text/html; charset=utf-8" if format == "html" else "text/markdown; charset=utf-8"
    return Response(content, media_type=media, headers={"Cache-Control": "no-cache"})


def _check_user_id(user_id: str) -> None:
    if not user_id.strip() or len(user_id) > MAX_USER_ID or not user_id.isprintable():
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"user id: 1 to {MAX_USER_ID} printable characters (got {len(user_id)} characters)",
        )


@router.get("/users/{user_id}/churn")
async def user_churn(user_id: str, request: Request) -> Response:
    """One user's churn score, risk band and reasons, with the snapshot served and whether it is stale."""
    _check_user_id(user_id)
    store = request.app.state.churn
    body: dict[str, Any] | None = store.lookup(user_id)
    if body is None:
        if store.current.table is None:
            detail = "churn scores are not available yet" + (f": {store.last_error}" if store.last_error else "")
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail, headers={"Retry-After": "60"})
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"user {user_id!r} has no churn score in {store.current.table} "
            f"(snapshot {store.current.served_snapshot_date}): unknown, or not active when it was scored",
        )
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")
