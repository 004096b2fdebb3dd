"""Which domain owns each table of the core database: declared once, here.

A domain package (`marketplace_core/<domain>/`) owns its tables: it alone names them in
SQL; every other module calls that domain's functions. `tests/unit/test_domain_boundaries.py`
reads every `CREATE TABLE` in `migrations/*.sql`, requires an owner for each, and fails when
a module's SQL names a table owned by another domain.

A table not listed below belongs to the domain its migration is named after
(`0022_chat.sql` -> `chat`), when that names a domain package; list a table here only when
its migration's name says otherwise (or says no domain at all).
"""

from __future__ import annotations

import re
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
PACKAGE_DIR = Path(__file__).resolve().parent

# Not domains: the HTTP edge, the migration files themselves.
NOT_DOMAINS = frozenset({"api", "migrations"})

# Owners that are modules rather than packages (a shared store with its own rules).
MODULE_OWNERS = frozenset({"ratelimit"})

TABLE_OWNERS: dict[str, str] = {
    # 0001_catalog: the seller side of the catalog (merchants and their shops) lives in catalog
    "merchants": "catalog",
    "shops": "catalog",
    # 0003_outbox
    "outbox_source": "outbox",
    "outbox": "outbox",
    "outbox_relay_positions": "outbox",
    # 0004_accounts: the audit trail is its own domain
    "audit_log": "audit",
    # 0006_orders: payout accounts are money going out, so payments'
    "merchant_payout_accounts": "payments",
    # 0011_pseudonyms
    "user_pseudonyms": "accounts",
    # 0013_behaviour: erasure's tombstones, written and read by accounts' erasure
    "erased_pseudonyms": "accounts",
    # 0018_security: the shared rate-limit store (marketplace_core/ratelimit.py)
    "rate_buckets": "ratelimit",
    "rate_lockouts": "ratelimit",
    # 0022_analytics_notices: the lake's notices, claimed by notifications.analytics
    "analytics_notices": "notifications",
}

_CREATE_TABLE = re.compile(
    r"\bcreate\s+(?:unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?(?:public\.)?([a-z_][a-z0-9_]*)",
    re.IGNORECASE,
)
_MIGRATION_DOMAIN = re.compile(r"^\d{4}_([a-z]+)")


def domains() -> frozenset[str]:
    """The domain packages under marketplace_core (plus module owners like `ratelimit`)."""
    # a folder of modules, with or without __init__.py (social is a namespace package)
    packages = {
        p.name
        for p in PACKAGE_DIR.iterdir()
        if p.is_dir()
        and not p.name.startswith(("_", "."))
        and p.name not in NOT_DOMAINS
        and any(p.glob("*.py"))
    }
    return frozenset(packages | MODULE_OWNERS)


def migration_tables(directory: Path | None = None) -> dict[str, str]:
    """Every table a migration creates -> the migration's file name (first creator wins)."""
    found: dict[str, str] = {}
    for path in sorted((directory or MIGRATIONS_DIR).glob("*.sql")):
        text = path.read_text()
        for match in _CREATE_TABLE.finditer(text):
            found.setdefault(match.group(1).lower(), path.name)
    return found


def table_owners(directory: Path | None = None) -> dict[str, str]:
    """Every migration table -> its owning domain; raises for a table without an owner."""
    known = domains()
    owners: dict[str, str] = {}
    missing: list[str] = []
    for table, migration in migration_tables(directory).items():
        owner = TABLE_OWNERS.get(table)
        if owner is None:
            m = _MIGRATION_DOMAIN.match(migration)
            if m and m.group(1) in known:
                owner = m.group(1)
        if owner is None or owner not in known:
            missing.append(f"{table} ({migration})")
            continue
        owners[table] = owner
    if missing:
        raise LookupError(
            "tables without an owning domain (add them to TABLE_OWNERS in "
            f"marketplace_core/table_owners.py): {', '.join(missing)}"
        )
    return owners
