"""Conversations and messages between a buyer and a shop (seed 000 §3.4, §4).

Who may see what (the one check, `_load`): a conversation belongs to its buyer and to the
managers of its shop (sellers of the shop's merchant). Anyone else — another buyer,
another shop's seller, an admin — gets 404 CONVERSATION_NOT_FOUND, exactly as for an id
that does not exist: a conversation's existence never leaks.

Ordering: a message takes `last_seq + 1` of its conversation under the conversation's row
lock, so numbers are gap-free and follow the commit order; readers page by that number.
Sending also marks everything before it read for the sender's side (read receipts are
per side: the buyer, and the shop whichever manager reads).

In the sending transaction, besides the rows: a `notify.chat` event for the other side
(through the outbox; the worker renders `chat_new_message`) and a Postgres NOTIFY for the
live channel (delivered to every API process at commit, never for a rolled-back message).
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from psycopg.rows import class_row

from marketplace_core import audit, ratelimit
from marketplace_core.accounts import ownership
from marketplace_core.audit.log import Actor
from marketplace_core.catalog import service as catalog
from marketplace_core.chat import live, notifications
from marketplace_core.chat.policy import ChatPolicy, policy, text_hash
from marketplace_core.db import Connection
from marketplace_core.errors import (
    ConflictError,
    ErrorCode,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ValidationError,
)

Side = Literal["buyer", "shop"]
SubjectType = Literal["shop", "product", "order"]
SURFACES = ("map", "feed", "following", "explore", "search", "profile", "ad", "other")
MAX_TEXT = 2000
MAX_ATTACHMENTS = 10
# Texts shorter than this are not counted as repeats ("да", "спасибо", "ок").
REPEAT_MIN_LENGTH = 12
PAGE_MAX = 100


@dataclass(frozen=True)
class Conversation:
    id: UUID
    buyer_id: UUID
    shop_id: UUID
    subject_type: str
    subject_id: UUID
    status: str
    last_seq: int
    buyer_read_seq: int
    shop_read_seq: int
    buyer_read_at: datetime | None
    shop_read_at: datetime | None
    surface: str
    created_at: datetime
    last_message_at: datetime | None
    closed_at: datetime | None


_CONV_COLS = ("id, buyer_id, shop_id, subject_type, subject_id, status, last_seq,"
              " buyer_read_seq, shop_read_seq, buyer_read_at, shop_read_at, surface,"
              " created_at, last_message_at, closed_at")


@dataclass(frozen=True)
class Attachment:
    media_id: UUID
    kind: str
    object_key: str
    thumb_key: str | None
    width: int | None
    height: int | None
    duration_s: Decimal | None


@dataclass
class Message:
    conversation_id: UUID
    seq: int
    id: UUID
    sender_side: str
    sender_id: UUID
    kind: str
    body: str
    client_ref: str | None
    flagged: bool
    created_at: datetime
    attachments: list[Attachment] = field(default_factory=list)


_MSG_COLS = ("conversation_id, seq, id, sender_side, sender_id, kind, body, client_ref,"
             " flagged, created_at")


@dataclass(frozen=True)
class Participant:
    """The caller as the chat sees them: their account and the shops they manage."""

    user: Actor
    shop_ids: tuple[UUID, ...]

    @property
    def id(self) -> UUID:
        return self.user.id

    def side_in(self, conv: Conversation) -> Side | None:
        if conv.buyer_id == self.user.id:
            return "buyer"
        if conv.shop_id in self.shop_ids:
            return "shop"
        return None


@dataclass(frozen=True)
class ConversationView:
    """A conversation in the caller's list: their side, unread count, newest message."""

    conversation: Conversation
    side: Side
    unread: int
    last_body: str | None
    last_sender_side: str | None


@dataclass(frozen=True)
class Report:
    id: UUID
    conversation_id: UUID
    message_seq: int | None
    reporter_id: UUID | None
    reason: str
    status: str
    created_at: datetime
    resolved_at: datetime | None
    message_body: str | None = None


