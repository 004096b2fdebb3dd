"""Registering the catalog's schemas with BACKWARD compatibility and building serde.

The registry speaks Confluent's REST API, so confluent-kafka's own client and Avro serde
are used unchanged and the wire format is Confluent's (magic byte 0 + 4-byte schema id).
"""

from __future__ import annotations

from functools import cache

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from infra.settings import get_settings
from schemas.topics import CATALOG, Topic, schema_str

COMPATIBILITY = "BACKWARD"


@cache
def registry_client() -> SchemaRegistryClient:
    return SchemaRegistryClient(registry_config())


def registry_config() -> dict[str, object]:
    """Client settings: the client's default is no timeout at all, and a registry that
    stops answering then hangs its caller forever (seen once in CI)."""
    return {"url": get_settings().schema_registry_url, "timeout": 15}


def register(topic: Topic, client: SchemaRegistryClient | None = None) -> int:
    """Register (or find) the topic's value schema; returns its schema id."""
    client = client or registry_client()
    client.set_compatibility(subject_name=topic.subject, level=COMPATIBILITY)
    return client.register_schema(topic.subject, Schema(schema_str(topic), "AVRO"))


def register_all() -> dict[str, int]:
    return {t.subject: register(t) for t in CATALOG}

