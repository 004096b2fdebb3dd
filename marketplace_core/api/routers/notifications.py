"""Notifications (seed 000 §25.8): preferences, a test message, the providers' status
webhooks and the unsubscribe links.

* `GET/PUT /notifications/prefs` — the caller's own (or, with `?shop_id=`, a shop's, for
  its managers and admins): channels, categories, muted types and shops, quiet hours,
  locale, marketing consent, and the addresses (write: plain; read: masked).
* `POST /notifications/test` — a `test_message` to the caller through the real queue
  (merchant owners and admins: 403 FORBIDDEN for buyers).
* `POST /notifications/webhook/{provider}` — delivered / failed from push_simulator or
  sms_simulator, signed `X-Notify-Signature: sha256=<hex HMAC of the body>`; a bad
  signature is 401 INVALID_SIGNATURE (logged, nothing changed).
* `GET /notifications/unsubscribe/{token}` — the link in every e-mail: one category or
  every message of the channel; a forged token is 422 INVALID_UNSUBSCRIBE_TOKEN.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Header, Query, Request
from starlette.concurrency import run_in_threadpool

from marketplace_core.accounts import ownership
from marketplace_core.accounts import service as accounts
from marketplace_core.api.auth import CurrentUser
from marketplace_core.api.deps import Pool
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.api.schemas.notifications import (
    PrefsIn,
    PrefsOut,
    TestIn,
    TestOut,
    UnsubscribeOut,
    WebhookIn,
    WebhookOut,
)
from marketplace_core.db import transaction
from marketplace_core.errors import (
    ErrorCode,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
    ValidationError,
)
from marketplace_core.notifications import addresses, preferences
from marketplace_core.notifications import log as nlog
from marketplace_core.notifications.channels import WEBHOOK_PROVIDERS
from marketplace_core.notifications.signing import (
    SIGNATURE_HEADER,
    read_unsubscribe_token,
    webhook_signature_ok,
)

log = logging.getLogger("marketplace_core.notifications.api")

router = APIRouter(prefix="/notifications", tags=["notifications"])


def _owner(conn: Any, user: CurrentUser, shop_id: UUID | None) -> tuple[str, UUID]:
    if shop_id is None:
        return "user", user.id
    ownership.assert_can_manage_shop(conn, user, shop_id)
    return "shop", shop_id


def _read(conn: Any, owner_type: str, owner_id: UUID) -> PrefsOut:
    prefs = preferences.as_dict(preferences.load(conn, owner_type, owner_id))
    masked = addresses.masked_addresses(conn, owner_id) if owner_type == "user" else {}
    return PrefsOut.model_validate({**prefs, "addresses": masked})


@router.get("/prefs", response_model=PrefsOut, responses=error_responses(401, 403, 404, 422),
            summary="The caller's notification preferences (or a shop's, ?shop_id=)")
def get_prefs(user: CurrentUser, pool: Pool,
              shop_id: Annotated[UUID | None, Query()] = None) -> PrefsOut:
    with transaction(pool) as conn:
        owner_type, owner_id = _owner(conn, user, shop_id)
        return _read(conn, owner_type, owner_id)


@router.put("/prefs", response_model=PrefsOut, responses=error_responses(401, 403, 404, 422),
            summary="Change notification preferences (only the keys sent change)",
            description="422 INVALID_NOTIFICATION_PREFS: unknown category or type, bad quiet "
            "hours or time zone; INVALID_REQUEST: malformed body. A shop's preferences "
            "(?shop_id=) hold channels only, no addresses.")
def put_prefs(body: PrefsIn, user: CurrentUser, pool: Pool,
              shop_id: Annotated[UUID | None, Query()] = None) -> PrefsOut:
    with transaction(pool) as conn:
        owner_type, owner_id = _owner(conn, user, shop_id)
        sent = body.model_dump(exclude_unset=True, mode="json")
        general = {k: sent[k] for k in ("locale", "timezone", "marketing_consent") if k in sent}
        if general:
            preferences.save_settings(conn, owner_type, owner_id, general)
        for channel, change in (sent.get("channels") or {}).items():
            preferences.save_channel(conn, owner_type, owner_id, channel, change)
        if "addresses" in sent:
            if owner_type != "user":
                raise ValidationError(ErrorCode.INVALID_NOTIFICATION_PREFS,
                                      "a shop's preferences hold no addresses")
            for field, channel in (("email", "email"), ("phone", "sms"), ("push_token", "push")):
                if field in sent["addresses"]:
                    addresses.set_address(conn, user.id, channel, sent["addresses"][field])
        return _read(conn, owner_type, owner_id)


@router.post("/test", response_model=TestOut, status_code=202,
             responses=error_responses(401, 403, 422),
             summary="Queue a test notification to the caller (merchant owners and admins)")
def send_test(body: TestIn, user: CurrentUser, pool: Pool) -> TestOut:
    with transaction(pool) as conn:
        if not user.is_admin and not (user.role == "seller"
                                      and ownership.merchant_ids_of(conn, user.id)):
            raise ForbiddenError(ErrorCode.FORBIDDEN,
                                 "only a merchant's owner or an admin sends test messages")
        now = datetime.now(UTC)
        event = nlog.NotifyEvent(
            uuid4(), "test_message", now, "user", user.id, None, None, "user", str(user.id),
            "normal", body.consent, {"ts": now.isoformat()})
        queued = nlog.enqueue(conn, event, now,
                              channels=[body.channel] if body.channel else None)
        return TestOut(event_id=event.event_id, queued=queued)


@router.post("/webhook/{provider}", response_model=WebhookOut,
             responses=error_responses(401, 404, 422),
             summary="A push or SMS provider reports a message delivered or failed",
             description="401 INVALID_SIGNATURE when X-Notify-Signature is not "
             "`sha256=<hex HMAC-SHA256 of the raw body>`; 404 UNKNOWN_NOTIFICATION_PROVIDER, "
             "NOTIFICATION_NOT_FOUND; 422 INVALID_REQUEST. A repeated report answers 200 "
             "and changes nothing.")
async def provider_webhook(
    provider: str, request: Request, pool: Pool,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
) -> WebhookOut:
    body = await request.body()
    return await run_in_threadpool(_webhook, pool, provider, body, signature,
                                   request.client.host if request.client else None)


def _webhook(pool: Pool, provider: str, body: bytes, signature: str | None,
             ip: str | None) -> WebhookOut:
    if not webhook_signature_ok(body, signature):
        log.warning("notification webhook %r refused: bad signature (from %s, %d bytes)",
                    provider[:40], ip, len(body))
        raise UnauthorizedError(ErrorCode.INVALID_SIGNATURE,
                                f"{SIGNATURE_HEADER} does not match the body")
    if provider not in WEBHOOK_PROVIDERS:
        raise NotFoundError(ErrorCode.UNKNOWN_NOTIFICATION_PROVIDER,
                            f"no notification provider {provider[:40]!r}")
    try:
        report = WebhookIn.model_validate(json.loads(body))
    except ValueError as exc:
        raise ValidationError(ErrorCode.INVALID_REQUEST,
                              f"not a status report: {type(exc).__name__}") from None
    with transaction(pool) as conn:
        row = nlog.apply_status(conn, provider, report.provider_ref, report.status,
                                report.error, datetime.now(UTC))
    if row is None:
        raise NotFoundError(ErrorCode.NOTIFICATION_NOT_FOUND,
                            "no notification with this provider reference")
    return WebhookOut(notification_id=row["id"], status=report.status)


@router.get("/unsubscribe/{token}", response_model=UnsubscribeOut,
            responses=error_responses(422),
            summary="The unsubscribe link of an e-mail or SMS (no sign-in: the token is signed)")
def unsubscribe(token: str, pool: Pool) -> UnsubscribeOut:
    request = read_unsubscribe_token(token)
    with transaction(pool) as conn:
        if accounts.get_user(conn, request.user_id) is None:
            raise ValidationError(ErrorCode.INVALID_UNSUBSCRIBE_TOKEN,
                                  "this unsubscribe link is not valid")
        preferences.unsubscribe(conn, request.user_id, request.channel, request.category)
    log.info("user %s unsubscribed from %s on %s", request.user_id, request.category,
             request.channel)
    return UnsubscribeOut(user_id=request.user_id, channel=request.channel,  # type: ignore[arg-type]
                          category=request.category)
