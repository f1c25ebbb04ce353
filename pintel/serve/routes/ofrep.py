"""OpenFeature Remote Evaluation Protocol: ``/ofrep/v1/evaluate/flags/{key}``, the bulk form and configuration.

Any OpenFeature SDK with an OFREP provider reads pintel's flags here. Errors use OFREP's bodies
(``{"key", "errorCode", "errorDetails"}``): 404 FLAG_NOT_FOUND, 400 PARSE_ERROR / INVALID_CONTEXT /
TARGETING_KEY_MISSING. The bulk response carries an ``ETag`` (a digest of the body), and ``If-None-Match`` with
the same tag gets ``304 Not Modified``, so polling clients download flags only when they change.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Request, Response

from pintel.act.flag import EvaluationError, check_context, evaluate_flag

router = APIRouter(prefix="/ofrep/v1", tags=["OFREP"])
_JSON = "application/json"


def _response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")).encode(), status, headers, media_type=_JSON)


async def _context(request: Request, key: str | None) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise EvaluationError(key, "PARSE_ERROR", f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise EvaluationError(key, "PARSE_ERROR", 'request body must be a JSON object like {"context": {...}}')
    return check_context(body.get("context"), key)


@router.post("/evaluate/flags/{key}")
async def evaluate_one(key: str, request: Request) -> Response:
    """Evaluate one flag for the request's context."""
    snapshot = request.app.state.flags.current
    try:
        context = await _context(request, key)
        result = evaluate_flag(snapshot.flags.get(key), key, context, snapshot.version)
    except EvaluationError as exc:
        return _response(exc.body(), exc.status)
    return _response({**result.body(), "cacheable": False})


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


@router.post("/evaluate/flags")
async def evaluate_all(request: Request) -> Response:
    """Evaluate every enabled flag; per-flag failures are listed beside the successes."""
    snapshot = request.app.state.flags.current
    try:
        context = await _context(request, None)
    except EvaluationError as exc:
        return _response(exc.body(), exc.status)
    results: list[dict[str, Any]] = []
    for key, flag in snapshot.flags.items():
        if flag.state == "DISABLED":
            continue
        try:
            results.append(evaluate_flag(flag, key, context, snapshot.version).body())
        except EvaluationError as exc:
            results.append(exc.body())
    body = json.dumps({"flags": results}, separators=(",", ":")).encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, 200, {"ETag": etag, "Cache-Control": "no-cache"}, media_type=_JSON)


@router.get("/configuration")
def configuration(request: Request) -> dict[str, Any]:
    """OFREP's optional provider configuration: polling is supported, no faster than the snapshot refreshes."""
    refresh_ms = int(request.app.state.flags.refresh_seconds * 1000)
    return {
        "name": "pintel",
        "capabilities": {
            "cacheInvalidation": {"polling": {"enabled": True, "minPollingIntervalMs": refresh_ms}},
            "flagEvaluation": {"supportedTypes": ["boolean", "string", "int", "float", "object"]},
        },
    }
