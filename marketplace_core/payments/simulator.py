"""A local PSP: payments a "buyer" pays or fails on its endpoints, and signed webhooks.

How it plays the provider:
- `SimulatedPsp.create_payment` stores a `psp_sim_payments` row (in the caller's
  transaction: the simulator lives in our database, so a payment we roll back was never
  registered with it either) and returns `<core_api_url>/psp-sim/payments/<id>` as the
  confirmation URL.
- The buyer "pays" (`POST /psp-sim/payments/{id}/pay`) or fails (`.../fail`): the row is
  completed and committed, then a webhook `payment.succeeded` / `payment.failed` is sent,
  HMAC-SHA256-signed with `settings.psp_webhook_secret` in `X-PSP-Signature`. Calling
  the endpoint again re-sends the same event (same event_id), as a real PSP's retry does.
- The fee is deterministic: 2.0 % of the amount, rounded half up to the tyiyn
  (1999.99 → 40.00). The seller bears it (spec §3.5).
- Refunds are full only and synchronous: `refund` answers "succeeded" at once, so the
  core completes the refund in the same transaction (a refund.succeeded webhook that
  follows is then a no-op).

The webhook travels through a `WebhookSender`: `HttpWebhookSender` posts to
`settings.core_api_url` (production, a separate process), `webhooks.InProcessWebhookSender`
calls the real handler function directly (tests, no network). The simulator imports only
the webhook's wire contract (`webhook_protocol`), not the handler.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from psycopg.rows import class_row

from infra.settings import get_settings
from marketplace_core.db import Connection
from marketplace_core.errors import ConflictError, ErrorCode, NotFoundError
from marketplace_core.payments.psp import PspPayment, PspRefund
from marketplace_core.payments.webhook_protocol import (
    SIGNATURE_HEADER,
    Delivery,
    WebhookSender,
    sign,
)
from platform_common.money import to_cents_half_up

FEE_RATE = Decimal("0.02")
WEBHOOK_PATH = "/webhooks/psp"
Outcome = Literal["paid", "failed"]


@dataclass(frozen=True)
class SimPayment:
    id: str
    merchant_reference: UUID
    amount: Decimal
    currency: str
    description: str
    status: str  # pending | paid | failed
    fee: Decimal
    webhook_event_id: str | None
    refund_id: str | None
    refunded_amount: Decimal | None
    created_at: datetime
    completed_at: datetime | None
    refunded_at: datetime | None


_COLS = (
    "id, merchant_reference, amount, currency, description, status, fee, webhook_event_id,"
    " refund_id, refunded_amount, created_at, completed_at, refunded_at"
)


class SimulatedPsp:
    """The simulator as a `PaymentProvider`, bound to one connection (transaction)."""

    name = "simulator"

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def acquiring_fee(self, amount: Decimal) -> Decimal:
        return to_cents_half_up(amount * FEE_RATE)

    def create_payment(
        self, payment_id: UUID, amount: Decimal, currency: str, description: str
    ) -> PspPayment:
        psp_id = f"sim_pay_{secrets.token_hex(12)}"
        self.conn.execute(
            "insert into psp_sim_payments (id, merchant_reference, amount, currency,"
            " description, fee) values (%s, %s, %s, %s, %s, %s)",
            (psp_id, payment_id, amount, currency, description, self.acquiring_fee(amount)),
        )
        url = f"{get_settings().core_api_url}/psp-sim/payments/{psp_id}"
        return PspPayment(psp_payment_id=psp_id, confirmation_url=url)

    def refund(self, psp_payment_id: str, amount: Decimal) -> PspRefund:
        sim = get_sim_payment(self.conn, psp_payment_id, lock=True)
        if sim.status != "paid":
            raise ConflictError(ErrorCode.PSP_ERROR,
                                f"the PSP cannot refund a {sim.status} payment")
        if amount != sim.amount:
            raise ConflictError(ErrorCode.PSP_ERROR, "the PSP refunds payments in full only")
        if sim.refund_id is not None:  # asked twice: the same refund
            return PspRefund(sim.refund_id, "succeeded")
        refund_id = f"sim_ref_{secrets.token_hex(12)}"
        self.conn.execute(
            "update psp_sim_payments set refund_id = %s, refunded_amount = %s,"
            " refunded_at = now() where id = %s",
            (refund_id, amount, psp_payment_id),
        )
        return PspRefund(refund_id, "succeeded")


def get_sim_payment(conn: Connection, psp_payment_id: str, *, lock: bool = False) -> SimPayment:
    sql = f"select {_COLS} from psp_sim_payments where id = %s" + (" for update" if lock else "")
    with conn.cursor(row_factory=class_row(SimPayment)) as cur:
        sim = cur.execute(sql.encode(), (psp_payment_id,)).fetchone()
    if sim is None:
        raise NotFoundError(ErrorCode.PAYMENT_NOT_FOUND, f"no PSP payment {psp_payment_id!r}")
    return sim


def buyer_completes(
    conn: Connection, psp_payment_id: str, outcome: Outcome, *, now: datetime | None = None
) -> SimPayment:
    """The buyer paid (or the payment failed) on the simulator's page.

    Repeating the same outcome keeps the stored event (so it is re-sent with its id);
    the other outcome after completion is a 409 PSP_ERROR.
    """
    with conn.transaction():
        sim = get_sim_payment(conn, psp_payment_id, lock=True)
        if sim.status == outcome:
            return sim
        if sim.status != "pending":
            raise ConflictError(ErrorCode.PSP_ERROR, f"the payment is already {sim.status}")
        conn.execute(
            "update psp_sim_payments set status = %s, webhook_event_id = %s,"
            " completed_at = %s where id = %s",
            (outcome, f"evt_{secrets.token_hex(12)}", now or datetime.now(UTC), psp_payment_id),
        )
        return get_sim_payment(conn, psp_payment_id)


def webhook_body(sim: SimPayment) -> bytes:
    """The JSON the PSP posts to our webhook for a completed payment."""
    if sim.status not in ("paid", "failed") or sim.webhook_event_id is None:
        raise ConflictError(ErrorCode.PSP_ERROR, "the payment is not completed yet")
    event: dict[str, str] = {
        "event_id": sim.webhook_event_id,
        "type": "payment.succeeded" if sim.status == "paid" else "payment.failed",
        "psp_payment_id": sim.id,
        "amount": format(sim.amount, "f"),
    }
    if sim.status == "paid":
        event["fee"] = format(sim.fee, "f")
    return json.dumps(event).encode()


# --- delivering webhooks -----------------------------------------------------------------


class HttpWebhookSender:
    """POSTs to the core API's webhook (`settings.core_api_url` unless given)."""

    def __init__(self, base_url: str | None = None, timeout: float = 10.0) -> None:
        self.url = (base_url or get_settings().core_api_url).rstrip("/") + WEBHOOK_PATH
        self.timeout = timeout

    def send(self, body: bytes, signature: str) -> Delivery:
        request = urllib.request.Request(
            self.url, data=body, method="POST",
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return Delivery(response.status, response.read().decode(errors="replace"))
        except urllib.error.HTTPError as exc:
            return Delivery(exc.code, exc.read().decode(errors="replace"))
        except OSError as exc:  # refused, timed out: the PSP would retry later
            return Delivery(0, str(exc))


def send_webhook(sender: WebhookSender, sim: SimPayment) -> Delivery:
    """Sign the payment's webhook with the shared secret and deliver it."""
    body = webhook_body(sim)
    return sender.send(body, sign(body))
