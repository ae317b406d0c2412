"""Shared vocabulary every floor may import: activity types, personal columns, mart names.

These names are defined once, here on the ground floor, because the source generator, the
ingestion contracts, the dbt tests' Python checks, the exports and the API all speak them.
A package higher up imports them from here and never redefines them; the PostgreSQL enum in
``sourcedb/schema.sql`` and the dbt ``accepted_values`` lists are checked against these
tuples by tests.
"""

from __future__ import annotations

# The 21 activity types of the PetPro application, in the order of the source enum.
ACTIVITY_TYPES: tuple[str, ...] = (
    "login",
    "logout",
    "profile_update",
    "password_changed",
    "email_verified",
    "booking_created",
    "booking_updated",
    "booking_cancelled",
    "payment_made",
    "payment_refunded",
    "pet_created",
    "pet_updated",
    "pet_removed",
    "review_submitted",
    "address_added",
    "address_updated",
    "address_removed",
    "notification_settings_updated",
    "account_created",
    "account_deactivated",
    "account_reactivated",
)

# Columns that hold personal data in the source and must never appear in the lake, marts,
# exports or API responses. Tests scan every output for these names and for raw values.
PII_COLUMNS: frozenset[str] = frozenset(
    {
        "first_name",
        "last_name",
        "email",
        "password_hash",
        "phone",
        "street",
        "postal_code",
        "ip_address",
        "user_agent",
    }
)

# The marts the publication promises to readers (API, dashboard, exports). A publication
# missing one of them is reported; readers may rely on every one existing.
CONTRACT_MARTS: tuple[str, ...] = (
    "mart_customer_growth",
    "mart_customer_activity",
    "mart_active_users",
    "mart_customer_lifecycle",
    "mart_activity_heatmap",
    "mart_customer_demographics",
    "mart_service_usage",
    "mart_cohort_retention",
    "mart_nday_retention",
    "mart_retention_monthly",
    "mart_repeat_customers",
    "mart_customer_activity_daily",
    "mart_customer_profile",
    "mart_customer_segments",
    "mart_customer_activity_summary",
    "mart_customer_engaged_months",
    # Customer predictions: dbt marts the models read, then their derived marts.
    "mart_customer_transactions",
    "mart_customer_activity_log",
    "mart_customer_rfm",
    "mart_rfm_segments",
    "mart_customer_churn_risk",
    "mart_customer_clv",
    # Service recommendations: dbt marts the recommender reads, then its derived marts.
    "mart_customer_service_bookings",
    "mart_service_catalogue",
    "mart_service_recommendations",
    "mart_recommended_services_by_city",
    "mart_model_evaluation",
    # Insights: the daily KPI series (dbt), its anomalies and trends (derived).
    "mart_metric_daily",
    "mart_metric_anomalies",
    "mart_metric_trends",
)

# Contract marts computed in Python by derived-marts steps of the publication
# (``warehouse.publish.publish(derive=...)``), not by dbt: build.duckdb never holds them.
DERIVED_MARTS: frozenset[str] = frozenset(
    {
        "mart_customer_churn_risk",
        "mart_customer_clv",
        "mart_service_recommendations",
        "mart_recommended_services_by_city",
        "mart_model_evaluation",
        "mart_metric_anomalies",
        "mart_metric_trends",
    }
)

# Per-customer marts: published for the API's exact filtered counts, never a report file.
CUSTOMER_LEVEL_MARTS: frozenset[str] = frozenset(
    {
        "mart_customer_profile",
        "mart_customer_activity_daily",
        "mart_customer_segments",
        "mart_customer_activity_summary",
        "mart_customer_engaged_months",
        "mart_customer_transactions",
        "mart_customer_activity_log",
        "mart_customer_rfm",
        "mart_customer_churn_risk",
        "mart_customer_clv",
        "mart_customer_service_bookings",
        "mart_service_recommendations",
    }
)
