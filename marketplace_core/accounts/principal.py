"""Who is acting: the authenticated user as every layer (API, services, audit) sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

Role = Literal["buyer", "seller", "admin", "analyst"]
ROLES: tuple[Role, ...] = ("buyer", "seller", "admin", "analyst")
# Roles that must use TOTP 2FA (spec §14): they move money and manage other people's data,
# or (analysts) read every shop's figures.
ROLES_REQUIRING_TOTP: frozenset[str] = frozenset({"seller", "admin", "analyst"})
# Roles that read every shop's reports on the serving API (sellers read their own shops'):
# admins, and analysts, who manage nothing in the core (ownership answers them 403).
ROLES_READING_ALL_REPORTS: frozenset[str] = frozenset({"admin", "analyst"})


@dataclass(frozen=True)
class AuthenticatedUser:
    """The caller of a request: user id, role, and the client address (for the audit log)."""

    id: UUID
    role: Role
    ip: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
