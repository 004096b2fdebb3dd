"""Request and response bodies of `POST /events` and the privacy endpoints.

`EventIn`/`EventBatch` only document the request (the handler reads the raw body itself:
one bad event must not sink its batch, and pydantic per event would be the hot path's
largest cost); the rules are `marketplace_core.behaviour.rules`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from platform_common.validated import Int32, Text

# chat_started is not here: the core records it when a conversation opens (an app's copy
# is refused with SERVER_RECORDED_EVENT).
EventType = Literal["view", "click", "add_to_cart", "route_built", "call_click", "search",
                    "post_impression", "share", "save"]
Surface = Literal["map", "feed", "following", "explore", "search", "profile", "ad", "other"]


class EventIn(BaseModel):
    """One behavioural event as the apps send it."""

    event_id: Text = Field(description="The client's UUID for this event (dedup key)",
                          examples=["2c7f4f0e-8a1b-4c55-9d2e-0f1a2b3c4d5e"])
    event_type: EventType
    occurred_at: Text | int = Field(
        description="Client time: ISO-8601 with offset, or epoch ms; at most 5 min ahead "
                    "of and 7 days behind the server (EVENT_TIME_OUT_OF_RANGE)",
        examples=["2026-12-01T18:30:00+06:00"])
    session_id: Text = Field(max_length=64)
    surface: Surface
    target_type: Literal["shop", "product", "post", "ad"] | None = Field(
        default=None, description="Required except for search; allowed per event type: "
        "view/click any; add_to_cart product; route_built, call_click shop; "
        "post_impression post or ad; share, save shop, product or post")
    target_id: Text | None = Field(default=None, description="UUID of the target")
    anonymous_id: Text | None = Field(default=None, max_length=64,
                                     description="The install's random id; required for guests")
    position: Int32 | None = Field(default=None, ge=0, le=1_000_000)
    search_query: Text | None = Field(default=None, max_length=200,
                                     description="Required for search events")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    platform: Literal["ios", "android", "web"] | None = None
    app_version: Text | None = Field(default=None, max_length=32)
    utm_source: Text | None = Field(default=None, max_length=200)
    utm_medium: Text | None = Field(default=None, max_length=200)
    utm_campaign: Text | None = Field(default=None, max_length=200)
    referrer: Text | None = Field(default=None, max_length=2048)


def event_batch_schema(max_events: int) -> dict[str, Any]:
    """The request body's JSON schema (inline: EventIn has no nested models)."""
    return {"type": "object", "required": ["events"], "title": "EventBatch",
            "properties": {"events": {"type": "array", "maxItems": max_events,
                                      "items": EventIn.model_json_schema()}}}


class EventResult(BaseModel):
    index: int = Field(description="Position of the event in the batch")
    event_id: str | None = Field(description="The client's event_id, if readable")
    status: Literal["accepted", "duplicate", "rejected", "dropped"]
    code: str | None = Field(default=None, description="Why, for rejected (INVALID_EVENT, "
                             "UNKNOWN_EVENT_TYPE, INVALID_TARGET, EVENT_TIME_OUT_OF_RANGE) "
                             "and dropped (OPTED_OUT)")
    detail: str | None = None


class EventsResponse(BaseModel):
    accepted: int
    duplicate: int
    rejected: int
    dropped: int
    results: list[EventResult]


class PrivacyRequest(BaseModel):
    analytics_opt_out: bool


class PrivacyResponse(BaseModel):
    analytics_opt_out: bool


class ErasureResponse(BaseModel):
    erased: bool = Field(description="False if there was no behavioural trail to erase")
    erased_at: datetime | None = None
