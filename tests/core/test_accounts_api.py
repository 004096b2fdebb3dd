"""Accounts over HTTP: registration, login, 2FA, token rotation, roles and ownership."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from marketplace_core.accounts import tokens, totp
from marketplace_core.db import transaction
from tests.core.auth_helpers import (
    DEFAULT_PASSWORD,
    create_account,
    make_seller_with_shop,
    make_user,
    wrong_totp_code,
)

PASSWORD = "a-long-enough-password"


def _email(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}@api.example.kg"


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"]["code"] == code, body
    return body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _next_code(secret: str) -> str:
    # The code of the next 30 s step: still inside the accepted window, and not yet used.
    return totp.current_code(secret, at=time.time() + 30)


# --- registration and login for each role ------------------------------------------------


def test_buyer_registers_and_gets_tokens_at_once(core_api: Any) -> None:
    email = _email("buyer")
    r = core_api.post("/auth/register", json={
        "email": email, "password": PASSWORD, "full_name": "Нурлан", "role": "buyer",
        "preferred_language": "ky", "phone": "+996555000111"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["totp_required"] is False and body["totp_secret"] is None
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    me = core_api.get("/users/me", headers=_bearer(body["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json() | {"created_at": None} == {
        "id": body["user_id"], "email": email, "phone": "+996555000111", "full_name": "Нурлан",
        "role": "buyer", "totp_enabled": False, "preferred_language": "ky", "created_at": None}

    login = core_api.post("/auth/login", json={"email": email.upper(), "password": PASSWORD})
    assert login.status_code == 200, login.text
    assert set(login.json()) == {"access_token", "refresh_token", "token_type", "expires_in"}


def test_seller_registration_requires_totp_confirmation(core_api: Any) -> None:
    email = _email("seller")
    r = core_api.post("/auth/register", json={
        "email": email, "password": PASSWORD, "full_name": "Гульнара", "role": "seller"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["totp_required"] is True and body["access_token"] is None
    assert body["totp_uri"].startswith("otpauth://totp/")
    secret = body["totp_secret"]

    _error(core_api.post("/auth/login", json={"email": email, "password": PASSWORD}),
           403, "TOTP_ENROLMENT_REQUIRED")
    _error(core_api.post("/auth/totp/confirm", json={
        "email": email, "password": "wrong-password!", "code": totp.current_code(secret)}),
        401, "INVALID_CREDENTIALS")
    confirmed = core_api.post("/auth/totp/confirm", json={
        "email": email, "password": PASSWORD, "code": totp.current_code(secret)})
    assert confirmed.status_code == 200, confirmed.text
    me = core_api.get("/users/me", headers=_bearer(confirmed.json()["access_token"])).json()
    assert me["role"] == "seller" and me["totp_enabled"] is True

    _error(core_api.post("/auth/login", json={"email": email, "password": PASSWORD}),
           401, "TOTP_REQUIRED")
    _error(core_api.post("/auth/login", json={
        "email": email, "password": PASSWORD, "totp_code": wrong_totp_code(secret)}),
        401, "INVALID_TOTP")
    code = _next_code(secret)
    ok = core_api.post("/auth/login", json={
        "email": email, "password": PASSWORD, "totp_code": code})
    assert ok.status_code == 200, ok.text
    # the same code twice is a replay
    _error(core_api.post("/auth/login", json={
        "email": email, "password": PASSWORD, "totp_code": code}), 401, "INVALID_TOTP")


def test_admin_cannot_self_register_but_logs_in_with_totp(core_api: Any) -> None:
    _error(core_api.post("/auth/register", json={
        "email": _email("admin"), "password": PASSWORD, "full_name": "Root",
        "role": "admin"}), 422, "INVALID_REQUEST")
    admin = make_user(core_api, "admin")
    assert admin.totp_secret
    _error(core_api.post("/auth/login", json={"email": admin.email, "password": admin.password}),
           401, "TOTP_REQUIRED")
    ok = core_api.post("/auth/login", json={
        "email": admin.email, "password": admin.password,
        "totp_code": _next_code(admin.totp_secret)})
    assert ok.status_code == 200, ok.text
    assert core_api.get("/users/me", headers=admin.headers).json()["role"] == "admin"


def test_unenrolled_seller_can_fetch_a_new_secret(core_api: Any) -> None:
    reg = create_account(core_api, "seller")
    r = core_api.post("/auth/totp/enrol", json={
        "email": reg.user.email, "password": DEFAULT_PASSWORD})
    assert r.status_code == 200, r.text
    secret = r.json()["totp_secret"]
    ok = core_api.post("/auth/totp/confirm", json={
        "email": reg.user.email, "password": DEFAULT_PASSWORD,
        "code": totp.current_code(secret)})
    assert ok.status_code == 200, ok.text
    _error(core_api.post("/auth/totp/enrol", json={
        "email": reg.user.email, "password": DEFAULT_PASSWORD}), 409, "TOTP_ALREADY_ENABLED")


def test_wrong_credentials_answer_the_same(core_api: Any) -> None:
    buyer = make_user(core_api, "buyer")
    wrong_pw = core_api.post("/auth/login", json={"email": buyer.email,
                                                  "password": "not-the-password"})
    unknown = core_api.post("/auth/login", json={"email": _email("ghost"),
                                                 "password": "not-the-password"})
    assert wrong_pw.status_code == unknown.status_code == 401
    assert wrong_pw.json() == unknown.json()
    assert wrong_pw.json()["error"]["code"] == "INVALID_CREDENTIALS"
    assert wrong_pw.headers.get("www-authenticate") == "Bearer"


def test_duplicate_email_is_409(core_api: Any) -> None:
    buyer = make_user(core_api, "buyer")
    _error(core_api.post("/auth/register", json={
        "email": buyer.email.upper(), "password": PASSWORD, "full_name": "Twin",
        "role": "seller"}), 409, "EMAIL_TAKEN")


@pytest.mark.parametrize("body", [
    {},
    {"email": "x@y.kg", "password": "short", "full_name": "A", "role": "buyer"},
    {"email": "x@y.kg", "password": PASSWORD, "full_name": "A", "role": "king"},
    {"email": "x@y.kg", "password": PASSWORD, "full_name": "A", "role": "buyer",
     "preferred_language": "de"},
    {"email": "x@y.kg", "password": PASSWORD, "full_name": "A", "role": "buyer", "extra": 1},
    {"email": 12, "password": ["x"], "full_name": None, "role": "buyer"},
])
def test_malformed_register_bodies_are_422(core_api: Any, body: dict[str, Any]) -> None:
    _error(core_api.post("/auth/register", json=body), 422, "INVALID_REQUEST")


def test_malformed_bodies_elsewhere_are_422_never_500(core_api: Any) -> None:
    for path, body in (("/auth/login", {"email": "a@b.kg"}),
                       ("/auth/refresh", {"refresh_token": ""}),
                       ("/auth/logout", {}),
                       ("/auth/totp/confirm", {"email": "a@b.kg", "password": "x"})):
        _error(core_api.post(path, json=body), 422, "INVALID_REQUEST")
    _error(core_api.post("/auth/login", content=b"{not json",
                         headers={"Content-Type": "application/json"}), 422, "INVALID_REQUEST")
    _error(core_api.post("/auth/register", json={
        "email": "no-at-sign", "password": PASSWORD, "full_name": "A", "role": "buyer"}),
        422, "INVALID_EMAIL")
    _error(core_api.post("/auth/register", json={
        "email": _email("long"), "password": "я" * 40, "full_name": "A", "role": "buyer"}),
        422, "WEAK_PASSWORD")
    seller = make_user(core_api, "seller")
    _error(core_api.post("/merchants", headers=seller.headers, json={"name": 5}),
           422, "INVALID_REQUEST")
    _error(core_api.get("/merchants/not-a-uuid", headers=seller.headers), 422, "INVALID_REQUEST")


# --- refresh tokens -------------------------------------------------------------------------


def test_refresh_rotation_and_reuse_revokes_the_whole_family(core_api: Any) -> None:
    buyer = make_user(core_api, "buyer")
    r1 = core_api.post("/auth/refresh", json={"refresh_token": buyer.refresh_token})
    assert r1.status_code == 200, r1.text
    second = r1.json()
    assert second["refresh_token"] != buyer.refresh_token
    r2 = core_api.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r2.status_code == 200, r2.text
    third = r2.json()

    # the first token again: theft detected, the family is revoked (and that committed)
    _error(core_api.post("/auth/refresh", json={"refresh_token": buyer.refresh_token}),
           401, "REFRESH_TOKEN_REUSED")
    _error(core_api.post("/auth/refresh", json={"refresh_token": third["refresh_token"]}),
           401, "REFRESH_TOKEN_REVOKED")
    _error(core_api.get("/users/me", headers=_bearer(third["access_token"])),
           401, "UNAUTHORIZED")
    # a fresh login works again
    ok = core_api.post("/auth/login", json={"email": buyer.email, "password": buyer.password})
    assert ok.status_code == 200


def test_refresh_expired_unknown_and_logout(core_api: Any) -> None:
    buyer = make_user(core_api, "buyer")
    with transaction(core_api.app.state.pool) as conn:
        conn.execute("update refresh_tokens set expires_at = now() - interval '1 minute'"
                     " where token_hash = %s", (tokens.hash_refresh_token(buyer.refresh_token),))
    _error(core_api.post("/auth/refresh", json={"refresh_token": buyer.refresh_token}),
           401, "REFRESH_TOKEN_EXPIRED")
    _error(core_api.post("/auth/refresh", json={"refresh_token": "x" * 43}),
           401, "INVALID_REFRESH_TOKEN")

    other = make_user(core_api, "buyer")
    assert core_api.post("/auth/logout", json={"refresh_token": other.refresh_token}
                         ).status_code == 204
    _error(core_api.get("/users/me", headers=other.headers), 401, "UNAUTHORIZED")
    _error(core_api.post("/auth/refresh", json={"refresh_token": other.refresh_token}),
           401, "REFRESH_TOKEN_REVOKED")
    _error(core_api.post("/auth/logout", json={"refresh_token": "never-issued"}),
           401, "INVALID_REFRESH_TOKEN")


# --- access tokens and roles -------------------------------------------------------------------


def test_access_token_failures(core_api: Any) -> None:
    buyer = make_user(core_api, "buyer")
    claims = tokens.decode_access_token(buyer.access_token)
    expired, _ = tokens.issue_access_token(buyer.id, "buyer", claims.session_id or uuid4(),
                                           now=datetime.now(UTC) - timedelta(hours=2))
    _error(core_api.get("/users/me", headers=_bearer(expired)), 401, "TOKEN_EXPIRED")
    _error(core_api.get("/users/me"), 401, "UNAUTHORIZED")
    _error(core_api.get("/users/me", headers={"Authorization": "Basic dXNlcjpwdw=="}),
           401, "UNAUTHORIZED")
    _error(core_api.get("/users/me", headers=_bearer("garbage.token.here")), 401, "UNAUTHORIZED")
    forged = buyer.access_token.rsplit(".", 1)[0] + ".c2lnbmF0dXJl"
    _error(core_api.get("/users/me", headers=_bearer(forged)), 401, "UNAUTHORIZED")


def test_deactivated_user_token_is_rejected(core_api: Any) -> None:
    from marketplace_core.accounts import service

    buyer = make_user(core_api, "buyer")
    with transaction(core_api.app.state.pool) as conn:
        service.deactivate_user(conn, None, buyer.id)
    _error(core_api.get("/users/me", headers=buyer.headers), 401, "UNAUTHORIZED")
    _error(core_api.post("/auth/login", json={"email": buyer.email, "password": buyer.password}),
           401, "ACCOUNT_DISABLED")


def test_wrong_role_is_403(core_api: Any) -> None:
    buyer = make_user(core_api, "buyer")
    seller = make_user(core_api, "seller")
    _error(core_api.post("/merchants", headers=buyer.headers, json={"name": "Nope"}),
           403, "FORBIDDEN")
    _error(core_api.get("/admin/audit-log", headers=seller.headers), 403, "FORBIDDEN")
    _error(core_api.get("/admin/audit-log", headers=buyer.headers), 403, "FORBIDDEN")


def test_openapi_documents_bearer_security(core_api: Any) -> None:
    spec = core_api.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    me = spec["paths"]["/users/me"]["get"]
    assert me["security"] == [{"HTTPBearer": []}] and "401" in me["responses"]
    assert "security" not in spec["paths"]["/auth/login"]["post"]
    for path in ("/auth/register", "/auth/login", "/auth/refresh", "/merchants",
                 "/admin/audit-log"):
        for op in spec["paths"][path].values():
            assert op.get("summary") and "422" in op["responses"], (path, op)


# --- merchants -------------------------------------------------------------------------------


def test_seller_creates_and_reads_its_merchant(core_api: Any) -> None:
    seller = make_user(core_api, "seller")
    r = core_api.post("/merchants", headers=seller.headers, json={"name": "Madina Fabrics"})
    assert r.status_code == 201, r.text
    merchant = r.json()
    got = core_api.get(f"/merchants/{merchant['id']}", headers=seller.headers)
    assert got.status_code == 200 and got.json() == merchant
    mine = core_api.get("/me/merchants", headers=seller.headers).json()
    assert [m["id"] for m in mine] == [merchant["id"]]
    _error(core_api.post("/merchants", headers=seller.headers, json={
        "name": "For someone else", "owner_user_id": str(uuid4())}), 403, "FORBIDDEN")


def test_foreign_merchant_is_403_and_unknown_is_404(core_api: Any) -> None:
    owner, merchant_id, _shop = make_seller_with_shop(core_api)
    stranger = make_user(core_api, "seller")
    buyer = make_user(core_api, "buyer")
    _error(core_api.get(f"/merchants/{merchant_id}", headers=stranger.headers), 403, "FORBIDDEN")
    _error(core_api.get(f"/merchants/{merchant_id}", headers=buyer.headers), 403, "FORBIDDEN")
    _error(core_api.get(f"/merchants/{uuid4()}", headers=stranger.headers),
           404, "MERCHANT_NOT_FOUND")
    assert core_api.get("/me/merchants", headers=stranger.headers).json() == []
    assert core_api.get(f"/merchants/{merchant_id}", headers=owner.headers).status_code == 200


def test_admin_creates_merchant_for_a_seller(core_api: Any) -> None:
    admin = make_user(core_api, "admin")
    seller = make_user(core_api, "seller")
    buyer = make_user(core_api, "buyer")
    _error(core_api.post("/merchants", headers=admin.headers, json={"name": "No owner"}),
           422, "INVALID_ARGUMENT")
    _error(core_api.post("/merchants", headers=admin.headers, json={
        "name": "Buyer-owned", "owner_user_id": str(buyer.id)}), 422, "OWNER_NOT_SELLER")
    _error(core_api.post("/merchants", headers=admin.headers, json={
        "name": "Ghost-owned", "owner_user_id": str(uuid4())}), 404, "USER_NOT_FOUND")
    r = core_api.post("/merchants", headers=admin.headers, json={
        "name": "Alamedin Market", "owner_user_id": str(seller.id)})
    assert r.status_code == 201, r.text
    merchant_id = r.json()["id"]
    assert [m["id"] for m in core_api.get("/me/merchants", headers=seller.headers).json()] == [
        merchant_id]
    assert core_api.get(f"/merchants/{merchant_id}", headers=admin.headers).status_code == 200
    # nothing half-written by the rejected attempts
    with transaction(core_api.app.state.pool) as conn:
        names = {row[0] for row in conn.execute(
            "select name from merchants where name in ('Buyer-owned', 'Ghost-owned')")}
    assert names == set()


def test_make_seller_with_shop_helper(core_api: Any) -> None:
    seller, merchant_id, shop_id = make_seller_with_shop(core_api)
    assert seller.role == "seller" and isinstance(merchant_id, UUID)
    with transaction(core_api.app.state.pool) as conn:
        row = conn.execute("select merchant_id from shops where id = %s", (shop_id,)).fetchone()
    assert row is not None and row[0] == merchant_id
