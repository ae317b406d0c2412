"""The FastAPI app factory: shared state, middleware, error handlers and the routers.

``create_app(settings)`` puts on ``app.state`` what the dependencies of
``serving.dependencies`` hand to the routes — the settings, a
:class:`~serving.publication.PublicationStore` over ``published/warehouse.duckdb``
(read-only, follows new publications), the response cache and the
:class:`~serving.auth.Authenticator` — adds the audit middleware and includes the routers
of ``serving.routers`` (compatible, v2, recommendations, reports, ops). Every error a caller can cause is a
4xx with a one-line ``detail``: bad parameters 422, no publication 503.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from petpro.settings import Settings
from serving.audit import AuditMiddleware
from serving.auth import Authenticator
from serving.formulas import formulas
from serving.params import InvalidRequest
from serving.publication import NothingPublished, PublicationStore
from serving.responses import ResponseCache
from serving.routers import compat, customers, insights, ops, recommendations, reports, v2

CACHE_ENTRIES = 1024
# How ``petpro serve --cache-entries`` reaches worker processes, which build their own app.
CACHE_ENTRIES_ENV = "PETPRO_SERVE_CACHE_ENTRIES"


def create_app(settings: Settings, *, cache_entries: int = CACHE_ENTRIES) -> FastAPI:
    """The analytics API over the current publication under ``settings.published_dir``.

    ``cache_entries`` bounds the response cache (0 turns it off: every answer is computed,
    which is what ``bench api`` compares against)."""
    formulas()  # fail at startup, not on the first filtered request, if the macros are missing
    store = PublicationStore(settings.published_dir)
    auth = Authenticator(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(
        title="PetPro analytics API",
        description="Read-only customer analytics over the published marts.",
        version="2",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.auth = auth
    app.state.cache = ResponseCache(max_entries=cache_entries)
    app.add_middleware(AuditMiddleware, path=settings.audit_log, is_secret=auth.is_api_key)
    app.add_exception_handler(InvalidRequest, _invalid)
    app.add_exception_handler(RequestValidationError, _invalid_shape)
    app.add_exception_handler(NothingPublished, _unpublished)
    for area in (compat, insights, v2, customers, recommendations, reports, ops):
        app.include_router(area.router)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (several worker processes): settings from the environment."""
    import os

    from petpro.settings import get_settings

    entries = int(os.environ.get(CACHE_ENTRIES_ENV, CACHE_ENTRIES))
    return create_app(get_settings().with_demo_jwt_secret(), cache_entries=entries)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=422)


async def _invalid_shape(_: Request, exc: Exception) -> JSONResponse:
    # FastAPI's own validation (path or declared parameters) as one line, like ours.
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors
    )
    return JSONResponse({"detail": detail or "invalid request"}, status_code=422)


async def _unpublished(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=503)
