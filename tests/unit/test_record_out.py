"""`RecordOut`: response models whose fields are a domain record's (written once)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from pydantic import Field

from marketplace_core.api.schemas.common import Money, RecordOut


@dataclass(frozen=True)
class _Item:
    id: UUID
    price: Decimal
    qty: int
    note: str | None = None
    secret: str | None = None


class _ItemOut(RecordOut, record=_Item, exclude=("secret",)):
    """An item."""

    price: Money
    qty: int = Field(description="How many")
    extra: bool = False


def test_fields_are_the_records_in_order_overrides_in_place_extras_last() -> None:
    schema = _ItemOut.model_json_schema()
    assert list(schema["properties"]) == ["id", "price", "qty", "note", "extra"]
    assert schema["required"] == ["id", "price", "qty", "note"]  # a record default is no default
    assert schema["properties"]["qty"]["description"] == "How many"
    assert schema["properties"]["price"]["type"] == "string"  # Money, not a number
    assert schema["description"] == "An item."


def test_built_from_the_record_attributes() -> None:
    item = _Item(uuid4(), Decimal("12.5"), 3, secret="s")
    out = _ItemOut.model_validate(item)
    assert out.model_dump(mode="json") == {
        "id": str(item.id), "price": "12.50", "qty": 3, "note": None, "extra": False}


def test_an_excluded_field_the_record_lacks_is_refused() -> None:
    with pytest.raises(TypeError, match="no \\['nope'\\]"):
        class _Bad(RecordOut, record=_Item, exclude=("nope",)):
            pass
