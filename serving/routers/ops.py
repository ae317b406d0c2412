"""Operations and the dashboard: ``/health``, ``/dashboard``, plotly's script (no auth).

The dashboard page itself carries no data; it calls the v2 and reports endpoints with the
token the user pastes in. plotly.js is served from the installed ``plotly`` package.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from serving.publication import NothingPublished
from serving.responses import dumps, if_none_match

router = APIRouter()

DASHBOARD_HTML = Path(__file__).resolve().parent.parent / "dashboard.html"


@cache
def _plotly_js() -> tuple[bytes, str]:
    from plotly.offline import get_plotlyjs

    body = get_plotlyjs().encode()
    return body, hashlib.sha256(body).hexdigest()[:32]


@router.get("/health", tags=["ops"])
def health(request: Request) -> Response:
    """Run id, publication age, high-water mark and data age, mart row counts; 503 if none."""
    try:
        pub = request.app.state.store.current()
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
        dumps(payload), media_type="application/json", headers={"Cache-Control": "no-store"}
    )


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/dashboard")


@router.get("/dashboard", include_in_schema=False)
def dashboard() -> HTMLResponse:
    return HTMLResponse(
        DASHBOARD_HTML.read_text(encoding="utf-8"), headers={"Cache-Control": "no-cache"}
    )


@router.get("/static/plotly.min.js", include_in_schema=False)
def plotly_js(request: Request) -> Response:
    body, digest = _plotly_js()
    tag = f'"{digest}"'
    headers = {"ETag": tag, "Cache-Control": "public, max-age=86400"}
    if tag in if_none_match(request):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/javascript", headers=headers)
