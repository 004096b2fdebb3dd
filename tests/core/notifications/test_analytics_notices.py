"""What the lake tells a shop (notify.analytics through the core's own functions): each
notice is given once, however often the producer runs; a shop the core does not know is
told nothing; the anomaly text names the metric in the reader's language."""

from __future__ import annotations

import json
import secrets
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from marketplace_core.catalog import service as catalog
from marketplace_core.notifications import analytics
from marketplace_core.notifications.templates import render
from marketplace_core.outbox.writer import decode
from schemas.topics import NOTIFY_ANALYTICS

DAY = date(2031, 3, 3)


def _notices(db: Any, shop_id: Any) -> list[dict[str, Any]]:
    return [decode(NOTIFY_ANALYTICS, bytes(r[0])) for r in db.execute(
        "select payload from outbox where topic = %s and entity_id = %s order by id",
        (NOTIFY_ANALYTICS.name, str(shop_id))).fetchall()]


def test_each_notice_is_given_once_per_shop_day_and_metric(db: Any) -> None:
    with db.transaction():
        merchant = catalog.create_merchant(db, f"Merchant {secrets.token_hex(3)}")
        shop = catalog.create_shop(db, merchant.id, "Бермет", address="Ош базары")
    for _ in range(2):  # the producer runs every refresh: the second run tells nobody
        with db.transaction():
            told = analytics.request_daily_report(db, shop.id, DAY, revenue=Decimal("48250"),
                                                  orders=12, receipts=140)
            told_drop = analytics.request_anomaly(db, shop.id, DAY, metric="revenue",
                                                  change_pct=Decimal("-62.5"))
            told_visits = analytics.request_anomaly(db, shop.id, DAY, metric="visits",
                                                    change_pct=Decimal("130"))
        assert (told, told_drop, told_visits) == ((True, True, True) if _ == 0
                                                  else (False, False, False))
    notices = _notices(db, shop.id)
    assert sorted(n["event_type"] for n in notices) == [
        "analytics_anomaly", "analytics_anomaly", "daily_shop_report"]
    report = next(n for n in notices if n["event_type"] == "daily_shop_report")
    assert (report["audience"], str(report["recipient_shop_id"]), report["entity_type"]) == \
        ("shop", str(shop.id), "shop_report")
    data = json.loads(report["data_json"])
    assert (data["revenue"], data["orders"], data["receipts"], data["reportDate"]) == \
        ("48250.00", "12", "140", "2031-03-03")
    changes = sorted(json.loads(n["data_json"])["change"] for n in notices
                     if n["event_type"] == "analytics_anomaly")
    assert changes == ["+130.00 %", "-62.50 %"]


def test_an_unknown_shop_or_metric_is_told_nothing(db: Any) -> None:
    ghost = uuid4()
    with db.transaction():
        assert not analytics.request_daily_report(db, ghost, DAY, revenue=Decimal("1"),
                                                  orders=0, receipts=0)
        with pytest.raises(ValueError):
            analytics.request_anomaly(db, ghost, DAY, metric="mood", change_pct=Decimal(1))
    assert _notices(db, ghost) == []


def test_the_anomaly_names_the_metric_in_the_readers_language() -> None:
    values = {"userName": "Айгуль", "shopName": "Бермет", "metric": "revenue",
              "change": "-62.50 %", "ts": "2031-03-03", "ctaUrl": "http://x/dashboard"}
    ru = render("analytics_anomaly", "ru", values)
    en = render("analytics_anomaly", "en", values)
    assert "выручка" in ru.subject and "-62.50 %" in ru.body
    assert "revenue" in en.subject
