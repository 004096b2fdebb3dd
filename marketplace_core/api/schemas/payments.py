"""Request/response models of payments, the PSP webhook, refunds, payouts, balances, the
take rate and the PSP simulator. Money is a decimal string ("1999.99"), never a float."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from marketplace_core.api.schemas.common import Money
from marketplace_core.payments.payouts import MerchantBalance, Payout
from marketplace_core.payments.refunds import Refund
from marketplace_core.payments.service import Payment
from marketplace_core.payments.simulator import SimPayment
from marketplace_core.payments.take_rate import TakeRate
from platform_common.validated import Text


def _parse_rate(value: Any) -> Decimal:
    # Like money: a float is not an exact rate. The range is checked by the service
    # (INVALID_TAKE_RATE) so the API and the code share one rule.
    if isinstance(value, bool | float):
        raise ValueError('the rate must be a decimal string such as "0.05", not a float')
    try:
        rate = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError('the rate must be a decimal string such as "0.05"') from exc
    if not rate.is_finite():
        raise ValueError("the rate must be finite")
    return rate


Rate = Annotated[
    Decimal,
    BeforeValidator(_parse_rate),
    WithJsonSchema({"type": "string", "pattern": r"^0(\.\d{1,4})?$", "examples": ["0.05"],
                    "description": "A fraction of the order total: 0.05 = 5 %"}),
]


def _rate_str(rate: Decimal | None) -> str | None:
    return None if rate is None else format(rate, "f")


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- payments ----------------------------------------------------------------------------


class PaymentOut(BaseModel):
    id: UUID
    order_id: UUID
    status: Literal["pending", "succeeded", "failed"]
    amount: Money
    currency: str = Field(examples=["KGS"])
    provider: str
    psp_payment_id: str
    confirmation_url: str = Field(description="Where the buyer confirms the payment")
    acquiring_fee: Money | None = Field(default=None, description="Known once succeeded")
    take_rate: str | None = Field(default=None, examples=["0.0500"])
    take_rate_amount: Money | None = None
    created_at: datetime
    succeeded_at: datetime | None = None
    failed_at: datetime | None = None

    @classmethod
    def of(cls, p: Payment) -> PaymentOut:
        return cls(
            id=p.id, order_id=p.order_id, status=p.status,  # type: ignore[arg-type]
            amount=p.amount, currency=p.currency, provider=p.provider,
            psp_payment_id=p.psp_payment_id, confirmation_url=p.confirmation_url,
            acquiring_fee=p.acquiring_fee, take_rate=_rate_str(p.take_rate),
            take_rate_amount=p.take_rate_amount, created_at=p.created_at,
            succeeded_at=p.succeeded_at, failed_at=p.failed_at)


# --- webhook -----------------------------------------------------------------------------


class PspWebhookEvent(BaseModel):
    """What the PSP posts (documentation: the handler verifies the signature of the raw
    body before it parses anything)."""

    event_id: Text = Field(min_length=1, max_length=200, examples=["evt_5f2c..."])
    type: Literal["payment.succeeded", "payment.failed", "refund.succeeded"]
    psp_payment_id: Text = Field(min_length=1, max_length=200)
    amount: Money
    fee: Money | None = Field(default=None, description="The PSP's acquiring fee, if sent")


class WebhookAck(BaseModel):
    event_id: str
    outcome: Literal["processed", "ignored", "duplicate"] = Field(
        description="duplicate: this event id was already handled; ignored: nothing to do")


# --- refunds -----------------------------------------------------------------------------


class RefundRequest(_Request):
    amount: Money | None = Field(
        default=None, description="Optional; refunds are full only, so it must equal the "
        "paid amount (any other value is PARTIAL_REFUND_NOT_ALLOWED)")


class RefundOut(BaseModel):
    id: UUID
    payment_id: UUID
    order_id: UUID
    amount: Money
    currency: str
    status: Literal["requested", "succeeded", "failed"]
    reason: Literal["requested", "order_not_payable"]
    psp_refund_id: str | None
    requested_by: UUID | None
    created_at: datetime
    succeeded_at: datetime | None

    @classmethod
    def of(cls, r: Refund) -> RefundOut:
        return cls(
            id=r.id, payment_id=r.payment_id, order_id=r.order_id, amount=r.amount,
            currency=r.currency, status=r.status, reason=r.reason,  # type: ignore[arg-type]
            psp_refund_id=r.psp_refund_id, requested_by=r.requested_by,
            created_at=r.created_at, succeeded_at=r.succeeded_at)


# --- payouts and balance -----------------------------------------------------------------


class PayoutOut(BaseModel):
    id: UUID
    payment_id: UUID
    order_id: UUID
    shop_id: UUID
    gross_amount: Money
    take_rate_amount: Money
    acquiring_fee: Money
    amount: Money = Field(description="gross_amount - take_rate_amount - acquiring_fee")
    currency: str
    destination: str = Field(description="provider:account (masked) or merchant:<id>")
    status: Literal["sent"]
    created_at: datetime

    @classmethod
    def of(cls, p: Payout) -> PayoutOut:
        kind, _, number = p.destination.partition(":")
        shown = p.destination if kind == "merchant" else (
            f"{kind}:{'*' * max(len(number) - 4, 0)}{number[-4:]}")
        return cls(
            id=p.id, payment_id=p.payment_id, order_id=p.order_id, shop_id=p.shop_id,
            gross_amount=p.gross_amount, take_rate_amount=p.take_rate_amount,
            acquiring_fee=p.acquiring_fee, amount=p.amount, currency=p.currency,
            destination=shown, status="sent", created_at=p.created_at)


class BalanceOut(BaseModel):
    merchant_id: UUID
    currency: str
    payable: Money = Field(description="What the platform owes the merchant; negative when "
                           "the merchant owes the platform (e.g. after a refund of an order "
                           "that was already paid out)")
    subscription_receivable: Money = Field(description="Subscription fees billed, not paid")
    paid_out_total: Money
    payouts_count: int

    @classmethod
    def of(cls, b: MerchantBalance) -> BalanceOut:
        return cls(merchant_id=b.merchant_id, currency=b.currency, payable=b.payable,
                   subscription_receivable=b.subscription_receivable,
                   paid_out_total=b.paid_out_total, payouts_count=b.payouts_count)


# --- take rate -----------------------------------------------------------------------------


class TakeRateIn(_Request):
    rate: Rate


class TakeRateOut(BaseModel):
    rate: str = Field(examples=["0.0500"], description="A fraction of the order total")
    set_by: UUID | None
    updated_at: datetime

    @classmethod
    def of(cls, t: TakeRate) -> TakeRateOut:
        return cls(rate=format(t.rate, "f"), set_by=t.set_by, updated_at=t.created_at)


# --- PSP simulator -----------------------------------------------------------------------


class SimPaymentOut(BaseModel):
    id: str
    amount: Money
    currency: str
    description: str
    status: Literal["pending", "paid", "failed"]
    fee: Money
    refunded: bool
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, s: SimPayment) -> SimPaymentOut:
        return cls(id=s.id, amount=s.amount, currency=s.currency, description=s.description,
                   status=s.status, fee=s.fee,  # type: ignore[arg-type]
                   refunded=s.refund_id is not None, created_at=s.created_at,
                   completed_at=s.completed_at)


class SimCompletionOut(BaseModel):
    payment: SimPaymentOut
    webhook_event_id: str
    webhook_status: int = Field(description="Our webhook's HTTP status (0: not reachable)")
    webhook_response: str
