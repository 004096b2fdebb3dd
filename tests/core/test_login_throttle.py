"""Sign-in lockout with backoff and the POS request limit, both kept in Postgres: two API
processes (two apps, two pools) see one count."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from infra.settings import get_settings
from marketplace_core import ratelimit
from marketplace_core.accounts import throttle, totp
from marketplace_core.api.app import create_app
from marketplace_core.db import open_pool, transaction
from tests.core.auth_helpers import DEFAULT_PASSWORD, create_account


@pytest.fixture(scope="module")
def second_api(core_dsn: str) -> Iterator[TestClient]:
    """Another API process: its own app and its own connection pool."""
    with TestClient(create_app(core_dsn, run_sweeper=False)) as client:
        yield client


def _login(client: Any, email: str, password: str) -> Any:
    return client.post("/auth/login", json={"email": email, "password": password})


def _buyer(core_api: Any) -> str:
    return create_account(core_api, "buyer").user.email


def test_five_failures_lock_the_account_across_processes(
        core_api: Any, second_api: TestClient) -> None:
    email = _buyer(core_api)
    answers = [_login(api, email, "wrong password!") for api in
               (core_api, second_api, core_api, second_api, core_api)]
    assert [a.status_code for a in answers] == [401] * 5
    # Locked on both processes, even with the right password.
    for api in (core_api, second_api):
        locked = _login(api, email, DEFAULT_PASSWORD)
        assert locked.status_code == 429, locked.text
        assert locked.json()["error"]["code"] == "LOGIN_LOCKED"
        assert 1 <= int(locked.headers["Retry-After"]) <= 60


def test_a_lock_does_not_tell_whether_the_account_exists(core_api: Any) -> None:
    real, ghost = _buyer(core_api), f"ghost-{secrets.token_hex(6)}@test.example.kg"
    seen = {}
    for email in (real, ghost):
        codes = [_login(core_api, email, "wrong password!").json()["error"]["code"]
                 for _ in range(5)]
        locked = _login(core_api, email, "wrong password!")
        seen[email] = (codes, locked.status_code, locked.json()["error"],
                       locked.headers["Retry-After"])
    assert seen[real] == seen[ghost]
    assert seen[real][0] == ["INVALID_CREDENTIALS"] * 5 and seen[real][1] == 429


def test_a_success_resets_the_account_count(core_api: Any) -> None:
    email = _buyer(core_api)
    for _ in range(4):
        assert _login(core_api, email, "wrong password!").status_code == 401
    assert _login(core_api, email, DEFAULT_PASSWORD).status_code == 200
    for _ in range(4):
        assert _login(core_api, email, "wrong password!").status_code == 401
    assert _login(core_api, email, DEFAULT_PASSWORD).status_code == 200


def test_parallel_guesses_cannot_pass_the_threshold(
        core_api: Any, second_api: TestClient) -> None:
    email = _buyer(core_api)
    statuses: list[int] = []
    lock = threading.Lock()

    def guess(api: Any) -> None:
        status = _login(api, email, "wrong password!").status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=guess, args=(core_api if n % 2 else second_api,))
               for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [401] * 5 + [429] * 7


def _wrong_code(secret: str) -> str:
    now = time.time()
    valid = {totp.current_code(secret, at=now + d) for d in (-60, -30, 0, 30, 60)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444", "555555")
                if c not in valid)


def test_wrong_totp_codes_count_and_the_enrolment_endpoints_are_guarded(
        core_api: Any) -> None:
    reg = create_account(core_api, "seller")
    assert reg.totp is not None
    creds = {"email": reg.user.email, "password": DEFAULT_PASSWORD}
    body = {**creds, "code": _wrong_code(reg.totp.secret)}
    answers = [core_api.post("/auth/totp/confirm", json=body) for _ in range(5)]
    assert {a.json()["error"]["code"] for a in answers} == {"INVALID_TOTP"}
    for path, sent in (("/auth/totp/confirm", body), ("/auth/totp/enrol", creds),
                       ("/auth/login", creds)):
        locked = core_api.post(path, json=sent)
        assert locked.status_code == 429, (path, locked.text)
        assert locked.json()["error"]["code"] == "LOGIN_LOCKED"


def test_an_address_is_locked_after_its_own_larger_budget(
        core_api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings().policy, "login_address_max_failures", 3)
    # the same app (not entered: its lifespan already runs), seen from a real address
    from_one_address = TestClient(core_api.app, client=("203.0.113.77", 40000))
    # three different accounts, one failure each: the address budget is spent
    for _ in range(3):
        assert _login(from_one_address, _buyer(core_api), "wrong!").status_code == 401
    fresh = _buyer(core_api)
    locked = _login(from_one_address, fresh, DEFAULT_PASSWORD)
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "LOGIN_LOCKED"
    # the account itself is not locked: from elsewhere it signs in
    assert _login(core_api, fresh, DEFAULT_PASSWORD).status_code == 200


def test_ipv6_addresses_count_per_64_block() -> None:
    a = throttle.address_key("2001:db8:1:2::1")
    assert a == throttle.address_key("2001:db8:1:2:ffff::9")
    assert a != throttle.address_key("2001:db8:1:3::1")
    assert throttle.address_key("::ffff:203.0.113.5") == throttle.address_key("203.0.113.5")
    assert throttle.address_key("testclient") is None


# --- the store itself -------------------------------------------------------------------------

POLICY = ratelimit.Lockout("test", threshold=2, window=timedelta(minutes=15),
                           base=timedelta(minutes=1), cap=timedelta(minutes=5))


def _expire(conn: psycopg.Connection[Any], key: str) -> None:
    """Let the current lock run out (time passes)."""
    conn.execute("update rate_lockouts set locked_until = now() - interval '1 second'"
                 " where scope = 'test' and key = %s", (key,))


def test_locks_double_up_to_the_cap(conn: psycopg.Connection[Any]) -> None:
    key = secrets.token_hex(8)
    lengths = []
    for _ in range(5):
        assert ratelimit.record_failure(conn, POLICY, key) == 0.0
        lengths.append(round(ratelimit.record_failure(conn, POLICY, key)))
        assert ratelimit.locked_for(conn, POLICY, key) > 0
        _expire(conn, key)
        assert ratelimit.locked_for(conn, POLICY, key) == 0.0
    assert lengths == [60, 120, 240, 300, 300]
    ratelimit.clear(conn, POLICY, key)
    ratelimit.record_failure(conn, POLICY, key)
    assert round(ratelimit.record_failure(conn, POLICY, key)) == 60


def test_old_failures_and_old_backoff_are_forgotten(conn: psycopg.Connection[Any]) -> None:
    key = secrets.token_hex(8)
    ratelimit.record_failure(conn, POLICY, key)
    ratelimit.record_failure(conn, POLICY, key)  # lock 1: the next would be 2 minutes
    _expire(conn, key)
    conn.execute("update rate_lockouts set last_failure_at = now() - interval '2 days'"
                 " where key = %s", (key,))
    assert ratelimit.record_failure(conn, POLICY, key) == 0.0
    assert round(ratelimit.record_failure(conn, POLICY, key)) == 60


def test_two_pools_share_one_token_bucket(core_dsn: str) -> None:
    key = secrets.token_hex(8)
    with open_pool(core_dsn, name="a") as a, open_pool(core_dsn, name="b") as b:
        waits = []
        for pool in (a, b, a, b):
            with transaction(pool) as conn:
                waits.append(ratelimit.take(conn, "test", key, rate=0.01, burst=3))
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 90 < waits[3] <= 100  # one token takes 100 s at 0.01/s


def test_concurrent_takers_never_overdraw_a_bucket(core_dsn: str) -> None:
    key = secrets.token_hex(8)
    taken: list[bool] = []
    guard = threading.Lock()
    with open_pool(core_dsn, name="a", max_size=8) as a, \
            open_pool(core_dsn, name="b", max_size=8) as b:
        def taker(pool: Any) -> None:
            with transaction(pool) as conn:
                ok = ratelimit.take(conn, "test", key, rate=0.001, burst=10) == 0.0
            with guard:
                taken.append(ok)
        threads = [threading.Thread(target=taker, args=(a if n % 2 else b,)) for n in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert taken.count(True) == 10 and len(taken) == 30


def test_stored_keys_reveal_neither_email_nor_address(core_api: Any) -> None:
    email = f"secret-person-{secrets.token_hex(4)}@test.example.kg"
    _login(core_api, email, "wrong password!")
    with transaction(core_api.app.state.pool) as conn:
        rows = conn.execute("select scope, key from rate_lockouts").fetchall()
    assert rows and not any("secret-person" in key for _, key in rows)
    assert (("login-account", throttle.account_key(email))) in rows


def test_a_forwarded_address_counts_only_with_the_internal_token(
        core_api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings().policy, "login_address_max_failures", 2)
    forged = {"X-Client-Address": "198.51.100.20", "X-Internal-Token": "not-the-token"}
    for _ in range(3):
        assert core_api.post("/auth/login", headers=forged, json={
            "email": _buyer(core_api), "password": "wrong!"}).status_code == 401
    # the forged header was ignored (the peer is the test client: not counted)
    assert core_api.post("/auth/login", headers=forged, json={
        "email": _buyer(core_api), "password": DEFAULT_PASSWORD}).status_code == 200
    trusted = {"X-Client-Address": "198.51.100.21",
               "X-Internal-Token": get_settings().internal_token}
    for _ in range(2):
        assert core_api.post("/auth/login", headers=trusted, json={
            "email": _buyer(core_api), "password": "wrong!"}).status_code == 401
    locked = core_api.post("/auth/login", headers=trusted, json={
        "email": _buyer(core_api), "password": DEFAULT_PASSWORD})
    assert locked.status_code == 429


def test_the_dashboard_sign_in_forwards_the_browsers_address_and_retry_after(
        core_api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    import httpx

    from serving_api.routers import dashboard

    monkeypatch.setattr(get_settings().policy, "login_address_max_failures", 2)
    real_client = httpx.AsyncClient
    monkeypatch.setattr(dashboard.httpx, "AsyncClient", lambda **kw: real_client(
        transport=httpx.ASGITransport(app=core_api.app), **kw))

    def sign_in(email: str, password: str) -> Any:
        body = dashboard.DashboardLogin(email=email, password=password)
        return asyncio.run(dashboard._forward("/auth/login", body, "198.51.100.30"))

    assert sign_in(_buyer(core_api), "wrong!").status_code == 401
    assert sign_in(_buyer(core_api), "wrong!").status_code == 401
    locked = sign_in(_buyer(core_api), DEFAULT_PASSWORD)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) >= 1


def test_the_sweep_prunes_rows_without_state(conn: psycopg.Connection[Any]) -> None:
    from marketplace_core.api.background import registered_sweeps

    assert "prune_rate_limits" in dict(registered_sweeps())
    old, fresh = secrets.token_hex(8), secrets.token_hex(8)
    ratelimit.take(conn, "test", old, rate=1, burst=1)
    ratelimit.take(conn, "test", fresh, rate=1, burst=1)
    ratelimit.record_failure(conn, POLICY, old)
    ratelimit.record_failure(conn, POLICY, fresh)
    conn.execute("update rate_buckets set updated_at = now() - interval '2 hours'"
                 " where key = %s", (old,))
    conn.execute("update rate_lockouts set last_failure_at = now() - interval '2 days'"
                 " where key = %s", (old,))
    assert ratelimit.prune(conn) >= 2
    assert conn.execute("select key from rate_buckets where scope = 'test' and key in (%s, %s)",
                        (old, fresh)).fetchall() == [(fresh,)]
    assert conn.execute("select key from rate_lockouts where scope = 'test' and key in"
                        " (%s, %s)", (old, fresh)).fetchall() == [(fresh,)]
