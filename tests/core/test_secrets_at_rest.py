"""TOTP seeds and POS signing secrets are stored sealed, plain rows left by older versions
get sealed by the migrator, and a key rotation (new key first, reseal, drop the old key)
keeps everything opening."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet

from infra.settings import get_settings
from marketplace_core import reseal
from marketplace_core.accounts import service, totp
from marketplace_core.migrate import apply_migrations
from marketplace_core.pos import credentials
from platform_common import sealing
from tests.core.auth_helpers import DEFAULT_PASSWORD, create_account
from tests.core.test_orders_support import make_shop

PLAIN_TOTP = ("select count(*) from users where totp_secret is not null"
              " and not starts_with(totp_secret, 'fernet:')")
PLAIN_DEVICE = ("select count(*) from pos_devices where secret is not null"
                " and not starts_with(secret, 'fernet:')")


def _stored_totp(conn: psycopg.Connection[Any], user_id: Any) -> str:
    row = conn.execute("select totp_secret from users where id = %s", (user_id,)).fetchone()
    assert row is not None
    return str(row[0])


def _stored_device(conn: psycopg.Connection[Any], device_id: str) -> str:
    row = conn.execute("select secret from pos_devices where id = %s", (device_id,)).fetchone()
    assert row is not None
    return str(row[0])


def test_registration_and_enrolment_never_store_a_plain_secret(
        core_api: Any, core_dsn: str) -> None:
    email = f"seller-{secrets.token_hex(5)}@test.example.kg"
    answer = core_api.post("/auth/register", json={
        "email": email, "password": DEFAULT_PASSWORD,
        "full_name": "Sealed Seller", "role": "seller"})
    assert answer.status_code == 201, answer.text
    issued = answer.json()["totp_secret"]
    buyer = create_account(core_api, "buyer")
    enrolled = core_api.post("/auth/totp/enrol", json={"email": buyer.user.email,
                                                        "password": DEFAULT_PASSWORD})
    assert enrolled.status_code == 200, enrolled.text
    with psycopg.connect(core_dsn) as conn:
        for user_id, secret in ((answer.json()["user_id"], issued),
                                (buyer.user.id, enrolled.json()["totp_secret"])):
            stored = _stored_totp(conn, user_id)
            assert sealing.is_sealed(stored) and secret not in stored
            assert sealing.unseal(stored) == secret
        _, shop_id = make_shop(conn)
        device = credentials.register_with_credentials(conn, shop_id)
        stored = _stored_device(conn, device.device_id)
        assert sealing.is_sealed(stored) and device.secret not in stored
        conn.commit()
        assert conn.execute(PLAIN_TOTP).fetchone() == (0,)
        assert conn.execute(PLAIN_DEVICE).fetchone() == (0,)
    # and the sealed seed still checks codes: the seller confirms and is logged in
    confirmed = core_api.post("/auth/totp/confirm", json={
        "email": email,
        "password": DEFAULT_PASSWORD, "code": totp.current_code(issued)})
    assert confirmed.status_code == 200, confirmed.text


# --- an isolated database: keys change here -------------------------------------------------

@pytest.fixture
def fresh_dsn(make_database: Callable[[], str]) -> str:
    dsn = make_database()
    apply_migrations(dsn)
    return dsn


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set DATA_ENCRYPTION_KEYS for this test (restored afterwards)."""
    def use(spec: str) -> None:
        monkeypatch.setattr(get_settings(), "data_encryption_keys", spec)
    yield use


def _seller_and_device(conn: psycopg.Connection[Any]) -> tuple[Any, str, str]:
    reg = service.register_user(conn, email=f"s-{secrets.token_hex(5)}@test.example.kg",
                                password=DEFAULT_PASSWORD, full_name="S", role="seller",
                                password_rounds=4)
    assert reg.totp is not None
    service.confirm_totp(conn, reg.user.email, DEFAULT_PASSWORD,
                         totp.current_code(reg.totp.secret))
    _, shop_id = make_shop(conn)
    device = credentials.register_with_credentials(conn, shop_id)
    return reg, reg.totp.secret, device.device_id


def test_the_migrator_seals_rows_left_plain(fresh_dsn: str) -> None:
    seed, device_secret = totp.new_secret(), secrets.token_hex(32)
    with psycopg.connect(fresh_dsn) as conn:
        reg, _, device_id = _seller_and_device(conn)
        # what an older version wrote
        conn.execute("update users set totp_secret = %s where id = %s", (seed, reg.user.id))
        conn.execute("update pos_devices set secret = %s where id = %s",
                     (device_secret, device_id))
        conn.commit()
        assert conn.execute(PLAIN_TOTP).fetchone() == (1,)
        assert apply_migrations(fresh_dsn) == []  # no SQL left, but the sealing step ran
        assert sealing.unseal(_stored_totp(conn, reg.user.id)) == seed
        assert sealing.unseal(_stored_device(conn, device_id)) == device_secret
        assert conn.execute(PLAIN_TOTP).fetchone() == (0,)
        assert conn.execute(PLAIN_DEVICE).fetchone() == (0,)


def test_key_rotation_new_key_first_reseal_then_drop_the_old(
        fresh_dsn: str, keys: Callable[[str], None]) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    keys(old)
    with psycopg.connect(fresh_dsn) as conn:
        reg, seed, device_id = _seller_and_device(conn)
        device_secret = credentials.open_secret(_stored_device(conn, device_id))
        conn.commit()
        under_old_only = sealing.seal("a value nobody reseals")

        keys(f"{new},{old}")  # 1. the new key first: everything still opens
        assert sealing.unseal(_stored_totp(conn, reg.user.id)) == seed
        report = reseal.reseal_all(conn)  # 2. reseal under the new key
        conn.commit()
        assert report.resealed == 2 and report.unopenable == []

        keys(new)  # 3. the old key dropped: every stored secret still opens
        assert sealing.unseal(_stored_totp(conn, reg.user.id)) == seed
        auth = credentials.device_auth(conn, device_id)
        assert auth is not None and auth.secret == device_secret
        service.login(conn, reg.user.email, DEFAULT_PASSWORD,
                      totp.current_code(seed, at=time.time() + 30))
        conn.rollback()
        # a value under the dropped key fails clearly...
        with pytest.raises(sealing.SealingError, match="no configured key opens"):
            sealing.unseal(under_old_only)
        # ...and the reseal command reports such a row and leaves it as it is
        conn.execute("update users set totp_secret = %s where id = %s",
                     (under_old_only, reg.user.id))
        report = reseal.reseal_all(conn)
        assert report.unopenable == [f"users.id={reg.user.id}"]
        assert _stored_totp(conn, reg.user.id) == under_old_only
        conn.rollback()


def test_the_reseal_command(fresh_dsn: str, keys: Callable[[str], None],
                            monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(get_settings(), "postgres_dsn_override", fresh_dsn)
    with psycopg.connect(fresh_dsn) as conn:
        _seller_and_device(conn)
        conn.commit()
    keys(f"{Fernet.generate_key().decode()},{get_settings().data_encryption_keys}")
    assert reseal.main([]) == 0
    assert "resealed 2 value(s)" in capsys.readouterr().out
    assert reseal.main(["--plain-only"]) == 0
    assert "resealed 0 value(s)" in capsys.readouterr().out
    assert reseal.main(["--bogus"]) == 2