# --- who the caller is -----------------------------------------------------------------------


def participant(conn: Connection, user: Actor) -> Participant:
    """The caller and the shops they manage (sellers: every shop of their merchants).
    Admins and analysts manage no shop here: they are not parties of conversations."""
    shops: list[UUID] = []
    if user.role == "seller":
        for merchant_id in ownership.merchant_ids_of(conn, user.id):
            shops.extend(s.id for s in catalog.list_shops(conn, merchant_id=merchant_id))
    return Participant(user, tuple(shops))


def _as_participant(conn: Connection, who: Actor | Participant) -> Participant:
    return who if isinstance(who, Participant) else participant(conn, who)


def _not_found(conversation_id: UUID) -> NotFoundError:
    return NotFoundError(ErrorCode.CONVERSATION_NOT_FOUND,
                         f"conversation {conversation_id} does not exist")


def _load(conn: Connection, part: Participant, conversation_id: UUID, *,
          lock: bool = False) -> tuple[Conversation, Side]:
    with conn.cursor(row_factory=class_row(Conversation)) as cur:
        conv = cur.execute(
            f"select {_CONV_COLS} from chat_conversations where id = %s"
            " and (buyer_id = %s or shop_id = any(%s))".encode()
            + (b" for update" if lock else b""),
            (conversation_id, part.id, list(part.shop_ids))).fetchone()
    side = part.side_in(conv) if conv else None
    if conv is None or side is None:
        raise _not_found(conversation_id)
    return conv, side


def get_conversation(conn: Connection, who: Actor | Participant,
                     conversation_id: UUID) -> tuple[Conversation, Side]:
    """The conversation and the caller's side in it; 404 unless the caller is a party."""
    return _load(conn, _as_participant(conn, who), conversation_id)


# --- opening ---------------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _take(conn: Connection, scope: str, user_id: UUID, rate: float, burst: int,
          what: str) -> None:
    wait = ratelimit.take(conn, scope, ratelimit.key_digest(scope, str(user_id)),
                          rate=rate, burst=burst)
    if wait > 0:
        raise RateLimitedError(ErrorCode.CHAT_RATE_LIMITED, f"too many {what}; retry later",
                               retry_after=math.ceil(wait))


def _blocked(conn: Connection, shop_id: UUID, buyer_id: UUID, by: Side) -> bool:
    return conn.execute(
        "select 1 from chat_blocks where shop_id = %s and user_id = %s and blocked_by = %s",
        (shop_id, buyer_id, by)).fetchone() is not None


