"""Entry point for uvicorn: `uvicorn marketplace_core.api.main:app`."""

from marketplace_core.api.app import create_app

app = create_app()
