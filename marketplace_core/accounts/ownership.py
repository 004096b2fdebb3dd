"""Who may manage what: admins everything, sellers the merchants they are members of (and
those merchants' shops and products), buyers nothing.

Answers, in this order: a buyer gets 403 FORBIDDEN without any lookup (so a buyer cannot
probe which ids exist); an unknown id is 404 (MERCHANT_NOT_FOUND / SHOP_NOT_FOUND /
PRODUCT_NOT_FOUND); an existing entity of another seller's merchant is 403 FORBIDDEN.
Telling "foreign" from "missing" reveals only that a random UUID exists, which a seller
cannot guess, and gives clearer errors to a seller who mixed up accounts.
"""

from __future__ import annotations

from uuid import UUID

from psycopg.rows import class_row

from marketplace_core.audit.log import Actor
from marketplace_core.catalog.service import Merchant
from marketplace_core.db import Connection
from marketplace_core.errors import (
    ErrorCode,
    ForbiddenError,
    NotFoundError,
    ValidationError,
)


def _forbidden() -> ForbiddenError:
    return ForbiddenError(ErrorCode.FORBIDDEN, "you may not manage this merchant's data")


def _check(user: Actor, merchant_id: UUID | None, is_member: bool | None,
           missing: NotFoundError) -> UUID:
    if merchant_id is None:
        raise missing
    if user.role == "admin" or (user.role == "seller" and is_member):
        return merchant_id
    raise _forbidden()


def _lookup(conn: Connection, sql: str, entity_id: UUID, user_id: UUID) -> tuple[
        UUID | None, bool | None]:
    row = conn.execute(sql, {"id": entity_id, "user": user_id}).fetchone()
    return (row[0], bool(row[1])) if row else (None, None)


_MEMBER = ("exists (select 1 from merchant_members mm"
           " where mm.merchant_id = {m} and mm.user_id = %(user)s)")


def assert_can_manage_merchant(conn: Connection, user: Actor, merchant_id: UUID) -> UUID:
    """Pass (returning the merchant id) if `user` may manage the merchant, else raise."""
    if user.role not in ("seller", "admin"):
        raise _forbidden()
    found, member = _lookup(
        conn, "select m.id, " + _MEMBER.format(m="m.id") + " from merchants m where m.id = %(id)s",
        merchant_id, user.id)
    return _check(user, found, member, NotFoundError(
        ErrorCode.MERCHANT_NOT_FOUND, f"merchant {merchant_id} does not exist"))


def assert_can_manage_shop(conn: Connection, user: Actor, shop_id: UUID) -> UUID:
    """Pass (returning the shop's merchant id) if `user` may manage the shop, else raise."""
    if user.role not in ("seller", "admin"):
        raise _forbidden()
    found, member = _lookup(
        conn, "select s.merchant_id, " + _MEMBER.format(m="s.merchant_id")
        + " from shops s where s.id = %(id)s", shop_id, user.id)
    return _check(user, found, member, NotFoundError(
        ErrorCode.SHOP_NOT_FOUND, f"shop {shop_id} does not exist"))


def assert_can_manage_product(conn: Connection, user: Actor, product_id: UUID) -> UUID:
    """Pass (returning the product's merchant id) if `user` may manage it, else raise."""
    if user.role not in ("seller", "admin"):
        raise _forbidden()
    found, member = _lookup(
        conn, "select s.merchant_id, " + _MEMBER.format(m="s.merchant_id")
        + " from products p join shops s on s.id = p.shop_id where p.id = %(id)s",
        product_id, user.id)
    return _check(user, found, member, NotFoundError(
        ErrorCode.PRODUCT_NOT_FOUND, f"product {product_id} does not exist"))


def merchants_of(conn: Connection, user_id: UUID) -> list[Merchant]:
    """The merchants `user_id` is a member of, oldest first."""
    with conn.cursor(row_factory=class_row(Merchant)) as cur:
        return cur.execute(
            "select m.id, m.name, m.created_at from merchants m"
            " join merchant_members mm on mm.merchant_id = m.id"
            " where mm.user_id = %s order by m.created_at, m.id",
            (user_id,),
        ).fetchall()


def merchant_ids_of(conn: Connection, user_id: UUID) -> list[UUID]:
    """Just the ids of `merchants_of` (for filters such as `merchant_id = any(%s)`)."""
    return [m.id for m in merchants_of(conn, user_id)]


def add_merchant_member(conn: Connection, merchant_id: UUID, user_id: UUID) -> None:
    """Make the seller `user_id` an owner of the merchant (idempotent).

    Raises MERCHANT_NOT_FOUND, USER_NOT_FOUND, OWNER_NOT_SELLER (422: only sellers own
    merchants; admins manage every merchant without a membership).
    """
    if conn.execute("select 1 from merchants where id = %s for share",
                    (merchant_id,)).fetchone() is None:
        raise NotFoundError(ErrorCode.MERCHANT_NOT_FOUND, f"merchant {merchant_id} does not exist")
    row = conn.execute("select role, is_active from users where id = %s for share",
                       (user_id,)).fetchone()
    if row is None:
        raise NotFoundError(ErrorCode.USER_NOT_FOUND, f"user {user_id} does not exist")
    if row[0] != "seller" or not row[1]:
        raise ValidationError(
            ErrorCode.OWNER_NOT_SELLER, "only an active seller can own a merchant")
    conn.execute(
        "insert into merchant_members (merchant_id, user_id, role) values (%s, %s, 'owner')"
        " on conflict do nothing",
        (merchant_id, user_id),
    )