def open_conversation(
    conn: Connection, who: Actor | Participant, shop_id: UUID, *,
    product_id: UUID | None = None, order_id: UUID | None = None,
    surface: str = "other", session_id: str | None = None, now: datetime | None = None,
    chat_policy: ChatPolicy | None = None,
) -> tuple[Conversation, bool]:
    """The caller's open conversation with `shop_id` about the shop, a product of it or an
    order there, created if there is none; returns it and whether it was created.

    A buyer (any account that does not manage the shop) opens about the shop, a product
    (404 PRODUCT_NOT_FOUND; 422 PRODUCT_NOT_IN_SHOP) or one of their orders there (404
    ORDER_NOT_FOUND for anyone else's). A manager of the shop may open one only about an
    order of the shop, with that order's buyer; anything else with their own shop is 422
    CHAT_OWN_SHOP. 403 CHAT_BLOCKED when the other party blocked the caller; 429
    CHAT_RATE_LIMITED for too many new conversations."""
    part = _as_participant(conn, who)
    pol = chat_policy or policy()
    at = _now(now)
    if product_id is not None and order_id is not None:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT,
                              "a conversation is about a product or an order, not both")
    if surface not in SURFACES:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT,
                              f"surface is one of {', '.join(SURFACES)}")
    if catalog.get_shop(conn, shop_id) is None:
        raise NotFoundError(ErrorCode.SHOP_NOT_FOUND, f"shop {shop_id} does not exist")
    manages = shop_id in part.shop_ids
    subject_type: SubjectType = "shop"
    subject_id = shop_id
    buyer_id = part.id
    if order_id is not None:
        from marketplace_core.orders import service as orders

        order = orders.find_order(conn, order_id)
        if order is None or order.shop_id != shop_id or (
                not manages and order.buyer_id != part.id):
            raise NotFoundError(ErrorCode.ORDER_NOT_FOUND, f"order {order_id} does not exist")
        subject_type, subject_id, buyer_id = "order", order_id, order.buyer_id
    elif manages:
        raise ValidationError(ErrorCode.CHAT_OWN_SHOP,
                              "you manage this shop: open a conversation about one of its "
                              "orders to write to its buyer")
    elif product_id is not None:
        product = catalog.get_product(conn, product_id)
        if product is None or product.is_deleted:
            raise NotFoundError(ErrorCode.PRODUCT_NOT_FOUND,
                                f"product {product_id} does not exist")
        if product.shop_id != shop_id:
            raise ValidationError(ErrorCode.PRODUCT_NOT_IN_SHOP,
                                  f"product {product_id} is not sold by shop {shop_id}")
        subject_type, subject_id = "product", product_id
    if buyer_id == part.id and manages:
        raise ValidationError(ErrorCode.CHAT_OWN_SHOP, "this is your own shop's order")
    side: Side = "shop" if manages else "buyer"
    if _blocked(conn, shop_id, buyer_id, "buyer" if side == "shop" else "shop"):
        raise ForbiddenError(ErrorCode.CHAT_BLOCKED, "the other party blocked this chat")
    key = (buyer_id, shop_id, subject_type, subject_id)
    existing = _find_open(conn, *key)
    if existing is not None:
        return existing, False
    _take(conn, "chat_open", part.id, pol.conversations_per_second, pol.conversation_burst,
          "new conversations")
    with conn.cursor(row_factory=class_row(Conversation)) as cur:
        created = cur.execute(
            "insert into chat_conversations (buyer_id, shop_id, subject_type, subject_id,"
            " surface, session_id, created_at) values (%s, %s, %s, %s, %s, %s, %s)"
            " on conflict (buyer_id, shop_id, subject_type, subject_id) where status = 'open'"
            f" do nothing returning {_CONV_COLS}".encode(),
            (*key, surface, session_id, at)).fetchone()
    if created is None:  # opened concurrently
        found = _find_open(conn, *key)
        assert found is not None
        return found, False
    return created, True


def _find_open(conn: Connection, buyer_id: UUID, shop_id: UUID, subject_type: str,
               subject_id: UUID) -> Conversation | None:
    with conn.cursor(row_factory=class_row(Conversation)) as cur:
        return cur.execute(
            f"select {_CONV_COLS} from chat_conversations where buyer_id = %s and shop_id = %s"
            " and subject_type = %s and subject_id = %s and status = 'open'".encode(),
            (buyer_id, shop_id, subject_type, subject_id)).fetchone()


def open_for_availability_request(
    conn: Connection, buyer_id: UUID, shop_id: UUID, product_id: UUID | None, text: str,
    request_id: UUID, at: datetime,
) -> tuple[Conversation, Message]:
    """The availability request (§3.4, «Запросить наличие»): the buyer's conversation with
    the shop about the product (or the shop) and the request's automatic message in it.
    Called by marketplace_core.orders.availability in its transaction, after its checks."""
    from marketplace_core.accounts import service as accounts
    from marketplace_core.accounts.principal import AuthenticatedUser

    account = accounts.get_user(conn, buyer_id)
    part = participant(conn, AuthenticatedUser(
        buyer_id, account.role if account else "buyer"))  # type: ignore[arg-type]
    conv, _ = open_conversation(conn, part, shop_id, product_id=product_id, now=at)
    msg = send_message(conn, part, conv.id, text, kind="availability_request",
                       client_ref=f"availability:{request_id}", now=at)
    return conv, msg


