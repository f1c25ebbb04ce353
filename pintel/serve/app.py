"""The one HTTP surface of pintel: a FastAPI app with one router per concern.

Routers in :data:`ROUTERS` are mounted in order; each reads shared state from ``request.app.state``:
``config`` (:class:`ServeConfig`), ``flags`` (the flag :class:`SnapshotStore`), ``churn`` (the churn-score
:class:`ChurnStore` behind ``/users/{id}/churn``) and ``recommendations`` (the :class:`RecommendationStore`
behind ``/users/{id}/recommendations``). The stores load at start-up and refresh in the background; none
keeps the warehouse open. Writes use :func:`pintel.serve.auth.require_token`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from pintel.serve.churn import ChurnStore
from pintel.serve.config import ServeConfig
from pintel.serve.recommendations import RecommendationStore
from pintel.serve.routes import copilot, flags, health, ofrep, recommendations
from pintel.serve.snapshot import SnapshotStore

log = logging.getLogger("pintel.serve")

ROUTERS: list[APIRouter] = [health.router, ofrep.router, flags.router, copilot.router, recommendations.router]


async def _refresh_forever(store: SnapshotStore | ChurnStore) -> None:  # RecommendationStore is a ChurnStore
    while True:
        await asyncio.sleep(store.refresh_seconds)
        try:
            await run_in_threadpool(store.refresh)
        except Exception:  # keep refreshing; the last good snapshot stays served
            log.exception("%s refresh failed", type(store).__name__)


async def _bad_request(_request: Request, exc: Exception) -> JSONResponse:
    """Malformed input is a 400 that names the field (FastAPI's default is a bare 422)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    first = errors[0] if errors else {"loc": (), "msg": str(exc)}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    content = {"detail": f"{where}: {first.get('msg')}", "errors": jsonable_encoder(errors)}
    return JSONResponse(status_code=400, content=content)


def create_app(config: ServeConfig, routers: list[APIRouter] | None = None) -> FastAPI:
    """The app for ``config``; the flag snapshot loads at start-up and refreshes in the background."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store: SnapshotStore = app.state.flags
        await run_in_threadpool(store.start)
        log.info(
            "serving %d flags (revision %s) from %s",
            len(store.current.flags),
            store.current.revision,
            store.current.source,
        )
        churn: ChurnStore = app.state.churn
        await run_in_threadpool(churn.start)
        log.info("serving churn scores of %d users from %s", len(churn.current.scores), churn.current.table)
        recs: RecommendationStore = app.state.recommendations
        await run_in_threadpool(recs.start)
        tasks = [asyncio.create_task(_refresh_forever(s)) for s in (store, churn, recs)]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="pintel",
        description="Product intelligence: feature flags over OpenFeature (OFREP), questions (/ask), the digest, "
        "churn scores and feature recommendations per user, health.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.state.config = config
    app.state.flags = SnapshotStore(config.warehouse, config.flags_file, config.refresh_seconds)
    app.state.churn = ChurnStore(config.warehouse, config.refresh_seconds)
    app.state.recommendations = RecommendationStore(config.warehouse, config.refresh_seconds)
    for router in routers if routers is not None else ROUTERS:
        app.include_router(router)
    return app


def serve(config: ServeConfig, log_level: str = "info", access_log: bool = False) -> None:
    """Run the app with uvicorn (blocking) on ``config.host:config.port``.

    No access log by default: a flag server answers every page view of every application, and a log line per
    evaluation costs more than the evaluation (see BENCHMARKS.md); turn it on to debug a client.
    """
    import uvicorn

    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.port,
        log_level=log_level,
        access_log=access_log,
        server_header=False,
    )
