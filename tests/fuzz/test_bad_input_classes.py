"""The classes of bad input issue 11 §3 found answering 500, each sent to the endpoints
it crashed, through the real core API: every one is now a 422 with a stable code (in the
envelope's `details[].code`), and nothing is written. Also the counter one: a 20-digit
terminal id used to make every later `POST /shops/{id}/pos/devices` fail."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fuzz.harness import Target

pytestmark = pytest.mark.integration


def _refused(response: Any, code: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_REQUEST", error
    assert code in {d.get("code") for d in error["details"]}, error


def _raw(target: Target, method: str, path: str, body: str) -> Any:
    # Raw JSON: NaN, Infinity and lone surrogates are valid for Python's reader.
    headers = {"content-type": "application/json", **target.headers_for(method, path)}
    return target.client.request(method, path, content=body.encode(), headers=headers)


@pytest.mark.parametrize("text", ["nul\x00byte", "bell\x07", "esc\x1b[31m", "c1\x85"])
def test_text_postgres_cannot_store(core_target: Target, text: str) -> None:
    ids, client = core_target.known_ids, core_target.client
    seller = core_target.headers_for("POST", "/merchants/{merchant_id}/shops")
    _refused(client.post(f"/merchants/{ids['merchant_id']}/shops", headers=seller,
                         json={"name": text}), "INVALID_TEXT")
    _refused(client.patch(f"/variants/{ids['variant_id']}", headers=seller,
                          json={"sku": text}), "INVALID_TEXT")
    _refused(client.post(f"/shops/{ids['shop_id']}/products", headers=seller, json={
        "name": {"ru": text}, "variants": [{"sku": "S-1", "price": "1.00"}]}), "INVALID_TEXT")
    _refused(client.post("/auth/register", json={
        "email": "x@example.kg", "password": "long enough password", "full_name": text}),
        "INVALID_TEXT")


def test_lone_surrogate(core_target: Target) -> None:
    path = f"/merchants/{core_target.known_ids['merchant_id']}/shops"
    _refused(_raw(core_target, "POST", path, '{"name": "a\\ud800b"}'), "INVALID_TEXT")


def test_numbers_beyond_their_column(core_target: Target) -> None:
    ids = core_target.known_ids
    path = f"/products/{ids['product_id']}/variants"
    for attrs in ('{"weight": Infinity}', '{"weight": NaN}', '{"n": 1e999}',
                  '{"n": 123456789012345678901234567890}'):
        body = f'{{"sku": "S-{len(attrs)}", "price": "1.00", "attributes": {attrs}}}'
        _refused(_raw(core_target, "POST", path, body), "NUMBER_OUT_OF_RANGE")
    shop = f"/merchants/{ids['merchant_id']}/shops"
    _refused(_raw(core_target, "POST", shop, '{"name": "n", "lat": "1e999999"}'),
             "INVALID_GEO")
    _refused(_raw(core_target, "POST", shop, '{"name": "n", "lat": NaN}'),
             "NUMBER_OUT_OF_RANGE")


def _till(target: Target, **fields: Any) -> Any:
    # Unsigned: the type refuses the field before the signature is looked at.
    record = {"device_id": target.known_ids["device_id"], "receipt_number": "R-1",
              "items": [], "event_time": "2030-06-01T10:00:00Z", **fields}
    return json.loads(json.dumps(record, default=str))


@pytest.mark.parametrize(("fields", "code"), [
    ({"sequence_number": 2**63}, "NUMBER_OUT_OF_RANGE"),
    ({"sequence_number": 10**30}, "NUMBER_OUT_OF_RANGE"),
    ({"event_time": "2030-06-01T10:00:00"}, "INVALID_TIMESTAMP"),
    ({"event_time": "9999-12-31T23:59:59Z"}, "INVALID_TIMESTAMP"),
    ({"event_time": "0001-01-01T00:00:00+00:00"}, "INVALID_TIMESTAMP"),
    ({"event_time": 2**62}, "INVALID_TIMESTAMP"),
    ({"items": [{"barcode": "1", "qty": 2**40, "unit_price": "1.00"}]},
     "NUMBER_OUT_OF_RANGE"),
    ({"signature": "подпись"}, "INVALID_TOKEN"),
    ({"signature": "sig with spaces"}, "INVALID_TOKEN"),
    ({"device_id": "POS-99999999999999999999"}, "INVALID_DEVICE_ID"),
    ({"total": "1e30"}, "INVALID_MONEY"),
])
def test_pos_sale_fields(core_target: Target, fields: dict[str, Any], code: str) -> None:
    headers = core_target.headers_for("POST", "/pos/sales")
    _refused(core_target.client.post("/pos/sales", headers=headers,
                                     json=_till(core_target, **fields)), code)


def test_pickup_slot_times_need_a_zone_and_a_sane_year(core_target: Target) -> None:
    ids, client = core_target.known_ids, core_target.client
    headers = core_target.headers_for("POST", "/shops/{shop_id}/pickup-slots")
    for starts in ("2030-06-01T10:00:00", "20000-01-01T00:00:00Z"):
        response = client.post(f"/shops/{ids['shop_id']}/pickup-slots", headers=headers, json={
            "starts_at": starts, "ends_at": "2030-06-01T11:00:00Z", "capacity": 1})
        assert response.status_code == 422, response.text


def test_a_huge_terminal_id_cannot_break_registration(core_target: Target) -> None:
    ids, client = core_target.known_ids, core_target.client
    headers = core_target.headers_for("POST", "/shops/{shop_id}/pos/devices")
    path = f"/shops/{ids['shop_id']}/pos/devices"
    _refused(client.post(path, headers=headers, json={"device_id": "POS-99999999999999999999"}),
             "INVALID_DEVICE_ID")
    # ...and the next free number is still issued to the next terminal
    response = client.post(path, headers=headers, json={})
    assert response.status_code == 201, response.text
    assert response.json()["device_id"].startswith("POS-")


def test_refusals_write_nothing(core_target: Target) -> None:
    ids, client = core_target.known_ids, core_target.client
    headers = core_target.headers_for("GET", "/shops/{shop_id}")
    before = client.get(f"/shops/{ids['shop_id']}", headers=headers).json()
    client.patch(f"/shops/{ids['shop_id']}", headers=headers, json={"name": "x\x00"})
    assert client.get(f"/shops/{ids['shop_id']}", headers=headers).json() == before
