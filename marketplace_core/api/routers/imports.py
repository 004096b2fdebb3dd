"""Bulk import of a shop's products from CSV or XLSX (owner or admin; audited)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, UploadFile

from marketplace_core import audit
from marketplace_core.accounts import ownership
from marketplace_core.api.auth import SellerOrAdmin
from marketplace_core.api.deps import Pool
from marketplace_core.api.schemas.catalog import ImportResultOut
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.catalog import imports
from marketplace_core.db import transaction
from marketplace_core.errors import ErrorCode, ValidationError

router = APIRouter(tags=["imports"])

_CHUNK = 1024 * 1024


def _read_limited(file: UploadFile) -> bytes:
    """The upload's bytes, refusing more than MAX_FILE_BYTES without reading it all."""
    data = bytearray()
    while chunk := file.file.read(_CHUNK):
        data += chunk
        if len(data) > imports.MAX_FILE_BYTES:
            raise ValidationError(
                ErrorCode.FILE_TOO_LARGE,
                f"the file is larger than {imports.MAX_FILE_BYTES // 2**20} MB")
    return bytes(data)


@router.post(
    "/shops/{shop_id}/imports", response_model=ImportResultOut,
    summary="Import products from a CSV or XLSX file: every row or none",
    description=(imports.__doc__ or "") + (
        "\n\nIf any row is bad the answer is 422 IMPORT_REJECTED and `error.details` lists "
        "`{row, column, code, message}` for every problem. Files above 10 MB are refused "
        "with 422 FILE_TOO_LARGE; other extensions with 422 UNSUPPORTED_FILE_TYPE."),
    responses=error_responses(401, 403, 404, 409, 422),
)
def import_products(
    shop_id: UUID, file: UploadFile, user: SellerOrAdmin, pool: Pool
) -> ImportResultOut:
    data = _read_limited(file)
    filename = file.filename or ""
    with transaction(pool) as conn:
        ownership.assert_can_manage_shop(conn, user, shop_id)
        result = imports.import_products(conn, shop_id, filename, data)
        audit.record(conn, user, "catalog.import", "shop", shop_id,
                     {"filename": filename, "bytes": len(data), **vars(result)})
    return ImportResultOut(**vars(result))
