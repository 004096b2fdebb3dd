"""Request and response models of the POS endpoints: terminal credentials, heartbeats and
till events over HTTP (for terminals that cannot speak Kafka).

Terminal bodies follow the Avro records of `schemas/pos/` field by field (money as decimal
strings, uuids as strings, timestamps as ISO-8601 or epoch milliseconds); `timestamp` is
accepted for `event_time` (the spec's §24.5 name). The signature is the HMAC of the record
as sent (the fields present in the body, under their Avro names; `schemas/pos/signing.py`),
so a terminal signs the same record whichever path it uses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from marketplace_core.api.schemas.common import Money
from marketplace_core.api.schemas.orders import ShopEligibilityResponse
from marketplace_core.pos.ingest import MAX_ITEMS, TILL_EVENT_TYPES
from marketplace_core.pos.service import DeviceOverview
from platform_common.validated import DeviceId, Int32, Int64, Text, Timestamp, Token

MAX_EVENTS_PER_REQUEST = 500
# Field types (platform_common.validated): device ids POS- and 4-12 digits, timestamps with a
# zone in 2000-2100 (or epoch ms), counters within Avro int/long, signatures bounded ASCII.


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- credentials -------------------------------------------------------------------------------

class DeviceRegistrationRequest(_Body):
    device_id: DeviceId | None = Field(
        default=None, examples=["POS-0042"],
        description="The terminal's printed id; omitted → the next free POS-NNNN")
    firmware_version: Text | None = Field(default=None, min_length=1, max_length=64)


class DeviceCredentialsResponse(BaseModel):
    """Shown once: the platform keeps only a hash of the token."""

    device_id: str
    shop_id: UUID
    token: str = Field(description="Bearer token of the terminal (Kafka header `device-token`)")
    secret: str = Field(description="HMAC-SHA256 key the terminal signs its events with")


class DeviceCounters(BaseModel):
    applied: int
    duplicates: int = Field(description="DUPLICATE_SALE: receipts received again")
    rejected: int = Field(description="Events sent to the dead letters")
    heartbeats: int
    oversold_units: int = Field(
        description="Units sold at the till beyond the stock the platform knew")


class DeviceResponse(BaseModel):
    device_id: str
    shop_id: UUID
    status: Literal["active", "inactive", "retired"]
    connectivity: Literal["pos_active", "pos_offline"]
    connectivity_changed_at: datetime | None
    last_heartbeat_at: datetime | None
    firmware_version: str | None
    reported_status: str | None
    last_sequence_number: int
    has_credentials: bool
    credentials_issued_at: datetime | None
    counters: DeviceCounters

    @classmethod
    def of(cls, d: DeviceOverview) -> DeviceResponse:
        return cls(
            device_id=d.id, shop_id=d.shop_id, status=d.status,  # type: ignore[arg-type]
            connectivity=d.connectivity,  # type: ignore[arg-type]
            connectivity_changed_at=d.connectivity_changed_at,
            last_heartbeat_at=d.last_heartbeat_at, firmware_version=d.firmware_version,
            reported_status=d.reported_status, last_sequence_number=d.last_sequence_number,
            has_credentials=d.has_credentials, credentials_issued_at=d.credentials_issued_at,
            counters=DeviceCounters(applied=d.applied, duplicates=d.duplicates,
                                    rejected=d.rejected, heartbeats=d.heartbeats,
                                    oversold_units=d.oversold_units))


# --- heartbeats --------------------------------------------------------------------------------

class StockLevelIn(_Body):
    variant_id: UUID | None = None
    barcode: Text | None = Field(default=None, max_length=64)
    sku: Text | None = Field(default=None, max_length=64)
    qty: Int32


class DeviceHeartbeatRequest(_Body):
    heartbeat_id: UUID | None = None
    device_id: DeviceId = Field(examples=["POS-1234"])
    shop_id: UUID | None = None
    status: Text = Field(default="active", max_length=32, examples=["active"],
                         description="active | maintenance")
    firmware_version: Text | None = Field(default=None, max_length=64)
    sequence_number: Int64 = Field(default=0, ge=0)
    event_time: Timestamp = Field(validation_alias=AliasChoices("event_time", "timestamp"),
                                  description="Device time (alias `timestamp`)")
    stock: list[StockLevelIn] = Field(default_factory=list, max_length=5000)
    signature: Token | None = Field(default=None, max_length=128)

    def record(self) -> dict[str, Any]:
        """The record as the terminal signed it: the fields it sent, under Avro names."""
        return self.model_dump(exclude_unset=True)


class DeviceHeartbeatResponse(BaseModel):
    device_id: str
    shop_id: UUID
    connectivity: Literal["pos_active", "pos_offline"]
    last_heartbeat_at: datetime | None
    eligibility: ShopEligibilityResponse


# --- till events -------------------------------------------------------------------------------

class TillItemIn(_Body):
    variant_id: UUID | None = None
    barcode: Text | None = Field(default=None, max_length=64)
    qty: Int32 = Field(description="At least 1 (checked by the ingest: INVALID_ITEM)")
    unit_price: Money


class TillEventIn(_Body):
    sale_id: UUID | None = None
    device_id: DeviceId = Field(examples=["POS-1234"])
    shop_id: UUID | None = None
    receipt_number: Text = Field(min_length=1, max_length=64, examples=["R-98212"])
    items: list[TillItemIn] = Field(default_factory=list, max_length=MAX_ITEMS)
    event_time: Timestamp = Field(validation_alias=AliasChoices("event_time", "timestamp"),
                                  description="Device time (alias `timestamp`)")
    event_type: Text = Field(default="sale", max_length=32,
                             description=" | ".join(TILL_EVENT_TYPES))
    sequence_number: Int64 = Field(default=0, ge=0)
    original_receipt_number: Text | None = Field(default=None, max_length=64)
    discount_amount: Money | None = None
    cash_amount: Money | None = None
    total: Money | None = None
    signature: Token | None = Field(default=None, max_length=128)

    def record(self) -> dict[str, Any]:
        """The record as the terminal signed it: the fields it sent, under Avro names."""
        return self.model_dump(exclude_unset=True)


class TillEventBatch(_Body):
    events: list[TillEventIn] = Field(min_length=1, max_length=MAX_EVENTS_PER_REQUEST)


class TillEventResult(BaseModel):
    receipt_number: str
    status: Literal["applied", "duplicate", "rejected"]
    code: str | None = Field(description="DUPLICATE_SALE, INVALID_ITEM, ... (null if applied)")
    reason: str | None = Field(description="The dead-letter reason (UNKNOWN_VARIANT, ...)")
    message: str | None


class TillEventsResponse(BaseModel):
    applied: int
    duplicates: int
    rejected: int
    results: list[TillEventResult]
