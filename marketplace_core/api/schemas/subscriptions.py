"""Request/response models of subscription plans and merchants' subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from marketplace_core.api.schemas.common import Money
from marketplace_core.subscriptions.plans import Plan
from marketplace_core.subscriptions.service import Subscription

PlanCode = Literal["FREE", "PRO", "ENTERPRISE"]


class PlanOut(BaseModel):
    code: PlanCode
    name: str
    sku_limit: int | None = Field(description="null = unlimited")
    monthly_price: Money = Field(description="KGS per 30-day period")
    search_boost: bool
    ads_access: bool

    @classmethod
    def of(cls, p: Plan) -> PlanOut:
        return cls(code=p.code, name=p.name, sku_limit=p.sku_limit,  # type: ignore[arg-type]
                   monthly_price=p.monthly_price, search_boost=p.search_boost,
                   ads_access=p.ads_access)


class SubscriptionOut(BaseModel):
    id: UUID
    merchant_id: UUID
    plan: PlanCode
    status: Literal["trialing", "active"]
    auto_renew: bool
    sku_limit: int | None = Field(description="null = unlimited")
    sku_count: int = Field(description="Live SKUs across the merchant's shops")
    monthly_price: Money
    current_period_start: datetime | None = Field(description="null on FREE")
    current_period_end: datetime | None = Field(
        description="When the trial/period ends: renewal, or FREE if auto_renew is off")
    trial_used: bool

    @classmethod
    def of(cls, s: Subscription, sku_count: int) -> SubscriptionOut:
        return cls(
            id=s.id, merchant_id=s.merchant_id, plan=s.plan_code,  # type: ignore[arg-type]
            status=s.status, auto_renew=s.auto_renew,  # type: ignore[arg-type]
            sku_limit=s.sku_limit, sku_count=sku_count, monthly_price=s.monthly_price,
            current_period_start=s.current_period_start,
            current_period_end=s.current_period_end, trial_used=s.trial_used_at is not None)


class ChangePlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: PlanCode = Field(description="PRO/ENTERPRISE: 14-day trial if never had one, "
                           "else billed at once; FREE: downgrade now")


class SubscriptionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auto_renew: StrictBool
