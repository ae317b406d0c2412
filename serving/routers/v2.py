"""The v2 analytics: one endpoint per mart, with date, interval, activity-type and segment filters.

Each endpoint is declared by a :class:`~serving.params.FilterSpec` (the filters it takes and
its mart), which parses its request, documents its parameters in the OpenAPI schema and
describes it in ``GET /v2``. Answers are ``{meta, data}`` (``Answer.mart``). Admin and analyst.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from serving import queries as q
from serving.auth import ANALYTICS
from serving.dependencies import answer, require, v2_filters
from serving.params import LIFECYCLE_INTERVALS, SEGMENTS, Filters, FilterSpec
from serving.responses import Answer

router = APIRouter(prefix="/v2", tags=["v2"], dependencies=[Depends(require(ANALYTICS))])

NO_CUSTOMER_GRAIN = {"activity_types": False, "segments": False, "listed_intervals": None}

GROWTH = FilterSpec("mart_customer_growth")
ACTIVITY = FilterSpec("mart_customer_activity")
ACTIVE_CUSTOMERS = FilterSpec("mart_customer_growth + mart_customer_activity")
ACTIVE_USERS = FilterSpec("mart_active_users", intervals=("day",), listed_intervals=None)
LIFECYCLE = FilterSpec(
    "mart_customer_lifecycle",
    intervals=LIFECYCLE_INTERVALS,
    default_interval="month",
    listed_intervals=LIFECYCLE_INTERVALS,
    activity_types=False,
    segments=False,
    options=("status",),
)
HEATMAP = FilterSpec("mart_activity_heatmap", dates=False, **NO_CUSTOMER_GRAIN)
DEMOGRAPHICS = FilterSpec(
    "mart_customer_demographics",
    activity_types=False,
    listed_intervals=None,
    options=("dimension", "currency"),
)
SERVICE_USAGE = FilterSpec(
    "mart_service_usage", options=("service_category", "currency"), **NO_CUSTOMER_GRAIN
)
COHORT_RETENTION = FilterSpec("mart_cohort_retention", options=("max_months",), **NO_CUSTOMER_GRAIN)
NDAY_RETENTION = FilterSpec("mart_nday_retention", **NO_CUSTOMER_GRAIN)
RETENTION_MONTHLY = FilterSpec(
    "mart_retention_monthly", activity_types=False, listed_intervals=None
)
REPEAT_CUSTOMERS = FilterSpec("mart_repeat_customers", **NO_CUSTOMER_GRAIN)

# What GET /v2 lists, in this order.
ENDPOINTS: dict[str, FilterSpec] = {
    "/v2/customer-growth": GROWTH,
    "/v2/customer-activity": ACTIVITY,
    "/v2/active-customers": ACTIVE_CUSTOMERS,
    "/v2/active-users": ACTIVE_USERS,
    "/v2/customer-lifecycle": LIFECYCLE,
    "/v2/activity-heatmap": HEATMAP,
    "/v2/customer-demographics": DEMOGRAPHICS,
    "/v2/service-usage": SERVICE_USAGE,
    "/v2/cohort-retention": COHORT_RETENTION,
    "/v2/nday-retention": NDAY_RETENTION,
    "/v2/retention-monthly": RETENTION_MONTHLY,
    "/v2/repeat-customers": REPEAT_CUSTOMERS,
}


@router.get("")
async def index(answer: Answer = Depends(answer)) -> Response:
    """The v2 endpoints, their mart and which filters each takes; the segment names."""
    listing = [spec.index_entry(path) for path, spec in ENDPOINTS.items()]
    return await answer(lambda cur, _: {"data": listing, "segments": list(SEGMENTS)})


@router.get("/segments")
async def segments(answer: Answer = Depends(answer)) -> Response:
    """The segment values present in the publication (the dashboard's pickers)."""
    return await answer(lambda cur, _: {"data": q.segment_values(cur)})


@router.get("/customer-growth", openapi_extra=GROWTH.openapi())
async def customer_growth(
    f: Filters = Depends(v2_filters(GROWTH)), answer: Answer = Depends(answer)
) -> Response:
    """New, cumulative and active customers and growth rate per period."""
    return await answer.mart(GROWTH.mart, f, q.customer_growth)


@router.get("/customer-activity", openapi_extra=ACTIVITY.openapi())
async def customer_activity(
    f: Filters = Depends(v2_filters(ACTIVITY)), answer: Answer = Depends(answer)
) -> Response:
    """Events and distinct customers per period and activity type."""
    return await answer.mart(ACTIVITY.mart, f, q.customer_activity)


@router.get("/active-customers", openapi_extra=ACTIVE_CUSTOMERS.openapi())
async def active_customers(
    f: Filters = Depends(v2_filters(ACTIVE_CUSTOMERS)), answer: Answer = Depends(answer)
) -> Response:
    """Exact distinct customers per period across the selected activity types."""
    return await answer.mart(ACTIVE_CUSTOMERS.mart, f, q.active_customers)


@router.get("/active-users", openapi_extra=ACTIVE_USERS.openapi())
async def active_users(
    f: Filters = Depends(v2_filters(ACTIVE_USERS)), answer: Answer = Depends(answer)
) -> Response:
    """DAU, WAU (7 days), MAU (30 days) and stickiness per date."""
    return await answer.mart(ACTIVE_USERS.mart, f, q.active_users)


@router.get("/customer-lifecycle", openapi_extra=LIFECYCLE.openapi())
async def customer_lifecycle(
    f: Filters = Depends(v2_filters(LIFECYCLE)), answer: Answer = Depends(answer)
) -> Response:
    """New, returning, resurrecting and dormant customers per week or month."""
    return await answer.mart(LIFECYCLE.mart, f, q.customer_lifecycle)


@router.get("/activity-heatmap", openapi_extra=HEATMAP.openapi())
async def activity_heatmap(
    f: Filters = Depends(v2_filters(HEATMAP)), answer: Answer = Depends(answer)
) -> Response:
    """Events and customers by ISO weekday and hour, over the full history."""
    return await answer.mart(HEATMAP.mart, f, q.activity_heatmap)


@router.get("/customer-demographics", openapi_extra=DEMOGRAPHICS.openapi())
async def customer_demographics(
    f: Filters = Depends(v2_filters(DEMOGRAPHICS)), answer: Answer = Depends(answer)
) -> Response:
    """Customers per segment; under segment filters a cross-tab of the filtered customers."""
    return await answer.mart(DEMOGRAPHICS.mart, f, q.demographics)


@router.get("/service-usage", openapi_extra=SERVICE_USAGE.openapi())
async def service_usage(
    f: Filters = Depends(v2_filters(SERVICE_USAGE)), answer: Answer = Depends(answer)
) -> Response:
    """Bookings, statuses and revenue per month, service category and currency."""
    return await answer.mart(SERVICE_USAGE.mart, f, q.service_usage)


@router.get("/cohort-retention", openapi_extra=COHORT_RETENTION.openapi())
async def cohort_retention(
    f: Filters = Depends(v2_filters(COHORT_RETENTION)), answer: Answer = Depends(answer)
) -> Response:
    """Monthly signup cohorts: engaged "on" and "on or after" month k."""
    return await answer.mart(COHORT_RETENTION.mart, f, q.cohort_retention)


@router.get("/nday-retention", openapi_extra=NDAY_RETENTION.openapi())
async def nday_retention(
    f: Filters = Depends(v2_filters(NDAY_RETENTION)), answer: Answer = Depends(answer)
) -> Response:
    """Weekly signup cohorts: day-N rolling 24-hour retention."""
    return await answer.mart(NDAY_RETENTION.mart, f, q.nday_retention)


@router.get("/retention-monthly", openapi_extra=RETENTION_MONTHLY.openapi())
async def retention_monthly(
    f: Filters = Depends(v2_filters(RETENTION_MONTHLY)), answer: Answer = Depends(answer)
) -> Response:
    """Engaged customers of month M still engaged in M+1, and churn."""
    return await answer.mart(RETENTION_MONTHLY.mart, f, q.retention_monthly)


@router.get("/repeat-customers", openapi_extra=REPEAT_CUSTOMERS.openapi())
async def repeat_customers(
    f: Filters = Depends(v2_filters(REPEAT_CUSTOMERS)), answer: Answer = Depends(answer)
) -> Response:
    """Customers with one and with two or more bookings up to each month."""
    return await answer.mart(REPEAT_CUSTOMERS.mart, f, q.repeat_customers)