# --- messages --------------------------------------------------------------------------------


def clean_text(value: str | None) -> str:
    """NFC, CRLF → LF, trimmed; control characters other than newline and tab refused (422
    INVALID_TEXT), longer than 2,000 characters 422 CHAT_MESSAGE_TOO_LONG."""
    text = unicodedata.normalize("NFC", (value or "").replace("\r\n", "\n")).strip()
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cs" or (category == "Cc" and ch not in "\n\t"):
            raise ValidationError(ErrorCode.INVALID_TEXT,
                                  f"the message contains a control character U+{ord(ch):04X}")
    if len(text) > MAX_TEXT:
        raise ValidationError(ErrorCode.CHAT_MESSAGE_TOO_LONG,
                              f"the message has {len(text)} characters; at most {MAX_TEXT}")
    return text


def send_message(
    conn: Connection, who: Actor | Participant, conversation_id: UUID, text: str | None, *,
    media_ids: list[UUID] | None = None, client_ref: str | None = None,
    kind: str = "text", now: datetime | None = None, chat_policy: ChatPolicy | None = None,
) -> Message:
    """Append a message from the caller's side. Checks, in order: a party (404
    CONVERSATION_NOT_FOUND); a resend of `client_ref` returns the stored message (409
    CHAT_CLIENT_REF_REUSED if its text differs); open (409 CHAT_CONVERSATION_CLOSED); not
    blocked by the other party (403 CHAT_BLOCKED); text (422 INVALID_TEXT,
    CHAT_MESSAGE_TOO_LONG, CHAT_EMPTY_MESSAGE); stop words (422 CHAT_STOP_WORDS, or
    delivered flagged with a report for the moderators); attachments (404 MEDIA_NOT_FOUND);
    the sender's rate (429 CHAT_RATE_LIMITED) and repeats of one text (429
    CHAT_REPEATED_TEXT)."""
    part = _as_participant(conn, who)
    pol = chat_policy or policy()
    at = _now(now)
    conv, side = _load(conn, part, conversation_id, lock=True)
    body = clean_text(text)
    media = list(media_ids or [])
    if client_ref is not None:
        again = _by_client_ref(conn, conv.id, part.id, client_ref)
        if again is not None:
            if again.body != body:
                raise ConflictError(ErrorCode.CHAT_CLIENT_REF_REUSED,
                                    "client_ref names another message of yours")
            return again
    if conv.status != "open":
        raise ConflictError(ErrorCode.CHAT_CONVERSATION_CLOSED, "the conversation is closed")
    if _blocked(conn, conv.shop_id, conv.buyer_id, "shop" if side == "buyer" else "buyer"):
        raise ForbiddenError(ErrorCode.CHAT_BLOCKED, "the other party blocked this chat")
    if not body and not media:
        raise ValidationError(ErrorCode.CHAT_EMPTY_MESSAGE, "a message needs text or media")
    if len(media) > MAX_ATTACHMENTS or len(set(media)) != len(media):
        raise ValidationError(ErrorCode.INVALID_ARGUMENT,
                              f"at most {MAX_ATTACHMENTS} different media per message")
    verdict, hits = pol.screen(body) if body else ("ok", [])
    if verdict == "reject":
        raise ValidationError(ErrorCode.CHAT_STOP_WORDS,
                              "the message contains words the platform does not allow")
    attachments = _attachments_of(conn, part.user, media)
    _take(conn, "chat_message", part.id, pol.messages_per_second, pol.message_burst,
          "messages")
    digest = None
    if kind == "text" and len(" ".join(body.split())) >= REPEAT_MIN_LENGTH:
        digest = text_hash(body)
        _check_repeats(conn, part.id, digest, pol, at)
    previous = conn.execute(
        "select sender_side from chat_messages where conversation_id = %s and seq = %s",
        (conv.id, conv.last_seq)).fetchone() if conv.last_seq else None
    seq = conv.last_seq + 1
    conn.execute(
        f"update chat_conversations set last_seq = %s, last_message_at = %s,"
        f" {side}_read_seq = %s, {side}_read_at = %s where id = %s".encode(),
        (seq, at, seq, at, conv.id))
    with conn.cursor(row_factory=class_row(Message)) as cur:
        msg = cur.execute(
            "insert into chat_messages (conversation_id, seq, sender_side, sender_id, kind,"
            " body, body_hash, client_ref, flagged, created_at)"
            f" values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning {_MSG_COLS}".encode(),
            (conv.id, seq, side, part.id, kind, body, digest, client_ref, verdict == "flag",
             at)).fetchone()
    assert msg is not None
    if attachments:
        with conn.cursor() as cur:
            cur.executemany(
                "insert into chat_attachments (message_id, sort, media_id, kind, object_key,"
                " thumb_key, width, height, duration_s) values (%s, %s, %s, %s, %s, %s, %s,"
                " %s, %s)",
                [(msg.id, i, a.media_id, a.kind, a.object_key, a.thumb_key, a.width, a.height,
                  a.duration_s) for i, a in enumerate(attachments)])
        msg.attachments = attachments
    if verdict == "flag":
        _auto_report(conn, conv.id, seq, hits)
    notifications.message_sent(conn, conv, msg, previous[0] if previous else None)
    live.publish_message(conn, conv.buyer_id, conv.shop_id, msg)
    return msg


