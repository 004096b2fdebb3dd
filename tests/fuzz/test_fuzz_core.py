"""Schemathesis over every operation of the core API (issue 11 §2): valid and malformed
requests, authenticated as the role the operation needs; no 5xx, every answer documented."""

from __future__ import annotations

from typing import Any

import pytest

from marketplace_core.api.app import create_app
from tests.fuzz.harness import Target, fuzz_operation, load_schema, operation_labels

pytestmark = pytest.mark.integration

# Collected from the app's own OpenAPI (no database needed to build it).
_OPENAPI = create_app("postgresql://unused/unused", run_sweeper=False).openapi()
# Every operation is fuzzed (the PSP simulator too: it is mounted in tests).
SKIP: set[str] = set()
LABELS = operation_labels(_OPENAPI, SKIP)


@pytest.fixture(scope="module")
def core_schema(core_target: Target) -> Any:
    return load_schema(core_target.client.app.openapi())


@pytest.mark.parametrize("label", LABELS)
def test_core_operation_conforms(label: str, core_schema: Any, core_target: Target) -> None:
    failures = fuzz_operation(core_schema, label, core_target)
    assert not failures, "\n".join(failures)
