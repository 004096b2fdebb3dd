"""Row-level security (migration 0019) as the second wall behind the ownership checks: a
seller-scoped read that forgets its filter still returns only that seller's rows."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import errors as pg_errors

from marketplace_core.accounts import tenancy
from marketplace_core.db import transaction
from marketplace_core.orders import service as orders_service
from tests.core.auth_helpers import make_user
from tests.core.test_orders_api import _key, _online_shop


def _order(core_api: Any, buyer: Any, shop_id: UUID, variant: UUID, slot: UUID) -> str:
    created = core_api.post("/orders", headers={**buyer.headers, **_key()}, json={
        "shop_id": str(shop_id), "fulfilment": "pickup", "pickup_slot_id": str(slot),
        "items": [{"variant_id": str(variant), "qty": 1}]})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.fixture(scope="module")
def two_sellers(core_api: Any) -> dict[str, Any]:
    buyer = make_user(core_api, "buyer")
    got: dict[str, Any] = {"buyer": buyer}
    for name in ("a", "b"):
        seller, shop_id, variant, slot = _online_shop(core_api)
        got[name] = {"seller": seller, "shop": shop_id,
                     "order": _order(core_api, buyer, shop_id, variant, slot)}
    with transaction(core_api.app.state.pool) as conn:
        for name in ("a", "b"):
            row = conn.execute("select merchant_id from shops where id = %s",
                               (got[name]["shop"],)).fetchone()
            assert row is not None
            got[name]["merchant"] = row[0]
    return got


def test_a_query_without_any_filter_sees_only_the_scoped_merchant(
        core_dsn: str, two_sellers: dict[str, Any]) -> None:
    a, b = two_sellers["a"], two_sellers["b"]
    with psycopg.connect(core_dsn) as conn, conn.transaction(force_rollback=True):
        everything = conn.execute("select count(distinct merchant_id) from orders").fetchone()
        assert everything is not None and everything[0] >= 2
        with tenancy.merchant_scope(conn, [a["merchant"]]):
            for table in ("orders", "shops", "payments", "subscriptions", "payouts"):
                seen = {r[0] for r in conn.execute(f"select merchant_id from {table}")}
                assert seen <= {a["merchant"]}, table
            assert {r[0] for r in conn.execute("select id from orders")} == {UUID(a["order"])}
            for table in ("products", "product_variants", "pos_devices", "pickup_slots"):
                seen = {r[0] for r in conn.execute(f"select shop_id from {table}")}
                assert seen == {a["shop"]}, table
            items = conn.execute("select distinct order_id from order_items").fetchall()
            assert items == [(UUID(a["order"]),)]
            # not a seller-owned table: no access at all
            with pytest.raises(pg_errors.InsufficientPrivilege), conn.transaction():
                conn.execute("select password_hash from users")
            # and no writes, even to its own rows
            with pytest.raises(pg_errors.InsufficientPrivilege), conn.transaction():
                conn.execute("update orders set updated_at = now() where id = %s",
                             (a["order"],))
        # the scope ended: the connection's own role sees every merchant again
        after = conn.execute("select count(distinct merchant_id) from orders").fetchone()
        assert after == everything
        assert conn.execute("select current_setting('app.merchant_ids', true)"
                            ).fetchone() in (("",), (None,))
        with tenancy.merchant_scope(conn, []):  # no merchants (a buyer): nothing
            assert conn.execute("select count(*) from orders").fetchone() == (0,)
        assert b["merchant"] in {r[0] for r in conn.execute("select merchant_id from shops")}


def test_the_scope_needs_a_transaction(core_dsn: str) -> None:
    with psycopg.connect(core_dsn, autocommit=True) as conn, \
            pytest.raises(RuntimeError, match="open transaction"), \
            tenancy.merchant_scope(conn, []):
        pass


def test_a_handler_that_forgets_its_filter_still_returns_only_its_sellers_rows(
        core_api: Any, two_sellers: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = two_sellers["a"], two_sellers["b"]

    def forgetful(conn: Any, shop_id: UUID, **_: Any) -> list[orders_service.Order]:
        # the bug: no "where o.shop_id = ..." at all
        return orders_service._load_many(conn, "order by o.created_at desc limit %s", (500,))

    monkeypatch.setattr(orders_service, "list_orders_for_shop", forgetful)
    seen = core_api.get(f"/shops/{a['shop']}/orders", headers=a["seller"].headers)
    assert seen.status_code == 200, seen.text
    assert {o["id"] for o in seen.json()} == {a["order"]}
    # the same forgetful handler as an admin (no scope by design) shows what leaked
    admin = make_user(core_api, "admin")
    leaked = core_api.get(f"/shops/{a['shop']}/orders", headers=admin.headers)
    assert b["order"] in {o["id"] for o in leaked.json()}


def test_scoped_handlers_answer_as_before(core_api: Any, two_sellers: dict[str, Any]) -> None:
    a = two_sellers["a"]
    listed = core_api.get(f"/shops/{a['shop']}/orders", headers=a["seller"].headers)
    assert [o["id"] for o in listed.json()] == [a["order"]]
    devices = core_api.get(f"/shops/{a['shop']}/pos/devices", headers=a["seller"].headers)
    assert devices.status_code == 200 and len(devices.json()) == 1
    foreign = core_api.get(f"/shops/{two_sellers['b']['shop']}/orders",
                           headers=a["seller"].headers)
    assert foreign.status_code == 403
