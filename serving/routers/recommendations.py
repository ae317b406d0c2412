"""Service recommendations over the published marts: per customer, and per service (admin, analyst).

- ``GET /v2/customers/{id}/recommendations`` — the customer's ranked services from
  ``mart_service_recommendations`` (rank, service, vendor, category, score, reason), with the
  path (model or cold start) and the model version in ``meta``. 404 for an unknown customer
  and for one without recommendations (only active customers get them).
- ``GET /v2/services/{id}/likely-customers`` — for vendors and marketing: how many active
  customers have the service in their top 10, by rank, reason and path, and by demographic
  segment (``mart_customer_segments``). Counts only, never a customer id; a segment with fewer
  than :data:`MIN_SEGMENT` customers is left out so that no one can be singled out.

Both read one publication per request through :class:`~serving.responses.Answer`.
"""

from __future__ import annotations

import uuid
from typing import Any

import duckdb
from fastapi import APIRouter, Depends, HTTPException, Response

from serving.auth import ANALYTICS
from serving.dependencies import answer, require
from serving.params import InvalidRequest, shown
from serving.publication import Publication
from serving.responses import Answer
from serving.sql import fetch

router = APIRouter(
    prefix="/v2", tags=["recommendations"], dependencies=[Depends(require(ANALYTICS))]
)

RECOMMENDATIONS = "mart_service_recommendations"
MIN_SEGMENT = 5


def _uuid(name: str, value: str) -> str:
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise InvalidRequest(f"{name} {shown(value)} is not a UUID") from None


def _require_mart(cur: duckdb.DuckDBPyConnection) -> None:
    found = cur.execute(
        "select count(*) from information_schema.tables where table_schema = 'main' "
        "and table_name = ?",
        [RECOMMENDATIONS],
    ).fetchone()
    if not found or not found[0]:
        raise HTTPException(
            503,
            f"the current publication has no {RECOMMENDATIONS}: publish again with "
            "`petpro refresh`",
        )


def _meta(pub: Publication, **extra: Any) -> dict[str, Any]:
    return {
        "mart": RECOMMENDATIONS,
        "publication": pub.run_id,
        "published_at": pub.published_at,
        "high_water_mark": pub.high_water_mark,
        **extra,
    }


@router.get("/customers/{customer_id}/recommendations")
async def customer_recommendations(customer_id: str, answer: Answer = Depends(answer)) -> Response:
    """The customer's recommended services, best first, with the reason for each."""
    wanted = _uuid("customer id", customer_id)

    def compute(cur: duckdb.DuckDBPyConnection, pub: Publication) -> dict[str, Any]:
        _require_mart(cur)
        rows = fetch(
            cur,
            f"""select rank, service_id, vendor_id, service_category, score, reason, path,
                       model_version, model_candidate
                from {RECOMMENDATIONS} where customer_id = ? order by rank""",
            [wanted],
        )
        if not rows:
            known = cur.execute(
                "select count(*) from mart_customer_profile where customer_id = ?", [wanted]
            ).fetchone()
            if known and known[0]:
                raise HTTPException(
                    404,
                    f"customer {wanted} has no recommendations: only customers active in the "
                    "90 days up to the high-water mark get them",
                )
            raise HTTPException(404, f"no customer {wanted} in the current publication")
        first = rows[0]
        meta = _meta(
            pub,
            customer_id=wanted,
            path=first["path"],
            model_version=first["model_version"],
            model_candidate=first["model_candidate"],
        )
        keep = ("rank", "service_id", "vendor_id", "service_category", "score", "reason")
        return {"meta": meta, "data": [{k: r[k] for k in keep} for r in rows]}

    return await answer(compute)


@router.get("/services/{service_id}/likely-customers")
async def likely_customers(service_id: str, answer: Answer = Depends(answer)) -> Response:
    """How many active customers have the service in their top 10, overall and by segment."""
    wanted = _uuid("service id", service_id)

    def compute(cur: duckdb.DuckDBPyConnection, pub: Publication) -> dict[str, Any]:
        _require_mart(cur)
        service = fetch(
            cur,
            "select service_id, vendor_id, service_category, vendor_city, vendor_country, "
            "is_bookable from mart_service_catalogue where service_id = ?",
            [wanted],
        )
        if not service:
            raise HTTPException(404, f"no service {wanted} in the current publication")
        where = f"from {RECOMMENDATIONS} where service_id = ?"
        total = cur.execute(f"select count(distinct customer_id) {where}", [wanted]).fetchone()
        by = {
            column: fetch(
                cur,
                f"select {column}, count(*) as customers {where} group by 1 order by 1",
                [wanted],
            )
            for column in ("rank", "reason", "path")
        }
        segments = fetch(
            cur,
            f"""select s.dimension, s.segment, count(distinct r.customer_id) as customers
                from {RECOMMENDATIONS} r
                join mart_customer_segments s on s.customer_id = r.customer_id
                where r.service_id = ?
                group by 1, 2
                having count(distinct r.customer_id) >= ?
                order by 1, customers desc, 2""",
            [wanted, MIN_SEGMENT],
        )
        meta = _meta(pub, service=service[0], min_segment_size=MIN_SEGMENT)
        data = {
            "customers": int(total[0]) if total else 0,
            "by_rank": by["rank"],
            "by_reason": by["reason"],
            "by_path": by["path"],
            "segments": segments,
        }
        return {"meta": meta, "data": data}

    return await answer(compute)
