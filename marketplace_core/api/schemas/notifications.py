"""Request and response models of /notifications (seed 000 §25.8)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from platform_common.validated import Text

Channel = Literal["push", "email", "sms"]


class QuietHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["22:00"])
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["08:00"])


class ChannelPrefIn(BaseModel):
    """Only the keys sent change; `categories: null` means every category."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool | None = None
    categories: list[Text] | None = Field(default=None, max_length=50)
    muted_types: list[Text] | None = Field(default=None, max_length=50)
    muted_shops: list[UUID] | None = Field(default=None, max_length=500)
    quiet_hours: QuietHoursIn | None = None


class AddressesIn(BaseModel):
    """Where to reach the user; stored sealed, shown masked. null forgets one."""

    model_config = ConfigDict(extra="forbid")
    email: Text | None = Field(default=None, max_length=254,
                               pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{7,15}$")
    push_token: Text | None = Field(default=None, min_length=8, max_length=4096)


class PrefsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    locale: Literal["ru", "ky", "en", "zh", "kk", "uz"] | None = None
    timezone: str | None = Field(default=None, max_length=64)
    marketing_consent: bool | None = None
    channels: dict[Channel, ChannelPrefIn] | None = None
    addresses: AddressesIn | None = None


class QuietHoursOut(BaseModel):
    start: str
    end: str


class ChannelPrefOut(BaseModel):
    enabled: bool
    categories: list[str] | None
    muted_types: list[str]
    muted_shops: list[str]
    quiet_hours: QuietHoursOut | None


class PrefsOut(BaseModel):
    owner_type: Literal["user", "shop"]
    owner_id: UUID
    locale: str | None
    timezone: str
    marketing_consent: bool
    channels: dict[str, ChannelPrefOut]
    addresses: dict[str, str] = Field(description="masked, e.g. a***@m***.kg")


class TestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Channel | None = Field(default=None, description="only this channel (default: "
                                    "the preferences' chain)")
    consent: Literal["transactional", "marketing"] = "transactional"


class TestOut(BaseModel):
    event_id: UUID
    queued: list[UUID]


class WebhookIn(BaseModel):
    provider_ref: str = Field(min_length=1, max_length=200)
    status: Literal["delivered", "failed"]
    error: str | None = Field(default=None, max_length=500)


class WebhookOut(BaseModel):
    notification_id: UUID
    status: str


class UnsubscribeOut(BaseModel):
    user_id: UUID
    channel: Channel
    category: str = Field(description='a category, or "*" for every message on the channel')
