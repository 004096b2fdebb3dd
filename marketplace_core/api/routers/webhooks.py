"""The PSP's webhook: `POST /webhooks/psp`, signed with HMAC-SHA256 (X-PSP-Signature).

The handler reads the raw body (the signature covers its exact bytes), then hands it to
`marketplace_core.payments.webhooks.receive_psp_webhook`, which does all the work in one
transaction. Redeliveries of an event id answer 200 again without changing anything.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from starlette.concurrency import run_in_threadpool

from marketplace_core.api.deps import Pool
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.api.schemas.payments import PspWebhookEvent, WebhookAck
from marketplace_core.payments.webhooks import SIGNATURE_HEADER, receive_psp_webhook
from platform_common.validated import Token

router = APIRouter(tags=["webhooks"])

_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": PspWebhookEvent.model_json_schema()}},
    }
}


@router.post(
    "/webhooks/psp", response_model=WebhookAck,
    summary="PSP notification: payment.succeeded | payment.failed | refund.succeeded",
    description="401 INVALID_SIGNATURE when X-PSP-Signature is not the hex HMAC-SHA256 of "
    "the raw body; 422 INVALID_WEBHOOK when malformed; 404 PAYMENT_NOT_FOUND for an "
    "unknown psp_payment_id; 422 AMOUNT_MISMATCH when the amount is not the payment's "
    "(recorded, nothing changed). A payment.succeeded pays the order and sends the "
    "seller's instant payout in the same transaction.",
    responses=error_responses(401, 404, 422),
    openapi_extra=_BODY_DOC,
)
async def psp_webhook(
    request: Request,
    pool: Pool,
    signature: Annotated[Token | None, Header(alias=SIGNATURE_HEADER)] = None,
) -> WebhookAck:
    body = await request.body()
    result = await run_in_threadpool(receive_psp_webhook, pool, body, signature)
    return WebhookAck(event_id=result.event_id, outcome=result.outcome)  # type: ignore[arg-type]
