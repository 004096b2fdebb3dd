"""One router module per resource; `all_routers()` lists them for the app."""

from __future__ import annotations

from fastapi import APIRouter


def all_routers() -> list[APIRouter]:
    from marketplace_core.api.routers import health

    routers = [health.router]
    # Each domain appends its routers here, one import and one line each, e.g.
    #   from marketplace_core.api.routers import orders
    #   routers.append(orders.router)
    return routers
