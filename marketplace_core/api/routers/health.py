"""Liveness of the API and its database."""

from __future__ import annotations

from fastapi import APIRouter

from marketplace_core.api.deps import Pool

router = APIRouter(tags=["health"])


@router.get("/health", summary="The API is up and its database answers")
def health(pool: Pool) -> dict[str, str]:
    with pool.connection() as conn:
        conn.execute("select 1")
    return {"status": "ok"}
