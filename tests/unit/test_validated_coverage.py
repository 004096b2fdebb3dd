"""Every field a write operation of the core API takes (body, query, path, header) is one
of the validated types of platform_common/validated.py (`x-validated` in its schema), or a
kind that cannot carry bad input (uuid, enum, boolean, a date, a bounded number, a string
pinned by an ASCII pattern), or is listed below as free with the reason. A new endpoint with
a bare `str`, `int` or `datetime` fails here, before a fuzzer or an outside tester finds it.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from marketplace_core.api.app import create_app
from platform_common.validated import INT64_MAX, INT64_MIN

WRITE_METHODS = ("post", "put", "patch", "delete")

# "<METHOD> <path> <where>": why it needs no validated type.
FREE: dict[str, str] = {
    "POST /shops/{shop_id}/imports body.file":
        "an uploaded file (bytes): parsed and checked row by row by the import "
        "(INVALID_ENCODING, IMPORT_REJECTED)",
    # The social module cleans people's text itself (marketplace_core/social/text.py:
    # NFC, control characters and lone surrogates refused) and answers with its own
    # top-level code, INVALID_TEXT, which its clients already rely on.
    **{f"{op} body.{field}": "social/text.clean_text (INVALID_TEXT)" for op, field in [
        ("POST /posts", "text"), ("POST /posts", "place"), ("POST /posts", "media[].alt_text"),
        ("PATCH /posts/{post_id}", "text"), ("PATCH /posts/{post_id}", "place"),
        ("POST /posts/{post_id}/comments", "text"), ("POST /posts/{post_id}/report", "reason"),
        ("POST /moderation/reports/{report_id}/resolve", "reason")]},
    # The ads module checks its own text the same way (marketplace_core/ads/campaigns.py:
    # INVALID_TEXT, CAPTION_TOO_LONG, AD_INVALID_TARGETING for tags and a non-finite or
    # far-away point) and looks markets up in
    # the market list (AD_TARGETING_OUTSIDE_KG), with top-level codes its clients rely on.
    **{f"{op} body.{field}": "ads/campaigns validation" for op in (
        "POST /ads/campaigns", "PATCH /ads/campaigns/{campaign_id}") for field in (
        "name", "creative.headline", "targeting.markets[]", "targeting.tags[]",
        "targeting.geo.lat", "targeting.geo.lon", "targeting.geo.radius_km")},
    **{f"POST /ads/campaigns/{{campaign_id}}/{step} body.note": "ads/campaigns validation"
       for step in ("approve", "reject")},
    "POST /ads/events body.events[].token":
        "read from the raw body item by item: a token is checked by its HMAC signature "
        "(AD_TOKEN_INVALID per item, never published), so one bad token does not refuse "
        "the batch",
    "POST /ads/events body.events[].type":
        "read from the raw body item by item (INVALID_AD_EVENTS per item)",
    "POST /notifications/webhook/{provider} path.provider":
        "one of the configured providers, else 404 UNKNOWN_NOTIFICATION_PROVIDER",
    "POST /notifications/webhook/{provider} header.X-Notify-Signature":
        "an HMAC compared in constant time with the body's (401 INVALID_SIGNATURE)",
    "PUT /notifications/prefs body.timezone":
        "checked against the tz database by the notifications prefs "
        "(INVALID_NOTIFICATION_PREFS)",
    "POST /events body.events[].occurred_at":
        "per-event check in the behaviour intake (EVENT_TIME_OUT_OF_RANGE per event, so one "
        "bad event does not refuse the batch)",
}

# A pattern made only of ASCII classes/literals cannot match a control character or NUL.
_ASCII_PATTERN = re.compile(r"^\^[\[\]\\A-Za-z0-9{},.+*?()|\-_/=:#@ ]*\$$")


@functools.cache
def _openapi() -> dict[str, Any]:
    schema: dict[str, Any] = create_app("postgresql://unused/unused", run_sweeper=False).openapi()
    return schema


def _resolve(node: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = components[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _unvalidated(node: dict[str, Any], where: str, components: dict[str, Any],
                 out: list[str], seen: frozenset[str] = frozenset()) -> None:
    ref = node.get("$ref")
    if ref in seen:
        return
    node = _resolve(node, components)
    seen = seen | {ref} if ref else seen
    if "x-validated" in node or "enum" in node or "const" in node:
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key, []):
            _unvalidated(sub, where, components, out, seen)
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        for name, sub in node.get("properties", {}).items():
            _unvalidated(sub, f"{where}.{name}", components, out, seen)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            _unvalidated(extra, f"{where}.*", components, out, seen)
    elif kind == "array":
        _unvalidated(node.get("items", {}), f"{where}[]", components, out, seen)
    elif kind == "string":
        fmt = node.get("format")
        if fmt in ("uuid", "date") or _ASCII_PATTERN.match(node.get("pattern", "")):
            return
        out.append(f"{where} (string{', ' + fmt if fmt else ''})")
    elif kind in ("integer", "number"):
        low, high = node.get("minimum"), node.get("maximum")
        if low is None or high is None or low < INT64_MIN or high > INT64_MAX:
            out.append(f"{where} ({kind} without bounds in int8 range)")


def unvalidated_fields() -> list[str]:
    schema = _openapi()
    components = schema.get("components", {}).get("schemas", {})
    found: list[str] = []
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            if method not in WRITE_METHODS:
                continue
            label = f"{method.upper()} {path}"
            for param in op.get("parameters", []):
                _unvalidated(param["schema"], f"{label} {param['in']}.{param['name']}",
                             components, found)
            for content in op.get("requestBody", {}).get("content", {}).values():
                _unvalidated(content["schema"], f"{label} body", components, found)
    return [f for f in found if f.split(" (")[0] not in FREE]


def test_every_write_field_is_a_validated_type() -> None:
    missing = unvalidated_fields()
    assert not missing, ("fields of write operations without a validated type "
                         "(platform_common/validated.py) or a FREE entry:\n  "
                         + "\n  ".join(missing))


def test_free_list_has_no_stale_entries() -> None:
    schema = _openapi()
    labels = {f"{m.upper()} {p}" for p, ops in schema["paths"].items() for m in ops}
    for entry in FREE:
        method, path, _ = entry.split(" ", 2)
        assert f"{method} {path}" in labels, f"FREE names a gone operation: {entry}"
