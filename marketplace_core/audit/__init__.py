"""The audit log (spec §14): who did what to which entity, when, from which address.

`record(...)` is called by every seller/admin mutation inside the transaction that makes
the change, so an entry exists exactly when the change committed. The table is
insert-only and the database enforces it (see migration 0004_accounts.sql).
"""

from marketplace_core.audit.log import Actor, AuditEntry, list_entries, record

__all__ = ["Actor", "AuditEntry", "list_entries", "record"]
