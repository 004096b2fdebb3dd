"""core.merchants, core.shops, core.categories, core.users: the catalog and accounts
publish each change of these entities through the outbox, as a snapshot."""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

from marketplace_core.accounts import service as accounts
from marketplace_core.catalog import service as catalog
from marketplace_core.outbox.writer import decode
from marketplace_core.payments import payout_accounts
from schemas.topics import CORE_CATEGORIES, CORE_MERCHANTS, CORE_SHOPS, CORE_USERS, Topic

Conn = Any


def _millis(at: datetime) -> datetime:
    """A timestamp as Avro timestamp-millis carries it."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _events(conn: Conn, topic: Topic, entity_id: object) -> list[dict[str, Any]]:
    rows = conn.execute("select event_type, payload from outbox where topic = %s"
                        " and entity_id = %s order by id", (topic.name, str(entity_id)))
    out = []
    for event_type, payload in rows:
        record = decode(topic, bytes(payload))
        assert record["event_type"] == event_type
        out.append(record)
    return out


def test_creating_a_merchant_emits_merchant_created(conn: Conn) -> None:
    merchant = catalog.create_merchant(conn, "ОсОО Ала-Тоо Текстиль")
    [event] = _events(conn, CORE_MERCHANTS, merchant.id)
    assert {k: event[k] for k in ("event_type", "merchant_id", "name", "created_at")} == {
        "event_type": "merchant.created", "merchant_id": merchant.id,
        "name": "ОсОО Ала-Тоо Текстиль", "created_at": _millis(merchant.created_at)}


def test_shops_emit_on_create_update_and_payout_status(conn: Conn) -> None:
    merchant = catalog.create_merchant(conn, f"Merchant {secrets.token_hex(3)}")
    shop = catalog.create_shop(
        conn, merchant.id, "Дордой, контейнер 12", address="Бишкек, рынок Дордой",
        phone="+996555123456", lat=Decimal("42.938611"), lon=Decimal("74.627778"),
        market="Dordoi")
    [created] = _events(conn, CORE_SHOPS, shop.id)
    assert created == {
        "event_id": created["event_id"], "event_type": "shop.created",
        "occurred_at": created["occurred_at"], "shop_id": shop.id,
        "merchant_id": merchant.id, "name": "Дордой, контейнер 12", "market": "Dordoi",
        "address": "Бишкек, рынок Дордой", "lat": Decimal("42.938611"),
        "lon": Decimal("74.627778"), "status": "active",
        "created_at": _millis(shop.created_at)}  # and no phone

    catalog.update_shop(conn, shop.id, name="Дордой, контейнер 14", lat=None)
    catalog.update_shop(conn, shop.id)  # nothing given: nothing to announce
    payout_accounts.suspend(conn, merchant.id, reason="test")
    payout_accounts.suspend(conn, merchant.id, reason="again")  # already inactive
    events = _events(conn, CORE_SHOPS, shop.id)
    assert [(e["event_type"], e["name"], e["lat"], e["status"]) for e in events] == [
        ("shop.created", "Дордой, контейнер 12", Decimal("42.938611"), "active"),
        ("shop.updated", "Дордой, контейнер 14", None, "active"),
        ("shop.updated", "Дордой, контейнер 14", None, "inactive"),
    ]


def test_categories_emit_on_create_and_update(conn: Conn) -> None:
    slug = f"textile-{secrets.token_hex(3)}"
    root = catalog.create_category(conn, slug, "Текстиль", "Текстиль",
                                   names={"en": "Textile"})
    child = catalog.create_category(conn, f"{slug}-felt", "Войлок", parent_id=root.id,
                                    sort_order=2)
    catalog.update_category(conn, child.id, names={"ky": "Кийиз"}, parent_id=None)
    [created] = _events(conn, CORE_CATEGORIES, root.id)
    assert (created["event_type"], created["slug"], created["parent_id"], created["name_ru"],
            created["name_ky"], created["name_en"], created["name_zh"]) == (
        "category.created", slug, None, "Текстиль", "Текстиль", "Textile", None)
    assert [(e["event_type"], e["parent_id"], e["name_ky"], e["sort_order"])
            for e in _events(conn, CORE_CATEGORIES, child.id)] == [
        ("category.created", root.id, None, 2),
        ("category.updated", None, "Кийиз", 2),
    ]


def test_users_emit_without_personal_data(conn: Conn) -> None:
    email = f"aibek.{secrets.token_hex(4)}@example.kg"
    phone = "+996700123456"
    full_name = "Айбек Джумабаев"
    registration = accounts.register_user(
        conn, email=email, password="correct horse battery staple", full_name=full_name,
        role="seller", phone=phone, preferred_language="ky", password_rounds=4)
    user = registration.user
    accounts.deactivate_user(conn, None, user.id)

    rows = conn.execute("select payload from outbox where topic = %s and entity_id = %s"
                        " order by id", (CORE_USERS.name, str(user.id))).fetchall()
    for (payload,) in rows:
        raw = bytes(payload)
        for secret in (email, phone, full_name, registration.totp.secret):  # type: ignore[union-attr]
            assert secret.encode() not in raw
    events = _events(conn, CORE_USERS, user.id)
    assert [set(e) for e in events] == [{
        "event_id", "event_type", "occurred_at", "user_id", "role", "status",
        "preferred_language", "created_at"}] * 2
    assert [(e["event_type"], e["user_id"], e["role"], e["status"], e["preferred_language"],
             e["created_at"]) for e in events] == [
        ("user.registered", user.id, "seller", "active", "ky", _millis(user.created_at)),
        ("user.updated", user.id, "seller", "disabled", "ky", _millis(user.created_at)),
    ]