def _by_client_ref(conn: Connection, conversation_id: UUID, sender_id: UUID,
                   client_ref: str) -> Message | None:
    with conn.cursor(row_factory=class_row(Message)) as cur:
        found = cur.execute(
            f"select {_MSG_COLS} from chat_messages where conversation_id = %s"
            " and sender_id = %s and client_ref = %s".encode(),
            (conversation_id, sender_id, client_ref)).fetchone()
    if found is not None:
        _with_attachments(conn, [found])
    return found


def _attachments_of(conn: Connection, user: Actor, media_ids: list[UUID]) -> list[Attachment]:
    if not media_ids:
        return []
    from marketplace_core.social import media

    return [Attachment(m.media_id, m.kind, m.object_key, m.thumb_key, m.width, m.height,
                       m.duration_s) for m in media.ready_uploads(conn, user, media_ids)]


def _check_repeats(conn: Connection, sender_id: UUID, digest: str, pol: ChatPolicy,
                   at: datetime) -> None:
    row = conn.execute(
        "select count(*), min(created_at) from chat_messages where sender_id = %s"
        " and body_hash = %s and created_at > %s",
        (sender_id, digest, at - pol.repeat_window)).fetchone()
    assert row is not None
    if row[0] >= pol.repeat_max:
        wait = (row[1] + pol.repeat_window - at).total_seconds()
        raise RateLimitedError(ErrorCode.CHAT_REPEATED_TEXT,
                               f"the same text was sent {row[0]} times recently",
                               retry_after=max(1, math.ceil(wait)))


def _auto_report(conn: Connection, conversation_id: UUID, seq: int, hits: list[str]) -> None:
    conn.execute(
        "insert into chat_reports (conversation_id, message_seq, reporter_id, reason)"
        " values (%s, %s, null, %s)",
        (conversation_id, seq, ("stop words: " + ", ".join(hits))[:500]))
    audit.record(conn, None, "chat_message.auto_flag", "chat_conversation", conversation_id,
                 {"seq": seq, "terms": hits})


def _with_attachments(conn: Connection, messages: list[Message]) -> list[Message]:
    if not messages:
        return messages
    by_id = {m.id: m for m in messages}
    rows = conn.execute(
        "select message_id, media_id, kind, object_key, thumb_key, width, height, duration_s"
        " from chat_attachments where message_id = any(%s) order by message_id, sort",
        (list(by_id),)).fetchall()
    for r in rows:
        by_id[r[0]].attachments.append(Attachment(*r[1:]))
    return messages


