"""Bulk import of a shop's products from a CSV or XLSX file: all rows or nothing.

The file is a table with a header row (row 1); each further row is one variant (SKU):

    column            required  meaning
    sku               yes       the variant's SKU in the shop: rows upsert by it
    name_ru           yes       product name in Russian
    price             yes       KGS, exact: 1250 / 1250.5 / 1250.50 (a decimal comma is
                                accepted: 1250,50); at most 2 decimals, no thousands separator
    stock_qty         no        whole number >= 0 (empty: 0 for a new SKU, unchanged otherwise)
    barcode           no        EAN-13, EAN-8 or UPC-A with a valid check digit (format the
                                column as text in Excel so leading zeros survive)
    qr_code           no        an opaque QR payload
    product_ref       no        your product code: rows with the same product_ref are
                                variants of one product (without it each row is a product)
    category_slug     no        an existing category's slug (see GET /categories)
    name_ky, name_en, name_zh, name_kk, name_uz                  optional translations
    description_ru, description_ky, ..._en, _zh, _kk, _uz      optional descriptions
    attr_<name>       no        one column per attribute, e.g. attr_size, attr_color

CSV: UTF-8 (a BOM is fine), separated by `,` or `;` (detected from the header). XLSX: the
first worksheet. Empty optional cells leave an existing value unchanged. Every row is
validated first; if any row is bad nothing is written and the report lists each problem as
`{row, column, code, message}`. A good file is applied in one transaction, emitting the
usual product/variant events (stock changes with reason "import").
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace_core.catalog import service
from marketplace_core.catalog.barcodes import validate_barcode
from marketplace_core.catalog.translations import LANGUAGES, clean_text
from marketplace_core.db import Connection, advisory_xact_lock
from marketplace_core.errors import DomainError, ErrorCode, NotFoundError, ValidationError

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
MAX_REPORTED_ERRORS = 1000
ATTR_PREFIX = "attr_"

REQUIRED_COLUMNS = ("sku", "name_ru", "price")
NAME_COLUMNS = tuple(f"name_{lang}" for lang in LANGUAGES)
DESCRIPTION_COLUMNS = tuple(f"description_{lang}" for lang in LANGUAGES)
PRODUCT_COLUMNS = (*NAME_COLUMNS, *DESCRIPTION_COLUMNS, "category_slug")
KNOWN_COLUMNS = frozenset(
    ("sku", "price", "stock_qty", "barcode", "qr_code", "product_ref", *PRODUCT_COLUMNS))

_PRICE = re.compile(r"^\d{1,10}(?:[.,]\d{1,2})?$")
_STOCK = re.compile(r"^\d{1,10}$")


@dataclass(frozen=True)
class RowError:
    row: int | None  # the file's row number (the header is row 1); None for the whole file
    column: str | None
    code: str
    message: str


@dataclass(frozen=True)
class ImportResult:
    rows: int
    products_created: int = 0
    products_updated: int = 0
    variants_created: int = 0
    variants_updated: int = 0
    variants_unchanged: int = 0


class ImportRejected(ValidationError):
    """The file has problems; `details` lists them and nothing was imported."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        shown = sorted(errors, key=lambda e: (e.row or 0, e.column or ""))[:MAX_REPORTED_ERRORS]
        more = len(errors) - len(shown)
        super().__init__(
            ErrorCode.IMPORT_REJECTED,
            f"the file has {len(errors)} problem(s); nothing was imported"
            + (f" (the first {len(shown)} are listed)" if more else ""))
        self.errors = list(errors)
        self.details = [asdict(e) for e in shown]


# --- reading the table ---------------------------------------------------------------


def _reject(code: ErrorCode, message: str, row: int | None = None) -> ImportRejected:
    return ImportRejected([RowError(row, None, code, message)])


