"""The OpenAPI description is complete: every operation is documented well enough for a
client to be generated from it, errors included."""

from __future__ import annotations

from typing import Any

ERROR_REF = "#/components/schemas/ErrorResponse"


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in spec["paths"].items()
            for method, op in item.items() if method in {"get", "post", "put", "patch", "delete"}]


def test_every_operation_has_a_summary_a_tag_and_a_typed_success(core_api: Any) -> None:
    spec = core_api.get("/openapi.json").json()
    problems = []
    for path, method, op in _operations(spec):
        where = f"{method.upper()} {path}"
        if not op.get("summary"):
            problems.append(f"{where}: no summary")
        if not op.get("tags"):
            problems.append(f"{where}: no tag")
        success = [code for code in op["responses"] if code.startswith("2")]
        if not success:
            problems.append(f"{where}: no success response")
        for code in success:
            content = op["responses"][code].get("content")
            if code != "204" and not content:
                problems.append(f"{where}: {code} has no body schema")
    assert not problems, "\n".join(problems)


def test_every_error_a_route_can_answer_is_documented_with_the_error_body(
    core_api: Any,
) -> None:
    spec = core_api.get("/openapi.json").json()
    problems = []
    for path, method, op in _operations(spec):
        where = f"{method.upper()} {path}"
        responses = op["responses"]
        takes_input = bool(op.get("parameters") or op.get("requestBody"))
        if takes_input and "422" not in responses:
            problems.append(f"{where}: input but no 422")
        if op.get("security") and "401" not in responses:
            problems.append(f"{where}: secured but no 401")
        for code, response in responses.items():
            if code[0] in "45":
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                if schema.get("$ref") != ERROR_REF:
                    problems.append(f"{where}: {code} is not the error body")
    assert not problems, "\n".join(problems)