def _messages(conn: Connection, where: str, params: tuple[Any, ...]) -> list[Message]:
    with conn.cursor(row_factory=class_row(Message)) as cur:
        found = cur.execute(f"select {_MSG_COLS} from chat_messages {where}".encode(),
                            params).fetchall()
    return _with_attachments(conn, found)


def list_messages(
    conn: Connection, who: Actor | Participant, conversation_id: UUID, *,
    before_seq: int | None = None, after_seq: int | None = None, limit: int = 50,
) -> tuple[Conversation, list[Message], bool]:
    """A page of messages in sequence order and whether more lie beyond it: after
    `after_seq` (oldest first, for catching up), else before `before_seq` (default: the
    newest page)."""
    conv, _ = _load(conn, _as_participant(conn, who), conversation_id)
    limit = max(1, min(limit, PAGE_MAX))
    if after_seq is not None:
        found = _messages(conn, "where conversation_id = %s and seq > %s order by seq limit %s",
                          (conv.id, after_seq, limit + 1))
        return conv, found[:limit], len(found) > limit
    top = conv.last_seq + 1 if before_seq is None else before_seq
    found = _messages(conn, "where conversation_id = %s and seq < %s order by seq desc limit %s",
                      (conv.id, top, limit + 1))
    more = len(found) > limit
    return conv, list(reversed(found[:limit])), more


def messages_after(conn: Connection, conversation_id: UUID, after_seq: int, *,
                   through_seq: int | None = None, limit: int = 200) -> list[Message]:
    """Messages of a conversation after `after_seq` (and up to `through_seq`), oldest first.
    No access check: the live channel calls it for conversations it already checked."""
    return _messages(
        conn, "where conversation_id = %s and seq > %s and (%s::bigint is null or seq <= %s)"
        " order by seq limit %s",
        (conversation_id, after_seq, through_seq, through_seq, limit))


def list_conversations(
    conn: Connection, who: Actor | Participant, *, status: str | None = None,
    shop_id: UUID | None = None, before: tuple[datetime, UUID] | None = None, limit: int = 20,
) -> tuple[list[ConversationView], bool]:
    """The caller's conversations (as a buyer, and those of the shops they manage), most
    recently active first; `before` = the (activity time, id) of the previous page's last."""
    part = _as_participant(conn, who)
    limit = max(1, min(limit, PAGE_MAX))
    shops = list(part.shop_ids) if shop_id is None else (
        [shop_id] if shop_id in part.shop_ids else [])
    rows = conn.execute(
        f"""select {', '.join('c.' + c.strip() for c in _CONV_COLS.split(','))},
                   m.body, m.sender_side
              from chat_conversations c
              left join chat_messages m on m.conversation_id = c.id and m.seq = c.last_seq
             where ((%(shop)s::uuid is null and c.buyer_id = %(me)s) or c.shop_id = any(%(shops)s))
               and (%(status)s::text is null or c.status = %(status)s)
               and (%(at)s::timestamptz is null
                    or (coalesce(c.last_message_at, c.created_at), c.id)
                       < (%(at)s::timestamptz, %(id)s::uuid))
             order by coalesce(c.last_message_at, c.created_at) desc, c.id desc
             limit %(limit)s""".encode(),
        {"me": part.id, "shops": shops, "shop": shop_id, "status": status,
         "at": before[0] if before else None, "id": before[1] if before else None,
         "limit": limit + 1}).fetchall()
    out: list[ConversationView] = []
    for r in rows[:limit]:
        conv = Conversation(*r[:15])
        side = part.side_in(conv)
        assert side is not None
        read = conv.buyer_read_seq if side == "buyer" else conv.shop_read_seq
        out.append(ConversationView(conv, side, conv.last_seq - read, r[15], r[16]))
    return out, len(rows) > limit


