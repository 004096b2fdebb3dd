"""Request/response models of orders, pickup slots, buy eligibility, payout onboarding,
availability requests and POS heartbeats."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from marketplace_core.api.schemas.common import Money
from marketplace_core.orders.availability import AvailabilityRequest
from marketplace_core.orders.eligibility import Eligibility
from marketplace_core.orders.pickup import PickupSlot
from marketplace_core.orders.service import Order
from marketplace_core.payments.payout_accounts import PayoutAccount
from platform_common.validated import Text, Timestamp

Mode = Literal["online_purchase", "manual_contact"]
Reason = Literal["POS_INACTIVE", "PAYOUT_INACTIVE"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- eligibility ------------------------------------------------------------------------


class ContactActionResponse(BaseModel):
    type: Literal["buy", "contact", "call", "request_availability"]
    phone: str | None = Field(default=None, description="For `call`: the shop's phone")


class ShopEligibilityResponse(BaseModel):
    """What the product card shows for a shop: "Buy", or ways to contact it."""

    shop_id: UUID
    merchant_id: UUID
    mode: Mode
    can_buy_online: bool
    reasons: list[Reason] = Field(description="Why not online_purchase (empty when online)")
    payout_status: Literal["active", "inactive"]
    last_heartbeat_at: datetime | None = Field(
        description="The latest heartbeat of the shop's active POS terminals")
    actions: list[ContactActionResponse]
    computed_at: datetime

    @classmethod
    def of(cls, e: Eligibility) -> ShopEligibilityResponse:
        return cls(
            shop_id=e.shop_id, merchant_id=e.merchant_id, mode=e.mode,
            can_buy_online=e.can_buy_online, reasons=list(e.reasons),  # type: ignore[arg-type]
            payout_status=e.payout_status,  # type: ignore[arg-type]
            last_heartbeat_at=e.last_heartbeat_at,
            actions=[ContactActionResponse(type=a.type, phone=a.phone)  # type: ignore[arg-type]
                     for a in e.actions],
            computed_at=e.computed_at,
        )


class MerchantEligibilityResponse(BaseModel):
    merchant_id: UUID
    shops: list[ShopEligibilityResponse]


# --- payout onboarding ------------------------------------------------------------------


class PayoutOnboardRequest(_Request):
    provider: Literal["elsom", "mbank", "bank"] = Field(
        description="elsom / mbank wallets (a +996 phone number or an account number) or a "
                    "bank account (bank_name required)")
    account_number: Text = Field(min_length=1, max_length=64,
                                examples=["+996700123456", "1240020001234567"])
    bank_name: Text | None = Field(default=None, max_length=200, examples=["KICB"])
    account_holder: Text | None = Field(default=None, max_length=200)


class PayoutSuspendRequest(_Request):
    reason: Text | None = Field(default=None, max_length=1000)


class PayoutAccountResponse(BaseModel):
    merchant_id: UUID
    provider: str
    account_number_masked: str = Field(examples=["************4567"])
    bank_name: str | None
    account_holder: str | None
    status: Literal["active", "suspended"]
    onboarded_at: datetime
    suspended_at: datetime | None
    suspension_reason: str | None

    @classmethod
    def of(cls, a: PayoutAccount) -> PayoutAccountResponse:
        return cls(
            merchant_id=a.merchant_id, provider=a.provider,
            account_number_masked=a.masked_number, bank_name=a.bank_name,
            account_holder=a.account_holder, status=a.status,  # type: ignore[arg-type]
            onboarded_at=a.onboarded_at, suspended_at=a.suspended_at,
            suspension_reason=a.suspension_reason,
        )


class PayoutChangeResponse(BaseModel):
    account: PayoutAccountResponse | None = Field(
        description="The merchant's payout account (null if it never onboarded)")
    shops: list[ShopEligibilityResponse] = Field(
        description="The merchant's shops' eligibility after the change")


# --- POS heartbeat ----------------------------------------------------------------------


class HeartbeatRequest(_Request):
    firmware: Text = Field(min_length=1, max_length=64, examples=["2.4.1"])
    sent_at: Timestamp | None = Field(
        default=None, description="The terminal's clock when it sent this (diagnostics only: "
                                  "freshness uses the server's time)")


class HeartbeatResponse(BaseModel):
    device_id: str
    shop_id: UUID
    status: str
    last_heartbeat_at: datetime
    clock_skew_seconds: float | None = Field(
        description="sent_at minus the server's time, when sent_at was given")
    eligibility: ShopEligibilityResponse


# --- availability requests --------------------------------------------------------------


class AvailabilityRequestCreate(_Request):
    variant_id: UUID | None = None
    message: Text | None = Field(
        default=None, max_length=2000,
        description="Optional; an automatic message is written when empty")


class AvailabilityRequestResponse(BaseModel):
    id: UUID
    shop_id: UUID
    variant_id: UUID | None
    buyer_id: UUID
    message: str
    status: str
    created_at: datetime
    conversation_id: UUID | None = Field(
        default=None, description="The chat conversation the request's message went to")

    @classmethod
    def of(cls, r: AvailabilityRequest) -> AvailabilityRequestResponse:
        return cls(id=r.id, shop_id=r.shop_id, variant_id=r.variant_id, buyer_id=r.buyer_id,
                   message=r.message, status=r.status, created_at=r.created_at,
                   conversation_id=r.conversation_id)


# --- pickup slots -----------------------------------------------------------------------


class PickupSlotCreate(_Request):
    starts_at: Timestamp
    ends_at: Timestamp
    capacity: StrictInt = Field(ge=1, le=10_000, description="How many orders fit the slot")


class PickupSlotResponse(BaseModel):
    id: UUID
    shop_id: UUID
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int
    remaining: int

    @classmethod
    def of(cls, s: PickupSlot) -> PickupSlotResponse:
        return cls(id=s.id, shop_id=s.shop_id, starts_at=s.starts_at, ends_at=s.ends_at,
                   capacity=s.capacity, booked=s.booked, remaining=s.remaining)


# --- orders -----------------------------------------------------------------------------


class OrderItemRequest(_Request):
    variant_id: UUID
    qty: StrictInt = Field(ge=1, le=10_000)


class OrderCreateRequest(_Request):
    """Prices are never sent: they are read from the catalog when the order is placed."""

    shop_id: UUID
    items: list[OrderItemRequest] = Field(min_length=1, max_length=100)
    fulfilment: Literal["pickup", "delivery"]
    pickup_slot_id: UUID | None = Field(default=None, description="Required for pickup")
    delivery_address: Text | None = Field(
        default=None, min_length=1, max_length=500, description="Required for delivery")

    @model_validator(mode="after")
    def _fulfilment_fields(self) -> OrderCreateRequest:
        if self.fulfilment == "pickup" and (
                self.pickup_slot_id is None or self.delivery_address is not None):
            raise ValueError("pickup needs pickup_slot_id and no delivery_address")
        if self.fulfilment == "delivery" and (
                not (self.delivery_address or "").strip() or self.pickup_slot_id is not None):
            raise ValueError("delivery needs delivery_address and no pickup_slot_id")
        return self


class OrderItemResponse(BaseModel):
    variant_id: UUID
    product_id: UUID
    sku: str
    qty: int
    unit_price: Money
    line_total: Money


class OrderResponse(BaseModel):
    id: UUID
    buyer_id: UUID
    shop_id: UUID
    merchant_id: UUID
    status: Literal["pending_payment", "paid", "pickup_overdue", "completed", "cancelled",
                    "expired", "refunded"]
    total: Money
    currency: str
    fulfilment: Literal["pickup", "delivery"]
    pickup_slot_id: UUID | None
    pickup_starts_at: datetime | None
    pickup_ends_at: datetime | None
    delivery_address: str | None
    delivery_code_locked: bool
    payment_id: UUID | None
    reserved_until: datetime = Field(
        description="Payment deadline while pending_payment, then the pickup deadline")
    items: list[OrderItemResponse]
    created_at: datetime
    paid_at: datetime | None
    pickup_overdue_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    expired_at: datetime | None
    refunded_at: datetime | None

    @classmethod
    def of(cls, o: Order) -> OrderResponse:
        return cls(
            id=o.id, buyer_id=o.buyer_id, shop_id=o.shop_id, merchant_id=o.merchant_id,
            status=o.status, total=o.total, currency=o.currency,  # type: ignore[arg-type]
            fulfilment=o.fulfilment,  # type: ignore[arg-type]
            pickup_slot_id=o.pickup_slot_id, pickup_starts_at=o.pickup_starts_at,
            pickup_ends_at=o.pickup_ends_at, delivery_address=o.delivery_address,
            delivery_code_locked=o.delivery_code_locked, payment_id=o.payment_id,
            reserved_until=o.reserved_until,
            items=[OrderItemResponse(variant_id=i.variant_id, product_id=i.product_id,
                                     sku=i.sku, qty=i.qty, unit_price=i.unit_price,
                                     line_total=i.line_total) for i in o.items],
            created_at=o.created_at, paid_at=o.paid_at, pickup_overdue_at=o.pickup_overdue_at,
            completed_at=o.completed_at, cancelled_at=o.cancelled_at, expired_at=o.expired_at,
            refunded_at=o.refunded_at,
        )


class DeliveryCodeResponse(BaseModel):
    order_id: UUID
    delivery_code: str = Field(pattern=r"^\d{6}$",
                               description="Show it to the courier; shown only this once")


class DeliveryConfirmRequest(_Request):
    code: Text = Field(pattern=r"^\d{6}$", examples=["042917"])
