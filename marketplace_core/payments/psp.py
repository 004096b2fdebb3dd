"""The payment service provider (PSP) as the rest of the core sees it.

A provider creates a payment the buyer confirms on the provider's page, refunds a payment
in full, and says what fee it charges. It reports outcomes through its webhook
(`marketplace_core.payments.webhooks`). `providers.provider_for(conn)` returns the provider
chosen by `settings.psp_provider`; today only "simulator" exists (`payments.simulator`).
This module is the interface only: it imports no provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol
from uuid import UUID

from infra.settings import get_settings

RefundStatus = Literal["pending", "succeeded", "failed"]


@dataclass(frozen=True)
class PspPayment:
    psp_payment_id: str
    confirmation_url: str  # where the buyer confirms the payment


@dataclass(frozen=True)
class PspRefund:
    psp_refund_id: str
    # "succeeded" when the provider refunds synchronously; "pending" means its webhook
    # (refund.succeeded) will tell us later
    status: RefundStatus


class PaymentProvider(Protocol):
    @property
    def name(self) -> str: ...

    def create_payment(
        self, payment_id: UUID, amount: Decimal, currency: str, description: str
    ) -> PspPayment: ...

    def refund(self, psp_payment_id: str, amount: Decimal) -> PspRefund: ...

    def acquiring_fee(self, amount: Decimal) -> Decimal: ...


def provider_name() -> str:
    return get_settings().psp_provider

