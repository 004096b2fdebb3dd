"""The audit log records who did what, never with what secret; the API's log lines carry
no e-mail, phone, token or code."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from marketplace_core import audit
from marketplace_core.accounts import totp
from marketplace_core.accounts.principal import AuthenticatedUser
from platform_common import log_redaction
from tests.core.auth_helpers import DEFAULT_PASSWORD
from tests.core.test_orders_api import _key, _online_shop, _pay


def _audit_text(core_dsn: str, since: int) -> str:
    with psycopg.connect(core_dsn) as conn:
        rows = conn.execute("select action, entity_id, details from audit_log where id > %s",
                            (since,)).fetchall()
    assert rows
    return json.dumps(rows, default=str)


def _last_audit_id(core_dsn: str) -> int:
    with psycopg.connect(core_dsn) as conn:
        row = conn.execute("select coalesce(max(id), 0) from audit_log").fetchone()
    assert row is not None
    return int(row[0])


def test_sign_up_sign_in_devices_and_delivery_leave_no_secret_in_audit_or_logs(
        core_api: Any, core_dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    assert log_redaction.installed()  # create_app installed it
    caplog.set_level(logging.DEBUG)
    since = _last_audit_id(core_dsn)
    secrets_seen: list[str] = [DEFAULT_PASSWORD]

    email = f"audited-{secrets.token_hex(5)}@test.example.kg"
    reg = core_api.post("/auth/register", json={
        "email": email, "password": DEFAULT_PASSWORD, "full_name": "Audited Seller",
        "role": "seller", "phone": "+996 555 12 34 56"})
    assert reg.status_code == 201, reg.text
    seed = reg.json()["totp_secret"]
    code = totp.current_code(seed)
    tokens = core_api.post("/auth/totp/confirm", json={
        "email": email, "password": DEFAULT_PASSWORD, "code": code}).json()
    secrets_seen += [seed, code, tokens["access_token"], tokens["refresh_token"]]
    # a wrong password is logged nowhere either
    core_api.post("/auth/login", json={"email": email, "password": "wrong-" + seed})

    seller, shop_id, variant, _ = _online_shop(core_api)
    device = core_api.post(f"/shops/{shop_id}/pos/devices", headers=seller.headers, json={})
    assert device.status_code == 201, device.text
    rotated = core_api.post(f"/pos/devices/{device.json()['device_id']}/rotate-credentials",
                            headers=seller.headers)
    assert rotated.status_code == 200, rotated.text
    for issued in (device.json(), rotated.json()):
        secrets_seen += [issued["token"], issued["secret"]]

    buyer_tokens = core_api.post("/auth/register", json={
        "email": f"buyer-{secrets.token_hex(5)}@test.example.kg", "password": DEFAULT_PASSWORD,
        "full_name": "Buyer", "role": "buyer"}).json()
    buyer = {"Authorization": f"Bearer {buyer_tokens['access_token']}"}
    order = core_api.post("/orders", headers={**buyer, **_key()}, json={
        "shop_id": str(shop_id), "fulfilment": "delivery", "delivery_address": "Бишкек 1",
        "items": [{"variant_id": str(variant), "qty": 1}]}).json()
    _pay(core_api, order["id"])
    delivery = core_api.post(f"/orders/{order['id']}/delivery-code",
                             headers=buyer).json()["delivery_code"]
    wrong = f"{(int(delivery) + 1) % 10**6:06d}"
    confirm = f"/orders/{order['id']}/confirm-delivery"
    assert core_api.post(confirm, headers=seller.headers, json={"code": wrong}
                         ).status_code == 422
    assert core_api.post(confirm, headers=seller.headers, json={"code": delivery}
                         ).status_code == 200
    secrets_seen += [delivery, wrong]

    stored = _audit_text(core_dsn, since)
    assert "auth.register" in stored and "pos_device.rotate_credentials" in stored
    assert "order.delivery_code_rejected" in stored and "INVALID_DELIVERY_CODE" in stored
    logged = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    for secret in [*secrets_seen, email, "555 12 34 56"]:
        assert secret not in stored, secret
        assert secret not in logged, secret


def test_credential_details_are_dropped_from_the_audit_log(conn: Any) -> None:
    actor = AuthenticatedUser(id=uuid4(), role="admin", ip="203.0.113.9")
    entry = audit.record(conn, actor, "test.scrub", "user", uuid4(), {
        "password": "hunter22", "nested": [{"refresh_token": "rt", "keep": 1}],
        "code": "123456", "error": "INVALID_TOTP", "totp_secret": "JBSWY3DP",
        "delivery_code": 654321, "status_code": 200, "role": "seller"})
    got = next(e for e in audit.list_entries(conn, actor_id=actor.id) if e.id == entry)
    assert got.details == {
        "password": "[redacted]", "nested": [{"refresh_token": "[redacted]", "keep": 1}],
        "code": "[redacted]", "error": "INVALID_TOTP", "totp_secret": "[redacted]",
        "delivery_code": "[redacted]", "status_code": 200, "role": "seller"}