def mark_read(conn: Connection, who: Actor | Participant, conversation_id: UUID,
              seq: int | None = None, *, now: datetime | None = None) -> Conversation:
    """The caller's side has read up to `seq` (default: everything). Never moves back."""
    part = _as_participant(conn, who)
    conv, side = _load(conn, part, conversation_id, lock=True)
    upto = conv.last_seq if seq is None else max(0, min(seq, conv.last_seq))
    current = conv.buyer_read_seq if side == "buyer" else conv.shop_read_seq
    if upto <= current:
        return conv
    at = _now(now)
    with conn.cursor(row_factory=class_row(Conversation)) as cur:
        updated = cur.execute(
            f"update chat_conversations set {side}_read_seq = %s, {side}_read_at = %s"
            f" where id = %s returning {_CONV_COLS}".encode(), (upto, at, conv.id)).fetchone()
    assert updated is not None
    live.publish_read(conn, updated.buyer_id, updated.shop_id, updated.id, side, upto)
    return updated


def close_conversation(conn: Connection, who: Actor | Participant, conversation_id: UUID, *,
                       now: datetime | None = None) -> Conversation:
    """Close it (either party); a new one about the same subject may then be opened."""
    part = _as_participant(conn, who)
    conv, side = _load(conn, part, conversation_id, lock=True)
    if conv.status == "closed":
        return conv
    with conn.cursor(row_factory=class_row(Conversation)) as cur:
        updated = cur.execute(
            "update chat_conversations set status = 'closed', closed_at = %s where id = %s"
            f" returning {_CONV_COLS}".encode(), (_now(now), conv.id)).fetchone()
    assert updated is not None
    if side == "shop":
        audit.record(conn, part.user, "chat.close", "chat_conversation", conv.id)
    live.publish_closed(conn, updated.buyer_id, updated.shop_id, updated.id)
    return updated


# --- blocks and reports ----------------------------------------------------------------------


def set_block(conn: Connection, who: Actor | Participant, conversation_id: UUID,
              blocked: bool) -> bool:
    """Block (or unblock) the other party of the conversation: a buyer blocks the shop, a
    shop's manager blocks the buyer (for the shop). The blocked party can no longer write
    to the blocker (403 CHAT_BLOCKED) nor open a conversation with them. Returns whether
    anything changed."""
    part = _as_participant(conn, who)
    conv, side = _load(conn, part, conversation_id)
    if blocked:
        changed = conn.execute(
            "insert into chat_blocks (shop_id, user_id, blocked_by, actor_id)"
            " values (%s, %s, %s, %s) on conflict do nothing",
            (conv.shop_id, conv.buyer_id, side, part.id)).rowcount > 0
    else:
        changed = conn.execute(
            "delete from chat_blocks where shop_id = %s and user_id = %s and blocked_by = %s",
            (conv.shop_id, conv.buyer_id, side)).rowcount > 0
    if changed and side == "shop":
        audit.record(conn, part.user, "chat.block" if blocked else "chat.unblock",
                     "chat_conversation", conv.id, {"buyer_id": str(conv.buyer_id)})
    return changed


def blocks_of(conn: Connection, conv: Conversation) -> tuple[bool, bool]:
    """(the buyer blocked the shop, the shop blocked the buyer)."""
    rows = {r[0] for r in conn.execute(
        "select blocked_by from chat_blocks where shop_id = %s and user_id = %s",
        (conv.shop_id, conv.buyer_id)).fetchall()}
    return "buyer" in rows, "shop" in rows


def report(conn: Connection, who: Actor | Participant, conversation_id: UUID, reason: str, *,
           message_seq: int | None = None) -> UUID:
    """Report the conversation, or one of its messages, to the moderators; a repeat of an
    open report returns it. 404 CHAT_MESSAGE_NOT_FOUND for a sequence number it lacks."""
    part = _as_participant(conn, who)
    conv, _ = _load(conn, part, conversation_id)
    text = clean_text(reason)
    if not text or len(text) > 500:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "a reason of 1 to 500 characters")
    if message_seq is not None and not 1 <= message_seq <= conv.last_seq:
        raise NotFoundError(ErrorCode.CHAT_MESSAGE_NOT_FOUND,
                            f"the conversation has no message {message_seq}")
    row = conn.execute(
        "insert into chat_reports (conversation_id, message_seq, reporter_id, reason)"
        " values (%s, %s, %s, %s) on conflict do nothing returning id",
        (conv.id, message_seq, part.id, text)).fetchone()
    if row is None:
        row = conn.execute(
            "select id from chat_reports where conversation_id = %s and reporter_id = %s"
            " and coalesce(message_seq, 0) = %s and status = 'open'",
            (conv.id, part.id, message_seq or 0)).fetchone()
    assert row is not None
    audit.record(conn, part.user, "chat.report", "chat_conversation", conv.id,
                 {"report_id": str(row[0]), "seq": message_seq})
    return row[0]  # type: ignore[no-any-return]


