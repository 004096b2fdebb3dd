"""The core API application: `create_app()` wires the pool, the routers, the error
handlers and the background sweeper. Tests build it against their own database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from infra.settings import get_settings
from marketplace_core.api.background import Sweeper
from marketplace_core.api.errors import install_error_handlers
from marketplace_core.api.routers import all_routers
from marketplace_core.db import open_pool
from marketplace_core.pos import metrics as pos_metrics
from platform_common import log_redaction
from platform_common.metrics import instrument

DESCRIPTION = """
The marketplace's transactional core: accounts, catalog, inventory, orders, payments,
payouts and subscriptions for shops in Bishkek. Prices are KGS, sent and returned as
decimal strings (`"1250.00"`), never floats.

Every error is `{"error": {"code": "...", "message": "..."}}` with a stable `code`.
Every committed change is published once to Kafka (topics `core.*`, Avro).
"""


def create_app(
    dsn: str | None = None, *, run_sweeper: bool = True, pool_max_size: int = 20
) -> FastAPI:
    log_redaction.install()  # no personal data or secrets in any log line of the process
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = open_pool(dsn, min_size=2, max_size=pool_max_size, name="core-api")
        app.state.pool = pool
        # Hot single-statement reads (the product card) skip BEGIN/COMMIT round trips.
        read_pool = open_pool(dsn, min_size=2, max_size=pool_max_size, name="core-api-read",
                              autocommit=True)
        app.state.read_pool = read_pool
        app.state.dsn = dsn
        sweeper = Sweeper(pool, settings.sweep_interval_seconds) if run_sweeper else None
        if sweeper:
            sweeper.start()
        try:
            yield
        finally:
            if sweeper:
                sweeper.stop()
            hub = getattr(app.state, "live_hub", None)
            if hub is not None:  # close the live sockets, the LISTEN and the stock consumer
                await hub.stop()
            intake = getattr(app.state, "events_intake", None)
            if intake is not None:  # flush what the events producer holds
                intake.close()
            ad_events = getattr(app.state, "ad_events", None)
            if ad_events is not None:
                ad_events.close()
            exposures = getattr(app.state, "exposure_log", None)
            if exposures is not None:  # and the experiments' exposures
                exposures.close()
            read_pool.close()
            pool.close()

    app = FastAPI(
        title="Bazaar marketplace core API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for router in all_routers():
        app.include_router(router)
    # Prometheus: request latency/errors by route, and the POS gauges read at scrape time.
    instrument(app, "core-api")
    pos_metrics.register_scrape_metrics(dsn)
    return app
