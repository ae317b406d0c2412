"""Data responses: one publication per answer, JSON encoding, ETags and the response cache.

:class:`Answer` runs a query on a cursor of the current publication (in the thread pool)
and returns it as JSON with an ``ETag`` derived from the publication and the request, plus
``Cache-Control: private, no-cache``: clients revalidate and get a 304 for free until the
next publication. :class:`ResponseCache` keeps the bodies per (publication, request), so a
repeated question never touches DuckDB; keys of an old publication simply age out.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import duckdb
from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool

from serving.params import Filters
from serving.publication import Publication, PublicationStore

CACHE_CONTROL = "private, no-cache"

Compute = Callable[[duckdb.DuckDBPyConnection, Publication], Any]
RowsQuery = Callable[[duckdb.DuckDBPyConnection, Filters], list[dict[str, Any]]]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # money stays exact; clients parse it
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, default=_jsonable, separators=(",", ":"), allow_nan=False).encode()


def count_rows(payload: Any) -> int:
    if isinstance(payload, list):
        return len(payload)
    if isinstance(payload, dict):
        if isinstance(payload.get("data"), list):
            return len(payload["data"])
        return sum(len(v) for v in payload.values() if isinstance(v, list))
    return 1


def if_none_match(request: Request) -> set[str]:
    header = request.headers.get("if-none-match", "")
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}


def etag(pub: Publication, canonical: str) -> str:
    return '"' + hashlib.sha256(f"{pub.tag}|{canonical}".encode()).hexdigest()[:32] + '"'


def data_headers(tag: str, pub: Publication) -> dict[str, str]:
    return {"ETag": tag, "Cache-Control": CACHE_CONTROL, "X-Publication": pub.run_id}


class ResponseCache:
    """Bounded LRU of response bodies keyed by (publication, request).

    Answers only change with a publication, so a repeated request is served from memory
    without touching DuckDB; keys of an old publication simply age out. Bounded both in
    entries and in bytes (``MAX_BYTES`` per worker), so a few large answers cannot grow a
    worker without limit; ``max_entries=0`` turns the cache off.
    """

    MAX_BODY = 2 * 1024 * 1024
    MAX_BYTES = 64 * 1024 * 1024

    def __init__(self, max_entries: int, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._data: OrderedDict[tuple[str, str], tuple[bytes, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: tuple[str, str]) -> tuple[bytes, int] | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: tuple[str, str], value: tuple[bytes, int]) -> None:
        if self.max_entries <= 0 or len(value[0]) > self.MAX_BODY:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.bytes -= len(old[0])
            self._data[key] = value
            self.bytes += len(value[0])
            while len(self._data) > self.max_entries or self.bytes > self.max_bytes:
                _, evicted = self._data.popitem(last=False)
                self.bytes -= len(evicted[0])


class Answer:
    """Answers one request from the current publication (the publication dependency)."""

    def __init__(self, request: Request, store: PublicationStore, cache: ResponseCache) -> None:
        self.request = request
        self.store = store
        self.cache = cache

    async def __call__(self, compute: Compute) -> Response:
        request = self.request
        canonical = request.url.path + "?" + "&".join(sorted(str(request.query_params).split("&")))
        pub = self.store.current()
        tag = etag(pub, canonical)
        if tag in if_none_match(request):
            request.state.publication = pub.run_id
            request.state.rows = 0
            return Response(status_code=304, headers=data_headers(tag, pub))
        hit = self.cache.get((pub.tag, canonical))
        if hit is None:
            # DuckDB work runs in the thread pool; the cursor may land on a publication newer
            # than `pub` if one appeared meanwhile, so the ETag is taken from the one used.
            def run() -> tuple[Publication, bytes, int]:
                with self.store.cursor() as (used, cur):
                    payload = compute(cur, used)
                return used, dumps(payload), count_rows(payload)

            pub, body, rows = await run_in_threadpool(run)
            tag = etag(pub, canonical)
            self.cache.put((pub.tag, canonical), (body, rows))
        else:
            body, rows = hit
        request.state.publication = pub.run_id
        request.state.rows = rows
        return Response(body, media_type="application/json", headers=data_headers(tag, pub))

    async def mart(self, mart: str, f: Filters, query: RowsQuery) -> Response:
        """A v2 answer: ``{meta: {mart, publication, …, computed_from}, data: rows}``."""

        def compute(cur: duckdb.DuckDBPyConnection, pub: Publication) -> dict[str, Any]:
            return {
                "meta": {
                    "mart": mart,
                    "publication": pub.run_id,
                    "published_at": pub.published_at,
                    "high_water_mark": pub.high_water_mark,
                    "filters": f.as_meta(),
                    "computed_from": "customer-level marts" if f.by_customer else "mart",
                },
                "data": query(cur, f),
            }

        return await self(compute)
