"""The FastAPI application: compatible and v2 analytics, report downloads, health, dashboard.

``create_app(settings)`` wires the pieces: a :class:`~serving.publication.PublicationStore`
over ``published/warehouse.duckdb`` (read-only, follows new publications), the
:class:`~serving.auth.Authenticator` (JWT + API keys, roles), the audit middleware, and
the routes. Every data response carries an ``ETag`` derived from the publication and the
request, plus ``Cache-Control: private, no-cache``: clients revalidate and get a 304 for
free until the next publication. Handlers are sync functions (FastAPI runs them in its
thread pool), each on its own DuckDB cursor.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID

import duckdb
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse

from petpro.settings import Settings
from serving import queries as q
from serving.audit import AuditMiddleware
from serving.auth import ADMIN_ONLY, ANALYTICS, Authenticator
from serving.params import (
    DIMENSIONS,
    INTERVALS,
    LIFECYCLE_INTERVALS,
    SEGMENTS,
    Filters,
    InvalidRequest,
    multi,
    parse_filters,
    parse_int,
)
from serving.publication import NothingPublished, Publication, PublicationStore
from serving.reports import CONTENT_TYPES, export_dates, latest_date, load_manifest, resolve

log = logging.getLogger(__name__)

CACHE_CONTROL = "private, no-cache"
COMMON = ("start", "end", "interval", "activity_type", *SEGMENTS)
DASHBOARD_HTML = Path(__file__).with_name("dashboard.html")

# What GET /v2 lists: path, mart, which filters it takes.
V2_ENDPOINTS: list[dict[str, Any]] = [
    {
        "path": "/v2/customer-growth",
        "mart": "mart_customer_growth",
        "interval": list(INTERVALS),
        "activity_type": True,
        "segments": True,
    },
    {
        "path": "/v2/customer-activity",
        "mart": "mart_customer_activity",
        "interval": list(INTERVALS),
        "activity_type": True,
        "segments": True,
    },
    {
        "path": "/v2/active-customers",
        "mart": "mart_customer_activity_daily + mart_customer_profile",
        "interval": list(INTERVALS),
        "activity_type": True,
        "segments": True,
    },
    {
        "path": "/v2/active-users",
        "mart": "mart_active_users",
        "interval": None,
        "activity_type": True,
        "segments": True,
    },
    {
        "path": "/v2/customer-lifecycle",
        "mart": "mart_customer_lifecycle",
        "interval": list(LIFECYCLE_INTERVALS),
        "activity_type": False,
        "segments": False,
        "extra": ["status"],
    },
    {
        "path": "/v2/activity-heatmap",
        "mart": "mart_activity_heatmap",
        "interval": None,
        "activity_type": False,
        "segments": False,
    },
    {
        "path": "/v2/customer-demographics",
        "mart": "mart_customer_demographics",
        "interval": None,
        "activity_type": False,
        "segments": True,
        "extra": ["dimension", "currency"],
    },
    {
        "path": "/v2/service-usage",
        "mart": "mart_service_usage",
        "interval": None,
        "activity_type": False,
        "segments": False,
        "extra": ["service_category", "currency"],
    },
    {
        "path": "/v2/cohort-retention",
        "mart": "mart_cohort_retention",
        "interval": None,
        "activity_type": False,
        "segments": False,
        "extra": ["max_months"],
    },
    {
        "path": "/v2/nday-retention",
        "mart": "mart_nday_retention",
        "interval": None,
        "activity_type": False,
        "segments": False,
    },
    {
        "path": "/v2/retention-monthly",
        "mart": "mart_retention_monthly",
        "interval": None,
        "activity_type": False,
        "segments": True,
    },
    {
        "path": "/v2/repeat-customers",
        "mart": "mart_repeat_customers",
        "interval": None,
        "activity_type": False,
        "segments": False,
    },
]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # money stays exact; clients parse it
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, default=_jsonable, separators=(",", ":"), allow_nan=False).encode()


def _count_rows(payload: Any) -> int:
    if isinstance(payload, list):
        return len(payload)
    if isinstance(payload, dict):
        if isinstance(payload.get("data"), list):
            return len(payload["data"])
        return sum(len(v) for v in payload.values() if isinstance(v, list))
    return 1


@cache
def _plotly_js() -> tuple[bytes, str]:
    from plotly.offline import get_plotlyjs

    body = get_plotlyjs().encode()
    return body, hashlib.sha256(body).hexdigest()[:32]


def create_app(settings: Settings) -> FastAPI:
    """The analytics API over ``settings.published_db``."""
    store = PublicationStore(settings.published_db)
    auth = Authenticator(settings)
    tz = settings.tz

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
    cache = ResponseCache(max_entries=1024)
    app.state.cache = cache
    app.add_middleware(AuditMiddleware, path=settings.audit_log)

    @app.exception_handler(InvalidRequest)
    async def _invalid(_: Request, exc: InvalidRequest) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(NothingPublished)
    async def _unpublished(_: Request, exc: NothingPublished) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    async def answer(
        request: Request,
        compute: Callable[[duckdb.DuckDBPyConnection, Publication], Any],
    ) -> Response:
        canonical = request.url.path + "?" + "&".join(sorted(str(request.query_params).split("&")))
        pub = store.current()
        etag = _etag(pub, canonical)
        if etag in _if_none_match(request):
            request.state.publication = pub.run_id
            request.state.rows = 0
            return Response(status_code=304, headers=_headers(etag, pub))
        hit = cache.get((pub.tag, canonical))
        if hit is None:
            # DuckDB work runs in the thread pool; the cursor may land on a publication newer
            # than `pub` if one appeared meanwhile, so the ETag is taken from the one used.
            def run() -> tuple[Publication, bytes, int]:
                with store.cursor() as (used, cur):
                    payload = compute(cur, used)
                return used, _dumps(payload), _count_rows(payload)

            pub, body, rows = await run_in_threadpool(run)
            etag = _etag(pub, canonical)
            cache.put((pub.tag, canonical), (body, rows))
        else:
            body, rows = hit
        request.state.publication = pub.run_id
        request.state.rows = rows
        return Response(body, media_type="application/json", headers=_headers(etag, pub))

    def v2(mart: str, f: Filters | None, rows_fn: Callable[[duckdb.DuckDBPyConnection], q.Rows]):
        def compute(cur: duckdb.DuckDBPyConnection, pub: Publication) -> dict[str, Any]:
            return {
                "meta": {
                    "mart": mart,
                    "publication": pub.run_id,
                    "published_at": pub.published_at,
                    "high_water_mark": pub.high_water_mark,
                    "filters": f.as_meta() if f else {},
                    "computed_from": "customer-level marts"
                    if f and (f.segments or f.activity_types)
                    else "mart",
                },
                "data": rows_fn(cur),
            }

        return compute

    # ---- compatible endpoints (admin only) ---------------------------------------------
    def compat_filters(request: Request, interval_name: str = "interval") -> Filters:
        return parse_filters(
            request.query_params,
            tz,
            start_names=("startDate",),
            end_names=("endDate",),
            interval_names=(interval_name,),
        )

    @app.get("/analytics/customer-growth", tags=["compatible"])
    async def customer_growth(request: Request) -> Response:
        auth.require(request, ADMIN_ONLY)
        f = compat_filters(request)
        return await answer(request, lambda cur, _: q.compat_customer_growth(cur, f))

    @app.get("/analytics/customer-activity", tags=["compatible"])
    async def customer_activity(request: Request) -> Response:
        auth.require(request, ADMIN_ONLY)
        f = compat_filters(request)
        return await answer(request, lambda cur, _: q.compat_customer_activity(cur, f))

    @app.get("/analytics/customer-demographics", tags=["compatible"])
    async def customer_demographics(request: Request) -> Response:
        auth.require(request, ADMIN_ONLY)
        return await answer(request, lambda cur, _: q.compat_demographics(cur))

    @app.get("/analytics/service-usage", tags=["compatible"])
    async def service_usage(request: Request) -> Response:
        auth.require(request, ADMIN_ONLY)
        f = compat_filters(request)
        return await answer(request, lambda cur, _: q.compat_service_usage(cur, f))

    @app.get("/analytics/customer-retention", tags=["compatible"])
    async def customer_retention(request: Request) -> Response:
        auth.require(request, ADMIN_ONLY)
        return await answer(request, lambda cur, _: q.compat_retention(cur))

    @app.get("/activities/statistics", tags=["compatible"])
    async def activity_statistics(request: Request) -> Response:
        auth.require(request, ADMIN_ONLY)
        f = compat_filters(request, interval_name="groupBy")
        return await answer(request, lambda cur, _: q.compat_activity_statistics(cur, f))

    # ---- v2 (admin, analyst) -----------------------------------------------------------
    def v2_filters(request: Request, **kwargs: Any) -> Filters:
        extra = kwargs.pop("extra", ())
        return parse_filters(
            request.query_params,
            tz,
            start_names=("start",),
            end_names=("end",),
            allowed=(*COMMON, *extra),
            **kwargs,
        )

    @app.get("/v2", tags=["v2"])
    async def v2_index(request: Request) -> Response:
        auth.require(request, ANALYTICS)
        return await answer(
            request, lambda cur, _: {"data": V2_ENDPOINTS, "segments": list(SEGMENTS)}
        )

    @app.get("/v2/segments", tags=["v2"])
    async def v2_segments(request: Request) -> Response:
        auth.require(request, ANALYTICS)
        return await answer(request, lambda cur, _: {"data": q.segment_values(cur)})

    @app.get("/v2/customer-growth", tags=["v2"])
    async def v2_growth(request: Request) -> Response:
        auth.require(request, ANALYTICS)
        f = v2_filters(request)
        return await answer(
            request, v2("mart_customer_growth", f, lambda c: q.v2_customer_growth(c, f))
        )

    @app.get("/v2/customer-activity", tags=["v2"])
    async def v2_activity(request: Request) -> Response:
        auth.require(request, ANALYTICS)
        f = v2_filters(request)
        return await answer(
            request, v2("mart_customer_activity", f, lambda c: q.v2_customer_activity(c, f))
        )

    @app.get("/v2/active-customers", tags=["v2"])
    async def v2_active_customers(request: Request) -> Response:
        auth.require(request, ANALYTICS)
        f = v2_filters(request)
        return await answer(
            request,
            v2("mart_customer_activity_daily", f, lambda c: q.v2_active_customers(c, f)),
        )

    @app.get("/v2/active-users", tags=["v2"])
    async def v2_active_users(request: Request) -> Response:
        auth.require(request, ANALYTICS)
        f = v2_filters(request, intervals=("day",))
        return await answer(request, v2("mart_active_users", f, lambda c: q.v2_active_users(c, f)))

    @app.get("/v2/customer-lifecycle", tags=["v2"])
    async def v2_lifecycle(request: Request) -> Response:
        auth.require(request, ANALYTICS)
        f = v2_filters(
            request,
            intervals=LIFECYCLE_INTERVALS,
            default_interval="month",
            segments_allowed=False,
            activity_types_allowed=False,
            extra=("status",),
        )
        statuses = multi(request.query_params, "status")
        bad = [s for s in statuses if s not in ("new", "returning", "resurrecting", "dormant")]
        if bad:
            raise InvalidRequest(
                f"unknown status(es) {bad}; known: ['new', 'returning', 'resurrecting', 'dormant']"
            )
        return await answer(
            request,
            v2("mart_customer_lifecycle", f, lambda c: q.v2_customer_lifecycle(c, f, statuses)),
        )

    @app.get("/v2/activity-heatmap", tags=["v2"])
    async def v2_heatmap(request: Request) -> Response:
        auth.require(request, ANALYTICS)
        f = v2_filters(request, segments_allowed=False, activity_types_allowed=False)
        if f.start or f.end:
            raise InvalidRequest("the activity heatmap covers the full history; drop start/end")
        return await answer(request, v2("mart_activity_heatmap", f, q.v2_activity_heatmap))

    @app.get("/v2/customer-demographics", tags=["v2"])
    async def v2_demographics(request: Request) -> Response:
        auth.require(request, ANALYTICS)
        f = v2_filters(request, activity_types_allowed=False, extra=("dimension", "currency"))
        dimension = request.query_params.get("dimension")
        if dimension is not None and dimension not in DIMENSIONS:
            raise InvalidRequest(f"dimension={dimension!r} is not one of {list(DIMENSIONS)}")
        currency = request.query_params.get("currency")
        return await answer(
            request,
            v2(
                "mart_customer_demographics",
                f,
                lambda c: q.v2_demographics(c, f, dimension, currency, settings.timezone),
            ),
        )

    @app.get("/v2/service-usage", tags=["v2"])
    async def v2_service_usage(request: Request) -> Response:
        auth.require(request, ANALYTICS)
        f = v2_filters(
            request,
            segments_allowed=False,
            activity_types_allowed=False,
            extra=("service_category", "currency"),
        )
        categories = multi(request.query_params, "service_category")
        known = ("grooming", "veterinary", "boarding", "daycare", "training", "walking", "other")
        bad = [c for c in categories if c not in known]
        if bad:
            raise InvalidRequest(f"unknown service_category {bad}; known: {list(known)}")
        currency = request.query_params.get("currency")
        return await answer(
            request,
            v2("mart_service_usage", f, lambda c: q.v2_service_usage(c, f, categories, currency)),
        )

    @app.get("/v2/cohort-retention", tags=["v2"])
    async def v2_cohort(request: Request) -> Response:
        auth.require(request, ANALYTICS)
        f = v2_filters(
            request, segments_allowed=False, activity_types_allowed=False, extra=("max_months",)
        )
        max_months = parse_int(request.query_params, "max_months", 24, 0, 240)
        return await answer(
            request,
            v2("mart_cohort_retention", f, lambda c: q.v2_cohort_retention(c, f, max_months)),
        )

    @app.get("/v2/nday-retention", tags=["v2"])
    async def v2_nday(request: Request) -> Response:
        auth.require(request, ANALYTICS)
        f = v2_filters(request, segments_allowed=False, activity_types_allowed=False)
        return await answer(
            request, v2("mart_nday_retention", f, lambda c: q.v2_nday_retention(c, f))
        )

    @app.get("/v2/retention-monthly", tags=["v2"])
    async def v2_retention_monthly(request: Request) -> Response:
        auth.require(request, ANALYTICS)
        f = v2_filters(request, activity_types_allowed=False)
        return await answer(
            request, v2("mart_retention_monthly", f, lambda c: q.v2_retention_monthly(c, f))
        )

    @app.get("/v2/repeat-customers", tags=["v2"])
    async def v2_repeat(request: Request) -> Response:
        auth.require(request, ANALYTICS)
        f = v2_filters(request, segments_allowed=False, activity_types_allowed=False)
        return await answer(
            request, v2("mart_repeat_customers", f, lambda c: q.v2_repeat_customers(c, f))
        )

    # ---- reports -----------------------------------------------------------------------
    @app.get("/reports", tags=["reports"])
    def reports(request: Request) -> Response:
        auth.require(request, ANALYTICS)
        root = settings.exports_dir
        dates = export_dates(root)
        wanted = request.query_params.get("date") or latest_date(root)
        if wanted is not None and wanted not in dates:
            raise HTTPException(404, f"no export folder for {wanted!r}; available: {dates[:10]}")
        manifest, files = load_manifest(root, wanted) if wanted else ({}, {})
        payload = {
            "latest": latest_date(root),
            "dates": dates,
            "date": wanted,
            "files": [f.describe() for f in sorted(files.values(), key=lambda x: x.name)],
            "manifest": manifest,
        }
        request.state.rows = len(payload["files"])
        return Response(
            _dumps(payload), media_type="application/json", headers={"Cache-Control": CACHE_CONTROL}
        )

    @app.get("/reports/{day}/{filename}", tags=["reports"])
    def report_file(request: Request, day: str, filename: str) -> Response:
        auth.require(request, ANALYTICS)
        found = resolve(settings.exports_dir, day, filename)
        if found is None:
            raise HTTPException(
                404, f"no report {filename!r} in the export of {day!r}; see GET /reports"
            )
        etag = f'"{found.sha256}"'
        headers = {
            "ETag": etag,
            "X-Checksum-SHA256": found.sha256,
            "Cache-Control": CACHE_CONTROL,
        }
        request.state.rows = found.rows
        if etag in _if_none_match(request):
            return Response(status_code=304, headers=headers)
        return FileResponse(
            found.path,
            media_type=CONTENT_TYPES[found.format],
            filename=found.download_name,
            headers=headers,
        )

    # ---- health, dashboard, static -----------------------------------------------------
    @app.get("/health", tags=["ops"])
    def health() -> Response:
        try:
            pub = store.current()
        except NothingPublished as exc:
            return JSONResponse({"status": "unavailable", "detail": str(exc)}, status_code=503)
        now = datetime.now(UTC)
        payload = {
            "status": "ok",
            "run_id": pub.run_id,
            "published_at": pub.published_at,
            "publication_age_seconds": round((now - pub.published_at).total_seconds(), 1)
            if pub.published_at
            else None,
            "high_water_mark": pub.high_water_mark,
            "data_age_seconds": round((now - pub.high_water_mark).total_seconds(), 1)
            if pub.high_water_mark
            else None,
            "marts": pub.marts,
        }
        return Response(
            _dumps(payload), media_type="application/json", headers={"Cache-Control": "no-store"}
        )

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard")

    @app.get("/dashboard", include_in_schema=False)
    def dashboard() -> HTMLResponse:
        return HTMLResponse(
            DASHBOARD_HTML.read_text(encoding="utf-8"), headers={"Cache-Control": "no-cache"}
        )

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js(request: Request) -> Response:
        body, digest = _plotly_js()
        etag = f'"{digest}"'
        headers = {"ETag": etag, "Cache-Control": "public, max-age=86400"}
        if etag in _if_none_match(request):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/javascript", headers=headers)

    return app


def _etag(pub: Publication, canonical: str) -> str:
    return '"' + hashlib.sha256(f"{pub.tag}|{canonical}".encode()).hexdigest()[:32] + '"'


def _headers(etag: str, pub: Publication) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": CACHE_CONTROL, "X-Publication": pub.run_id}


class ResponseCache:
    """Bounded LRU of response bodies keyed by (publication, request).

    Answers only change with a publication, so a repeated request is served from memory
    without touching DuckDB; keys of an old publication simply age out.
    """

    MAX_BODY = 2 * 1024 * 1024

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[tuple[str, str], tuple[bytes, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> tuple[bytes, int] | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: tuple[str, str], value: tuple[bytes, int]) -> None:
        if len(value[0]) > self.MAX_BODY:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (several worker processes): settings from the environment."""
    from petpro.settings import get_settings

    return create_app(get_settings().with_demo_jwt_secret())


def _if_none_match(request: Request) -> set[str]:
    header = request.headers.get("if-none-match", "")
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}
