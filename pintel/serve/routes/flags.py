"""Flag administration: read the served flags; change them, revert them, or stop automation (bearer token).

The server never holds the warehouse open. A write opens a short write connection for the one change and closes
it; when another process holds the file (a build, a Dagster run) the request fails with 503 naming that
process, and ``Retry-After``. Turning the kill switch *on* never fails that way: it falls back to the marker file.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field

from pintel.act import kill_switch
from pintel.act.edit import UNSET, edited
from pintel.act.flag import FlagError
from pintel.act.flags import DECISION_PREFIX, change_flag, get_flag, history, revert
from pintel.act.warehouse import WarehouseLocked, writer
from pintel.serve.auth import require_token
from pintel.settings import connect

router = APIRouter(prefix="/api/v1", tags=["flags"])
WRITE_WAIT_SECONDS = 2.0


class _Who(BaseModel):
    actor: str = Field(min_length=1, description="who makes the change (a person; decision:<id> is reserved)")
    reason: str = Field(min_length=1, description="why; kept in the audit trail")


class FlagChange(_Who):
    variant: str | None = Field(None, description="serve this variant to everyone (clears targeting)")
    variants: dict[str, Any] | None = None
    targeting: Any = Field(None, description="a flagd JsonLogic rule, or null to clear it")
    state: str | None = Field(None, description="ENABLED or DISABLED")
    description: str | None = None
    rollout: float | None = Field(None, ge=0, le=100, description="percentage of matching users who get on_variant")
    where: dict[str, str] | None = Field(None, description="context attributes the rollout is limited to")
    on_variant: str = "on"


class Revert(_Who):
    force: bool = False


class KillSwitch(_Who):
    on: bool


def _person(actor: str) -> str:
    if actor.startswith(DECISION_PREFIX):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"actor {actor!r}: decision:<id> is reserved for decisions")
    return actor


def _write(request: Request, change: Any) -> Any:
    config = request.app.state.config
    try:
        with writer(config.warehouse, wait_seconds=WRITE_WAIT_SECONDS) as con:
            result = change(con)
    except WarehouseLocked as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            {"error": str(exc), "holder": exc.holder},
            headers={"Retry-After": "5"},
        ) from exc
    except (FlagError, ValueError) as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    request.app.state.flags.refresh()  # serve our own change now, not at the next poll
    return result


@router.get("/flags")
def list_flags(request: Request) -> dict[str, Any]:
    """The flags as served now (the snapshot), flagd-shaped, with the store revision."""
    snap = request.app.state.flags.current
    return {"revision": snap.revision, "flags": {k: f.to_flagd() for k, f in snap.flags.items()}}


@router.get("/flags/{key}")
def get_one(key: str, request: Request) -> dict[str, Any]:
    flag = request.app.state.flags.current.flags.get(key)
    if flag is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"flag '{key}' is not in pintel's flag store")
    return {"key": key, **flag.to_flagd()}


@router.get("/flags/{key}/history")
def flag_history(key: str, request: Request, limit: int = 20) -> list[dict[str, Any]]:
    """The audit trail (read from the warehouse, read-only, for this request only)."""
    try:
        con = connect(request.app.state.config.warehouse, read_only=True)
    except Exception as exc:  # locked by a writer, or no warehouse yet
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"warehouse unavailable: {exc}") from exc
    try:
        frame = history(con, key, limit)
    finally:
        con.close()
    frame["changed_at"] = frame["changed_at"].astype(str)
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


@router.put("/flags/{key}", dependencies=[Depends(require_token)])
def put_flag(key: str, body: FlagChange, request: Request) -> dict[str, Any]:
    """Create or change a flag as a person (which blocks automatic changes to it for the policy's window)."""
    actor = _person(body.actor)
    targeting = body.targeting if "targeting" in body.model_fields_set else UNSET

    def change(con: Any) -> dict[str, Any]:
        flag = edited(
            get_flag(con, key),
            key,
            variant=body.variant,
            variants=body.variants,
            targeting=targeting,
            state=body.state,
            description=body.description,
            rollout=body.rollout,
            where=body.where,
            on_variant=body.on_variant,
        )
        made = change_flag(con, flag, actor=actor, reason=body.reason)
        stored = get_flag(con, key)
        return {
            "changed": made is not None,
            "audit_id": made.audit_id if made else None,
            "flag": stored.to_flagd() if stored else None,
        }

    return _write(request, change)


@router.post("/flags/audit/{audit_id}/revert", dependencies=[Depends(require_token)])
def revert_change(audit_id: int, body: Revert, request: Request) -> dict[str, Any]:
    """Undo one audited change (e.g. an automatic rollback) as a person."""
    actor = _person(body.actor)

    def change(con: Any) -> dict[str, Any]:
        made = revert(con, audit_id, actor=actor, reason=body.reason, force=body.force)
        return {"changed": made is not None, "audit_id": made.audit_id if made else None}

    return _write(request, change)


@router.post("/kill-switch", dependencies=[Depends(require_token)])
def switch(body: KillSwitch, request: Request) -> dict[str, Any]:
    """Stop (or resume) automatic actions; audited in ``act.kill_switch_audit``."""
    actor = _person(body.actor)
    try:
        return _write(
            request,
            lambda con: (
                kill_switch.set_state(con, body.on, actor=actor, reason=body.reason)
                or {"on": body.on, "recorded": "act.kill_switch_audit"}
            ),
        )
    except HTTPException as exc:
        if exc.status_code != status.HTTP_503_SERVICE_UNAVAILABLE or not body.on:
            raise
        path = kill_switch.write_marker(request.app.state.config.warehouse, actor=actor, reason=body.reason)
        return {"on": True, "recorded": str(path), "note": "warehouse locked: the marker file stops automation now"}
