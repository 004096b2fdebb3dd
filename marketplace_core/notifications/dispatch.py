"""One delivery attempt of one claimed `notification_log` row.

In order: quiet hours (hold until they end, unless high priority), the per-user daily
limit of the channel (over it: `suppressed`, next channel), the address (none: `failed`,
next channel), the template (a failure is `failed` with its reason, on no other channel
either: every channel renders the same template), then the provider, called outside any
transaction; its answer is recorded in the next one. Logs show masked addresses only.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from infra.settings import get_settings
from marketplace_core.accounts import service as accounts
from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection
from marketplace_core.notifications import addresses, preferences, templates
from marketplace_core.notifications import log as nlog
from marketplace_core.notifications.catalog import CATEGORIES
from marketplace_core.notifications.channels import (
    DeliveryError,
    EmailProvider,
    Providers,
    PushProvider,
    SmsProvider,
)
from marketplace_core.notifications.masking import mask
from marketplace_core.notifications.signing import ALL, unsubscribe_token

log = logging.getLogger("marketplace_core.notifications.dispatch")


def daily_limit(channel: str) -> int:
    s = get_settings()
    return {"sms": s.policy.notify_daily_limit_sms, "email": s.policy.notify_daily_limit_email,
            "push": s.policy.notify_daily_limit_push}[channel]


def _local_ts(value: str | None, zone: ZoneInfo, fallback: datetime) -> str:
    try:
        at = datetime.fromisoformat(value) if value else fallback
    except ValueError:
        return value or ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone).strftime("%d.%m.%Y %H:%M")


def placeholders(conn: Connection, row: dict[str, Any], prefs: preferences.Preferences,
                 now: datetime) -> dict[str, Any]:
    """The template's values: the event's data, plus the names looked up now."""
    payload = row["payload_json"]
    data: dict[str, Any] = dict(payload.get("data") or {})
    user = accounts.get_user(conn, row["recipient_user_id"])
    values: dict[str, Any] = {**data, "audience": payload.get("audience", "user"),
                              "entityType": payload.get("entity_type", "")}
    if user is not None:
        values["userName"] = user.full_name
    if row["shop_id"] is not None and "shopName" not in values:
        shop = catalog.get_shop(conn, row["shop_id"])
        if shop is not None:
            values["shopName"] = shop.name
    if payload.get("entity_type") == "chat_message":
        # chat events carry ids only: the sender's name and the preview are read now
        from marketplace_core.chat.notifications import placeholders as chat_placeholders
        for key, value in chat_placeholders(conn, payload.get("entity_id")).items():
            values.setdefault(key, value)
    values["ts"] = _local_ts(data.get("ts"), prefs.zone(), row["created_at"] or now)
    values.setdefault("ctaUrl", get_settings().notify_public_url)
    return values


def _unsubscribe_links(user_id: UUID, channel: str, category: str) -> tuple[str, str]:
    base = f"{get_settings().notify_public_url}/notifications/unsubscribe"
    one = unsubscribe_token(user_id, channel, category if category in CATEGORIES else ALL)
    return f"{base}/{one}", f"{base}/{unsubscribe_token(user_id, channel, ALL)}"


def attempt(conn: Connection, row: dict[str, Any], providers: Providers,
            now: datetime | None = None) -> str:
    """Run one claimed row; returns what happened: sent, queued (retry), failed,
    deferred, suppressed. `conn` is an autocommit connection (each step commits)."""
    at = now or datetime.now(UTC)
    user_id: UUID = row["recipient_user_id"]
    channel: str = row["channel"]
    with conn.transaction():
        prefs = preferences.load(conn, "user", user_id)
        until = preferences.quiet_until(prefs, channel, row["priority"], at)
        if until is not None:
            nlog.defer(conn, row, until, at)
            log.info("notification %s held until %s (quiet hours)", row["id"], until)
            return "deferred"
        limit = daily_limit(channel)
        if nlog.sent_within(conn, user_id, channel, at) >= limit:
            nlog.suppress(conn, row, f"rate limited: {limit} {channel} a day", at, fallback=True)
            log.info("notification %s: %s limit of user %s reached", row["id"], channel, user_id)
            return "suppressed"
        address = addresses.address_for(conn, user_id, channel)
        if not address:
            nlog.record_failure(conn, row, f"no {channel} address", permanent=True, now=at)
            return "failed"
        try:
            rendered = templates.render(row["template_key"], row["locale"],
                                        placeholders(conn, row, prefs, at))
        except templates.TemplateFailure as exc:
            nlog.record_failure(conn, {**row, "fallback": []}, exc.reason, permanent=True,
                                now=at)
            log.warning("notification %s not rendered: %s", row["id"], exc.reason)
            return "failed"
    if rendered.fallback_from:
        log.info("notification %s: template fallback %s -> %s (%s has no text for %s)",
                 row["id"], rendered.fallback_from, rendered.locale, rendered.fallback_from,
                 row["template_key"])
    provider = providers.for_channel(channel)
    masked = mask(channel, address)
    key = str(row["id"])
    try:
        if isinstance(provider, EmailProvider):
            one, every = _unsubscribe_links(user_id, channel, row["category"])
            body = (f"{rendered.body}\n\n--\n"
                    f"Отписаться / Unsubscribe ({row['category']}): {one}\n"
                    f"Отписаться от всех писем / from every e-mail: {every}\n")
            ref = provider.send_email(to=address, subject=rendered.subject, body=body,
                                      headers={"List-Unsubscribe": f"<{one}>",
                                               "X-Notification-Type": row["event_type"]},
                                      idempotency_key=key)
        elif isinstance(provider, PushProvider):
            ref = provider.send_push(token=address, title=rendered.subject,
                                     body=rendered.short, priority=row["priority"],
                                     idempotency_key=key)
        elif isinstance(provider, SmsProvider):
            ref = provider.send_sms(phone=address, text=rendered.short, idempotency_key=key)
        else:  # pragma: no cover - Providers only holds the three kinds
            raise DeliveryError(f"no provider for {channel}", permanent=True)
    except DeliveryError as exc:
        with conn.transaction():
            status = nlog.record_failure(conn, row, exc.reason, permanent=exc.permanent,
                                         now=now or datetime.now(UTC),
                                         provider=provider.name,
                                         to_masked=masked)
        log.warning("notification %s on %s to %s: %s (attempt %s, now %s)", row["id"],
                    channel, masked, exc.reason, row["attempts"], status)
        return status
    except Exception as exc:  # a provider bug must not stop the worker: retry it
        with conn.transaction():
            status = nlog.record_failure(conn, row, f"provider error: {type(exc).__name__}",
                                         permanent=False, now=now or datetime.now(UTC),
                                         provider=provider.name, to_masked=masked)
        log.exception("notification %s: provider %s raised", row["id"], provider.name)
        return status
    with conn.transaction():
        nlog.record_sent(conn, row["id"], provider.name, ref, masked,
                         now or datetime.now(UTC))
    log.info("notification %s (%s) sent on %s to %s via %s", row["id"], row["event_type"],
             channel, masked, provider.name)
    return "sent"
