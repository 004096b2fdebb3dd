"""Who may manage what: admins everything, sellers the merchants they are members of (and
those merchants' shops and products), buyers nothing.

Answers, in this order: a buyer gets 403 FORBIDDEN without any lookup (so a buyer cannot
probe which ids exist); an unknown id is 404 (MERCHANT_NOT_FOUND / SHOP_NOT_FOUND /
PRODUCT_NOT_FOUND); an existing entity of another seller's merchant is 403 FORBIDDEN.
Telling "foreign" from "missing" reveals only that a random UUID exists, which a seller
cannot guess, and gives clearer errors to a seller who mixed up accounts.

Accounts owns the memberships (`merchant_members`); which merchant sells through a shop or
a product is the catalog's to say (`catalog.merchant_of_shop` / `merchant_of_product`).
"""

from __future__ import annotations

from uuid import UUID

from marketplace_core.audit.log import Actor
from marketplace_core.catalog import service as catalog
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


def is_member(conn: Connection, merchant_id: UUID, user_id: UUID) -> bool:
    """Whether `user_id` is a member (owner) of the merchant."""
    return conn.execute(
        "select 1 from merchant_members where merchant_id = %s and user_id = %s",
        (merchant_id, user_id),
    ).fetchone() is not None


def _membership(conn: Connection, merchant_id: UUID | None, user_id: UUID) -> bool | None:
    return None if merchant_id is None else is_member(conn, merchant_id, user_id)


def assert_can_manage_merchant(conn: Connection, user: Actor, merchant_id: UUID) -> UUID:
    """Pass (returning the merchant id) if `user` may manage the merchant, else raise."""
    if user.role not in ("seller", "admin"):
        raise _forbidden()
    found = merchant_id if catalog.merchant_exists(conn, merchant_id) else None
    return _check(user, found, _membership(conn, found, user.id), NotFoundError(
        ErrorCode.MERCHANT_NOT_FOUND, f"merchant {merchant_id} does not exist"))


def assert_can_manage_shop(conn: Connection, user: Actor, shop_id: UUID) -> UUID:
    """Pass (returning the shop's merchant id) if `user` may manage the shop, else raise."""
    if user.role not in ("seller", "admin"):
        raise _forbidden()
    found = catalog.merchant_of_shop(conn, shop_id)
    return _check(user, found, _membership(conn, found, user.id), NotFoundError(
        ErrorCode.SHOP_NOT_FOUND, f"shop {shop_id} does not exist"))


def assert_can_manage_product(conn: Connection, user: Actor, product_id: UUID) -> UUID:
    """Pass (returning the product's merchant id) if `user` may manage it, else raise."""
    if user.role not in ("seller", "admin"):
        raise _forbidden()
    found = catalog.merchant_of_product(conn, product_id)
    return _check(user, found, _membership(conn, found, user.id), NotFoundError(
        ErrorCode.PRODUCT_NOT_FOUND, f"product {product_id} does not exist"))


def merchants_of(conn: Connection, user_id: UUID) -> list[Merchant]:
    """The merchants `user_id` is a member of, oldest first."""
    rows = conn.execute(
        "select merchant_id from merchant_members where user_id = %s", (user_id,)).fetchall()
    return catalog.get_merchants(conn, [r[0] for r in rows]) if rows else []


def merchant_ids_of(conn: Connection, user_id: UUID) -> list[UUID]:
    """Just the ids of `merchants_of` (for filters such as `merchant_id = any(%s)`)."""
    return [m.id for m in merchants_of(conn, user_id)]


def active_members_of_merchant(conn: Connection, merchant_id: UUID) -> list[UUID]:
    """The active users who manage the merchant (its members), in id order."""
    rows = conn.execute(
        "select mm.user_id from merchant_members mm join users u on u.id = mm.user_id"
        " where mm.merchant_id = %s and u.is_active order by mm.user_id",
        (merchant_id,)).fetchall()
    return [r[0] for r in rows]


def add_merchant_member(conn: Connection, merchant_id: UUID, user_id: UUID) -> None:
    """Make the seller `user_id` an owner of the merchant (idempotent).

    Raises MERCHANT_NOT_FOUND, USER_NOT_FOUND, OWNER_NOT_SELLER (422: only sellers own
    merchants; admins manage every merchant without a membership).
    """
    if not catalog.lock_merchant(conn, merchant_id, shared=True):
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
