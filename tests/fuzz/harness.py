"""Schemathesis over an in-process FastAPI app: generate requests from the app's own
OpenAPI (valid ones and malformed ones), send them through a started `TestClient`, and
check every answer against the schema: never a 5xx, only documented status codes, bodies
that match their documented schema.

Bounded on purpose (a few examples per operation, derandomized, no shrinking) so that the
fuzz pass of `make test` takes well under a few minutes on a small machine and gives the
same requests on every run: a failure is reproducible by rerunning the test.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Valid and malformed requests per operation (FUZZ_EXAMPLES raises it for a deeper run).
EXAMPLES_PER_MODE = int(os.environ.get("FUZZ_EXAMPLES", "4"))


@dataclass
class Target:
    """What the fuzzer sends on top of the generated request."""

    client: Any                                    # a started fastapi TestClient
    headers_for: Callable[[str, str], dict[str, str]]  # (method, path) -> auth headers
    # Real ids to put in path parameters half of the time, so a request reaches the
    # handler's body instead of stopping at 404 (name -> value).
    known_ids: Mapping[str, Any] = field(default_factory=dict)


def load_schema(openapi: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_dict(openapi)


def operation_labels(openapi: dict[str, Any], skip: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    labels = [f"{m.upper()} {p}" for p, ops in openapi["paths"].items() for m in ops
              if m in ("get", "post", "put", "patch", "delete")]
    return [label for label in labels if label not in skip]


def _plain_files(files: Any) -> list[tuple[str, Any]]:
    """Multipart parts whose content is bytes or text: a malformed case may put a number or
    a list where the file goes, which httpx sends once but cannot render again."""
    def plain(content: Any) -> Any:
        return content if isinstance(content, (bytes, str)) else json.dumps(content, default=str)

    items = files.items() if isinstance(files, dict) else files
    out: list[tuple[str, Any]] = []
    for name, value in items:
        if isinstance(value, tuple) and len(value) >= 2:
            value = (value[0], plain(value[1]), *value[2:])
        elif not isinstance(value, tuple):
            value = plain(value)
        out.append((name, value))
    return out


def _send(target: Target, case: Any, *, override: bool) -> Any:
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    method, url = kwargs.pop("method"), kwargs.pop("url")
    headers = dict(kwargs.pop("headers", None) or {})
    # Valid requests carry our credentials (over a generated token header); malformed ones
    # keep a header the case generated on purpose.
    sent = {name.lower(): name for name in headers}
    for name, value in target.headers_for(method, case.operation.path).items():
        if name.lower() in sent and not override:
            continue
        headers.pop(sent.get(name.lower(), name), None)
        headers[name] = value
    request: dict[str, Any] = {"headers": headers, "params": kwargs.pop("params", None)}
    if "json" in kwargs:
        request["json"] = kwargs.pop("json")
    elif "files" in kwargs or "data" in kwargs:
        files, data = kwargs.pop("files", None), kwargs.pop("data", None)
        if files is not None:
            request["files"] = _plain_files(files)
            if isinstance(data, dict):
                request["data"] = data
        elif isinstance(data, (bytes, str)):
            request["content"] = data
        elif data is not None:
            request["data"] = data
    response = target.client.request(method, url, **request)
    response.request.read()  # a multipart request is a stream; the checks read it again
    return response


def _describe(case: Any) -> str:
    try:
        return str(case.as_curl_command())[:400]
    except Exception:
        return f"{case.method} {case.formatted_path} body={case.body!r:.300}"


def _fuzz_mode(operation: Any, label: str, target: Target, mode: GenerationMode,
               examples: int) -> list[str]:
    failures: list[str] = []

    @hypothesis.settings(
        max_examples=examples, derandomize=True, deadline=None, database=None,
        phases=[Phase.explicit, Phase.generate],   # no shrinking storms
        suppress_health_check=list(HealthCheck), verbosity=hypothesis.Verbosity.quiet)
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode),
                      use_known=st.booleans())
    def run(case: Any, use_known: bool) -> None:
        if use_known and mode is GenerationMode.POSITIVE and case.path_parameters:
            for name in list(case.path_parameters):
                if name in target.known_ids:
                    case.path_parameters[name] = str(target.known_ids[name])
        response = _send(target, case, override=mode is GenerationMode.POSITIVE)
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:
            found = [str(e).strip().splitlines()[0] for e in getattr(exc, "exceptions", [exc])]
            failures.append(
                f"{label} [{mode.value}] -> {response.status_code}: {'; '.join(found)}"
                f"\n    request: {_describe(case)}\n    answer: {response.text[:300]}")

    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        run()
    return failures


def fuzz_operation(schema: Any, label: str, target: Target, *,
                   examples: int = EXAMPLES_PER_MODE) -> list[str]:
    """Run the checks over `examples` valid and `examples` malformed requests to `label`;
    returns the failures (empty when every answer conformed)."""
    method, path = label.split(" ", 1)
    operation = schema[path][method]
    failures: list[str] = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        failures += _fuzz_mode(operation, label, target, mode, examples)
    return failures
