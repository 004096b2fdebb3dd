"""The POS HTTP endpoints: device credentials, POST /pos/heartbeat, POST /pos/sales."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from marketplace_core.db import transaction
from marketplace_core.pos import ratelimit
from schemas.pos.signing import sign
from tests.core.auth_helpers import make_seller_with_shop, make_user
from tests.core.test_pos_ingest_support import make_variant, new_barcode, stock_of

EPOCH_MS = 1906538400000  # 2030-06-01T10:00:00Z, as a signed record carries it


def _json(record: dict[str, Any]) -> dict[str, Any]:
    """A signed record as a terminal sends it over HTTP (money and ids as strings)."""
    out: dict[str, Any] = json.loads(json.dumps(record, default=str))
    return out


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


@pytest.fixture
def terminal(core_api: Any) -> dict[str, Any]:
    seller, _, shop_id = make_seller_with_shop(core_api)
    registered = core_api.post(f"/shops/{shop_id}/pos/devices", headers=seller.headers,
                               json={"firmware_version": "3.1.0"})
    assert registered.status_code == 201, registered.text
    creds = registered.json()
    barcode = new_barcode()
    with transaction(core_api.app.state.pool) as conn:
        variant = make_variant(conn, shop_id, price="1500.00", stock=10, barcode=barcode)
    return {"seller": seller, "shop_id": shop_id, "variant": variant, "barcode": barcode,
            "headers": {"Authorization": f"Bearer {creds['token']}"}, **creds}


def _sale(t: dict[str, Any], receipt: str, items: list[dict[str, Any]],
          **extra: Any) -> dict[str, Any]:
    record = {"device_id": t["device_id"], "shop_id": t["shop_id"], "receipt_number": receipt,
              "items": items, "event_time": "2030-06-01T10:00:00Z", "event_type": "sale",
              **extra}
    # The terminal signs the record it sends (its own types; see schemas/pos/signing.py).
    from marketplace_core.api.schemas.pos import TillEventIn
    record["signature"] = sign(TillEventIn.model_validate(record).record(), t["secret"])
    return _json(record)


def _item(t: dict[str, Any], qty: int = 1, price: str = "1500.00") -> dict[str, Any]:
    return {"variant_id": str(t["variant"]), "qty": qty, "unit_price": price}


def _stock(core_api: Any, variant: UUID) -> int:
    with transaction(core_api.app.state.pool) as conn:
        return stock_of(conn, variant)


def test_credentials_are_for_the_owner_and_rotate(core_api: Any, terminal: dict[str, Any]) -> None:
    t = terminal
    assert t["device_id"].startswith("POS-") and t["token"].startswith("pos_")
    other_seller, _, _ = make_seller_with_shop(core_api)
    buyer = make_user(core_api, "buyer")
    for user in (other_seller, buyer):
        _error(core_api.post(f"/shops/{t['shop_id']}/pos/devices", headers=user.headers,
                             json={}), 403)
        _error(core_api.get(f"/shops/{t['shop_id']}/pos/devices", headers=user.headers), 403)
    again = core_api.post(f"/shops/{t['shop_id']}/pos/devices", headers=t["seller"].headers,
                          json={"device_id": t["device_id"]})
    assert _error(again, 409)["code"] == "DUPLICATE_DEVICE"

    rotated = core_api.post(f"/pos/devices/{t['device_id']}/rotate-credentials",
                            headers=t["seller"].headers)
    assert rotated.status_code == 200, rotated.text
    beat = {"device_id": t["device_id"], "timestamp": "2030-06-01T10:00:00Z", "stock": [],
            "signature": sign({"device_id": t["device_id"], "event_time": EPOCH_MS,
                               "stock": []}, t["secret"])}
    old = core_api.post("/pos/heartbeat", headers=t["headers"], json=beat)
    assert _error(old, 401)["code"] == "INVALID_DEVICE_TOKEN"

    listed = core_api.get(f"/shops/{t['shop_id']}/pos/devices", headers=t["seller"].headers)
    assert listed.status_code == 200
    [device] = listed.json()
    assert device["device_id"] == t["device_id"] and device["connectivity"] == "pos_offline"
    assert device["has_credentials"] is True and device["counters"]["applied"] == 0


def test_heartbeat_in_the_spec_shape_makes_the_shop_buyable(
    core_api: Any, terminal: dict[str, Any],
) -> None:
    t = terminal
    signed = {"device_id": t["device_id"], "status": "active", "event_time": EPOCH_MS,
              "stock": [{"sku": "A100", "qty": 12}]}
    body = {"device_id": t["device_id"], "status": "active",
            "timestamp": "2030-06-01T10:00:00Z", "stock": [{"sku": "A100", "qty": 12}],
            "signature": sign(signed, t["secret"])}
    answer = core_api.post("/pos/heartbeat", headers=t["headers"], json=body)
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert got["connectivity"] == "pos_active"
    assert got["eligibility"]["mode"] == "online_purchase"

    forged = {**body, "status": "maintenance"}
    assert _error(core_api.post("/pos/heartbeat", headers=t["headers"], json=forged),
                  401)["code"] == "INVALID_SIGNATURE"
    assert _error(core_api.post("/pos/heartbeat", json=body), 401)["code"] == (
        "INVALID_DEVICE_TOKEN")


def test_one_sale_applies_once_then_409_and_bad_items_422(
    core_api: Any, terminal: dict[str, Any],
) -> None:
    t = terminal
    sale = _sale(t, "R-1", [_item(t, 2)], total="3000.00", sequence_number=1)
    applied = core_api.post("/pos/sales", headers=t["headers"], json=sale)
    assert applied.status_code == 200, applied.text
    assert applied.json()["applied"] == 1
    assert _stock(core_api, t["variant"]) == 8

    duplicate = _error(core_api.post("/pos/sales", headers=t["headers"], json=sale), 409)
    assert duplicate["code"] == "DUPLICATE_SALE"
    assert duplicate["details"]["receipt_number"] == "R-1"

    unknown = _sale(t, "R-2", [{"barcode": new_barcode(), "qty": 1, "unit_price": "1500.00"}])
    error = _error(core_api.post("/pos/sales", headers=t["headers"], json=unknown), 422)
    assert (error["code"], error["details"]["reason"]) == ("INVALID_ITEM", "UNKNOWN_VARIANT")
    negative = _sale(t, "R-3", [_item(t, -1)])
    error = _error(core_api.post("/pos/sales", headers=t["headers"], json=negative), 422)
    assert (error["code"], error["details"]["reason"]) == ("INVALID_ITEM", "INVALID_QUANTITY")
    wrong_price = _sale(t, "R-4", [_item(t, 1, "999.00")])
    error = _error(core_api.post("/pos/sales", headers=t["headers"], json=wrong_price), 422)
    assert error["details"]["reason"] == "PRICE_MISMATCH"
    floats = {**_sale(t, "R-5", [_item(t)]), "total": 1500.0}
    assert _error(core_api.post("/pos/sales", headers=t["headers"], json=floats),
                  422)["code"] == "INVALID_REQUEST"
    assert _stock(core_api, t["variant"]) == 8

    listed = core_api.get(f"/shops/{t['shop_id']}/pos/devices", headers=t["seller"].headers)
    counters = listed.json()[0]["counters"]
    assert (counters["applied"], counters["duplicates"], counters["rejected"]) == (1, 1, 3)
    with transaction(core_api.app.state.pool) as conn:
        rows = conn.execute("select reason_code, source from pos_dead_letters"
                            " where device_id = %s order by detected_at", (t["device_id"],))
        assert [tuple(r) for r in rows] == [("UNKNOWN_VARIANT", "http"),
                                            ("INVALID_QUANTITY", "http"),
                                            ("PRICE_MISMATCH", "http")]


def test_a_batch_answers_per_event(core_api: Any, terminal: dict[str, Any]) -> None:
    t = terminal
    first = _sale(t, "B-1", [_item(t)])
    barcode_sale = _sale(t, "B-2", [{"barcode": t["barcode"], "qty": 2,
                                      "unit_price": "1500.00"}])
    bad = _sale(t, "B-3", [_item(t, 0)])
    void = _sale(t, "B-4", [], event_type="void", original_receipt_number="B-1")
    answer = core_api.post("/pos/sales", headers=t["headers"],
                           json={"events": [first, barcode_sale, bad, first, void]})
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert [(r["receipt_number"], r["status"], r["code"]) for r in got["results"]] == [
        ("B-1", "applied", None), ("B-2", "applied", None),
        ("B-3", "rejected", "INVALID_ITEM"), ("B-1", "duplicate", "DUPLICATE_SALE"),
        ("B-4", "applied", None)]
    assert (got["applied"], got["duplicates"], got["rejected"]) == (3, 1, 1)
    assert _stock(core_api, t["variant"]) == 8  # 10 - 1 - 2 + 1 (void of B-1)


@pytest.fixture
def tight_limit() -> Iterator[None]:
    previous = ratelimit.set_http_limit(ratelimit.HttpLimit(rate=0.1, burst=2))
    try:
        yield
    finally:
        ratelimit.set_http_limit(previous)


def test_a_device_over_its_rate_gets_429(
    core_api: Any, terminal: dict[str, Any], tight_limit: None,
) -> None:
    t = terminal
    answers = [core_api.post("/pos/sales", headers=t["headers"],
                             json=_sale(t, f"L-{n}", [_item(t)])) for n in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["error"]["code"] == "RATE_LIMITED"
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert _stock(core_api, t["variant"]) == 8  # the refused request did nothing
