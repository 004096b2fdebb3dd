"""The PSP simulator's "buyer" side: look at a payment, pay it or fail it.

Mounted only while `settings.psp_provider` is "simulator" (`routers.all_routers`); every
route also checks it, so a provider switched at run time answers 404 here too.
Paying or failing commits the simulator's state, then sends the signed webhook to our
`POST /webhooks/psp` through the app's webhook sender: `app.state.psp_webhook_sender` if
set (tests put an in-process sender there), else HTTP to `settings.core_api_url`.
Calling pay/fail again re-sends the same event (a PSP retry).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from marketplace_core.api.deps import Pool
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.api.schemas.payments import SimCompletionOut, SimPaymentOut
from marketplace_core.db import transaction
from marketplace_core.errors import ErrorCode, NotFoundError
from marketplace_core.payments import psp, simulator
from platform_common.validated import Text

SimPaymentId = Annotated[Text, Path(max_length=200)]

router = APIRouter(prefix="/psp-sim", tags=["psp simulator"])


def _require_simulator() -> None:
    if psp.provider_name() != "simulator":
        raise NotFoundError(ErrorCode.NOT_FOUND, "the PSP simulator is not enabled")


def _sender(request: Request) -> simulator.WebhookSender:
    sender: simulator.WebhookSender | None = getattr(
        request.app.state, "psp_webhook_sender", None)
    return sender or simulator.HttpWebhookSender()


@router.get(
    "/payments/{psp_payment_id}", response_model=SimPaymentOut,
    summary="The simulated PSP's payment page (what the confirmation URL shows)",
    responses=error_responses(404, 422),
)
def get_sim_payment(psp_payment_id: SimPaymentId, pool: Pool) -> SimPaymentOut:
    _require_simulator()
    with transaction(pool) as conn:
        return SimPaymentOut.of(simulator.get_sim_payment(conn, psp_payment_id))


def _complete(request: Request, pool: Pool, psp_payment_id: str,
              outcome: simulator.Outcome) -> SimCompletionOut:
    _require_simulator()
    with transaction(pool) as conn:
        sim = simulator.buyer_completes(conn, psp_payment_id, outcome)
    # After the commit: our webhook handler must see the PSP's state as final.
    delivery = simulator.send_webhook(_sender(request), sim)
    return SimCompletionOut(payment=SimPaymentOut.of(sim),
                            webhook_event_id=sim.webhook_event_id or "",
                            webhook_status=delivery.status_code,
                            webhook_response=delivery.body[:2000])


@router.post(
    "/payments/{psp_payment_id}/pay", response_model=SimCompletionOut,
    summary="The buyer pays: the PSP sends payment.succeeded to our webhook",
    responses=error_responses(404, 409, 422),
)
def pay(psp_payment_id: SimPaymentId, request: Request, pool: Pool) -> SimCompletionOut:
    return _complete(request, pool, psp_payment_id, "paid")


@router.post(
    "/payments/{psp_payment_id}/fail", response_model=SimCompletionOut,
    summary="The payment fails (declined card): the PSP sends payment.failed",
    responses=error_responses(404, 409, 422),
)
def fail(psp_payment_id: SimPaymentId, request: Request, pool: Pool) -> SimCompletionOut:
    return _complete(request, pool, psp_payment_id, "failed")
