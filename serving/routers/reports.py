"""Report downloads: the manifest of an export folder and its files (admin, analyst).

Reads ``settings.exports_dir`` through ``serving.reports`` (manifest-listed files only,
checksums from the manifest). The date and file name of a download are checked here first,
so a malformed one is a 404 with a message, never a path operation.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import FileResponse

from petpro.settings import Settings
from serving.auth import ANALYTICS
from serving.dependencies import require, settings
from serving.params import shown
from serving.reports import CONTENT_TYPES, export_dates, latest_date, load_manifest, resolve
from serving.responses import CACHE_CONTROL, dumps, if_none_match

router = APIRouter(tags=["reports"], dependencies=[Depends(require(ANALYTICS))])

DATE_DOC = {
    "parameters": [
        {
            "name": "date",
            "in": "query",
            "required": False,
            "description": "export date YYYY-MM-DD (default: the latest export)",
            "schema": {"type": "string"},
        }
    ]
}


def _printable(text: str) -> bool:
    return text.isprintable() and len(text) <= 200


@router.get("/reports", openapi_extra=DATE_DOC)
def reports(request: Request, settings: Settings = Depends(settings)) -> Response:
    """The manifest of ``exports/latest`` (or of ``?date=``) and the available dates."""
    root = settings.exports_dir
    dates = export_dates(root)
    wanted = request.query_params.get("date") or latest_date(root)
    if wanted is not None and (wanted not in dates or not _printable(wanted)):
        raise HTTPException(404, f"no export folder for {shown(wanted)}; available: {dates[:10]}")
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
        dumps(payload), media_type="application/json", headers={"Cache-Control": CACHE_CONTROL}
    )


@router.get("/reports/{day}/{filename}")
def report_file(
    request: Request, day: str, filename: str, settings: Settings = Depends(settings)
) -> Response:
    """One report file (streamed), with its SHA-256 as ``ETag`` and ``X-Checksum-SHA256``."""
    found = (
        resolve(settings.exports_dir, day, filename)
        if _printable(day) and _printable(filename)
        else None
    )
    if found is None:
        raise HTTPException(
            404,
            f"no report {shown(filename)} in the export of {shown(day)}; see GET /reports",
        )
    tag = f'"{found.sha256}"'
    headers = {"ETag": tag, "X-Checksum-SHA256": found.sha256, "Cache-Control": CACHE_CONTROL}
    request.state.rows = found.rows
    if tag in if_none_match(request):
        return Response(status_code=304, headers=headers)
    return FileResponse(
        found.path,
        media_type=CONTENT_TYPES[found.format],
        filename=found.download_name,
        headers=headers,
    )
