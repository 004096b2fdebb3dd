"""The core API's error handling: the platform's shared envelope (`platform_common.http`).

Every error leaves the API as `{"error": {"code": ..., "message": ...}}`; see there.
"""

from __future__ import annotations

from fastapi import FastAPI

from platform_common.http import STATUS_BY_CLASS, error_body, status_for
from platform_common.http import install_error_handlers as _install

__all__ = ["STATUS_BY_CLASS", "error_body", "install_error_handlers", "status_for"]


def install_error_handlers(app: FastAPI) -> None:
    _install(app, logger="marketplace_core.api")
