"""Ads (issue 12 §1): campaigns, their status actions and moderation, the ad wallet.

Sellers manage the campaigns and the wallet of their own merchants; any other campaign or
merchant id answers 404 (AD_CAMPAIGN_NOT_FOUND / MERCHANT_NOT_FOUND / SHOP_NOT_FOUND)
exactly like a missing one. Admins see everything and approve or reject campaigns in
review (`GET /ads/campaigns?status=in_review`). Buyers and analysts: 403 FORBIDDEN.
Only merchants on PRO or ENTERPRISE (trial included) run ads: 403 ADS_NOT_IN_PLAN.
Every bad value has its own code (422), money is a decimal string, bodies over 1 MB 413.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from marketplace_core.ads import campaigns as svc
from marketplace_core.ads import targeting as tgt
from marketplace_core.ads import wallet
from marketplace_core.api.auth import SellerOrAdmin
from marketplace_core.api.deps import TOO_LARGE, Pool, limit_body
from marketplace_core.api.schemas.ads import (
    CampaignCreate,
    CampaignOut,
    CampaignPatch,
    MarketOut,
    ModerationNote,
    StatementOut,
    TopupIn,
    TopupOut,
    WalletOut,
)
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.db import transaction

router = APIRouter(prefix="/ads", tags=["ads"], dependencies=[Depends(limit_body)])

_ERR: dict[int | str, dict[str, Any]] = {
    **error_responses(401, 403, 404, 409, 422), **TOO_LARGE}

_CAMPAIGN_ERRORS = (
    "422: AD_INVALID_TYPE, AD_INVALID_BID, AD_INVALID_BUDGET (outside the settings' limits, "
    "or total < daily), AD_INVALID_SCHEDULE (start in the past, end before start, too long), "
    "AD_INVALID_TARGETING, AD_TARGETING_OUTSIDE_KG (a market we do not know or a point "
    "outside Kyrgyzstan), AD_INVALID_CREATIVE, PRODUCT_NOT_IN_SHOP, INVALID_TEXT (control "
    "characters), CAPTION_TOO_LONG, INVALID_REQUEST (malformed, floats, huge numbers). "
    "404: SHOP_NOT_FOUND (not yours), CATEGORY_NOT_FOUND, POST_NOT_FOUND (missing or not "
    "public), PRODUCT_NOT_FOUND, MEDIA_NOT_FOUND. 403: ADS_NOT_IN_PLAN.")


@router.get("/markets", response_model=list[MarketOut],
            summary="The markets a campaign may target (Bishkek's trading places)")
def list_markets() -> list[MarketOut]:
    return [MarketOut(key=m.key, name=m.name, name_ru=m.name_ru, lat=m.lat, lon=m.lon)
            for m in tgt.MARKETS.values()]


@router.post(
    "/campaigns", status_code=201, response_model=CampaignOut, responses=_ERR,
    summary="Create a draft campaign for one of your shops",
    description="Boost a public post of the shop (Explore, Following), sponsor its products "
                "in search, or show a banner; pay per click (cpc), per 1,000 impressions "
                "(cpm) or per day (fixed_daily). " + _CAMPAIGN_ERRORS)
def create_campaign(body: CampaignCreate, user: SellerOrAdmin, pool: Pool) -> CampaignOut:
    with transaction(pool) as conn:
        return CampaignOut.of(svc.create_campaign(conn, user, body.domain()))


@router.get(
    "/campaigns", response_model=list[CampaignOut], responses=error_responses(401, 403, 404, 422),
    summary="Your campaigns, newest first (admins: all; `status=in_review` is the queue)")
def list_campaigns(
    user: SellerOrAdmin, pool: Pool,
    merchant_id: UUID | None = None, shop_id: UUID | None = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    before: Annotated[datetime | None, Query(description="created_at of the last row seen")]
    = None,
) -> list[CampaignOut]:
    with transaction(pool) as conn:
        return [CampaignOut.of(c) for c in svc.list_campaigns(
            conn, user, merchant_id=merchant_id, shop_id=shop_id, status=status, limit=limit,
            before=before)]


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut,
            responses=error_responses(401, 403, 404, 422), summary="One campaign")
def get_campaign(campaign_id: UUID, user: SellerOrAdmin, pool: Pool) -> CampaignOut:
    with transaction(pool) as conn:
        return CampaignOut.of(svc.campaign_for(conn, user, campaign_id))


@router.patch(
    "/campaigns/{campaign_id}", response_model=CampaignOut, responses=_ERR,
    summary="Change a campaign",
    description="In draft: everything. Running (active, paused, budget_spent): name, bid, "
                "budgets and end date (a larger budget of an active campaign holds more: "
                "409 AD_INSUFFICIENT_FUNDS; 422 AD_BUDGET_BELOW_SPENT). In review or ended: "
                "409 AD_CAMPAIGN_NOT_EDITABLE. " + _CAMPAIGN_ERRORS)
def patch_campaign(campaign_id: UUID, body: CampaignPatch, user: SellerOrAdmin,
                   pool: Pool) -> CampaignOut:
    with transaction(pool) as conn:
        return CampaignOut.of(svc.update_campaign(conn, user, campaign_id, body.domain()))


def _act(pool: Any, user: Any, campaign_id: UUID, action: str,
         note: str | None = None) -> CampaignOut:
    with transaction(pool) as conn:
        return CampaignOut.of(svc.act(conn, user, campaign_id, action, note=note))


_MOVES = "A move the status machine does not allow is 409 AD_INVALID_TRANSITION."


@router.post(
    "/campaigns/{campaign_id}/submit", response_model=CampaignOut, responses=_ERR,
    summary="Send a draft for review (draft → in_review)",
    description="Checks the creative again and screens the name and headline for stop "
                "words (422 CONTENT_REJECTED; flagged words go to the admin). Needs the "
                "plan (403 ADS_NOT_IN_PLAN) and a day's budget free in the wallet (409 "
                "AD_INSUFFICIENT_FUNDS). " + _MOVES)
def submit(campaign_id: UUID, user: SellerOrAdmin, pool: Pool) -> CampaignOut:
    return _act(pool, user, campaign_id, "submit")


@router.post(
    "/campaigns/{campaign_id}/approve", response_model=CampaignOut, responses=_ERR,
    summary="Admin: approve the creative (in_review → active, holding a day's budget)",
    description="If the wallet no longer covers the hold the campaign becomes paused "
                "(`pause_reason=insufficient_funds`) and the seller resumes it after a "
                "top-up. Sellers: 403 FORBIDDEN. " + _MOVES)
def approve(campaign_id: UUID, user: SellerOrAdmin, pool: Pool,
            body: ModerationNote | None = None) -> CampaignOut:
    return _act(pool, user, campaign_id, "approve", body.note if body else None)


@router.post(
    "/campaigns/{campaign_id}/reject", response_model=CampaignOut, responses=_ERR,
    summary="Admin: reject the creative (in_review → draft, with a note for the seller)",
    description="`note` is required (422 INVALID_ARGUMENT). Sellers: 403 FORBIDDEN. " + _MOVES)
def reject(campaign_id: UUID, body: ModerationNote, user: SellerOrAdmin,
           pool: Pool) -> CampaignOut:
    return _act(pool, user, campaign_id, "reject", body.note)


@router.post(
    "/campaigns/{campaign_id}/pause", response_model=CampaignOut, responses=_ERR,
    summary="Pause (active → paused; its hold goes back to the wallet)", description=_MOVES)
def pause(campaign_id: UUID, user: SellerOrAdmin, pool: Pool) -> CampaignOut:
    return _act(pool, user, campaign_id, "pause")


@router.post(
    "/campaigns/{campaign_id}/resume", response_model=CampaignOut, responses=_ERR,
    summary="Resume (paused or budget_spent → active, holding a day's budget again)",
    description="409 AD_INSUFFICIENT_FUNDS when the wallet cannot hold a day's budget; "
                "a spent budget must be raised first (PATCH total_budget). " + _MOVES)
def resume(campaign_id: UUID, user: SellerOrAdmin, pool: Pool) -> CampaignOut:
    return _act(pool, user, campaign_id, "resume")


@router.post(
    "/campaigns/{campaign_id}/end", response_model=CampaignOut, responses=_ERR,
    summary="End the campaign for good (its hold goes back to the wallet)", description=_MOVES)
def end(campaign_id: UUID, user: SellerOrAdmin, pool: Pool) -> CampaignOut:
    return _act(pool, user, campaign_id, "end")


# --- the wallet ------------------------------------------------------------------------------

@router.post(
    "/wallet/topups", status_code=201, response_model=TopupOut, responses=_ERR,
    summary="Top up the ad wallet through the PSP (credited when the PSP confirms)",
    description="Returns the PSP's confirmation URL; the money reaches the wallet when the "
                "PSP's signed webhook (POST /webhooks/psp) reports the payment succeeded. "
                "422 AD_INVALID_AMOUNT outside the settings' limits; 403 ADS_NOT_IN_PLAN; "
                "422 AD_MERCHANT_REQUIRED when you manage several merchants.")
def create_topup(body: TopupIn, user: SellerOrAdmin, pool: Pool) -> TopupOut:
    with transaction(pool) as conn:
        merchant_id = svc.resolve_merchant(conn, user, body.merchant_id)
        return TopupOut.of(wallet.start_topup(conn, user, merchant_id, body.amount))


@router.get(
    "/wallet", response_model=WalletOut, responses=error_responses(401, 403, 404, 422),
    summary="The ad wallet: balance, free and held money, the latest top-ups")
def get_wallet(user: SellerOrAdmin, pool: Pool, merchant_id: UUID | None = None) -> WalletOut:
    with transaction(pool) as conn:
        merchant = svc.resolve_merchant(conn, user, merchant_id)
        b = wallet.balance(conn, merchant)
        return WalletOut(merchant_id=merchant, balance=b.total, available=b.available,
                         held=b.held,
                         topups=[TopupOut.of(t) for t in wallet.list_topups(conn, merchant)])


@router.get(
    "/wallet/statement", response_model=StatementOut,
    responses=error_responses(401, 403, 404, 422),
    summary="The wallet's statement for a month (Asia/Bishkek): opening, entries, closing",
    description="Top-ups, charges and credits of the month with the running balance; "
                "opening_balance + money_in − money_out = closing_balance exactly. Holds "
                "move money inside the wallet and are not listed. 422 AD_INVALID_MONTH.")
def get_statement(user: SellerOrAdmin, pool: Pool,
                  month: Annotated[str, Query(max_length=20, examples=["2026-01"])],
                  merchant_id: UUID | None = None) -> StatementOut:
    with transaction(pool) as conn:
        merchant = svc.resolve_merchant(conn, user, merchant_id)
        return StatementOut.of(wallet.statement(conn, merchant, month))
