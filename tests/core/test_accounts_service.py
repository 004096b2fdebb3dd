"""Accounts service against the real database (each test rolled back)."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from marketplace_core.accounts import passwords, service, tokens, totp
from marketplace_core.accounts.ownership import (
    add_merchant_member,
    assert_can_manage_merchant,
    assert_can_manage_product,
    assert_can_manage_shop,
    merchant_ids_of,
    merchants_of,
)
from marketplace_core.accounts.principal import AuthenticatedUser
from marketplace_core.catalog import service as catalog
from marketplace_core.errors import (
    ConflictError,
    ErrorCode,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
    ValidationError,
)
from tests.core.auth_helpers import wrong_totp_code

PASSWORD = "s3cret-enough-password"


def _email(prefix: str = "u") -> str:
    return f"{prefix}-{secrets.token_hex(5)}@example.kg"


def _register(conn: Any, role: str, **kw: Any) -> service.Registration:
    kw.setdefault("email", _email(role))
    kw.setdefault("password", PASSWORD)
    kw.setdefault("full_name", "Айбек Тестов")
    return service.register_user(conn, role=role, password_rounds=4, **kw)


def _enrolled(conn: Any, role: str) -> tuple[service.Registration, service.TokenPair]:
    reg = _register(conn, role)
    assert reg.totp is not None
    pair = service.confirm_totp(conn, reg.user.email, PASSWORD, totp.current_code(reg.totp.secret))
    return reg, pair


def _fresh_code(conn: Any, user_id: Any, secret: str) -> str:
    # Forget the last accepted step so the current code counts as unused again.
    conn.execute("update users set totp_last_step = null where id = %s", (user_id,))
    return totp.current_code(secret)


# --- passwords, tokens, totp ------------------------------------------------------------


def test_password_hash_roundtrip_and_limits() -> None:
    hashed = passwords.hash_password(PASSWORD, rounds=4)
    assert hashed.startswith("$2b$04$")
    assert passwords.verify_password(PASSWORD, hashed)
    assert not passwords.verify_password(PASSWORD + "x", hashed)
    assert not passwords.verify_password("x" * 100, hashed)  # over 72 bytes: no crash
    assert not passwords.verify_password(PASSWORD, None)  # unknown user: dummy check
    for weak in ("short", "a\x00bcdefghijkl", "я" * 40):
        with pytest.raises(ValidationError) as exc:
            passwords.hash_password(weak, rounds=4)
        assert exc.value.code == ErrorCode.WEAK_PASSWORD


def test_access_token_claims_and_failures() -> None:
    uid, sid = uuid4(), uuid4()
    token, ttl = tokens.issue_access_token(uid, "seller", sid)
    claims = tokens.decode_access_token(token)
    assert (claims.user_id, claims.role, claims.session_id) == (uid, "seller", sid)
    assert ttl > 0

    old, _ = tokens.issue_access_token(uid, "buyer", sid,
                                       now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(UnauthorizedError) as exc:
        tokens.decode_access_token(old)
    assert exc.value.code == ErrorCode.TOKEN_EXPIRED

    tampered = token[:-3] + ("abc" if token[-3:] != "abc" else "xyz")
    for bad in ("not-a-jwt", tampered, ""):
        with pytest.raises(UnauthorizedError) as exc:
            tokens.decode_access_token(bad)
        assert exc.value.code == ErrorCode.UNAUTHORIZED


def test_refresh_token_is_opaque_and_hashed() -> None:
    a, b = tokens.new_refresh_token(), tokens.new_refresh_token()
    assert a != b and len(a) >= 40
    assert len(tokens.hash_refresh_token(a)) == 64 and tokens.hash_refresh_token(a) != a


def test_totp_codes_are_single_use_and_windowed() -> None:
    secret = totp.new_secret()
    now = time.time()
    step = totp.matching_step(secret, totp.current_code(secret, at=now), now=now)
    assert step == int(now // 30)
    assert totp.matching_step(secret, totp.current_code(secret, at=now), last_step=step,
                              now=now) is None
    assert totp.matching_step(secret, totp.current_code(secret, at=now - 300), now=now) is None
    assert totp.matching_step(secret, "12ab56", now=now) is None
    assert "otpauth://totp/" in totp.provisioning_uri(secret, "a@b.kg")


# --- registration -------------------------------------------------------------------------


def test_register_buyer_has_no_totp_and_normalises_email(conn: Any) -> None:
    address = _email("Buyer").upper()
    reg = _register(conn, "buyer", email=f"  {address} ")
    assert reg.totp is None
    assert reg.user.email == address.lower()
    assert reg.user.role == "buyer" and reg.user.preferred_language == "ru"
    assert service.get_user_by_email(conn, address).id == reg.user.id  # type: ignore[union-attr]


def test_register_seller_gets_totp_secret_not_enabled(conn: Any) -> None:
    reg = _register(conn, "seller", preferred_language="ky")
    assert reg.totp is not None and reg.totp.uri.startswith("otpauth://totp/")
    assert not reg.user.totp_enabled and reg.user.preferred_language == "ky"


def test_duplicate_email_is_case_insensitive(conn: Any) -> None:
    address = _email()
    _register(conn, "buyer", email=address)
    with pytest.raises(ConflictError) as exc:
        _register(conn, "seller", email=address.upper())
    assert exc.value.code == ErrorCode.EMAIL_TAKEN
    conn.execute("select 1")  # the caller's transaction is still usable


@pytest.mark.parametrize(("kw", "code"), [
    ({"email": "not-an-email"}, ErrorCode.INVALID_EMAIL),
    ({"password": "123"}, ErrorCode.WEAK_PASSWORD),
    ({"full_name": "  "}, ErrorCode.INVALID_ARGUMENT),
    ({"preferred_language": "de"}, ErrorCode.INVALID_LANGUAGE),
])
def test_register_rejects_bad_input(conn: Any, kw: dict[str, Any], code: str) -> None:
    with pytest.raises(ValidationError) as exc:
        _register(conn, "buyer", **kw)
    assert exc.value.code == code


def test_register_rejects_unknown_role(conn: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        _register(conn, "superuser")
    assert exc.value.code == ErrorCode.INVALID_ROLE


# --- login ----------------------------------------------------------------------------------


def test_buyer_login_and_wrong_credentials_look_alike(conn: Any) -> None:
    reg = _register(conn, "buyer")
    pair = service.login(conn, reg.user.email.upper(), PASSWORD)
    claims = tokens.decode_access_token(pair.access_token)
    assert claims.user_id == reg.user.id and claims.role == "buyer"
    errors = []
    for email, pw in ((reg.user.email, "wrong-password!"), (_email(), PASSWORD)):
        with pytest.raises(UnauthorizedError) as exc:
            service.login(conn, email, pw)
        errors.append((exc.value.code, exc.value.message))
    assert errors[0] == errors[1] == (ErrorCode.INVALID_CREDENTIALS, "wrong email or password")


@pytest.mark.parametrize("role", ["seller", "admin"])
def test_totp_roles_login_rules(conn: Any, role: str) -> None:
    reg = _register(conn, role)
    assert reg.totp is not None
    with pytest.raises(ForbiddenError) as forbidden:
        service.login(conn, reg.user.email, PASSWORD, "000000")
    assert forbidden.value.code == ErrorCode.TOTP_ENROLMENT_REQUIRED

    first_code = totp.current_code(reg.totp.secret)
    service.confirm_totp(conn, reg.user.email, PASSWORD, first_code)
    with pytest.raises(UnauthorizedError) as missing:
        service.login(conn, reg.user.email, PASSWORD)
    assert missing.value.code == ErrorCode.TOTP_REQUIRED
    with pytest.raises(UnauthorizedError) as invalid:
        service.login(conn, reg.user.email, PASSWORD, wrong_totp_code(reg.totp.secret))
    assert invalid.value.code == ErrorCode.INVALID_TOTP
    # the code used for the confirmation cannot be replayed
    with pytest.raises(UnauthorizedError) as replay:
        service.login(conn, reg.user.email, PASSWORD, first_code)
    assert replay.value.code == ErrorCode.INVALID_TOTP

    pair = service.login(conn, reg.user.email, PASSWORD,
                         _fresh_code(conn, reg.user.id, reg.totp.secret))
    assert tokens.decode_access_token(pair.access_token).role == role


def test_confirm_totp_errors(conn: Any) -> None:
    reg, _ = _enrolled(conn, "seller")
    with pytest.raises(ConflictError) as again:
        service.confirm_totp(conn, reg.user.email, PASSWORD, "123456")
    assert again.value.code == ErrorCode.TOTP_ALREADY_ENABLED
    with pytest.raises(ConflictError) as restart:
        service.start_totp_enrolment(conn, reg.user.email, PASSWORD)
    assert restart.value.code == ErrorCode.TOTP_ALREADY_ENABLED

    buyer = _register(conn, "buyer")
    with pytest.raises(ConflictError) as not_started:
        service.confirm_totp(conn, buyer.user.email, PASSWORD, "123456")
    assert not_started.value.code == ErrorCode.TOTP_NOT_STARTED


def test_lost_secret_can_be_replaced_before_confirmation(conn: Any) -> None:
    reg = _register(conn, "seller")
    assert reg.totp is not None
    new = service.start_totp_enrolment(conn, reg.user.email, PASSWORD)
    assert new.secret != reg.totp.secret
    old_code = totp.current_code(reg.totp.secret)
    if old_code != totp.current_code(new.secret):
        with pytest.raises(UnauthorizedError):
            service.confirm_totp(conn, reg.user.email, PASSWORD, old_code)
    service.confirm_totp(conn, reg.user.email, PASSWORD, totp.current_code(new.secret))


def test_buyer_may_opt_into_totp(conn: Any) -> None:
    reg = _register(conn, "buyer")
    enrolment = service.start_totp_enrolment(conn, reg.user.email, PASSWORD)
    service.confirm_totp(conn, reg.user.email, PASSWORD, totp.current_code(enrolment.secret))
    with pytest.raises(UnauthorizedError) as exc:
        service.login(conn, reg.user.email, PASSWORD)
    assert exc.value.code == ErrorCode.TOTP_REQUIRED


def test_deactivated_user_cannot_log_in_refresh_or_use_tokens(conn: Any) -> None:
    reg = _register(conn, "buyer")
    pair = service.login(conn, reg.user.email, PASSWORD)
    claims = tokens.decode_access_token(pair.access_token)
    assert service.authenticate_access_token(conn, claims).id == reg.user.id
    service.deactivate_user(conn, None, reg.user.id)
    with pytest.raises(UnauthorizedError) as login:
        service.login(conn, reg.user.email, PASSWORD)
    assert login.value.code == ErrorCode.ACCOUNT_DISABLED
    rejected = service.rotate_refresh_token(conn, pair.refresh_token).rejection
    assert rejected is not None and rejected.code == ErrorCode.REFRESH_TOKEN_REVOKED
    with pytest.raises(UnauthorizedError):
        service.authenticate_access_token(conn, claims)
    with pytest.raises(NotFoundError):
        service.deactivate_user(conn, None, uuid4())


# --- refresh tokens ---------------------------------------------------------------------------


def _family_revoked(conn: Any, refresh_token: str) -> tuple[bool, str | None]:
    row = conn.execute(
        "select f.revoked_at is not null, f.revoked_reason from refresh_tokens t"
        " join refresh_token_families f on f.id = t.family_id where t.token_hash = %s",
        (tokens.hash_refresh_token(refresh_token),)).fetchone()
    return bool(row[0]), row[1]


def test_refresh_rotates_and_reuse_revokes_the_family(conn: Any) -> None:
    reg = _register(conn, "buyer")
    first = service.login(conn, reg.user.email, PASSWORD)
    assert conn.execute("select count(*) from refresh_tokens where token_hash = %s",
                        (first.refresh_token,)).fetchone()[0] == 0  # never stored in clear
    second = service.rotate_refresh_token(conn, first.refresh_token).tokens_or_raise()
    third = service.rotate_refresh_token(conn, second.refresh_token).tokens_or_raise()
    assert len({first.refresh_token, second.refresh_token, third.refresh_token}) == 3

    reused = service.rotate_refresh_token(conn, first.refresh_token)
    assert reused.tokens is None and reused.rejection is not None
    assert reused.rejection.code == ErrorCode.REFRESH_TOKEN_REUSED
    assert _family_revoked(conn, third.refresh_token) == (True, "reuse")
    # the newest token of the family is dead too, and so are its access tokens
    later = service.rotate_refresh_token(conn, third.refresh_token)
    assert later.rejection is not None and later.rejection.code == ErrorCode.REFRESH_TOKEN_REVOKED
    with pytest.raises(UnauthorizedError):
        service.authenticate_access_token(conn, tokens.decode_access_token(third.access_token))

    # another login (another family) is untouched
    other = service.login(conn, reg.user.email, PASSWORD)
    service.rotate_refresh_token(conn, other.refresh_token).tokens_or_raise()


def test_refresh_expired_and_unknown(conn: Any) -> None:
    reg = _register(conn, "buyer")
    pair = service.login(conn, reg.user.email, PASSWORD)
    conn.execute("update refresh_tokens set expires_at = now() - interval '1 second'"
                 " where token_hash = %s", (tokens.hash_refresh_token(pair.refresh_token),))
    expired = service.rotate_refresh_token(conn, pair.refresh_token)
    assert expired.rejection is not None
    assert expired.rejection.code == ErrorCode.REFRESH_TOKEN_EXPIRED
    with pytest.raises(UnauthorizedError) as exc:
        expired.tokens_or_raise()
    assert exc.value.code == ErrorCode.REFRESH_TOKEN_EXPIRED
    unknown = service.rotate_refresh_token(conn, "no-such-token")
    assert unknown.rejection is not None
    assert unknown.rejection.code == ErrorCode.INVALID_REFRESH_TOKEN


def test_logout_revokes_the_family(conn: Any) -> None:
    reg = _register(conn, "buyer")
    pair = service.login(conn, reg.user.email, PASSWORD)
    rotated = service.rotate_refresh_token(conn, pair.refresh_token).tokens_or_raise()
    service.logout(conn, rotated.refresh_token)
    service.logout(conn, rotated.refresh_token)  # idempotent
    assert _family_revoked(conn, pair.refresh_token) == (True, "logout")
    with pytest.raises(UnauthorizedError):
        service.authenticate_access_token(conn, tokens.decode_access_token(rotated.access_token))
    with pytest.raises(UnauthorizedError) as exc:
        service.logout(conn, "never-issued")
    assert exc.value.code == ErrorCode.INVALID_REFRESH_TOKEN


# --- ownership -----------------------------------------------------------------------------


def _principal(reg: service.Registration) -> AuthenticatedUser:
    return AuthenticatedUser(reg.user.id, reg.user.role, None)  # type: ignore[arg-type]


def test_ownership_rules(conn: Any) -> None:
    owner = _register(conn, "seller")
    other = _register(conn, "seller")
    buyer = _register(conn, "buyer")
    admin = _register(conn, "admin")
    merchant = catalog.create_merchant(conn, "Dordoi Textiles")
    add_merchant_member(conn, merchant.id, owner.user.id)
    add_merchant_member(conn, merchant.id, owner.user.id)  # idempotent
    shop = catalog.create_shop(conn, merchant.id, "Container 12")
    product = catalog.create_product(conn, shop.id, "Платок")

    for user in (_principal(owner), _principal(admin)):
        assert assert_can_manage_merchant(conn, user, merchant.id) == merchant.id
        assert assert_can_manage_shop(conn, user, shop.id) == merchant.id
        assert assert_can_manage_product(conn, user, product.id) == merchant.id
    for user in (_principal(other), _principal(buyer)):
        for check, entity in ((assert_can_manage_merchant, merchant.id),
                              (assert_can_manage_shop, shop.id),
                              (assert_can_manage_product, product.id)):
            with pytest.raises(ForbiddenError) as exc:
                check(conn, user, entity)
            assert exc.value.code == ErrorCode.FORBIDDEN
    for check, code in ((assert_can_manage_merchant, ErrorCode.MERCHANT_NOT_FOUND),
                        (assert_can_manage_shop, ErrorCode.SHOP_NOT_FOUND),
                        (assert_can_manage_product, ErrorCode.PRODUCT_NOT_FOUND)):
        for user in (_principal(owner), _principal(admin)):
            with pytest.raises(NotFoundError) as missing:
                check(conn, user, uuid4())
            assert missing.value.code == code
        with pytest.raises(ForbiddenError):  # a buyer learns nothing about existence
            check(conn, _principal(buyer), uuid4())

    assert [m.id for m in merchants_of(conn, owner.user.id)] == [merchant.id]
    assert merchant_ids_of(conn, owner.user.id) == [merchant.id]
    assert merchants_of(conn, other.user.id) == []


def test_add_member_rejects_non_sellers_and_unknowns(conn: Any) -> None:
    merchant = catalog.create_merchant(conn, "Osh Bazaar Spices")
    buyer = _register(conn, "buyer")
    with pytest.raises(ValidationError) as not_seller:
        add_merchant_member(conn, merchant.id, buyer.user.id)
    assert not_seller.value.code == ErrorCode.OWNER_NOT_SELLER
    with pytest.raises(NotFoundError) as no_user:
        add_merchant_member(conn, merchant.id, uuid4())
    assert no_user.value.code == ErrorCode.USER_NOT_FOUND
    with pytest.raises(NotFoundError) as no_merchant:
        add_merchant_member(conn, uuid4(), buyer.user.id)
    assert no_merchant.value.code == ErrorCode.MERCHANT_NOT_FOUND


def test_concurrent_rotation_of_one_token_is_a_reuse(core_dsn: str) -> None:
    """Two parties presenting the same token at once: the second waits for the first and
    then sees a consumed token, so the family is revoked (theft detection under races)."""
    import threading

    import psycopg

    with psycopg.connect(core_dsn) as setup, setup.transaction():
        reg = _register(setup, "buyer")
        pair = service.login(setup, reg.user.email, PASSWORD)

    results: list[service.RefreshResult] = []
    with psycopg.connect(core_dsn) as first:  # not autocommit: holds its locks until commit
        results.append(service.rotate_refresh_token(first, pair.refresh_token))

        def second() -> None:
            with psycopg.connect(core_dsn) as other, other.transaction():
                results.append(service.rotate_refresh_token(other, pair.refresh_token))

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive()  # blocked on the family's row lock
        first.commit()
        thread.join(timeout=10)

    assert results[0].tokens is not None
    assert results[1].rejection is not None
    assert results[1].rejection.code == ErrorCode.REFRESH_TOKEN_REUSED
    with psycopg.connect(core_dsn) as check:
        assert _family_revoked(check, pair.refresh_token) == (True, "reuse")
