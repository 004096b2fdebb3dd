"""The category tree: public to read, changed by admins only (audited)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from marketplace_core import audit
from marketplace_core.api.auth import AdminUser
from marketplace_core.api.deps import Pool
from marketplace_core.api.schemas.catalog import (
    CategoryCreate,
    CategoryNodeOut,
    CategoryOut,
    CategoryPatch,
    Texts,
    sent_texts,
)
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.catalog import service as catalog
from marketplace_core.db import transaction

router = APIRouter(tags=["categories"])


def _out(c: catalog.Category) -> CategoryOut:
    return CategoryOut(id=c.id, parent_id=c.parent_id, slug=c.slug, name=Texts(**c.names),
                       sort_order=c.sort_order)


def _node(n: catalog.CategoryNode) -> CategoryNodeOut:
    return CategoryNodeOut(**_out(n.category).model_dump(),
                           children=[_node(child) for child in n.children])


@router.get(
    "/categories", response_model=list[CategoryNodeOut],
    summary="The whole category tree (roots with nested children)",
)
def list_categories(pool: Pool) -> list[CategoryNodeOut]:
    with transaction(pool) as conn:
        return [_node(n) for n in catalog.category_tree(conn)]


@router.post(
    "/categories", status_code=201, response_model=CategoryOut,
    summary="Create a category (admins only)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def create_category(body: CategoryCreate, user: AdminUser, pool: Pool) -> CategoryOut:
    with transaction(pool) as conn:
        category = catalog.create_category(
            conn, body.slug, body.name.ru, names=sent_texts(body.name),
            parent_id=body.parent_id, sort_order=body.sort_order)
        audit.record(conn, user, "category.create", "category", category.id,
                     {"slug": category.slug, "parent_id": category.parent_id})
    return _out(category)


@router.patch(
    "/categories/{category_id}", response_model=CategoryOut,
    summary="Rename, re-slug, reorder or move a category (admins only; no cycles)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def update_category(
    category_id: UUID, body: CategoryPatch, user: AdminUser, pool: Pool
) -> CategoryOut:
    sent = body.model_fields_set
    with transaction(pool) as conn:
        category = catalog.update_category(
            conn, category_id, slug=body.slug, names=sent_texts(body.name),
            parent_id=body.parent_id if "parent_id" in sent else catalog.UNSET,
            sort_order=body.sort_order)
        audit.record(conn, user, "category.update", "category", category.id,
                     body.model_dump(mode="json", exclude_unset=True))
    return _out(category)
