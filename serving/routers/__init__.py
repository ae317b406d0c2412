"""The API's routes by area, each a FastAPI ``APIRouter`` included by ``serving.app``.

``compat`` — the original dashboard's ``/analytics/*`` and ``/activities/statistics``
(admin); ``v2`` — one endpoint per mart with filters (admin, analyst); ``reports`` — the
exported report files (admin, analyst); ``ops`` — ``/health``, the dashboard page and its
static script (no auth). Routes are thin: auth, publication and filters are dependencies
(``serving.dependencies``), the SQL is in ``serving.queries``.
"""
