"""Which operations need a caller, found by asking the running app, against what the OpenAPI
document declares (tests/integration/api/test_openapi.py).

An operation *requires authentication* when a request without credentials is answered 401.
Operations whose arguments are read before the caller (a body with required members) answer
422 to an empty request: they are asked again with the smallest body their request schema
allows (its required members only), which reaches the authentication step. An operation the
check still cannot decide is reported as such, never passed.
"""

from __future__ import annotations

import re
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def smallest_value(schema: dict[str, Any], doc: dict[str, Any]) -> Any:
    """A value of ``schema`` with only what it requires (enough for the argument parser)."""
    schema = _resolve(schema, doc)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        return {name: smallest_value(value, doc) for name, value in schema.get("properties", {}).items()
                if name in schema.get("required", ())}
    if kind == "array":
        return [smallest_value(schema.get("items", {}), doc)] * schema.get("minItems", 0)
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if schema.get("format") == "date":
        return "2026-01-01"
    if schema.get("format") == "date-time":
        return "2026-01-01T08:00:00+08:00"
    return "1" * max(schema.get("minLength", 1), 1)


def requires_authentication(client, doc: dict[str, Any], path: str, method: str) -> bool | None:
    """True: answered 401 without credentials; False: answered otherwise; None: undecided."""
    url = re.sub(r"\{[^}]+\}", "x1", path)
    answer = client.open(url, method=method.upper())
    if answer.status_code == 422:
        body = doc["paths"][path][method].get("requestBody", {}).get("content", {})
        schema = body.get("application/json", {}).get("schema")
        if schema is None:
            return None
        answer = client.open(url, method=method.upper(), json=smallest_value(schema, doc))
        if answer.status_code == 422:
            return None
    return answer.status_code == 401


def security_mismatches(client) -> list[str]:
    """Every operation whose declared ``security`` disagrees with what the app does."""
    doc = client.get("/api/openapi.json").get_json()
    found = []
    for path, operations in doc["paths"].items():
        for method in METHODS:
            if method not in operations:
                continue
            needs = requires_authentication(client, doc, path, method)
            declares = bool(operations[method].get("security"))
            if needs is None:
                found.append(f"{method.upper()} {path}: cannot tell whether it needs a caller")
            elif needs and not declares:
                found.append(f"{method.upper()} {path}: needs a caller (401) but declares no security")
            elif declares and not needs:
                found.append(f"{method.upper()} {path}: declares security but answers without a caller")
    return found
