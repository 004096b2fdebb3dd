"""Accounts: users and their credentials (BCrypt passwords, JWT access tokens, rotating
refresh tokens, TOTP 2FA for sellers and admins) and who may manage which merchant.

    python -m marketplace_core.accounts create-admin --email ... --full-name ...
    python -m marketplace_core.accounts create-analyst --email ... --full-name ...
"""

from marketplace_core.accounts.principal import ROLES, AuthenticatedUser

__all__ = ["ROLES", "AuthenticatedUser"]
