"""Domain errors: one base class carrying a stable, machine-readable code.

Callers (the HTTP API, the seed, pipelines) branch on `code`, never on the message text,
so codes are part of the public contract: add new ones, do not rename existing ones.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    INVALID_BARCODE = "INVALID_BARCODE"
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_STOCK = "INVALID_STOCK"
    INVALID_DEVICE_ID = "INVALID_DEVICE_ID"
    DUPLICATE_BARCODE = "DUPLICATE_BARCODE"
    DUPLICATE_SKU = "DUPLICATE_SKU"
    DUPLICATE_SLUG = "DUPLICATE_SLUG"
    DUPLICATE_ID = "DUPLICATE_ID"
    DUPLICATE_DEVICE = "DUPLICATE_DEVICE"
    MERCHANT_NOT_FOUND = "MERCHANT_NOT_FOUND"
    SHOP_NOT_FOUND = "SHOP_NOT_FOUND"
    CATEGORY_NOT_FOUND = "CATEGORY_NOT_FOUND"
    PRODUCT_NOT_FOUND = "PRODUCT_NOT_FOUND"
    MIGRATION_CHANGED = "MIGRATION_CHANGED"
    # --- API-wide ---------------------------------------------------------------------
    INVALID_REQUEST = "INVALID_REQUEST"
    NOT_FOUND = "NOT_FOUND"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    # --- accounts and audit (each domain adds its codes in its own block) --------------
    # --- catalog extensions: translations, bundles, search, import -----------------------
    # --- subscriptions ---------------------------------------------------------------------
    # --- orders, reservations, eligibility ------------------------------------------------
    # --- payments, payouts, refunds, ledger ------------------------------------------------


class DomainError(Exception):
    """A business rule was violated; `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = str(code)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class NotFoundError(DomainError):
    """A referenced entity does not exist."""


class ConflictError(DomainError):
    """The change collides with existing data (duplicate key, barcode, device id...)."""


class ValidationError(DomainError):
    """An argument is malformed (bad barcode, negative price...)."""


class UnauthorizedError(DomainError):
    """No valid credentials (missing/expired token, wrong password, wrong TOTP code)."""


class ForbiddenError(DomainError):
    """Authenticated, but this actor may not do this (wrong role, not the owner)."""
