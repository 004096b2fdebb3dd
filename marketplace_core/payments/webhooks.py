"""The PSP's webhook: signature check, parsing, and idempotent processing.

The PSP posts JSON `{event_id, type, psp_payment_id, amount, fee?}` with
`X-PSP-Signature: <hex HMAC-SHA256 of the raw body, key settings.psp_webhook_secret>`
(`webhook_protocol`)
(a `sha256=` prefix is accepted). `type` is payment.succeeded, payment.failed or
refund.succeeded; amounts are decimal strings (JSON numbers are read exactly too).

Answers: bad or missing signature → INVALID_SIGNATURE (401); malformed → INVALID_WEBHOOK
(422); unknown payment → PAYMENT_NOT_FOUND (404, nothing stored, so the PSP's retry works
once our payment row exists); amount different from the payment's → AMOUNT_MISMATCH (422):
the event is recorded (outcome `amount_mismatch`) and nothing else changes.

Ad wallet top-ups (marketplace_core.ads.wallet) are PSP payments too: an event whose PSP id
is no order payment's is handed to `ads.wallet.process_topup_event` (same idempotency,
same amount check).

Idempotency: the event id is inserted into `psp_webhook_events` (primary key) in the same
transaction as the change it causes. A redelivery — even concurrent: the second insert
waits for the first transaction, then finds the row — changes nothing and gets the same
answer (200, or 422 again for a recorded mismatch). Different events for one payment
serialise on the payment's row lock; a success that is already applied is `ignored`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from psycopg.types.json import Jsonb

from marketplace_core.ads import wallet as ad_wallet
from marketplace_core.db import Connection, ConnectionSource, transaction
from marketplace_core.errors import (
    DomainError,
    ErrorCode,
    NotFoundError,
    ValidationError,
)
from marketplace_core.payments import providers, refunds, service
from marketplace_core.payments.webhook_protocol import SIGNATURE_HEADER as SIGNATURE_HEADER
from marketplace_core.payments.webhook_protocol import Delivery, verify_signature
from marketplace_core.payments.webhook_protocol import sign as sign
from platform_common.http import status_for
from platform_common.money import MAX_AMOUNT, is_whole_cents, to_cents_half_even

EVENT_TYPES = ("payment.succeeded", "payment.failed", "refund.succeeded")
MAX_BODY_BYTES = 64 * 1024


class InvalidWebhookError(ValidationError):
    def __init__(self, message: str, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(ErrorCode.INVALID_WEBHOOK, message)
        self.details = details


@dataclass(frozen=True)
class PspEvent:
    event_id: str
    type: str
    psp_payment_id: str
    amount: Decimal
    fee: Decimal | None
    payload: dict[str, Any]


def _text(data: dict[str, Any], field: str, problems: list[dict[str, str]]) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        problems.append({"field": field, "problem": "must be a non-empty string (<= 200)"})
        return ""
    return value.strip()


def _money(data: dict[str, Any], field: str, problems: list[dict[str, str]], *,
           required: bool, positive: bool) -> Decimal | None:
    value = data.get(field)
    if value is None and not required:
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise InvalidOperation
        amount = Decimal(value) if not isinstance(value, Decimal) else value
        ok = (amount.is_finite() and is_whole_cents(amount)
              and (amount > 0 if positive else amount >= 0) and amount <= MAX_AMOUNT)
    except (InvalidOperation, ValueError):
        ok = False
    if not ok:
        problems.append({"field": field,
                         "problem": "must be a decimal amount with at most 2 decimals"})
        return None
    return to_cents_half_even(amount)


def parse_event(body: bytes) -> PspEvent:
    """The event in the body; raises INVALID_WEBHOOK (details list the bad fields)."""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidWebhookError("the webhook body is too large")
    try:
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidWebhookError("the webhook body is not JSON") from exc
    if not isinstance(data, dict):
        raise InvalidWebhookError("the webhook body must be a JSON object")
    problems: list[dict[str, str]] = []
    event_id = _text(data, "event_id", problems)
    psp_payment_id = _text(data, "psp_payment_id", problems)
    event_type = data.get("type")
    if event_type not in EVENT_TYPES:
        problems.append({"field": "type", "problem": f"must be one of {', '.join(EVENT_TYPES)}"})
    amount = _money(data, "amount", problems, required=True, positive=True)
    fee = _money(data, "fee", problems, required=False, positive=False)
    if amount is not None and fee is not None and fee > amount:
        problems.append({"field": "fee", "problem": "must not exceed the amount"})
    if problems or amount is None:
        raise InvalidWebhookError("the webhook event is malformed", problems)
    return PspEvent(event_id, str(event_type), psp_payment_id, amount, fee,
                    json.loads(body))  # the stored copy: plain JSON types


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    # processed: changed something; ignored: nothing to change (already in that state);
    # duplicate: this event id was handled before; amount_mismatch: recorded, rejected
    outcome: str


def _amount_mismatch(event: PspEvent, expected: Decimal) -> ValidationError:
    return ValidationError(
        ErrorCode.AMOUNT_MISMATCH,
        f"event {event.event_id}: amount {event.amount} does not match the expected {expected}")


def process_event(conn: Connection, event: PspEvent, *, now: datetime | None = None
                  ) -> tuple[WebhookResult, DomainError | None]:
    """Apply one event in the caller's transaction; returns the result and, for a recorded
    amount mismatch, the error to answer with once the record is committed."""
    with conn.transaction():
        inserted = conn.execute(
            "insert into psp_webhook_events (event_id, event_type, psp_payment_id, amount,"
            " outcome, payload) values (%s, %s, %s, %s, 'processed', %s)"
            " on conflict (event_id) do nothing returning event_id",
            (event.event_id, event.type, event.psp_payment_id, event.amount,
             Jsonb(event.payload)),
        ).fetchone()
        if inserted is None:
            row = conn.execute(
                "select outcome, amount from psp_webhook_events where event_id = %s",
                (event.event_id,)).fetchone()
            if row is not None and row[0] == "amount_mismatch":
                return WebhookResult(event.event_id, "amount_mismatch"), ValidationError(
                    ErrorCode.AMOUNT_MISMATCH, f"event {event.event_id} was rejected before:"
                    " its amount does not match the payment")
            return WebhookResult(event.event_id, "duplicate"), None

        provider = providers.provider_for(conn)
        payment = service.find_by_psp_id(conn, provider.name, event.psp_payment_id, lock=True)
        if payment is None:
            # Not an order's payment: an ad wallet top-up (marketplace_core.ads.wallet)?
            handled = ad_wallet.process_topup_event(
                conn, provider.name, event.psp_payment_id, event.type, event.amount,
                event.fee, provider.acquiring_fee(event.amount), now=now)
            if handled is None:
                raise NotFoundError(ErrorCode.PAYMENT_NOT_FOUND,
                                    f"no payment with PSP id {event.psp_payment_id!r}")
            topup_outcome, error = handled
            if topup_outcome != "processed":
                _set_outcome(conn, event, topup_outcome)
            return WebhookResult(event.event_id, topup_outcome), error
        if event.amount != payment.amount:
            _set_outcome(conn, event, "amount_mismatch")
            return (WebhookResult(event.event_id, "amount_mismatch"),
                    _amount_mismatch(event, payment.amount))

        if event.type == "payment.succeeded":
            fee = event.fee if event.fee is not None else provider.acquiring_fee(payment.amount)
            done = service.payment_succeeded(conn, payment, fee, provider, now=now)
        elif event.type == "payment.failed":
            done = service.payment_failed(conn, payment, now=now)
        else:
            refund = refunds.live_refund_of_payment(conn, payment.id, lock=True)
            if refund is None:
                raise NotFoundError(ErrorCode.REFUND_NOT_FOUND,
                                    f"payment {payment.id} has no refund in progress")
            done = "ignored" if refund.status == "succeeded" else "processed"
            refunds.complete_refund(conn, refund, payment, now=now)
        outcome = "ignored" if done == "ignored" else "processed"
        if outcome == "ignored":
            _set_outcome(conn, event, "ignored")
        return WebhookResult(event.event_id, outcome), None


def _set_outcome(conn: Connection, event: PspEvent, outcome: str) -> None:
    conn.execute("update psp_webhook_events set outcome = %s where event_id = %s",
                 (outcome, event.event_id))


def receive_psp_webhook(
    source: ConnectionSource, body: bytes, signature: str | None, *,
    now: datetime | None = None,
) -> WebhookResult:
    """The whole webhook: verify, parse, apply in one transaction on `source`, answer.

    Raises INVALID_SIGNATURE, INVALID_WEBHOOK, PAYMENT_NOT_FOUND, REFUND_NOT_FOUND,
    AMOUNT_MISMATCH (after committing the record of the rejected event).
    """
    verify_signature(body, signature)
    event = parse_event(body)
    with transaction(source) as conn:
        result, error = process_event(conn, event, now=now)
    if error is not None:
        raise error
    return result


class InProcessWebhookSender:
    """A `WebhookSender` that calls `receive_psp_webhook` itself, with its own transaction
    on `source` (tests and the in-process simulator: no network)."""

    def __init__(self, source: ConnectionSource) -> None:
        self.source = source

    def send(self, body: bytes, signature: str) -> Delivery:
        try:
            result = receive_psp_webhook(self.source, body, signature)
        except DomainError as exc:
            return Delivery(status_for(exc), json.dumps({"code": exc.code}))
        return Delivery(200, json.dumps({"outcome": result.outcome}))
