"""Types shared by the API's request and response models: the platform's own (money and
the error body live in `platform_common`, shared with the serving API)."""

from __future__ import annotations

from platform_common.http import ErrorDetail, ErrorResponse, error_responses
from platform_common.money import Money

__all__ = ["ErrorDetail", "ErrorResponse", "Money", "error_responses"]
