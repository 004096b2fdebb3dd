"""Ad impressions and clicks (issue 12 §2): `POST /ads/events` and `GET /ads/click/{token}`;
and the banner slots of the apps' home screen (`GET /ads/banners`).

Guests may report (most viewers are); a bearer token, when sent, must be valid and binds
the report to the account (viewer_mismatch, own_ad). Every report that carries a genuine
token is published on `ads.events` (see marketplace_core.ads.reporting for the flags);
a 202 means every published event is durable in Kafka (acks=all).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from infra.settings import get_settings
from marketplace_core.ads import tokens
from marketplace_core.ads.reporting import Reporter, Unavailable
from marketplace_core.ads.serving import Context, resolve_viewer
from marketplace_core.api.ad_slots import DEVICE_HEADER, SESSION_HEADER, ad_reporter, ad_server
from marketplace_core.api.auth import BearerCredentials, OptionalUser, optional_user
from marketplace_core.api.deps import Pool, client_ip
from marketplace_core.api.errors import error_body
from marketplace_core.api.schemas.ad_slot import AdOut
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.db import transaction
from marketplace_core.errors import ErrorCode
from marketplace_core.social import feeds
from marketplace_core.social.text import normalise_tag

router = APIRouter(prefix="/ads", tags=["ads"])

MAX_BODY_BYTES = 256 * 1024


class AdEventIn(BaseModel):
    token: str = Field(max_length=tokens.MAX_TOKEN_CHARS)
    type: str = Field(description="impression | click")


class AdEventResult(BaseModel):
    index: int
    status: str = Field(description="accepted | flagged (published, never billed) | "
                                    "rejected (not published)")
    code: str | None = Field(default=None, description="The flag or the refusal's code")
    event_id: str | None = None
    impression_id: str | None = None


class AdEventsResponse(BaseModel):
    accepted: int
    flagged: int
    rejected: int
    results: list[AdEventResult]


def _reporter(request: Request, user: Any | None) -> Reporter:
    from marketplace_core.accounts import ownership, pseudonyms

    pseudo: str | None = None
    merchants: frozenset[Any] = frozenset()
    if user is not None:
        with request.app.state.pool.connection() as conn:
            pseudo = pseudonyms.pseudonym(conn, user.id)
            if user.role == "seller":
                merchants = frozenset(ownership.merchant_ids_of(conn, user.id))
    device = request.headers.get(DEVICE_HEADER)
    return Reporter(pseudo_id=pseudo, merchant_ids=merchants, address=client_ip(request),
                    device_id=device[:200] if device else None,
                    user_agent=request.headers.get("user-agent"))


def _unavailable() -> JSONResponse:
    return JSONResponse(error_body(ErrorCode.ADS_EVENTS_UNAVAILABLE,
                                   "ad events cannot be stored right now; retry later"),
                        503, headers={"Retry-After": "5"})


def _bad(message: str, status: int = 422) -> JSONResponse:
    return JSONResponse(error_body(ErrorCode.INVALID_AD_EVENTS, message), status)


def _parse(body: bytes) -> list[tuple[Any, Any]] | JSONResponse:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _bad("the body is not JSON", 400)
    limit = get_settings().ads_events_max_batch
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list) or not events:
        return _bad('the body is {"events": [{"token": ..., "type": ...}, ...]}')
    if len(events) > limit:
        return JSONResponse(error_body(ErrorCode.PAYLOAD_TOO_LARGE,
                                       f"at most {limit} events per batch"), 413)
    return [(e.get("token"), e.get("type")) if isinstance(e, dict) else (None, None)
            for e in events]


@router.post(
    "/events", status_code=202, response_model=AdEventsResponse,
    summary="Report ad impressions and clicks (tokens from the served ads)",
    description=(
        "`{\"events\": [{\"token\": ..., \"type\": \"impression\" | \"click\"}]}`, at most "
        "ADS_EVENTS_MAX_BATCH (100). Per item: `accepted`; `flagged` with the reason it will "
        "never be billed (duplicate, token_expired, campaign_inactive, viewer_mismatch) — "
        "both are published on ads.events; or `rejected` (AD_TOKEN_INVALID: not a token the "
        "core signed; INVALID_AD_EVENTS: unknown type), not published. Guests too; send "
        "`X-Device-Id` if you have one. 400/422 INVALID_AD_EVENTS for a malformed body, "
        "413 for too many events or bytes, 503 ADS_EVENTS_UNAVAILABLE when Kafka is down "
        "(nothing recorded: retry)."),
    responses=error_responses(400, 401, 413, 422, 503),
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"type": "object", "required": ["events"], "properties": {"events": {
            "type": "array", "maxItems": 100, "items": AdEventIn.model_json_schema()}}}}}}},
)
async def post_ad_events(request: Request, credentials: BearerCredentials) -> Response:
    user = (await run_in_threadpool(optional_user, request, credentials)
            if credentials is not None else None)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return JSONResponse(error_body(ErrorCode.PAYLOAD_TOO_LARGE,
                                       f"the body is larger than {MAX_BODY_BYTES} bytes"), 413)
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return JSONResponse(error_body(ErrorCode.PAYLOAD_TOO_LARGE,
                                       f"the body is larger than {MAX_BODY_BYTES} bytes"), 413)
    items = _parse(body)
    if isinstance(items, JSONResponse):
        return items
    reporter = await run_in_threadpool(_reporter, request, user)
    try:
        results = await run_in_threadpool(ad_reporter(request).report,
                                          request.app.state.pool, items, reporter)
    except Unavailable:
        return _unavailable()
    counts = {"accepted": 0, "flagged": 0, "rejected": 0}
    for r in results:
        counts[r["status"]] += 1
    return Response(orjson.dumps({**counts, "results": [
        {k: r.get(k) for k in ("index", "status", "code", "event_id", "impression_id")}
        for r in results]}), status_code=202, media_type="application/json")


def target_path(token: tokens.AdToken) -> str:
    """Where an ad leads: our own paths only (never a URL from outside)."""
    if token.target_type == "post" and token.target_id is not None:
        return f"/posts/{token.target_id}"
    if token.target_type == "product" and token.target_id is not None:
        return f"/products/{token.target_id}"
    return f"/shops/{token.shop_id}"


class ClickOut(BaseModel):
    location: str = Field(description="Where the ad leads (a path of this API)")
    status: str = Field(description="accepted | flagged")
    code: str | None = Field(default=None, description="The flag, when flagged")
    event_id: str | None = None


@router.get(
    "/click/{token}", status_code=303, response_class=RedirectResponse,
    summary="Open an ad: records the click, then 303 to the post, product or shop",
    description="The click is published on ads.events (flagged when a replay, expired, "
                "for an inactive campaign...; still redirected). Apps that navigate "
                "themselves pass `redirect=false` and get 200 with the location instead. "
                "422 AD_TOKEN_INVALID for a token the core did not sign (nothing published, "
                "no redirect); 503 ADS_EVENTS_UNAVAILABLE when Kafka is down.",
    responses={200: {"model": ClickOut, "description": "With redirect=false"},
               303: {"description": "To the ad's target (a path of this API)"},
               **error_responses(401, 422, 503)},
)
async def click(request: Request, credentials: BearerCredentials,
                token: Annotated[str, Path(description="The ad's token")],
                redirect: bool = True) -> Response:
    parsed = tokens.read(token)  # 422 AD_TOKEN_INVALID before anything else
    user = (await run_in_threadpool(optional_user, request, credentials)
            if credentials is not None else None)
    reporter = await run_in_threadpool(_reporter, request, user)
    try:
        results = await run_in_threadpool(ad_reporter(request).report,
                                          request.app.state.pool, [(token, "click")], reporter)
    except Unavailable:
        return _unavailable()
    location = target_path(parsed)
    if not redirect:
        r = results[0]
        return JSONResponse(ClickOut(location=location, status=r["status"], code=r.get("code"),
                                     event_id=r.get("event_id")).model_dump())
    return RedirectResponse(location, status_code=303)


class BannerOut(BaseModel):
    campaign_id: str
    shop_id: str
    headline: str | None
    media_id: str = Field(description="The processed image (GET /media/{media_id})")
    width: int | None = None
    height: int | None = None
    ad: AdOut


class BannersOut(BaseModel):
    items: list[BannerOut]


@router.get(
    "/banners", response_model=BannersOut,
    summary="Banner ads for a screen (guests too), each with its label and token",
    description="Up to `limit` banners of active campaigns, best first, within the "
                "frequency cap of the viewer (signed in, or a guest's `X-Session-Id`). "
                "`near`=lat,lon and `tags` let location- and tag-targeted banners compete. "
                "Report impressions with the tokens (POST /ads/events); a tap opens "
                "`click_url` (303 to the advertiser's shop). Empty when ads are off.",
    responses=error_responses(401, 422),
)
def banners(request: Request, user: OptionalUser, pool: Pool,
            near: Annotated[str | None, Query(max_length=60, description="lat,lon")] = None,
            tags: Annotated[str | None, Query(max_length=500)] = None,
            limit: Annotated[int, Query(ge=1, le=3)] = 1) -> BannersOut:
    if not get_settings().ads_serving_enabled:
        return BannersOut(items=[])
    ctx = Context("banner", near=feeds.parse_point(near) if near else None, tags=list(
        dict.fromkeys(normalise_tag(t) for t in (tags or "").split(",") if t.strip())))
    with transaction(pool) as conn:
        viewer = resolve_viewer(conn, user, request.headers.get(SESSION_HEADER),
                                client_ip(request))
        served = ad_server(request).select(conn, viewer, ctx, limit, range(limit))
    items = []
    for ad in served:
        c = ad.candidate.campaign
        banner = c.banner or {}
        items.append(BannerOut(
            campaign_id=str(c.id), shop_id=str(c.shop_id), headline=c.headline,
            media_id=str(banner.get("media_id")), width=banner.get("width"),
            height=banner.get("height"), ad=AdOut(**ad.out())))
    return BannersOut(items=items)