def _cell(value: Any) -> str | None:
    """A cell as text; numbers as the shortest exact decimal Excel's double gives."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[str | None]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _reject(
            ErrorCode.INVALID_ENCODING,
            f"the file is not UTF-8 (byte {exc.start}); save it as \"CSV UTF-8\"", line,
        ) from exc
    if "\x00" in text:
        raise _reject(ErrorCode.INVALID_FILE, "the CSV file contains NUL characters")
    header = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=header.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for values in reader:
            yield reader.line_num, [_cell(v) for v in values]
    except csv.Error as exc:
        raise _reject(ErrorCode.INVALID_FILE, f"malformed CSV: {exc}", reader.line_num) from exc


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[str | None]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _reject(ErrorCode.INVALID_FILE, "not a readable XLSX workbook") from exc
    except Exception as exc:  # openpyxl raises assorted errors for broken files
        raise _reject(ErrorCode.INVALID_FILE, f"not a readable XLSX workbook: {exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell(v) for v in values]
    finally:
        workbook.close()


def read_rows(filename: str, data: bytes) -> Iterator[tuple[int, list[str | None]]]:
    """(row number, cells) of a CSV or XLSX file, chosen by the file name's extension."""
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(
            ErrorCode.FILE_TOO_LARGE, f"the file is larger than {MAX_FILE_BYTES // 2**20} MB")
    name = (filename or "").lower()
    if name.endswith(".csv"):
        return _csv_rows(data)
    if name.endswith(".xlsx"):
        return _xlsx_rows(data)
    raise ValidationError(
        ErrorCode.UNSUPPORTED_FILE_TYPE, "upload a .csv (UTF-8) or .xlsx file")


# --- validating rows -------------------------------------------------------------------


@dataclass
class _Row:
    number: int
    sku: str
    price: Decimal
    stock_qty: int | None
    barcode: str | None
    qr_code: str | None
    product_ref: str | None
    product_fields: dict[str, str | None]  # name_*/description_*/category_slug given
    attributes: dict[str, str]
    existing: service.Variant | None = None


@dataclass
class _Problems:
    errors: list[RowError] = field(default_factory=list)

    def add(self, row: int | None, column: str | None, code: str, message: str) -> None:
        self.errors.append(RowError(row, column, str(code), message))


def _header(cells: list[str | None], problems: _Problems) -> list[str | None]:
    columns: list[str | None] = []
    seen: set[str] = set()
    for cell in cells:
        name = cell.strip().lower() if cell else None
        if name is None:
            columns.append(None)
            continue
        if name in seen:
            problems.add(1, name, ErrorCode.INVALID_FILE, f"column {name!r} appears twice")
        elif name not in KNOWN_COLUMNS and not (
                name.startswith(ATTR_PREFIX) and len(name) > len(ATTR_PREFIX)):
            problems.add(1, name, ErrorCode.UNKNOWN_COLUMN,
                         f"unknown column {name!r} (attributes are attr_<name>)")
        seen.add(name)
        columns.append(name)
    for required in REQUIRED_COLUMNS:
        if required not in seen:
            problems.add(1, required, ErrorCode.MISSING_COLUMN,
                         f"the required column {required!r} is missing")
    return columns


