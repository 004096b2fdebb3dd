"""Request and response models of the chat API (/chat/*)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from marketplace_core.api.schemas.common import RecordOut
from marketplace_core.chat import service as chat
from platform_common.validated import Int64, Text

Surface = Literal["map", "feed", "following", "explore", "search", "profile", "ad", "other"]
# A client's own id for a message (idempotent resend): printable ASCII, no spaces.
ClientRef = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$",
                  description="Your own id for this message: sending it again (after a lost "
                              "answer) returns the stored message instead of a copy")
# The domain refuses more than 2,000 characters with its own code (CHAT_MESSAGE_TOO_LONG).
MessageText = Field(default=None, max_length=10_000,
                    description="≤ 2,000 characters (422 CHAT_MESSAGE_TOO_LONG)")


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConversationOpen(_Request):
    shop_id: UUID
    product_id: UUID | None = Field(default=None, description="About this product of the shop")
    order_id: UUID | None = Field(default=None, description="About this order at the shop")
    surface: Surface = Field(default="other", description="Where in the app it was opened")
    text: Text | None = MessageText
    media_ids: list[UUID] = Field(default_factory=list, max_length=10,
                                  description="Processed uploads (POST /media/uploads)")
    client_ref: str | None = ClientRef


class MessageIn(_Request):
    text: Text | None = MessageText
    media_ids: list[UUID] = Field(default_factory=list, max_length=10,
                                  description="Processed uploads (POST /media/uploads)")
    client_ref: str | None = ClientRef


class ReadIn(_Request):
    seq: Int64 | None = Field(default=None, ge=0,
                              description="Read up to this message (default: all)")


class ReportIn(_Request):
    reason: Text = Field(min_length=1, max_length=500)
    message_seq: Int64 | None = Field(default=None, ge=1,
                                      description="The reported message (default: the "
                                                  "whole conversation)")


class AttachmentOut(RecordOut, record=chat.Attachment):
    pass


class MessageOut(BaseModel):
    conversation_id: UUID
    seq: int
    id: UUID
    sender_side: Literal["buyer", "shop"]
    sender_id: UUID
    kind: str
    body: str
    client_ref: str | None
    created_at: datetime
    attachments: list[AttachmentOut]

    @classmethod
    def of(cls, m: chat.Message) -> MessageOut:
        return cls(conversation_id=m.conversation_id, seq=m.seq, id=m.id,
                   sender_side=m.sender_side,  # type: ignore[arg-type]
                   sender_id=m.sender_id, kind=m.kind, body=m.body, client_ref=m.client_ref,
                   created_at=m.created_at,
                   attachments=[AttachmentOut.model_validate(a) for a in m.attachments])


class ConversationOut(BaseModel):
    id: UUID
    buyer_id: UUID
    shop_id: UUID
    subject_type: Literal["shop", "product", "order"]
    subject_id: UUID
    status: Literal["open", "closed"]
    my_side: Literal["buyer", "shop"]
    last_seq: int
    buyer_read_seq: int = Field(description="Read receipt: the buyer has read up to here")
    shop_read_seq: int = Field(description="Read receipt: the shop has read up to here")
    unread: int = Field(description="Messages of the other side you have not read")
    created_at: datetime
    last_message_at: datetime | None
    last_message: str | None = None
    last_sender_side: str | None = None

    @classmethod
    def of(cls, c: chat.Conversation, side: str, last_body: str | None = None,
           last_sender_side: str | None = None) -> ConversationOut:
        read = c.buyer_read_seq if side == "buyer" else c.shop_read_seq
        return cls(id=c.id, buyer_id=c.buyer_id, shop_id=c.shop_id,
                   subject_type=c.subject_type,  # type: ignore[arg-type]
                   subject_id=c.subject_id, status=c.status,  # type: ignore[arg-type]
                   my_side=side,  # type: ignore[arg-type]
                   last_seq=c.last_seq, buyer_read_seq=c.buyer_read_seq,
                   shop_read_seq=c.shop_read_seq, unread=c.last_seq - read,
                   created_at=c.created_at, last_message_at=c.last_message_at,
                   last_message=last_body, last_sender_side=last_sender_side)


class ConversationOpened(BaseModel):
    conversation: ConversationOut
    created: bool = Field(description="false: your open conversation about this subject")
    message: MessageOut | None = None


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    next_cursor: str | None


class MessagePage(BaseModel):
    conversation: ConversationOut
    items: list[MessageOut] = Field(description="In sequence order (oldest first)")
    next_cursor: str | None = Field(description="The next page in the same direction: older "
                                                "messages, or newer ones after `after_seq`")


class BlockState(BaseModel):
    conversation_id: UUID
    blocked: bool
    changed: bool


class ReportCreated(BaseModel):
    report_id: UUID


class ReportOut(RecordOut, record=chat.Report):
    reporter_id: UUID | None = Field(description="null: the automatic stop-word filter")

    @classmethod
    def of(cls, r: chat.Report) -> ReportOut:
        return cls.model_validate(r)
