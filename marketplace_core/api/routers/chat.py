"""Buyer–seller chat (seed 000 §3.4, §3.10, §4: REST + WebSocket; issue 13 §2).

A conversation is between a buyer and a shop (its managers) about the shop, a product or
an order. Only its two parties see it: anyone else's ids answer 404
CONVERSATION_NOT_FOUND, exactly like ids that do not exist. Live delivery (messages, read
receipts, stock and the Buy button) is the WebSocket `/chat/live` (marketplace_core.api.live).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Response

from marketplace_core.api.auth import AdminUser, CurrentUser
from marketplace_core.api.deps import Pool, limit_body
from marketplace_core.api.schemas.chat import (
    BlockState,
    ConversationOpen,
    ConversationOpened,
    ConversationOut,
    ConversationPage,
    MessageIn,
    MessageOut,
    MessagePage,
    ReadIn,
    ReportCreated,
    ReportIn,
    ReportOut,
)
from marketplace_core.api.schemas.common import ErrorResponse, error_responses
from marketplace_core.chat import service as chat
from marketplace_core.db import transaction
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.experiments.serving import SESSION_HEADER, SESSION_ID_MAX

router = APIRouter(prefix="/chat", tags=["chat"], dependencies=[Depends(limit_body)])

_RATE: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorResponse,
          "description": "CHAT_RATE_LIMITED or CHAT_REPEATED_TEXT (see Retry-After)"}}
_REFUSALS = ("403 CHAT_BLOCKED (the other party blocked you), 409 CHAT_CONVERSATION_CLOSED, "
             "422 CHAT_STOP_WORDS / CHAT_MESSAGE_TOO_LONG / CHAT_EMPTY_MESSAGE / INVALID_TEXT, "
             "404 MEDIA_NOT_FOUND (not a processed upload of yours), 429 CHAT_RATE_LIMITED / "
             "CHAT_REPEATED_TEXT; a resend with the same `client_ref` returns the stored "
             "message (409 CHAT_CLIENT_REF_REUSED if its text differs).")

Cursor = Annotated[str | None, Query(max_length=500)]
SessionId = Annotated[str | None, Header(
    alias=SESSION_HEADER, max_length=SESSION_ID_MAX, pattern=r"^[\x21-\x7e]+$",
    description="The app's session id (the one its behavioural events carry): the "
                "chat_started event of a new conversation carries it")]


def _encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode(cursor: str) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != 2:
            raise ValueError
        return values
    except Exception as exc:
        raise ValidationError(ErrorCode.INVALID_CURSOR, "the cursor is malformed") from exc


@router.get("/conversations", response_model=ConversationPage,
            summary="My conversations (as a buyer, and those of the shops I manage)",
            description="Most recently active first, with the unread count of your side and "
                        "the newest message. `shop_id` narrows to one shop you manage.",
            responses=error_responses(401, 422))
def list_conversations(
    user: CurrentUser, pool: Pool, cursor: Cursor = None,
    status: Literal["open", "closed"] | None = None, shop_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ConversationPage:
    before = None
    if cursor:
        at, cid = _decode(cursor)
        try:
            before = (datetime.fromisoformat(str(at)), UUID(str(cid)))
        except ValueError as exc:
            raise ValidationError(ErrorCode.INVALID_CURSOR, "the cursor is malformed") from exc
    with transaction(pool) as conn:
        views, more = chat.list_conversations(conn, user, status=status, shop_id=shop_id,
                                              before=before, limit=limit)
    items = [ConversationOut.of(v.conversation, v.side, v.last_body, v.last_sender_side)
             for v in views]
    nxt = None
    if more and views:
        last = views[-1].conversation
        nxt = _encode([(last.last_message_at or last.created_at).isoformat(), str(last.id)])
    return ConversationPage(items=items, next_cursor=nxt)


@router.post(
    "/conversations", status_code=201, response_model=ConversationOpened,
    summary="Open a conversation with a shop (about a product or an order), or get mine",
    description="201 with the new conversation, or 200 with your open conversation about the "
                "same subject; `text`/`media_ids` send a first message. A shop's manager "
                "opens one only about an order of the shop (else 422 CHAT_OWN_SHOP). 404 "
                "SHOP_NOT_FOUND / PRODUCT_NOT_FOUND / ORDER_NOT_FOUND, 422 "
                "PRODUCT_NOT_IN_SHOP, 403 CHAT_BLOCKED, 429 CHAT_RATE_LIMITED (too many new "
                "conversations); the first message as for sending.",
    responses={**error_responses(401, 403, 404, 409, 422), **_RATE,
               200: {"model": ConversationOpened, "description": "Already open"}},
)
def open_conversation(body: ConversationOpen, user: CurrentUser, pool: Pool,
                      response: Response, session_id: SessionId = None) -> ConversationOpened:
    with transaction(pool) as conn:
        part = chat.participant(conn, user)
        conv, created = chat.open_conversation(
            conn, part, body.shop_id, product_id=body.product_id, order_id=body.order_id,
            surface=body.surface, session_id=session_id)
        msg = None
        if body.text or body.media_ids:
            msg = chat.send_message(conn, part, conv.id, body.text, media_ids=body.media_ids,
                                    client_ref=body.client_ref)
            conv, _ = chat.get_conversation(conn, part, conv.id)
        side = part.side_in(conv)
    if not created:
        response.status_code = 200
    return ConversationOpened(conversation=ConversationOut.of(conv, side or "buyer"),
                              created=created, message=MessageOut.of(msg) if msg else None)


@router.get("/conversations/{conversation_id}", response_model=ConversationOut,
            summary="One of my conversations", responses=error_responses(401, 404, 422))
def get_conversation(conversation_id: UUID, user: CurrentUser, pool: Pool) -> ConversationOut:
    with transaction(pool) as conn:
        conv, side = chat.get_conversation(conn, user, conversation_id)
    return ConversationOut.of(conv, side)


@router.get(
    "/conversations/{conversation_id}/messages", response_model=MessagePage,
    summary="Messages of a conversation, a page at a time (cursor)",
    description="Without a cursor: the newest page; `next_cursor` then pages to older "
                "messages. With `after_seq`: the messages after it, oldest first, and "
                "`next_cursor` pages on to newer ones (catching up).",
    responses=error_responses(401, 404, 422))
def list_messages(
    conversation_id: UUID, user: CurrentUser, pool: Pool, cursor: Cursor = None,
    after_seq: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> MessagePage:
    direction, before, after = "older", None, after_seq
    if cursor:
        direction, seq = _decode(cursor)
        if direction not in ("older", "newer") or type(seq) is not int or not 0 <= seq < 2**62:
            raise ValidationError(ErrorCode.INVALID_CURSOR, "the cursor is malformed")
        before, after = (seq, None) if direction == "older" else (None, seq)
    elif after_seq is not None:
        direction = "newer"
    with transaction(pool) as conn:
        part = chat.participant(conn, user)
        conv, items, more = chat.list_messages(conn, part, conversation_id,
                                               before_seq=before, after_seq=after, limit=limit)
        side = part.side_in(conv)
    nxt = None
    if more and items:
        nxt = _encode(["older", items[0].seq] if direction == "older"
                      else ["newer", items[-1].seq])
    return MessagePage(conversation=ConversationOut.of(conv, side or "buyer"),
                       items=[MessageOut.of(m) for m in items], next_cursor=nxt)


@router.post("/conversations/{conversation_id}/messages", status_code=201,
             response_model=MessageOut, summary="Send a message",
             description=_REFUSALS,
             responses={**error_responses(401, 403, 404, 409, 422), **_RATE})
def send_message(conversation_id: UUID, body: MessageIn, user: CurrentUser,
                 pool: Pool) -> MessageOut:
    with transaction(pool) as conn:
        msg = chat.send_message(conn, user, conversation_id, body.text,
                                media_ids=body.media_ids, client_ref=body.client_ref)
    return MessageOut.of(msg)


@router.post("/conversations/{conversation_id}/read", response_model=ConversationOut,
             summary="Mark messages read (a read receipt the other side sees)",
             responses=error_responses(401, 404, 422))
def mark_read(conversation_id: UUID, body: ReadIn, user: CurrentUser,
              pool: Pool) -> ConversationOut:
    with transaction(pool) as conn:
        part = chat.participant(conn, user)
        conv = chat.mark_read(conn, part, conversation_id, body.seq)
        side = part.side_in(conv)
    return ConversationOut.of(conv, side or "buyer")


@router.post("/conversations/{conversation_id}/close", response_model=ConversationOut,
             summary="Close a conversation (either party)",
             responses=error_responses(401, 404, 422))
def close(conversation_id: UUID, user: CurrentUser, pool: Pool) -> ConversationOut:
    with transaction(pool) as conn:
        part = chat.participant(conn, user)
        conv = chat.close_conversation(conn, part, conversation_id)
        side = part.side_in(conv)
    return ConversationOut.of(conv, side or "buyer")


def _block(conversation_id: UUID, user: Any, pool: Any, blocked: bool) -> BlockState:
    with transaction(pool) as conn:
        changed = chat.set_block(conn, user, conversation_id, blocked)
    return BlockState(conversation_id=conversation_id, blocked=blocked, changed=changed)


@router.post("/conversations/{conversation_id}/block", response_model=BlockState,
             summary="Block the other party (a buyer blocks the shop; a manager the buyer)",
             description="The blocked party can no longer write to you nor open a "
                         "conversation with you (403 CHAT_BLOCKED).",
             responses=error_responses(401, 404, 422))
def block(conversation_id: UUID, user: CurrentUser, pool: Pool) -> BlockState:
    return _block(conversation_id, user, pool, True)


@router.delete("/conversations/{conversation_id}/block", response_model=BlockState,
               summary="Unblock the other party", responses=error_responses(401, 404, 422))
def unblock(conversation_id: UUID, user: CurrentUser, pool: Pool) -> BlockState:
    return _block(conversation_id, user, pool, False)


@router.post("/conversations/{conversation_id}/reports", status_code=201,
             response_model=ReportCreated,
             summary="Report the conversation or one of its messages to the moderators",
             description="A repeat of your open report returns it. 404 "
                         "CHAT_MESSAGE_NOT_FOUND for a sequence number it does not have.",
             responses=error_responses(401, 404, 422))
def report(conversation_id: UUID, body: ReportIn, user: CurrentUser,
           pool: Pool) -> ReportCreated:
    with transaction(pool) as conn:
        report_id = chat.report(conn, user, conversation_id, body.reason,
                                message_seq=body.message_seq)
    return ReportCreated(report_id=report_id)


@router.get("/reports", response_model=list[ReportOut],
            summary="The moderators' queue of chat reports (admin)",
            responses=error_responses(401, 403, 422))
def list_reports(user: AdminUser, pool: Pool,
                 status: Literal["open", "resolved"] = "open",
                 limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[ReportOut]:
    with transaction(pool) as conn:
        return [ReportOut.of(r) for r in chat.list_reports(conn, status=status, limit=limit)]


@router.post("/reports/{report_id}/resolve", response_model=ReportOut,
             summary="Resolve a chat report (admin)",
             responses=error_responses(401, 403, 404, 409, 422))
def resolve_report(report_id: UUID, user: AdminUser, pool: Pool) -> ReportOut:
    with transaction(pool) as conn:
        return ReportOut.of(chat.resolve_report(conn, user, report_id))