def _parse_row(
    number: int, values: dict[str, str | None], problems: _Problems
) -> _Row | None:
    before = len(problems.errors)

    def fail(column: str, code: str, message: str) -> None:
        problems.add(number, column, code, message)

    sku = values.get("sku")
    if sku is None:
        fail("sku", ErrorCode.MISSING_VALUE, "sku is required")
    else:
        try:
            sku = service.validate_sku(sku)
        except DomainError as exc:
            fail("sku", exc.code, exc.message)
    if values.get("name_ru") is None:
        fail("name_ru", ErrorCode.MISSING_VALUE, "name_ru is required")
    price: Decimal | None = None
    raw_price = values.get("price")
    if raw_price is None:
        fail("price", ErrorCode.MISSING_VALUE, "price is required")
    elif not _PRICE.match(raw_price):
        fail("price", ErrorCode.INVALID_PRICE,
             f"{raw_price!r} is not an exact amount with at most 2 decimals")
    else:
        price = Decimal(raw_price.replace(",", "."))
    stock: int | None = None
    raw_stock = values.get("stock_qty")
    if raw_stock is not None:
        if _STOCK.match(raw_stock) and int(raw_stock) <= service.MAX_STOCK:
            stock = int(raw_stock)
        else:
            fail("stock_qty", ErrorCode.INVALID_STOCK,
                 f"{raw_stock!r} is not a whole number >= 0")
    barcode = values.get("barcode")
    if barcode is not None:
        try:
            barcode = validate_barcode(barcode)
        except DomainError as exc:
            fail("barcode", exc.code, exc.message)
    qr_code = values.get("qr_code")
    if qr_code is not None:
        try:
            qr_code = service.validate_qr_code(qr_code)
        except DomainError as exc:
            fail("qr_code", exc.code, exc.message)
    product_ref = values.get("product_ref")
    if product_ref is not None and len(product_ref) > 100:
        fail("product_ref", ErrorCode.INVALID_ARGUMENT, "product_ref is at most 100 characters")
    attributes = {c[len(ATTR_PREFIX):]: v for c, v in values.items()
                  if c.startswith(ATTR_PREFIX) and v is not None}
    if len(problems.errors) > before:
        return None
    assert sku is not None and price is not None
    return _Row(
        number, sku, price, stock, barcode, qr_code, product_ref,
        {c: clean_text(values.get(c)) for c in PRODUCT_COLUMNS if c in values},
        attributes,
    )


def _cross_check(
    conn: Connection, shop_id: UUID, rows: list[_Row], problems: _Problems
) -> dict[str, UUID]:
    """Duplicates within the file and against the shop, categories, bundles, groups.
    Returns the category ids by slug."""
    first_row: dict[tuple[str, str], int] = {}
    for row in rows:
        for kind, value in (("sku", row.sku), ("barcode", row.barcode),
                            ("qr_code", row.qr_code)):
            if value is None:
                continue
            earlier = first_row.setdefault((kind, value), row.number)
            if earlier != row.number:
                code = ErrorCode.DUPLICATE_SKU if kind == "sku" else ErrorCode.DUPLICATE_BARCODE
                problems.add(row.number, kind, code, f"{kind} {value!r} is also on row {earlier}")

    existing = {v.sku: v for v in service.list_variants_for_shop(conn, shop_id)}
    by_barcode = {v.barcode: v.sku for v in existing.values() if v.barcode}
    by_qr = {v.qr_code: v.sku for v in existing.values() if v.qr_code}
    bundle_products = {r[0] for r in conn.execute(
        "select id from products where shop_id = %s and is_bundle and deleted_at is null",
        (shop_id,)).fetchall()}
    for row in rows:
        row.existing = existing.get(row.sku)
        if row.existing is not None and row.existing.product_id in bundle_products:
            problems.add(row.number, "sku", ErrorCode.INVALID_BUNDLE,
                         f"{row.sku!r} is a bundle's SKU; change bundles in the API")
        for kind, value, holders in (("barcode", row.barcode, by_barcode),
                                     ("qr_code", row.qr_code, by_qr)):
            holder = holders.get(value) if value else None
            if holder is not None and holder != row.sku:
                problems.add(row.number, kind, ErrorCode.DUPLICATE_BARCODE,
                             f"{kind} {value!r} already belongs to SKU {holder!r} in this shop")

    slugs = {slug for row in rows if (slug := row.product_fields.get("category_slug"))}
    categories = {r[0]: r[1] for r in conn.execute(
        "select slug, id from categories where slug = any(%s)", (sorted(slugs),)).fetchall()}
    for row in rows:
        slug = row.product_fields.get("category_slug")
        if slug and slug not in categories:
            problems.add(row.number, "category_slug", ErrorCode.CATEGORY_NOT_FOUND,
                         f"there is no category {slug!r}")
    return categories


