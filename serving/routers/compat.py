"""Endpoints compatible with the original PetPro admin dashboard (NestJS ``AnalyticsService``).

Same paths, parameters (``startDate``, ``endDate``, ``interval``/``groupBy``) and shapes as
the original; answered from the marts (``serving.queries.compat_*``). Admin only.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from serving import compat as c
from serving.auth import ADMIN_ONLY
from serving.dependencies import answer, compat_filters, require
from serving.params import INTERVALS, Filters
from serving.responses import Answer

router = APIRouter(tags=["compatible"], dependencies=[Depends(require(ADMIN_ONLY))])


def _documented(*names: str, interval: str = "interval") -> dict:
    described = {
        "startDate": "first day, YYYY-MM-DD or a JavaScript ISO timestamp",
        "endDate": "last day, inclusive; at most ten years after startDate",
        interval: f"one of {list(INTERVALS)} (default day)",
    }
    return {
        "parameters": [
            {"name": n, "in": "query", "required": False, "description": described[n],
             "schema": {"type": "string"}}
            for n in names
        ]
    }  # fmt: skip


DATES = _documented("startDate", "endDate")
DATES_INTERVAL = _documented("startDate", "endDate", "interval")


@router.get("/analytics/customer-growth", openapi_extra=DATES_INTERVAL)
async def customer_growth(
    f: Filters = Depends(compat_filters()), answer: Answer = Depends(answer)
) -> Response:
    """New customers per period: ``[{date, count}]``, periods with signups only."""
    return await answer(lambda cur, _: c.customer_growth(cur, f))


@router.get("/analytics/customer-activity", openapi_extra=DATES_INTERVAL)
async def customer_activity(
    f: Filters = Depends(compat_filters()), answer: Answer = Depends(answer)
) -> Response:
    """Customers' activities per period and type: ``[{date, activity_type, count}]``."""
    return await answer(lambda cur, _: c.customer_activity(cur, f))


@router.get("/analytics/customer-demographics")
async def customer_demographics(answer: Answer = Depends(answer)) -> Response:
    """Pet types, registrations of the latest 12 months, top 10 customers by activity."""
    return await answer(lambda cur, _: c.demographics(cur))


@router.get("/analytics/service-usage", openapi_extra=DATES)
async def service_usage(
    f: Filters = Depends(compat_filters()), answer: Answer = Depends(answer)
) -> Response:
    """Bookings per service category and revenue collected per month and currency."""
    return await answer(lambda cur, _: c.service_usage(cur, f))


@router.get("/analytics/customer-retention")
async def customer_retention(answer: Answer = Depends(answer)) -> Response:
    """Repeat bookers (top 50, by id) and month-to-month retention (latest 12 months)."""
    return await answer(lambda cur, _: c.retention(cur))


@router.get(
    "/activities/statistics",
    openapi_extra=_documented("startDate", "endDate", "groupBy", interval="groupBy"),
)
async def activity_statistics(
    f: Filters = Depends(compat_filters("groupBy")), answer: Answer = Depends(answer)
) -> Response:
    """Activities per period and type: ``[{period, type, count}]``."""
    return await answer(lambda cur, _: c.activity_statistics(cur, f))
