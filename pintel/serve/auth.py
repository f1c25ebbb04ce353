"""Bearer-token guard for write endpoints: reads are open (on 127.0.0.1 by default), writes need the token."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status


def require_token(request: Request) -> None:
    """FastAPI dependency: 401 unless ``Authorization: Bearer <PINTEL_API_TOKEN>``; writes are off without a token."""
    expected = request.app.state.config.api_token
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    challenge = {"WWW-Authenticate": "Bearer"}
    if not expected:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "write endpoints are disabled: start pintel serve with PINTEL_API_TOKEN set",
            headers=challenge,
        )
    if scheme.lower() != "bearer" or not given:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token (Authorization: Bearer ...)", challenge)
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid bearer token", headers=challenge)