@dataclass
class _Group:
    """The rows that make (or update) one product."""

    rows: list[_Row]
    product: service.Product | None = None


def _groups(
    conn: Connection, shop_id: UUID, rows: list[_Row], problems: _Problems
) -> list[_Group]:
    by_key: dict[str, _Group] = {}
    for row in rows:
        # rows of one product_ref, or else of one existing product, update it together
        if row.product_ref:
            key = f"ref:{row.product_ref}"
        elif row.existing is not None:
            key = f"product:{row.existing.product_id}"
        else:
            key = f"row:{row.number}"
        by_key.setdefault(key, _Group([])).rows.append(row)
    refs = sorted({r.product_ref for r in rows if r.product_ref})
    by_ref = {p.external_ref: p for p in service.find_products_by_ref(conn, shop_id, refs)}
    existing_ids = sorted({r.existing.product_id for r in rows if r.existing})
    by_id = {p.id: p for p in service.get_products(conn, existing_ids)}
    for group in by_key.values():
        first = group.rows[0]
        ref = first.product_ref
        owners = {by_id[r.existing.product_id].id for r in group.rows if r.existing}
        candidates = owners | ({by_ref[ref].id} if ref in by_ref else set())
        if len(candidates) > 1:
            for row in group.rows:
                problems.add(row.number, "product_ref", ErrorCode.PRODUCT_FIELDS_CONFLICT,
                             "these SKUs belong to different products; product_ref cannot"
                             " merge or move existing variants")
            continue
        if candidates:
            group.product = by_id.get(next(iter(candidates))) or by_ref.get(ref)
            if group.product and ref and group.product.external_ref not in (None, ref):
                problems.add(first.number, "product_ref", ErrorCode.PRODUCT_FIELDS_CONFLICT,
                             f"SKU {first.sku!r} belongs to product_ref "
                             f"{group.product.external_ref!r}")
        for row in group.rows[1:]:
            for column, value in row.product_fields.items():
                if value is not None and first.product_fields.get(column) not in (None, value):
                    problems.add(row.number, column, ErrorCode.PRODUCT_FIELDS_CONFLICT,
                                 f"{column} differs from row {first.number} of the same"
                                 " product_ref")
    return list(by_key.values())


# --- applying -----------------------------------------------------------------------------


def _texts(fields: dict[str, str | None], prefix: str) -> dict[str, str | None]:
    return {c.removeprefix(prefix): v for c, v in fields.items()
            if c.startswith(prefix) and v is not None}


def _merged_fields(group: _Group) -> dict[str, str | None]:
    merged: dict[str, str | None] = {}
    for row in group.rows:
        for column, value in row.product_fields.items():
            if value is not None:
                merged.setdefault(column, value)
    return merged


def _apply(
    conn: Connection, shop_id: UUID, groups: list[_Group], categories: dict[str, UUID],
    result: dict[str, int],
) -> None:
    for group in groups:
        fields = _merged_fields(group)
        names, descriptions = _texts(fields, "name_"), _texts(fields, "description_")
        slug = fields.get("category_slug")
        ref = group.rows[0].product_ref
        if group.product is None:
            product = service.create_product(
                conn, shop_id, names.pop("ru", "") or "", names=names,
                descriptions=descriptions, category_id=categories[slug] if slug else None,
                external_ref=ref)
            result["products_created"] += 1
        else:
            product = group.product
            changed_names = {k: v for k, v in names.items() if product.names.get(k) != v}
            changed_descriptions = {k: v for k, v in descriptions.items()
                                    if product.descriptions.get(k) != v}
            category = categories[slug] if slug else product.category_id
            new_ref = ref if ref and product.external_ref is None else product.external_ref
            if (changed_names or changed_descriptions or category != product.category_id
                    or new_ref != product.external_ref):
                service.update_product(
                    conn, product.id, names=changed_names, descriptions=changed_descriptions,
                    category_id=category, external_ref=new_ref)
                result["products_updated"] += 1
        for row in group.rows:
            _apply_variant(conn, product.id, row, result)


