"""The core's HTTP API (FastAPI, port 8000): routers per resource over the domain services."""
