"""FastAPI dependencies shared by the routers: auth, the publication answer, filters.

- :func:`require` — ``Depends(require(ANALYTICS))`` on a router authenticates the caller
  (JWT or API key) and checks the role before anything else runs, recording the principal
  for the audit trail.
- :func:`answer` — the request's :class:`~serving.responses.Answer` over the publication
  store and response cache of the app.
- :func:`compat_filters` / :func:`v2_filters` — the validated :class:`~serving.params.Filters`
  of a compatible endpoint (``startDate``/``endDate``) or of a v2 endpoint (from its
  :class:`~serving.params.FilterSpec`); bad input raises ``InvalidRequest`` → 422.

Everything they need lives on ``app.state`` (settings, store, cache, authenticator), set
once by :func:`serving.app.create_app`. They are ``async`` although they do no I/O: FastAPI
runs a plain ``def`` dependency in the thread pool, and a cached answer would then wait for
a pool thread behind the DuckDB queries of uncached ones (the thread pool is where those run).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from petpro.settings import Settings
from serving.auth import Authenticator, Principal
from serving.params import Filters, FilterSpec, parse_filters
from serving.responses import Answer


async def settings(request: Request) -> Settings:
    return request.app.state.settings


def require(roles: tuple[str, ...]) -> Callable[[Request], Awaitable[Principal]]:
    """Dependency: the authenticated caller, who must hold one of ``roles`` (else 401/403)."""

    async def dependency(request: Request) -> Principal:
        auth: Authenticator = request.app.state.auth
        return auth.require(request, roles)

    return dependency


async def answer(request: Request) -> Answer:
    """Dependency: answers this request from the current publication (cached, with ETag)."""
    return Answer(request, request.app.state.store, request.app.state.cache)


def compat_filters(interval_name: str = "interval") -> Callable[[Request], Awaitable[Filters]]:
    """Dependency: filters of a compatible endpoint (``startDate``, ``endDate``, interval)."""

    async def dependency(request: Request) -> Filters:
        return parse_filters(
            request.query_params,
            request.app.state.settings.tz,
            start_names=("startDate",),
            end_names=("endDate",),
            interval_names=(interval_name,),
        )

    return dependency


def v2_filters(spec: FilterSpec) -> Callable[[Request], Awaitable[Filters]]:
    """Dependency: filters of a v2 endpoint, as its spec allows them."""

    async def dependency(request: Request) -> Filters:
        return spec.parse(request.query_params, request.app.state.settings.tz)

    return dependency