def _apply_variant(conn: Connection, product_id: UUID, row: _Row, result: dict[str, int]) -> None:
    current = row.existing
    if current is None:
        service.create_variant(
            conn, product_id, row.sku, row.price, barcode=row.barcode, qr_code=row.qr_code,
            attributes=row.attributes, stock_qty=row.stock_qty or 0)
        result["variants_created"] += 1
        return
    attributes = {**current.attributes, **row.attributes}
    changed = (row.price != current.price or attributes != current.attributes
               or (row.barcode is not None and row.barcode != current.barcode)
               or (row.qr_code is not None and row.qr_code != current.qr_code)
               or (row.stock_qty is not None and row.stock_qty != current.stock_qty))
    if not changed:
        result["variants_unchanged"] += 1
        return
    service.update_variant(
        conn, current.id, price=row.price, attributes=attributes,
        barcode=row.barcode if row.barcode is not None else service.UNSET,
        qr_code=row.qr_code if row.qr_code is not None else service.UNSET)
    if row.stock_qty is not None:
        service.set_variant_stock(conn, current.id, row.stock_qty, reason="import")
    result["variants_updated"] += 1


def _table(
    rows: Iterable[tuple[int, list[str | None]]], problems: _Problems
) -> list[tuple[int, dict[str, str | None]]]:
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None or all(c is None for c in first[1]):
        raise _reject(ErrorCode.IMPORT_EMPTY, "the first row must be the header", 1)
    header = _header(first[1], problems)
    if problems.errors:
        raise ImportRejected(problems.errors)
    table: list[tuple[int, dict[str, str | None]]] = []
    for number, cells in iterator:
        if all(c is None for c in cells):
            continue
        if len(table) >= MAX_ROWS:
            raise _reject(ErrorCode.IMPORT_TOO_MANY_ROWS,
                          f"at most {MAX_ROWS} rows per file; split it", number)
        extra = [c for c in cells[len(header):] if c is not None]
        if extra:
            problems.add(number, None, ErrorCode.INVALID_FILE,
                         "the row has more cells than the header has columns")
        table.append((number, {name: (cells[i] if i < len(cells) else None)
                               for i, name in enumerate(header) if name is not None}))
    if not table:
        raise _reject(ErrorCode.IMPORT_EMPTY, "the file has a header but no rows")
    return table


def import_products(conn: Connection, shop_id: UUID, filename: str, data: bytes) -> ImportResult:
    """Validate every row of the file, then upsert all of them by SKU in one transaction.

    Raises FILE_TOO_LARGE, UNSUPPORTED_FILE_TYPE, SHOP_NOT_FOUND, or IMPORT_REJECTED (422)
    whose `details` is the per-row report — in which case nothing was written.
    """
    with conn.transaction():
        if service.get_shop(conn, shop_id) is None:
            raise NotFoundError(ErrorCode.SHOP_NOT_FOUND, f"shop {shop_id} does not exist")
        # one import per shop at a time: validation must still hold when rows are written
        advisory_xact_lock(conn, zlib.crc32(b"catalog-import:" + shop_id.bytes))
        problems = _Problems()
        table = _table(read_rows(filename, data), problems)
        rows = [r for r in (_parse_row(n, values, problems) for n, values in table) if r]
        categories = _cross_check(conn, shop_id, rows, problems)
        groups = _groups(conn, shop_id, rows, problems)
        if problems.errors:
            raise ImportRejected(problems.errors)
        counts = {k: 0 for k in ("products_created", "products_updated", "variants_created",
                                 "variants_updated", "variants_unchanged")}
        _apply(conn, shop_id, groups, categories, counts)
    return ImportResult(rows=len(rows), **counts)
