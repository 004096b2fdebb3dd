"""Request/response models of ads: campaigns, their actions, the ad wallet (top-ups,
balance, monthly statement). Money is a decimal string ("1500.00"), never a float; the
service checks ranges so every bad value has its own stable code."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from marketplace_core.ads import campaigns as svc
from marketplace_core.ads import targeting as tgt
from marketplace_core.ads import wallet
from marketplace_core.api.schemas.common import Money

CampaignType = Literal["boost", "search", "banner"]
Pricing = Literal["cpc", "cpm", "fixed_daily"]
Status = Literal["draft", "in_review", "active", "paused", "budget_spent", "ended"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GeoIn(_Request):
    lat: Decimal = Field(description="Inside Kyrgyzstan (39.17–43.27), else "
                                     "AD_TARGETING_OUTSIDE_KG", examples=["42.8746"])
    lon: Decimal = Field(description="Inside Kyrgyzstan (69.25–80.29)", examples=["74.5698"])
    radius_km: Decimal = Field(description="Within the settings' limits (0.5–50 km)",
                               examples=["3"])


class TargetingIn(_Request):
    """Markets (`GET /ads/markets`) or a radius around a point, not both; neither means
    everywhere. Categories must exist; tags are normalised like hashtags."""

    markets: list[str] = Field(default_factory=list, max_length=100, examples=[["dordoi"]])
    geo: GeoIn | None = None
    category_ids: list[UUID] = Field(default_factory=list, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=100)

    def raw(self) -> dict[str, Any]:
        return {"markets": self.markets,
                "geo": None if self.geo is None else self.geo.model_dump(),
                "category_ids": self.category_ids, "tags": self.tags}


class CreativeIn(_Request):
    """boost: `post_id` (a public post of the shop); search: `product_ids` (the shop's
    products); banner: `banner_media_id` (a processed image you uploaded through
    POST /media/uploads) and a `headline`."""

    headline: str | None = Field(default=None, max_length=10_000,
                                 description="≤ 120 characters")
    post_id: UUID | None = None
    product_ids: list[UUID] = Field(default_factory=list, max_length=100)
    banner_media_id: UUID | None = None

    def domain(self) -> svc.CreativeInput:
        return svc.CreativeInput(headline=self.headline, post_id=self.post_id,
                                 product_ids=list(self.product_ids),
                                 banner_media_id=self.banner_media_id)


class CampaignCreate(_Request):
    shop_id: UUID
    name: str = Field(max_length=10_000, description="1–200 characters")
    type: CampaignType
    pricing: Pricing
    bid: Money = Field(description="KGS per click (cpc), per 1,000 impressions (cpm) or per "
                                   "day (fixed_daily); settings' limits")
    daily_budget: Money
    total_budget: Money
    start_date: date = Field(description="Asia/Bishkek date, today or later")
    end_date: date = Field(description="Asia/Bishkek date, included")
    targeting: TargetingIn | None = None
    creative: CreativeIn

    def domain(self) -> svc.CampaignInput:
        return svc.CampaignInput(
            shop_id=self.shop_id, name=self.name, type=self.type, pricing=self.pricing,
            bid=self.bid, daily_budget=self.daily_budget, total_budget=self.total_budget,
            start_date=self.start_date, end_date=self.end_date,
            targeting=None if self.targeting is None else self.targeting.raw(),
            creative=self.creative.domain())


class CampaignPatch(_Request):
    name: str | None = Field(default=None, max_length=10_000)
    pricing: Pricing | None = None
    bid: Money | None = None
    daily_budget: Money | None = None
    total_budget: Money | None = None
    start_date: date | None = None
    end_date: date | None = None
    targeting: TargetingIn | None = None
    creative: CreativeIn | None = None

    def domain(self) -> svc.CampaignPatch:
        return svc.CampaignPatch(
            name=self.name, pricing=self.pricing, bid=self.bid,
            daily_budget=self.daily_budget, total_budget=self.total_budget,
            start_date=self.start_date, end_date=self.end_date,
            targeting=None if self.targeting is None else self.targeting.raw(),
            creative=None if self.creative is None else self.creative.domain())


class ModerationNote(_Request):
    note: str | None = Field(default=None, max_length=10_000,
                             description="Why (required to reject); ≤ 1,000 characters")


class GeoOut(BaseModel):
    lat: Decimal
    lon: Decimal
    radius_km: Decimal


class TargetingOut(BaseModel):
    markets: list[str]
    geo: GeoOut | None
    category_ids: list[UUID]
    tags: list[str]


class CampaignOut(BaseModel):
    id: UUID
    merchant_id: UUID
    shop_id: UUID
    name: str
    type: CampaignType
    pricing: Pricing
    bid: Money
    daily_budget: Money
    total_budget: Money
    spent: Money
    held: Money = Field(description="Wallet money held for the campaign now")
    start_date: date
    end_date: date
    targeting: TargetingOut
    headline: str | None
    post_id: UUID | None
    product_ids: list[UUID]
    banner_media_id: UUID | None
    status: Status
    pause_reason: Literal["seller", "insufficient_funds"] | None
    moderation_status: Literal["pending", "approved", "rejected"]
    moderation_flags: list[str]
    moderation_note: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    approved_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def of(cls, c: svc.Campaign) -> CampaignOut:
        t = tgt.from_json(c.targeting)
        return cls(
            id=c.id, merchant_id=c.merchant_id, shop_id=c.shop_id, name=c.name,
            type=c.type, pricing=c.pricing, bid=c.bid,  # type: ignore[arg-type]
            daily_budget=c.daily_budget, total_budget=c.total_budget, spent=c.spent,
            held=c.held, start_date=c.start_date, end_date=c.end_date,
            targeting=TargetingOut(
                markets=t.markets, category_ids=t.category_ids, tags=t.tags,
                geo=None if t.geo is None else GeoOut(lat=t.geo.lat, lon=t.geo.lon,
                                                      radius_km=t.geo.radius_km)),
            headline=c.headline, post_id=c.post_id, product_ids=list(c.product_ids),
            banner_media_id=UUID(c.banner["media_id"]) if c.banner else None,
            status=c.status, pause_reason=c.pause_reason,  # type: ignore[arg-type]
            moderation_status=c.moderation_status,  # type: ignore[arg-type]
            moderation_flags=list(c.moderation_flags), moderation_note=c.moderation_note,
            created_at=c.created_at, updated_at=c.updated_at, submitted_at=c.submitted_at,
            approved_at=c.approved_at, ended_at=c.ended_at)


class MarketOut(BaseModel):
    key: str
    name: str
    name_ru: str
    lat: Decimal
    lon: Decimal


# --- the wallet ------------------------------------------------------------------------------

class TopupIn(_Request):
    merchant_id: UUID | None = Field(
        default=None, description="Needed when you manage several merchants (and for admins)")
    amount: Money = Field(description="KGS, within the settings' limits (100–1,000,000)")


class TopupOut(BaseModel):
    id: UUID
    merchant_id: UUID
    amount: Money
    currency: str
    status: Literal["pending", "succeeded", "failed"]
    confirmation_url: str = Field(description="Where the seller pays (the PSP's page)")
    psp_payment_id: str
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, t: wallet.Topup) -> TopupOut:
        return cls(id=t.id, merchant_id=t.merchant_id, amount=t.amount, currency=t.currency,
                   status=t.status,  # type: ignore[arg-type]
                   confirmation_url=t.confirmation_url, psp_payment_id=t.psp_payment_id,
                   created_at=t.created_at, completed_at=t.completed_at)


class WalletOut(BaseModel):
    merchant_id: UUID
    currency: str = "KGS"
    balance: Money = Field(description="available + held")
    available: Money = Field(description="Free to hold or spend")
    held: Money = Field(description="Held for active campaigns (a day's budget each)")
    topups: list[TopupOut] = Field(description="The latest top-ups, newest first")


class StatementLineOut(BaseModel):
    entry_id: UUID
    at: datetime
    kind: Literal["ad_topup", "ad_charge", "ad_credit"] | str
    memo: str | None
    amount: Money = Field(description="+ money in, − money out")
    balance_after: Money


class StatementOut(BaseModel):
    merchant_id: UUID
    month: str = Field(examples=["2026-01"])
    period_start: datetime = Field(description="The 1st, 00:00 Asia/Bishkek")
    period_end: datetime
    currency: str = "KGS"
    opening_balance: Money
    money_in: Money
    money_out: Money
    closing_balance: Money = Field(description="opening_balance + money_in − money_out")
    held_at_close: Money
    lines: list[StatementLineOut]

    @classmethod
    def of(cls, s: wallet.Statement) -> StatementOut:
        return cls(
            merchant_id=s.merchant_id, month=s.month, period_start=s.period_start,
            period_end=s.period_end, opening_balance=s.opening_balance, money_in=s.credits,
            money_out=s.debits, closing_balance=s.closing_balance,
            held_at_close=s.held_at_close,
            lines=[StatementLineOut(entry_id=x.entry_id, at=x.at, kind=x.kind, memo=x.memo,
                                    amount=x.amount, balance_after=x.balance_after)
                   for x in s.lines])
