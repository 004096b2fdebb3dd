"""The audit log: written by seller/admin actions, readable by admins, and insert-only in
the database itself."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from click.testing import CliRunner

from marketplace_core import audit
from marketplace_core.accounts import totp
from marketplace_core.accounts.cli import cli
from marketplace_core.accounts.principal import AuthenticatedUser
from marketplace_core.errors import ErrorCode, ValidationError
from tests.core.auth_helpers import make_seller_with_shop, make_user


def _entries(core_api: Any, admin_headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = core_api.get("/admin/audit-log", headers=admin_headers, params=params)
    assert r.status_code == 200, r.text
    body: list[dict[str, Any]] = r.json()
    return body


# --- record / list_entries ---------------------------------------------------------------


def test_record_and_list_entries(conn: Any) -> None:
    actor = AuthenticatedUser(uuid4(), "seller", "10.1.2.3")
    entity = uuid4()
    first = audit.record(conn, actor, "product.update", "product", entity,
                         {"price": Decimal("1250.50"), "id": entity})
    second = audit.record(conn, actor, "product.delete", "product", entity)
    audit.record(conn, None, "sweep.expire", "reservation", 42)  # a system action

    got = audit.list_entries(conn, entity_type="product", entity_id=str(entity))
    assert [e.id for e in got] == [second, first]  # newest first
    assert got[1].details == {"price": "1250.50", "id": str(entity)}
    assert got[1].ip == "10.1.2.3" and got[1].actor_role == "seller"
    assert [e.id for e in audit.list_entries(conn, actor_id=actor.id, limit=1)] == [second]
    system = audit.list_entries(conn, entity_type="reservation", entity_id="42")
    assert system[0].actor_id is None and system[0].ip is None


def test_record_tolerates_a_non_address_ip_and_rejects_empty_action(conn: Any) -> None:
    actor = AuthenticatedUser(uuid4(), "admin", "testclient")
    entry_id = audit.record(conn, actor, "shop.update", "shop", uuid4())
    assert audit.list_entries(conn, actor_id=actor.id)[0].id == entry_id
    with pytest.raises(ValidationError):
        audit.record(conn, actor, " ", "shop", uuid4())
    with pytest.raises(ValidationError):
        audit.list_entries(conn, limit=0)


# --- insert-only, enforced by the database ----------------------------------------------------


@pytest.mark.parametrize("statement", [
    "update audit_log set action = 'tampered'",
    "update audit_log set action = 'tampered' where id = -1",  # even when no row matches
    "delete from audit_log",
    "delete from audit_log where id = -1",
    "truncate audit_log",
])
def test_audit_log_cannot_be_changed(core_dsn: str, statement: str) -> None:
    with psycopg.connect(core_dsn) as connection:
        with connection.transaction():
            audit.record(connection, AuthenticatedUser(uuid4(), "admin", None),
                         "test.insert", "test", "1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege), connection.transaction():
            connection.execute(statement.encode())
        count = connection.execute("select count(*) from audit_log").fetchone()
        assert count is not None and count[0] >= 1


def test_public_has_no_update_delete_truncate_privilege(conn: Any) -> None:
    rows = conn.execute(
        "select privilege_type from information_schema.role_table_grants"
        " where table_name = 'audit_log' and grantee = 'PUBLIC'").fetchall()
    assert {r[0] for r in rows} & {"UPDATE", "DELETE", "TRUNCATE"} == set()


# --- what the API records ----------------------------------------------------------------------


def test_seller_actions_are_audited(core_api: Any) -> None:
    admin = make_user(core_api, "admin")
    seller, merchant_id, _shop = make_seller_with_shop(core_api)

    mine = _entries(core_api, admin.headers, actor_id=str(seller.id))
    actions = [e["action"] for e in mine]
    # newest first: merchant creation, the TOTP confirmation, the registration
    assert actions == ["merchant.create", "auth.totp_enrol", "auth.register"]
    created = mine[0]
    assert created["entity_type"] == "merchant" and created["entity_id"] == str(merchant_id)
    assert created["actor_role"] == "seller"
    assert created["details"]["owner_user_id"] == str(seller.id)

    login = core_api.post("/auth/login", json={
        "email": seller.email, "password": seller.password,
        "totp_code": totp.current_code(seller.totp_secret or "", at=time.time() + 30)})
    assert login.status_code == 200, login.text
    latest = _entries(core_api, admin.headers, actor_id=str(seller.id), limit=1)
    assert latest[0]["action"] == "auth.login"

    by_entity = _entries(core_api, admin.headers, entity_type="merchant",
                         entity_id=str(merchant_id))
    assert [e["action"] for e in by_entity] == ["merchant.create"]


def test_buyer_login_is_not_audited_and_failed_changes_leave_no_entry(core_api: Any) -> None:
    admin = make_user(core_api, "admin")
    buyer = make_user(core_api, "buyer")
    assert _entries(core_api, admin.headers, actor_id=str(buyer.id)) == []
    r = core_api.post("/merchants", headers=admin.headers, json={
        "name": "Rejected", "owner_user_id": str(buyer.id)})
    assert r.status_code == 422
    assert [e for e in _entries(core_api, admin.headers, actor_id=str(admin.id))
            if e["action"] == "merchant.create"] == []


def test_audit_endpoint_validates_its_query(core_api: Any) -> None:
    admin = make_user(core_api, "admin")
    for params in ({"limit": 0}, {"limit": 5000}, {"actor_id": "not-a-uuid"}):
        r = core_api.get("/admin/audit-log", headers=admin.headers, params=params)
        assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_REQUEST"
    assert core_api.get("/admin/audit-log").status_code == 401


# --- the admin CLI ------------------------------------------------------------------------------


def test_create_admin_cli(core_dsn: str) -> None:
    email = f"root-{uuid4().hex[:8]}@bazaar.kg"
    result = CliRunner().invoke(cli, [
        "create-admin", "--email", email, "--full-name", "Root Admin", "--dsn", core_dsn,
        "--password", "very-secret-admin-pw"])
    assert result.exit_code == 0, result.output
    assert "TOTP secret:" in result.output and "otpauth://" in result.output
    with psycopg.connect(core_dsn) as connection:
        row = connection.execute("select role, totp_enabled from users where email = %s",
                                 (email,)).fetchone()
    assert row == ("admin", False)

    again = CliRunner().invoke(cli, [
        "create-admin", "--email", email, "--full-name", "Root Admin", "--dsn", core_dsn,
        "--password", "very-secret-admin-pw"])
    assert again.exit_code != 0 and ErrorCode.EMAIL_TAKEN in again.output
