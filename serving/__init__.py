"""Read-only analytics API and dashboard over the published marts (FastAPI; never imports Dagster).

``serving.app.create_app(settings)`` builds the application from routers by area
(``serving.routers``: the endpoints compatible with the original PetPro admin dashboard,
richer ``/v2`` endpoints per mart with exact filtered distinct counts, report downloads,
``/health`` and the ``/dashboard`` page) and the dependencies of ``serving.dependencies``
(auth, publication, filters). Auth is in ``serving.auth`` (JWT + API keys, roles), the audit
trail in ``serving.audit``, and ``serving.publication`` follows new publications without a
restart. Metrics are defined in dbt; the API selects, filters and counts.
"""
