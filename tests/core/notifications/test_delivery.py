"""Delivery: the channel chain, quiet hours, dedup, retries with backoff, fallback,
rate limits, consent, template failures, and a restart that never sends twice. E-mail
goes through real SMTP to Mailpit and is read back from its API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from infra.settings import get_settings
from marketplace_core.notifications import addresses, preferences, templates
from marketplace_core.notifications import log as nlog
from marketplace_core.notifications.worker import NotificationsWorker
from tests.core.notifications.conftest import Clock, mailbox, make_user, rows
from tests.core.notifications.helpers import event, queue, set_channels


def _drain(worker: NotificationsWorker, db: psycopg.Connection[Any]) -> None:
    while worker.dispatch_once(db):
        pass


def test_no_push_token_falls_back_to_email_read_back_from_mailpit(
        db: Any, worker: NotificationsWorker, clock: Clock) -> None:
    user, email = make_user(db)
    ev = event(user, "order_ready_for_pickup", clock=clock)
    queue(db, ev, clock)
    _drain(worker, db)
    push, mail = rows(db, ev.event_id)[0], rows(db, ev.event_id)[1]
    assert (push["channel"], push["status"], push["last_error"]) == \
        ("push", "failed", "no push address")
    assert (mail["channel"], mail["status"], mail["provider"]) == ("email", "sent", "smtp")
    assert mail["priority"] == "high" and mail["to_masked"].startswith("b***@n***.")
    assert email not in mail["to_masked"]
    [message] = mailbox(email)
    assert message["Subject"] == "Заказ A1B2C3D4 готов к выдаче"
    assert "Дордой, ряд 5" in message["Text"] and "Айгуль buyer" in message["Text"]
    assert "/notifications/unsubscribe/" in message["Text"]
    assert message["MessageID"] == f"{mail['id']}@notify.bazaar.kg"


def test_quiet_hours_hold_normal_but_not_high_priority(
        db: Any, worker: NotificationsWorker, clock: Clock) -> None:
    user, email = make_user(db)
    set_channels(db, user, push=False)
    with db.transaction():
        preferences.save_channel(db, "user", user, "email",
                                 {"quiet_hours": {"start": "22:00", "end": "08:00"}})
    clock.now = datetime(2031, 3, 4, 17, 30, tzinfo=UTC)  # 23:30 in Bishkek (UTC+6)
    normal = event(user, "order_created", clock=clock)
    urgent = event(user, "order_ready_for_pickup", clock=clock)
    queue(db, normal, clock)
    queue(db, urgent, clock)
    _drain(worker, db)
    [held] = rows(db, normal.event_id)
    assert held["status"] == "queued" and held["attempts"] == 0
    assert held["last_error"] == "held: quiet hours"
    # 08:00 Bishkek = 02:00 UTC the next day
    assert held["next_attempt_at"] == datetime(2031, 3, 5, 2, 0, tzinfo=UTC)
    assert rows(db, urgent.event_id)[0]["status"] == "sent"  # high priority: at once
    clock.now = datetime(2031, 3, 5, 2, 0, 1, tzinfo=UTC)
    _drain(worker, db)
    assert rows(db, normal.event_id)[0]["status"] == "sent"
    assert len(mailbox(email, expect=2)) == 2


def test_the_same_notification_within_five_minutes_is_sent_once(
        db: Any, worker: NotificationsWorker, clock: Clock) -> None:
    user, _ = make_user(db)
    first = event(user, clock=clock)
    queue(db, first, clock)
    # the same content under a new event id, 4 minutes later: a duplicate
    clock.advance(minutes=4)
    again = event(user, clock=clock)
    queue(db, again, clock)
    [dup] = rows(db, again.event_id)
    assert dup["status"] == "suppressed" and dup["last_error"].startswith("duplicate")
    assert dup["idempotency_key"] == rows(db, first.event_id)[0]["idempotency_key"]
    # Kafka redelivers the first event: nothing new
    assert queue(db, first, clock) == []
    assert len(rows(db, first.event_id)) == 1
    # after the window the same content is news again
    clock.advance(minutes=1, seconds=1)
    later = event(user, clock=clock)
    queue(db, later, clock)
    assert rows(db, later.event_id)[0]["status"] == "queued"
    # a different payload is not a duplicate
    other = event(user, data={"orderId": "FFFF0000", "total": "1.00", "shopName": "Б",
                              "ts": "x"}, clock=clock)
    queue(db, other, clock)
    assert rows(db, other.event_id)[0]["status"] == "queued"


def test_a_failing_push_provider_is_retried_1m_5m_15m_then_falls_back_to_email(
        db: Any, worker: NotificationsWorker, clock: Clock) -> None:
    user, email = make_user(db)
    with db.transaction():
        addresses.set_address(db, user, "push", "fcm-token-" + "x" * 40)
    worker.providers.push.mode = "fail"  # type: ignore[attr-defined]
    ev = event(user, clock=clock)
    queue(db, ev, clock)
    waits = []
    for _ in range(4):
        _drain(worker, db)
        [push] = rows(db, ev.event_id)
        assert push["status"] == "queued" and "HTTP 500" in push["last_error"]
        waits.append(push["next_attempt_at"] - clock.now)
        clock.now = push["next_attempt_at"]
    assert waits == [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15),
                     timedelta(minutes=15)]
    _drain(worker, db)  # the 5th attempt fails: push gives up, e-mail takes over
    push, mail = rows(db, ev.event_id)
    assert (push["status"], push["attempts"]) == ("failed", 5)
    assert (mail["channel"], mail["status"], mail["attempts"]) == ("email", "sent", 1)
    assert worker.providers.push.calls == 5  # type: ignore[attr-defined]
    assert mailbox(email)[0]["Subject"] == "Заказ A1B2C3D4 оформлен"


def test_a_provider_that_never_answers_is_retried(
        db: Any, worker: NotificationsWorker, clock: Clock) -> None:
    user, _ = make_user(db)
    with db.transaction():
        addresses.set_address(db, user, "push", "fcm-token-" + "y" * 40)
    worker.providers.push.mode = "timeout"  # type: ignore[attr-defined]
    ev = event(user, clock=clock)
    queue(db, ev, clock)
    _drain(worker, db)
    [push] = rows(db, ev.event_id)
    assert push["status"] == "queued" and "no answer within" in push["last_error"]
    assert push["next_attempt_at"] == clock.now + timedelta(minutes=1)


def test_a_permanent_refusal_falls_back_at_once(
        db: Any, worker: NotificationsWorker, clock: Clock) -> None:
    user, _email = make_user(db)
    with db.transaction():
        addresses.set_address(db, user, "push", "stale-token-" + "z" * 40)
    worker.providers.push.mode = "reject"  # type: ignore[attr-defined]
    ev = event(user, clock=clock)
    queue(db, ev, clock)
    _drain(worker, db)
    push, mail = rows(db, ev.event_id)
    assert (push["status"], push["attempts"]) == ("failed", 1)
    assert mail["status"] == "sent"


def test_sms_is_rate_limited_per_user_and_day(
        db: Any, worker: NotificationsWorker, clock: Clock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_DAILY_LIMIT_SMS", "2")
    get_settings.cache_clear()
    try:
        user, _ = make_user(db, phone="+996555000111")
        set_channels(db, user, push=False, email=False, sms=True)
        sent = []
        for n in range(3):
            ev = event(user, data={"orderId": f"ORD{n}", "total": "1.00", "shopName": "Б",
                                   "ts": "x"}, clock=clock)
            queue(db, ev, clock)
            _drain(worker, db)
            sent.append(rows(db, ev.event_id)[0])
        assert [r["status"] for r in sent] == ["sent", "sent", "suppressed"]
        assert sent[2]["last_error"] == "rate limited: 2 sms a day"
        assert [m.to for m in worker.providers.sms.sent] == ["+996555000111"] * 2  # type: ignore[attr-defined]
        # a day later the limit has room again
        clock.advance(days=1, seconds=1)
        ev = event(user, data={"orderId": "ORD9", "total": "1.00", "shopName": "Б", "ts": "x"},
                   clock=clock)
        queue(db, ev, clock)
        _drain(worker, db)
        assert rows(db, ev.event_id)[0]["status"] == "sent"
    finally:
        get_settings.cache_clear()


def test_marketing_needs_consent_and_transactional_ignores_the_opt_out(
        db: Any, worker: NotificationsWorker, clock: Clock) -> None:
    user, _ = make_user(db)
    marketing = event(user, "test_message", data={"ts": "x"}, consent="marketing", clock=clock)
    queue(db, marketing, clock)
    [row] = rows(db, marketing.event_id)
    assert (row["status"], row["last_error"]) == ("suppressed", "no marketing consent")
    transactional = event(user, clock=clock)
    queue(db, transactional, clock)
    assert rows(db, transactional.event_id)[0]["status"] == "queued"
    with db.transaction():
        preferences.save_settings(db, "user", user, {"marketing_consent": True})
    again = event(user, "test_message", data={"ts": "y"}, consent="marketing", clock=clock)
    queue(db, again, clock)
    assert rows(db, again.event_id)[0]["status"] == "queued"


def test_muted_category_and_shop_and_disabled_channels(
        db: Any, worker: NotificationsWorker, clock: Clock) -> None:
    from uuid import uuid4

    user, _ = make_user(db)
    muted_shop = uuid4()
    with db.transaction():
        preferences.save_channel(db, "user", user, "push", {"categories": ["chat"]})
        preferences.save_channel(db, "user", user, "email", {"muted_shops": [str(muted_shop)]})
    ev = event(user, clock=clock)  # order: push does not want orders -> e-mail only
    queue(db, ev, clock)
    assert [r["channel"] for r in rows(db, ev.event_id)] == ["email"]
    from_muted = event(user, shop_id=muted_shop, data={"orderId": "M", "total": "1",
                                                       "shopName": "x", "ts": "x"}, clock=clock)
    queue(db, from_muted, clock)
    [row] = rows(db, from_muted.event_id)
    assert row["status"] == "suppressed"


def test_missing_placeholder_and_unknown_type_are_logged_failures_not_crashes(
        db: Any, worker: NotificationsWorker, clock: Clock,
        caplog: pytest.LogCaptureFixture) -> None:
    user, _ = make_user(db)
    set_channels(db, user, push=False)
    broken = event(user, "order_ready_for_pickup", data={"orderId": "X", "ts": "x"},
                   clock=clock)
    queue(db, broken, clock)
    _drain(worker, db)
    [row] = rows(db, broken.event_id)
    assert row["status"] == "failed"
    assert row["last_error"].startswith("missing placeholder in order_ready_for_pickup")
    assert "not rendered" in caplog.text
    unknown = nlog.NotifyEvent(**{**event(user, clock=clock).__dict__,
                                  "event_type": "order_teleported"})
    assert queue(db, unknown, clock) == []
    assert "unknown type 'order_teleported'" in caplog.text


def test_unwritten_locale_renders_ru_and_logs_the_fallback(
        db: Any, worker: NotificationsWorker, clock: Clock,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # every catalog locale is written now: a Kyrgyz speaker reads Kyrgyz, no fallback
    ky_user, ky_email = make_user(db, language="ky")
    set_channels(db, ky_user, push=False)
    queue(db, event(ky_user, clock=clock), clock)
    with caplog.at_level("INFO", logger="marketplace_core.notifications.dispatch"):
        _drain(worker, db)
    assert mailbox(ky_email)[0]["Subject"] == "A1B2C3D4 буйрутмасы кабыл алынды"
    assert "template fallback" not in caplog.text
    # a locale not (or no longer) marked written renders ru, and the log says so
    monkeypatch.setattr(templates, "WRITTEN_LOCALES", ("ru", "en"))
    user, email = make_user(db, language="ky")
    set_channels(db, user, push=False)
    ev = event(user, clock=clock)
    queue(db, ev, clock)
    with caplog.at_level("INFO", logger="marketplace_core.notifications.dispatch"):
        _drain(worker, db)
    assert rows(db, ev.event_id)[0]["locale"] == "ky"
    assert "template fallback ky -> ru" in caplog.text
    assert mailbox(email)[0]["Subject"] == "Заказ A1B2C3D4 оформлен"
    # and an English speaker reads English
    en_user, en_email = make_user(db, language="en")
    set_channels(db, en_user, push=False)
    queue(db, event(en_user, clock=clock), clock)
    _drain(worker, db)
    assert mailbox(en_email)[0]["Subject"] == "Order A1B2C3D4 placed"


def test_a_worker_dying_mid_send_never_sends_twice(
        db: Any, worker: NotificationsWorker, clock: Clock) -> None:
    user, email = make_user(db)
    with db.transaction():
        addresses.set_address(db, user, "push", "fcm-token-" + "w" * 40)
    ev = event(user, clock=clock)
    queue(db, ev, clock)
    # attempt 1 reaches the push gateway, then the worker dies before recording it
    with db.transaction():
        [claimed] = nlog.claim_due(db, clock())
    worker.providers.push.send_push(  # type: ignore[attr-defined]
        token="fcm-token-" + "w" * 40, title="t", body="b", priority="normal",
        idempotency_key=str(claimed["id"]))
    clock.advance(minutes=2)
    assert worker.recover(db) == 1  # push is idempotent: attempted again under the same key
    _drain(worker, db)
    [push] = rows(db, ev.event_id)
    assert push["status"] == "sent"
    assert len(worker.providers.push.sent) == 1  # type: ignore[attr-defined]
    # e-mail (SMTP) cannot tell a repeat: an interrupted attempt is failed, not resent
    set_channels(db, user, push=False)
    mail_ev = event(user, data={"orderId": "B", "total": "1", "shopName": "x", "ts": "x"},
                    clock=clock)
    queue(db, mail_ev, clock)
    with db.transaction():
        nlog.claim_due(db, clock())
    clock.advance(minutes=2)
    worker.recover(db)
    _drain(worker, db)
    [mail] = rows(db, mail_ev.event_id)
    assert mail["status"] == "failed" and "not sent again" in mail["last_error"]
    assert mailbox(email, expect=1, timeout=1) == []