def list_reports(conn: Connection, *, status: str = "open", limit: int = 50) -> list[Report]:
    """The moderators' queue (admins), oldest first, with the reported message's text."""
    rows = conn.execute(
        "select r.id, r.conversation_id, r.message_seq, r.reporter_id, r.reason, r.status,"
        " r.created_at, r.resolved_at, m.body from chat_reports r"
        " left join chat_messages m on m.conversation_id = r.conversation_id"
        "  and m.seq = r.message_seq where r.status = %s order by r.created_at, r.id limit %s",
        (status, max(1, min(limit, 500)))).fetchall()
    return [Report(*r) for r in rows]


def resolve_report(conn: Connection, admin: Actor, report_id: UUID,
                   now: datetime | None = None) -> Report:
    row = conn.execute(
        "update chat_reports set status = 'resolved', resolved_at = %s, resolved_by = %s"
        " where id = %s and status = 'open' returning id", (_now(now), admin.id, report_id)
    ).fetchone()
    if row is None:
        exists = conn.execute("select status from chat_reports where id = %s",
                              (report_id,)).fetchone()
        if exists is None:
            raise NotFoundError(ErrorCode.REPORT_NOT_FOUND, f"report {report_id} not found")
        raise ConflictError(ErrorCode.REPORT_ALREADY_RESOLVED, "the report is resolved")
    audit.record(conn, admin, "chat.report_resolve", "chat_report", report_id)
    found = conn.execute(
        "select r.id, r.conversation_id, r.message_seq, r.reporter_id, r.reason, r.status,"
        " r.created_at, r.resolved_at, m.body from chat_reports r left join chat_messages m"
        " on m.conversation_id = r.conversation_id and m.seq = r.message_seq where r.id = %s",
        (report_id,)).fetchone()
    assert found is not None
    return Report(*found)


# --- the live channel's catch-up -------------------------------------------------------------


def resume_positions(conn: Connection, part: Participant, known: dict[UUID, int],
                     since: datetime | None) -> dict[UUID, int]:
    """Where a reconnecting client's catch-up starts, per conversation: after the sequence
    it holds for each conversation it names (ids that are not its own are ignored), and
    from the start for conversations opened at or after `since` that it did not name (new
    to it). Conversations neither named nor new are delivered live only."""
    out: dict[UUID, int] = {}
    if known:
        rows = conn.execute(
            "select id from chat_conversations where id = any(%s)"
            " and (buyer_id = %s or shop_id = any(%s))",
            (list(known), part.id, list(part.shop_ids))).fetchall()
        out = {r[0]: max(0, int(known[r[0]])) for r in rows}
    if since is not None:
        rows = conn.execute(
            "select id from chat_conversations where (buyer_id = %s or shop_id = any(%s))"
            " and created_at >= %s order by created_at limit 1000",
            (part.id, list(part.shop_ids), since)).fetchall()
        for (cid,) in rows:
            out.setdefault(cid, 0)
    return out


def last_seqs(conn: Connection, conversation_ids: list[UUID]) -> dict[UUID, int]:
    if not conversation_ids:
        return {}
    return {r[0]: int(r[1]) for r in conn.execute(
        "select id, last_seq from chat_conversations where id = any(%s)",
        (conversation_ids,)).fetchall()}
