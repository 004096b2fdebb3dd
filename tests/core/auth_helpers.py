"""Users with real tokens for API tests, made fast.

    from tests.core.auth_helpers import make_user, make_seller_with_shop

    buyer = make_user(core_api, "buyer")
    core_api.get("/users/me", headers=buyer.headers)
    seller, merchant_id, shop_id = make_seller_with_shop(core_api)

The user row is written through the accounts service with the cheapest BCrypt cost (the
API would use the settings' cost), TOTP is enrolled with a code computed by pyotp, and
the token comes from the real API (login, or TOTP confirmation for sellers and admins).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from marketplace_core.accounts import service, totp
from marketplace_core.catalog import service as catalog
from marketplace_core.db import transaction

FAST_BCRYPT_ROUNDS = 4
DEFAULT_PASSWORD = "correct horse battery staple"


@dataclass
class TestUser:
    __test__ = False  # not a pytest test class

    id: UUID
    role: str
    email: str
    password: str
    access_token: str
    refresh_token: str
    totp_secret: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _pool(client: Any) -> Any:
    return client.app.state.pool


def _check(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def create_account(
    client: Any, role: str, *, email: str | None = None, password: str = DEFAULT_PASSWORD,
    full_name: str | None = None,
) -> service.Registration:
    """Only the user row (no token), with a cheap password hash."""
    address = email or f"{role}-{secrets.token_hex(6)}@test.example.kg"
    with transaction(_pool(client)) as conn:
        return service.register_user(
            conn, email=address, password=password, full_name=full_name or f"Test {role}",
            role=role, password_rounds=FAST_BCRYPT_ROUNDS)


def make_user(client: Any, role: str, *, email: str | None = None,
              password: str = DEFAULT_PASSWORD) -> TestUser:
    """A user of `role` ("buyer", "seller", "admin") logged in through the API."""
    reg = create_account(client, role, email=email, password=password)
    if reg.totp is None:
        tokens = _check(client.post("/auth/login", json={
            "email": reg.user.email, "password": password}))
    else:
        tokens = _check(client.post("/auth/totp/confirm", json={
            "email": reg.user.email, "password": password,
            "code": totp.current_code(reg.totp.secret)}))
    access = tokens["access_token"]
    return TestUser(
        id=reg.user.id, role=role, email=reg.user.email, password=password,
        access_token=access, refresh_token=tokens["refresh_token"],
        totp_secret=reg.totp.secret if reg.totp else None,
        headers={"Authorization": f"Bearer {access}"},
    )


def wrong_totp_code(secret: str) -> str:
    """A 6-digit code that no time step near now produces for `secret`."""
    now = time.time()
    near = {totp.current_code(secret, at=now + d) for d in (-60, -30, 0, 30, 60, 90)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


def make_seller_with_shop(client: Any) -> tuple[TestUser, UUID, UUID]:
    """A logged-in seller owning a new merchant (created through the API) with one shop."""
    seller = make_user(client, "seller")
    merchant = _check(client.post("/merchants", headers=seller.headers, json={
        "name": f"Merchant {secrets.token_hex(4)}"}), 201)
    merchant_id = UUID(merchant["id"])
    with transaction(_pool(client)) as conn:
        shop = catalog.create_shop(conn, merchant_id, f"Shop {secrets.token_hex(4)}",
                                   address="Bishkek, Dordoi market")
    return seller, merchant_id, shop.id
