"""Categories: the tree products are filed under (slugs, names in every language)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from psycopg.rows import class_row

from marketplace_core.catalog.events import (
    emit_category_changed,
)
from marketplace_core.catalog.records import (
    _CATEGORY_COLS,
    _CATEGORY_TREE_LOCK,
    _NAME_COLS,
    _SLUG,
    UNSET,
    Category,
    CategoryNode,
    _fetch_one,
    _insert,
    _require_text,
    _Unset,
    _write,
)
from marketplace_core.catalog.translations import LANGUAGES, validate_texts
from marketplace_core.db import Connection, advisory_xact_lock
from marketplace_core.errors import (
    ConflictError,
    ErrorCode,
    NotFoundError,
    ValidationError,
)


def _slug(slug: str) -> str:
    slug = _require_text(slug, "slug")
    if not _SLUG.match(slug):
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            "slug must be lower-case latin letters, digits and '-' (at most 100)")
    return slug


def _sort_order(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 1_000_000:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "sort_order must be a small int")
    return value


def create_category(
    conn: Connection,
    slug: str,
    name_ru: str,
    name_ky: str | None = None,
    *,
    names: Mapping[str, str | None] | None = None,
    parent_id: UUID | None = None,
    sort_order: int = 0,
    id: UUID | None = None,
) -> Category:
    """A category (admins only, enforced by the API). `names` may carry any language;
    `name_ru` / `name_ky` win over it. Raises DUPLICATE_SLUG, CATEGORY_NOT_FOUND (parent),
    TRANSLATION_REQUIRED, INVALID_LANGUAGE."""
    texts = dict(names or {})
    texts["ru"] = name_ru
    if name_ky is not None:
        texts["ky"] = name_ky
    cleaned = validate_texts(texts, "name", require_ru=True)
    params = {f"name_{lang}": cleaned.get(lang) for lang in LANGUAGES}
    slug = _slug(slug)
    sort_order = _sort_order(sort_order)
    with conn.transaction():
        result: Category = _insert(
            conn, Category,
            f"insert into categories (id, parent_id, slug, {_NAME_COLS}, sort_order) values"
            " (coalesce(%(id)s, gen_random_uuid()), %(parent_id)s, %(slug)s, "
            + ", ".join(f"%({c})s" for c in params)
            + f", %(sort_order)s) returning {_CATEGORY_COLS}",
            {"id": id, "parent_id": parent_id, "slug": slug, "sort_order": sort_order,
             **params},
        )
        emit_category_changed(conn, result.id, "category.created")
    return result


def update_category(
    conn: Connection,
    category_id: UUID,
    *,
    slug: str | None = None,
    names: Mapping[str, str | None] | None = None,
    parent_id: UUID | _Unset | None = UNSET,
    sort_order: int | None = None,
) -> Category:
    """Rename and/or move a category. `names` changes only the languages it lists (None
    clears one; ru cannot be cleared); `parent_id=None` makes it a root. Raises
    CATEGORY_NOT_FOUND, CATEGORY_CYCLE (the new parent is the category or inside it),
    DUPLICATE_SLUG. Emits category.updated when anything was given."""
    changes: dict[str, Any] = {}
    if slug is not None:
        changes["slug"] = _slug(slug)
    if names:
        for lang, text in validate_texts(names, "name", keep_ru=True).items():
            changes[f"name_{lang}"] = text
    if sort_order is not None:
        changes["sort_order"] = _sort_order(sort_order)
    if parent_id is not UNSET:
        advisory_xact_lock(conn, _CATEGORY_TREE_LOCK)
        if parent_id is not None:
            if get_category(conn, category_id) is None:
                raise NotFoundError(
                    ErrorCode.CATEGORY_NOT_FOUND, f"category {category_id} does not exist")
            if parent_id == category_id or category_id in {c.id for c in category_path(
                    conn, parent_id)}:
                raise ConflictError(
                    ErrorCode.CATEGORY_CYCLE,
                    "a category cannot move under itself or one of its descendants")
        changes["parent_id"] = parent_id
    assignments = ", ".join(f"{c} = %({c})s" for c in changes) or "id = id"
    with conn.transaction():
        row: Category | None = _write(
            conn, Category,
            f"update categories set {assignments} where id = %(id)s returning {_CATEGORY_COLS}",
            {**changes, "id": category_id},
        )
        if row is None:
            raise NotFoundError(
                ErrorCode.CATEGORY_NOT_FOUND, f"category {category_id} does not exist")
        if changes:
            emit_category_changed(conn, category_id, "category.updated")
    return row


def get_category(conn: Connection, category_id: UUID) -> Category | None:
    row: Category | None = _fetch_one(
        conn, Category, f"select {_CATEGORY_COLS} from categories where id = %s",
        (category_id,))
    return row


def get_category_by_slug(conn: Connection, slug: str) -> Category | None:
    row: Category | None = _fetch_one(
        conn, Category, f"select {_CATEGORY_COLS} from categories where slug = %s", (slug,))
    return row


def list_categories(conn: Connection) -> list[Category]:
    with conn.cursor(row_factory=class_row(Category)) as cur:
        return cur.execute(
            f"select {_CATEGORY_COLS} from categories order by sort_order, name_ru, id".encode()
        ).fetchall()


def category_parents(conn: Connection) -> dict[UUID, UUID | None]:
    """Every category's parent (None for a root)."""
    return dict(conn.execute("select id, parent_id from categories").fetchall())


def category_tree(conn: Connection) -> list[CategoryNode]:
    """All categories as a forest, siblings ordered by sort_order then Russian name."""
    nodes = {c.id: CategoryNode(c) for c in list_categories(conn)}
    roots: list[CategoryNode] = []
    for node in nodes.values():
        parent = nodes.get(node.category.parent_id) if node.category.parent_id else None
        (parent.children if parent else roots).append(node)
    return roots


def category_path(conn: Connection, category_id: UUID) -> list[Category]:
    """The category and its ancestors, root first (empty if it does not exist)."""
    with conn.cursor(row_factory=class_row(Category)) as cur:
        rows = cur.execute(
            f"""with recursive up as (
                    select {_CATEGORY_COLS}, 0 as depth from categories where id = %s
                    union all
                    select c.id, c.parent_id, c.slug, {", ".join(
                        "c.name_" + lang for lang in LANGUAGES)}, c.sort_order, up.depth + 1
                    from categories c join up on c.id = up.parent_id
                    where up.depth < 100
                )
                select {_CATEGORY_COLS} from up order by depth desc""".encode(),
            (category_id,),
        ).fetchall()
    return rows


def category_subtree_ids(conn: Connection, category_id: UUID) -> list[UUID]:
    """The category and all its descendants."""
    rows = conn.execute(
        """with recursive down as (
               select id, 0 as depth from categories where id = %s
               union all
               select c.id, down.depth + 1 from categories c join down on c.parent_id = down.id
               where down.depth < 100
           )
           select id from down""",
        (category_id,),
    ).fetchall()
    return [r[0] for r in rows]
