"""The seller dashboard (issue 10 §4): a page, its sign-in, its configuration, its shops.

* `GET /dashboard/` — the page (`serving_api/dashboard/static/`: plain HTML and JS modules,
  no build step); `/dashboard/static/*` its files; `/dashboard/vendor/*` the charting
  library installed by `python -m infra install dashboard-assets` (from the settings'
  `DASHBOARD_VENDOR_DIR`, never from git).
* `POST /dashboard/auth/login`, `/refresh`, `/logout` — the page signs in same-origin: these
  forward the body to the core API's `/auth/*` (the core owns accounts, passwords and TOTP;
  this process only reads the core's database) and hand back the core's answer as is.
  Tokens travel in the JSON body, never in a cookie, so there is nothing for another site
  to ride on (no CSRF); the page keeps them in sessionStorage.
* `GET /dashboard/config` — what the page draws: every declared report (name, Russian
  title, columns, surfaces, default sort; `serving_api.reports.catalog`), the export
  endpoint when the app has one, the local date and time zone.
* `GET /analytics/shops` — the shops the caller may read (a seller: their merchants'
  shops), with names, for the shop selector.
* `GET /analytics/shops/{shop_id}/product-names?ids=` — the names of that shop's products
  (the products report carries ids only), for the top-products panel.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import psycopg
from fastapi import APIRouter, Body, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, Field

from infra.settings import get_settings
from marketplace_core.accounts.ownership import merchant_ids_of
from marketplace_core.catalog.service import get_products, list_shops
from platform_common.errors import ErrorCode, NotFoundError, ServiceUnavailableError
from platform_common.http import error_responses
from serving_api.auth import AccessDirectory, Reader, ReportReader
from serving_api.reports.catalog import REPORTS

STATIC_DIR = Path(__file__).resolve().parent.parent / "dashboard" / "static"
EXPORT_PATH = "/analytics/export"
# The page may only load what it ships and what this origin answers.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
MAX_SHOPS = 1000
MAX_PRODUCT_NAMES = 100

router = APIRouter(tags=["dashboard"])


# --- the page ------------------------------------------------------------------------------


@router.get("/dashboard", include_in_schema=False)
async def dashboard_redirect() -> RedirectResponse:
    return RedirectResponse("/dashboard/", status_code=308)


@router.get("/dashboard/", include_in_schema=False)
async def dashboard_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8",
                        headers=_page_headers())


@router.get("/dashboard/static/{name}", include_in_schema=False)
async def dashboard_static(name: str) -> FileResponse:
    return _file(STATIC_DIR, name, {p.name for p in STATIC_DIR.iterdir() if p.is_file()})


@router.get("/dashboard/vendor/{name}", include_in_schema=False)
async def dashboard_vendor(name: str) -> FileResponse:
    """The installed charting library (its manifest lists the files it may serve)."""
    directory = get_settings().dashboard_vendor_dir
    try:
        files = set(json.loads((directory / "manifest.json").read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ServiceUnavailableError(
            ErrorCode.SERVICE_UNAVAILABLE,
            "the dashboard's charting library is not installed "
            "(python -m infra install dashboard-assets)") from exc
    return _file(directory, name, files, cache_seconds=86400)


def _file(directory: Path, name: str, allowed: set[str], cache_seconds: int = 0
          ) -> FileResponse:
    if name not in allowed or "/" in name or name.startswith("."):
        raise NotFoundError(ErrorCode.NOT_FOUND, f"no file {name!r}")
    media = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
             ".md": "text/markdown; charset=utf-8", ".svg": "image/svg+xml"}
    cache = f"public, max-age={cache_seconds}" if cache_seconds else "no-cache"
    return FileResponse(directory / name, media_type=media.get(Path(name).suffix),
                        headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})


def _page_headers() -> dict[str, str]:
    return {"Content-Security-Policy": CSP, "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY"}


# --- the page's configuration --------------------------------------------------------------


class ConfigColumn(BaseModel):
    name: str
    title: str
    kind: str


class ConfigReport(BaseModel):
    name: str
    title: str
    description: str
    columns: list[ConfigColumn]
    surfaces: list[str]
    default_sort: str


class ConfigExport(BaseModel):
    path: str
    params: list[str] = Field(description="The query parameters the export endpoint takes")
    formats: list[str]


class DashboardConfig(BaseModel):
    reports: list[ConfigReport]
    export: ConfigExport | None = Field(
        description="The export endpoint (CSV/XLSX), when this API has one; else the page "
                    "downloads a report's CSV (format=csv)")
    timezone: str
    today: dt.date = Field(description="Today in the platform's time zone")
    currency: str = "KGS"


@router.get("/dashboard/config", response_model=DashboardConfig,
            summary="What the dashboard draws: the declared reports, the export endpoint")
async def dashboard_config(request: Request) -> DashboardConfig:
    s = get_settings()
    reports = [ConfigReport(
        name=r.name, title=r.title_ru, description=r.description,
        columns=[ConfigColumn(name=c.name, title=c.title_ru, kind=c.kind) for c in r.visible],
        surfaces=list(r.surfaces), default_sort=r.default_sort) for r in REPORTS.values()]
    return DashboardConfig(reports=reports, export=_export(request), timezone=s.timezone,
                           today=dt.datetime.now(ZoneInfo(s.timezone)).date())


def _api_routes(routes: Any) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI 0.165 keeps an included
    router as one `_IncludedRouter` entry of `app.routes`, its routes under
    `original_router`)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _api_routes(inner.routes)


def _export(request: Request) -> ConfigExport | None:
    """The export route as the app declares it (added by the exports work, if present)."""
    for route in _api_routes(request.app.routes):
        if route.path == EXPORT_PATH and \
                "GET" in (route.methods or set()):
            params = [p.alias or p.name for p in route.dependant.query_params]
            formats = ["csv"]
            for p in route.dependant.query_params:
                if (p.alias or p.name) == "format":
                    annotation = p.field_info.annotation
                    members = getattr(annotation, "__members__", None)
                    if members:
                        formats = [str(getattr(m, "value", m)) for m in members.values()]
            return ConfigExport(path=EXPORT_PATH, params=params, formats=formats)
    return None


# --- sign-in, forwarded to the core ---------------------------------------------------------


class DashboardLogin(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=256)
    totp_code: str | None = Field(default=None, max_length=16)


class DashboardRefresh(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=1024)


async def _forward(path: str, body: BaseModel, client_address: str | None = None) -> Response:
    """POST the body to the core API and answer what it answered (status, JSON and
    Retry-After). `client_address` is the browser's address: the core counts failed
    sign-ins per address, and would otherwise see every dashboard user as this process
    (it trusts the header only with the internal token)."""
    settings = get_settings()
    url = settings.core_api_url.rstrip("/") + path
    headers = {"X-Internal-Token": settings.internal_token,
               "X-Client-Address": client_address} if client_address else None
    try:
        async with httpx.AsyncClient(timeout=15.0) as client:
            answer = await client.post(url, json=body.model_dump(exclude_none=True),
                                       headers=headers)
    except httpx.HTTPError as exc:
        raise ServiceUnavailableError(
            ErrorCode.SERVICE_UNAVAILABLE,
            "cannot reach the accounts service right now; retry shortly") from exc
    if answer.status_code == 204:
        return Response(status_code=204)
    try:
        content = answer.json()
    except ValueError as exc:
        raise ServiceUnavailableError(
            ErrorCode.SERVICE_UNAVAILABLE, "the accounts service answered unexpectedly") from exc
    passed = {"Cache-Control": "no-store"}
    if "Retry-After" in answer.headers:  # 429 LOGIN_LOCKED
        passed["Retry-After"] = answer.headers["Retry-After"]
    return JSONResponse(content, status_code=answer.status_code, headers=passed)


_AUTH_DOC = ("Forwarded to the core API (which owns accounts); its answer, errors included, "
             "is returned unchanged.")


@router.post("/dashboard/auth/login", summary="Sign in (email, password, TOTP code)",
             description=_AUTH_DOC, responses=error_responses(401, 403, 422, 429, 503))
async def dashboard_login(body: Annotated[DashboardLogin, Body()], request: Request) -> Response:
    return await _forward("/auth/login", body,
                          request.client.host if request.client else None)


@router.post("/dashboard/auth/refresh", summary="New tokens for a refresh token",
             description=_AUTH_DOC, responses=error_responses(401, 422, 503))
async def dashboard_refresh(body: Annotated[DashboardRefresh, Body()]) -> Response:
    return await _forward("/auth/refresh", body)


@router.post("/dashboard/auth/logout", summary="End the session of a refresh token",
             description=_AUTH_DOC, responses=error_responses(401, 422, 503))
async def dashboard_logout(body: Annotated[DashboardRefresh, Body()]) -> Response:
    return await _forward("/auth/logout", body)


# --- the caller's shops ---------------------------------------------------------------------


class ShopItem(BaseModel):
    id: UUID
    name: str
    merchant_id: UUID
    address: str | None = None
    market: str | None = None


class ShopList(BaseModel):
    shops: list[ShopItem]


@router.get("/analytics/shops", response_model=ShopList, tags=["analytics"],
            summary="The shops the caller may read (a seller: their merchants' shops)",
            responses=error_responses(401, 403, 503))
async def my_shops(request: Request, reader: ReportReader) -> ShopList:
    directory: AccessDirectory = request.app.state.access
    shops = await run_in_threadpool(_shops, directory, reader)
    return ShopList(shops=shops)


def _shops(directory: AccessDirectory, reader: Reader) -> list[ShopItem]:
    try:
        with directory.pool.connection() as conn:
            if reader.shop_ids is None:
                found = list_shops(conn)[:MAX_SHOPS]
            else:
                assert reader.user_id is not None
                found = [shop for merchant_id in merchant_ids_of(conn, reader.user_id)
                         for shop in list_shops(conn, merchant_id=merchant_id)]
    except (PoolTimeout, psycopg.OperationalError) as exc:
        raise ServiceUnavailableError(
            ErrorCode.SERVICE_UNAVAILABLE, "cannot list the shops right now") from exc
    return [ShopItem(id=s.id, name=s.name, merchant_id=s.merchant_id, address=s.address,
                     market=s.market) for s in found if reader.may_read(s.id)]


# --- product names --------------------------------------------------------------------------


class ProductName(BaseModel):
    id: UUID
    name: str


class ProductNames(BaseModel):
    products: list[ProductName]


@router.get("/analytics/shops/{shop_id}/product-names", response_model=ProductNames,
            tags=["analytics"],
            summary="Names (ru) of a shop's products, by id (the products report's ids)",
            description="Ids of another shop's products, or of none, are left out. 404 "
                        "SHOP_NOT_FOUND for a shop the caller may not read.",
            responses=error_responses(401, 403, 404, 422, 503))
async def product_names(
    request: Request,
    shop_id: UUID,
    reader: ReportReader,
    ids: Annotated[list[UUID], Query(max_length=MAX_PRODUCT_NAMES,
                                     description="Product ids (repeat the parameter)")],
) -> ProductNames:
    reader.require_shop(shop_id)
    directory: AccessDirectory = request.app.state.access
    products = await run_in_threadpool(_product_names, directory, shop_id, ids)
    return ProductNames(products=products)


def _product_names(directory: AccessDirectory, shop_id: UUID, ids: list[UUID]
                   ) -> list[ProductName]:
    try:
        with directory.pool.connection() as conn:
            found = get_products(conn, list(dict.fromkeys(ids)))
    except (PoolTimeout, psycopg.OperationalError) as exc:
        raise ServiceUnavailableError(
            ErrorCode.SERVICE_UNAVAILABLE, "cannot read the product names right now") from exc
    return [ProductName(id=p.id, name=p.name_ru) for p in found if p.shop_id == shop_id]
