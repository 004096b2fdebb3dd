"""`schemas.compatibility` against the live registry: a throwaway subject, a compatible
and an incompatible candidate; the registry itself agrees with the check."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import Schema

from schemas.compatibility import NEW, check_registry, check_subject, main
from schemas.registry import registry_client
from schemas.topics import Topic

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]

DECIMAL_12_2 = {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}


def _schema(*extra: dict[str, object], scale: int = 2) -> str:
    return json.dumps({
        "type": "record", "name": "CompatProbe", "namespace": "kg.bazaar.test",
        "fields": [
            {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "amount", "type": {**DECIMAL_12_2, "scale": scale}},
            *extra,
        ],
    })


V1 = _schema()
V2 = _schema({"name": "note", "type": ["null", "string"], "default": None})


@pytest.fixture
def subject() -> Iterator[str]:
    client = registry_client()
    name = f"test-compat-{uuid.uuid4().hex[:12]}-value"
    client.set_compatibility(subject_name=name, level="BACKWARD")
    client.register_schema(name, Schema(V1, "AVRO"))
    client.register_schema(name, Schema(V2, "AVRO"))
    try:
        yield name
    finally:
        client.delete_subject(name)
        client.delete_subject(name, permanent=True)


def test_compatible_and_incompatible_candidates(subject: str) -> None:
    client = registry_client()
    compatible = _schema({"name": "note", "type": ["null", "string"], "default": None},
                         {"name": "tip", "type": ["null", DECIMAL_12_2], "default": None})
    status, compared, reasons = check_subject(client, subject, compatible)
    assert (status, reasons) == ("OK", [])
    assert compared == ["registry v1", "registry v2"]

    rescaled = _schema({"name": "note", "type": ["null", "string"], "default": None}, scale=3)
    required = _schema({"name": "note", "type": ["null", "string"], "default": None},
                       {"name": "cashier", "type": "string"})
    for candidate, why in ((rescaled, "CompatProbe.amount: decimal scale changed"),
                           (required, "CompatProbe.cashier: the reader needs field")):
        status, _, reasons = check_subject(client, subject, candidate)
        assert status == "INCOMPATIBLE"
        assert any(why in r for r in reasons), reasons

    # the registry enforces the same rule for an added required field
    assert client.test_compatibility(subject, Schema(compatible, "AVRO")) is True
    assert client.test_compatibility(subject, Schema(required, "AVRO")) is False


def test_the_command_in_registry_mode(subject: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    topic = Topic(name=subject.removesuffix("-value"), key="id",
                  schema_file="probe.avsc", partitions=1, retention_ms=1)
    (tmp_path / topic.schema_file).write_text(
        _schema({"name": "note", "type": "string"}))  # the note lost its null branch
    [result] = check_registry([topic], registry_client(), tmp_path)
    assert result.status == "INCOMPATIBLE"
    assert any("registry v2" in r and "union branch null" in r for r in result.reasons), \
        result.reasons

    unknown = Topic(name=f"test-compat-{uuid.uuid4().hex[:12]}", key="id",
                    schema_file="probe.avsc", partitions=1, retention_ms=1)
    (tmp_path / unknown.schema_file).write_text(V1)
    assert check_registry([unknown], registry_client(), tmp_path)[0].status == NEW

    # the real catalog against the real subjects (what `make schema-check` runs)
    assert main(["--against", "registry"]) == 0, capsys.readouterr().out
