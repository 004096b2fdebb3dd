"""The serving API: sellers' reports and exports over the warehouse's marts.

In embedded mode this is also the process that owns the chdb warehouse (see README,
"The embedded warehouse"), so it opens it at start-up and runs the refreshes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from serving_api.errors import install_error_handlers
from serving_api.routers import internal, shop_sales


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    from warehouse.client import get_client

    get_client()  # take the warehouse lock now, not on the first request
    yield


app = FastAPI(
    title="Bishkek marketplace — analytics and exports",
    version="0.1.0",
    description="Seller reports over the lakehouse (dbt marts in ClickHouse). Money is KGS, "
    "sent as decimal strings. Errors are `{error: {code, message}}`.",
    lifespan=lifespan,
)
install_error_handlers(app)
app.include_router(shop_sales.router)
app.include_router(internal.router)
