"""A shop's notifications reach every manager (daily_shop_report, as the lake's report job
asks for it); every settled delivery is announced on notify.deliveries for the lake,
without recipient, address or text."""

from __future__ import annotations

import secrets
from typing import Any
from uuid import uuid4

from marketplace_core.catalog import service as catalog
from marketplace_core.notifications import log as nlog
from marketplace_core.notifications import preferences
from marketplace_core.notifications.worker import NotificationsWorker
from marketplace_core.outbox.writer import decode
from schemas.topics import NOTIFY_DELIVERIES
from tests.core.notifications.conftest import Clock, mailbox, make_user, rows
from tests.core.notifications.helpers import queue


def test_daily_shop_report_reaches_every_manager_and_is_announced(
        db: Any, worker: NotificationsWorker, clock: Clock) -> None:
    owner, owner_email = make_user(db, "seller")
    partner, partner_email = make_user(db, "seller", language="en")
    with db.transaction():
        merchant = catalog.create_merchant(db, f"Merchant {secrets.token_hex(3)}")
        shop = catalog.create_shop(db, merchant.id, "Бермет", address="Ош базары")
        for user in (owner, partner):
            db.execute("insert into merchant_members (merchant_id, user_id) values (%s, %s)",
                       (merchant.id, user))
        # the shop's own preferences: reports by e-mail only
        preferences.save_channel(db, "shop", shop.id, "push", {"enabled": False})
    ev = nlog.NotifyEvent(uuid4(), "daily_shop_report", clock(), "shop", None, shop.id,
                          shop.id, "shop_report", f"{shop.id}:2031-03-03", "normal",
                          "transactional", {"reportDate": "03.03.2031", "revenue": "48250.00",
                                            "orders": "12", "receipts": "140",
                                            "ts": clock().isoformat()})
    queue(db, ev, clock)
    while worker.dispatch_once(db):
        pass
    sent = rows(db, ev.event_id)
    assert sorted((r["recipient_user_id"], r["channel"], r["status"]) for r in sent) == \
        sorted([(owner, "email", "sent"), (partner, "email", "sent")])
    [ru] = mailbox(owner_email)
    assert ru["Subject"] == "Итоги дня «Бермет» за 03.03.2031" and "48250.00" in ru["Text"]
    [en] = mailbox(partner_email)
    assert en["Subject"] == "Бермет: the day of 03.03.2031"
    announced = [decode(NOTIFY_DELIVERIES, bytes(r[0])) for r in db.execute(
        "select payload from outbox where topic = %s and entity_id = any(%s)",
        (NOTIFY_DELIVERIES.name, [str(r["id"]) for r in sent])).fetchall()]
    assert sorted(a["event_type"] for a in announced) == ["notification.sent"] * 2
    one = announced[0]
    assert (one["channel"], one["category"], one["notification_type"], one["attempts"]) == \
        ("email", "analytics", "daily_shop_report", 1)
    assert one["sent_at"] is not None and str(one["shop_id"]) == str(shop.id)
    flat = repr(announced)
    assert owner_email not in flat and partner_email not in flat and "48250" not in flat
