"""Types shared by the API's request and response models: the platform's own (money and
the error body live in `platform_common`, shared with the serving API), and `RecordOut`,
the base of response models that answer a domain record as it is."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict

from platform_common.http import ErrorDetail, ErrorResponse, error_responses
from platform_common.money import Money

__all__ = ["ErrorDetail", "ErrorResponse", "Money", "RecordOut", "error_responses"]


class RecordOut(BaseModel):
    """A response model read from a domain object's attributes: `Out.model_validate(obj)`
    (or return the object from a route whose `response_model` is `Out`).

    With `record=` (a dataclass) the model's fields are the record's, in its order, each
    required (a response always carries every field, null where the record holds None),
    so that the field list is written once, in the domain:

        class MediaOut(RecordOut, record=posts.Media):
            "A post's photo or video."

        class CardVariantOut(RecordOut, record=card.CardVariant):
            price: Money                                  # another type for the API
            stock_qty: int = Field(description="...")     # documented

    A field declared in the class body replaces the record's in place (its type, its
    documentation, a default); one the record does not have is added after the record's.
    `exclude=` leaves out record fields the API does not show. Other domain fields added
    later show up in the API too: keep `exclude` for the internal ones.
    """

    model_config = ConfigDict(from_attributes=True)

    def __init_subclass__(
        cls, record: type | None = None, exclude: tuple[str, ...] = (), **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if record is None:
            return
        declared: dict[str, Any] = inspect.get_annotations(cls)
        hints = typing.get_type_hints(record)
        names = [f.name for f in dataclasses.fields(record) if f.name not in exclude]
        if unknown := set(exclude) - set(hints):
            raise TypeError(f"{cls.__name__}: {record.__name__} has no {sorted(unknown)}")
        fields = {name: declared.pop(name, hints[name]) for name in names}
        # pydantic collects the fields from here, after this hook
        cls.__annotations__ = {**fields, **declared}
