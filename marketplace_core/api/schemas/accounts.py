"""Request/response models of accounts, authentication, merchants and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from marketplace_core.api.schemas.common import RecordOut
from marketplace_core.audit.log import AuditEntry
from platform_common.validated import Text

Language = Literal["ru", "ky", "en", "zh", "kk", "uz"]

_Email = Field(min_length=3, max_length=254, examples=["aibek@example.kg"])
_Password = Field(min_length=1, max_length=256)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- authentication -------------------------------------------------------------------


class RegisterRequest(_Request):
    email: Text = _Email
    password: Text = Field(min_length=10, max_length=256,
                          description="At least 10 characters, at most 72 bytes (UTF-8)")
    full_name: Text = Field(min_length=1, max_length=200)
    role: Literal["buyer", "seller"] = Field(
        description="Admins are never self-registered (CLI: create-admin)")
    phone: Text | None = Field(default=None, max_length=32, examples=["+996555123456"])
    preferred_language: Language = "ru"


class RegisterResponse(BaseModel):
    """Buyers get tokens at once; sellers get a TOTP secret to confirm first."""

    user_id: UUID
    role: str
    totp_required: bool
    totp_secret: str | None = None
    totp_uri: str | None = Field(default=None, description="otpauth:// URI for a QR code")
    access_token: str | None = None
    refresh_token: str | None = None
    token_type: Literal["bearer"] | None = None
    expires_in: int | None = None


class LoginRequest(_Request):
    email: Text = _Email
    password: Text = _Password
    totp_code: Text | None = Field(default=None, max_length=16, examples=["123456"],
                                  description="Required for sellers and admins")


class TotpEnrolRequest(_Request):
    email: Text = _Email
    password: Text = _Password


class TotpConfirmRequest(_Request):
    email: Text = _Email
    password: Text = _Password
    code: Text = Field(min_length=1, max_length=16, examples=["123456"])


class TotpEnrolmentResponse(BaseModel):
    totp_secret: str
    totp_uri: str


class RefreshRequest(_Request):
    refresh_token: Text = Field(min_length=1, max_length=512)


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires")


class UserResponse(BaseModel):
    id: UUID
    email: str
    phone: str | None
    full_name: str
    role: str
    totp_enabled: bool
    preferred_language: str
    created_at: datetime


# --- merchants ------------------------------------------------------------------------


class MerchantCreateRequest(_Request):
    name: Text = Field(min_length=1, max_length=200)
    owner_user_id: UUID | None = Field(
        default=None, description="Admins: the seller who will own it (required). "
                                  "Sellers: omit (or give their own id).")


class MerchantResponse(BaseModel):
    id: UUID
    name: str
    created_at: datetime


# --- audit log ------------------------------------------------------------------------


class AuditEntryResponse(RecordOut, record=AuditEntry):
    details: Any | None
