# The platform's own processes (core API, outbox relay, POS ingest, Prometheus config
# generator) for infra/docker-compose.yml: the repository installed in a Python image.
# `make up` runs the same commands natively from the virtualenv.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY . .
RUN pip install -e . --config-settings editable_mode=compat
# Loopback-only like `make up`: the compose services share the host's network.
ENV PLATFORM_BIND_HOST=127.0.0.1
