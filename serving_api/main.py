"""The serving API: sellers' reports and exports over the warehouse's marts.

In embedded mode this is also the process that owns the chdb warehouse (see README,
"The embedded warehouse"), so it opens it at start-up and runs the refreshes. Callers
authenticate with the core's access tokens (see `serving_api.auth`), checked against the
core's database on a read-only pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from infra.settings import get_settings
from marketplace_core.db import open_pool
from platform_common import log_redaction
from platform_common.http import install_error_handlers
from platform_common.metrics import instrument
from serving_api.auth import AccessDirectory
from serving_api.exports.jobs import ExportJobs
from serving_api.routers import analyst_sql, dashboard, exports, internal, reports

DESCRIPTION = """
Seller reports over the lakehouse (dbt marts in ClickHouse). Money is KGS, sent as decimal
strings (`"1499.00"`). Every error is `{"error": {"code": "...", "message": "..."}}` with a
stable `code` — the same envelope and codes as the core API.

Any report also exports as CSV or XLSX (`format=` on the report, `GET /analytics/export`,
or an export job for large ranges: `POST /analytics/export`, then a time-limited download
link).

Reports need the core's access token (`Authorization: Bearer ...`, from the core API's
`POST /auth/login`): a seller reads the shops of their merchants, admins and analysts
every shop.
"""


def create_app(dsn: str | None = None) -> FastAPI:
    """The app; `dsn` is the core's database (default: the settings' POSTGRES_DSN), read
    only, for the callers' accounts and memberships."""
    log_redaction.install()  # no personal data or secrets in any log line of the process

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from warehouse.client import get_client

        get_client()  # take the warehouse lock now, not on the first request
        # Connects in the background: the API starts (and serves /health and the
        # internal endpoints) even while the core's database is not reachable yet.
        pool = open_pool(dsn, min_size=1, max_size=4, name="serving-api-core-read",
                         autocommit=True, read_only=True, wait=False, timeout=10.0)
        app.state.access = AccessDirectory(pool, get_settings().serving_access_cache_seconds)
        # Export jobs run in this process; the ones a previous process left running are
        # failed (in the background: the API starts even while MinIO is not reachable).
        app.state.exports = ExportJobs()
        app.state.exports.recover_in_background()
        try:
            yield
        finally:
            app.state.exports.shutdown()
            pool.close()

    app = FastAPI(
        title="Bishkek marketplace — analytics and exports",
        version="0.2.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app, logger="serving_api")
    app.include_router(analyst_sql.router)
    app.include_router(dashboard.router)  # before reports: /analytics/shops is not a report
    app.include_router(reports.router)
    app.include_router(exports.router)
    app.include_router(internal.router)
    instrument(app, "serving-api")  # Prometheus: GET /metrics, latency/errors by route
    return app


# `uvicorn serving_api.main:app`
app = create_app()
