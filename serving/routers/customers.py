"""Customer predictions and history: segment explorer, customer view, activity history.

- ``GET /v2/segments/explore?dims=…&metric=…`` (admin, analyst): exact distinct-customer
  counts and metrics for every combination of up to three dimensions.
- ``GET /v2/customers/{id}`` (admin, analyst): one customer without personal data — profile,
  segments, RFM, churn risk, lifetime value and recent activity.
- ``GET /activities/user/{userId}?page&page_size`` (admin, analyst, or the customer themself
  with a token whose ``sub`` is that id): paginated recent history, newest first.
- ``GET /activities/recent?limit`` (admin only): the latest activities of all customers.

Every route is audited by the middleware (paths under ``/v2`` and ``/activities``). The
history comes from ``mart_customer_activity_log``, the published, bounded recent window
(README: "Activity history"), so ``meta`` states the window it covers.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from serving import customer_queries as cq
from serving.auth import ADMIN_ONLY, ANALYTICS, Authenticator, Principal
from serving.dependencies import answer, require
from serving.params import InvalidRequest, shown
from serving.publication import NothingPublished
from serving.responses import Answer

router = APIRouter(tags=["customers"])


def _published(cur) -> None:
    """503 (one line) when the publication predates the prediction marts."""
    missing = cq.missing_marts(cur)
    if missing:
        raise NothingPublished(
            f"the current publication has no {', '.join(missing)}: publish with this version "
            "(`petpro refresh`)"
        )


MAX_PAGE_SIZE = 100
MAX_RECENT = 500


def _uuid(name: str, value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidRequest(f"{name}={shown(value)} is not a customer UUID") from None


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name}={shown(raw)} is not an integer ({low}..{high})") from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name}={shown(raw)} is out of range; use {low}..{high}")
    return value


def _only(request: Request, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(request.query_params) - set(allowed))
    if unknown:
        raise InvalidRequest(
            f"unknown parameter {shown(unknown[0])}; this endpoint takes {list(allowed) or 'none'}"
        )


async def self_or_analytics(request: Request, userId: str) -> Principal:
    """Admins and analysts may read any history; any other caller only their own (sub = id)."""
    auth: Authenticator = request.app.state.auth
    principal = auth.require(request, (*ANALYTICS, "customer"))
    if principal.role in ANALYTICS:
        return principal
    if principal.subject != userId:
        request.state.auth_failure = "customer asked for another customer's history"
        raise HTTPException(status_code=403, detail="a customer may only read their own history")
    return principal


@router.get(
    "/v2/segments/explore",
    dependencies=[Depends(require(ANALYTICS))],
    openapi_extra={
        "parameters": [
            {"name": "dims", "in": "query", "required": True, "schema": {"type": "string"},
             "description": f"comma-separated, 1..3 of {sorted(cq.EXPLORE_DIMS)}"},
            {"name": "metric", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "comma-separated, any of "
             f"{sorted({**cq.EXPLORE_METRICS, **cq.CURRENCY_METRICS})}"},
        ]
    },
)  # fmt: skip
async def explore(request: Request, answer: Answer = Depends(answer)) -> Response:
    """Exact distinct customers and metrics per combination of up to three dimensions."""
    _only(request, ("dims", "metric"))
    dims, metrics = cq.parse_explore(
        request.query_params.get("dims"), request.query_params.get("metric")
    )

    def compute(cur, pub) -> dict:
        _published(cur)
        return {
            "meta": {
                "marts": [
                    "mart_customer_profile",
                    "mart_customer_activity_summary",
                    "mart_customer_rfm",
                    "mart_customer_churn_risk",
                    "mart_customer_clv",
                ],
                "publication": pub.run_id,
                "high_water_mark": pub.high_water_mark,
                "dims": dims,
                "metrics": metrics,
            },
            "data": cq.explore(cur, dims, metrics),
        }

    return await answer(compute)


@router.get("/v2/predictions/distributions", dependencies=[Depends(require(ANALYTICS))])
async def distributions(request: Request, answer: Answer = Depends(answer)) -> Response:
    """Churn probability and expected-value distributions, RFM segments, model evaluation."""
    _only(request, ())

    def compute(cur, pub) -> dict:
        _published(cur)
        return {"meta": {"publication": pub.run_id}, "data": cq.distributions(cur)}

    return await answer(compute)


@router.get("/v2/customers/{customer_id}", dependencies=[Depends(require(ANALYTICS))])
async def customer(
    customer_id: str, request: Request, answer: Answer = Depends(answer)
) -> Response:
    """One customer (UUID): profile without personal data, segments, RFM, churn, CLV, activity."""
    _only(request, ())
    cid = _uuid("customer_id", customer_id)

    def compute(cur, pub) -> dict:
        _published(cur)
        if not cq.customer_exists(cur, cid):
            raise HTTPException(status_code=404, detail=f"no customer {cid} in the publication")
        return {
            "meta": {"publication": pub.run_id, "high_water_mark": pub.high_water_mark},
            "data": cq.customer_view(cur, cid),
        }

    return await answer(compute)


@router.get("/activities/user/{userId}")
async def user_activities(
    userId: str,
    request: Request,
    _: Principal = Depends(self_or_analytics),
    answer: Answer = Depends(answer),
) -> Response:
    """A customer's recent activity history, newest first, paginated."""
    _only(request, ("page", "page_size"))
    cid = _uuid("userId", userId)
    page = _int(request, "page", 1, 1, 1_000_000)
    size = _int(request, "page_size", 50, 1, MAX_PAGE_SIZE)

    def compute(cur, pub) -> dict:
        if not cq.customer_exists(cur, cid):
            raise HTTPException(status_code=404, detail=f"no customer {cid} in the publication")
        total, rows = cq.user_activities(cur, cid, page, size)
        return {
            "meta": {
                "user_id": cid,
                "page": page,
                "page_size": size,
                "total": total,
                "pages": (total + size - 1) // size,
                **cq.activity_window(cur),
                "publication": pub.run_id,
            },
            "data": rows,
        }

    return await answer(compute)


@router.get("/activities/recent", dependencies=[Depends(require(ADMIN_ONLY))])
async def recent_activities(request: Request, answer: Answer = Depends(answer)) -> Response:
    """The latest activities of all customers (admin only)."""
    _only(request, ("limit",))
    limit = _int(request, "limit", 50, 1, MAX_RECENT)

    def compute(cur, pub) -> dict:
        _published(cur)
        return {
            "meta": {"limit": limit, **cq.activity_window(cur), "publication": pub.run_id},
            "data": cq.recent_activities(cur, limit),
        }

    return await answer(compute)
