"""Between schema versions: a v2 record in the form the store keeps (v1).

The store's tables hold the v1 properties. A v2 record pushed to the gateway is validated
against v2 (every national code, the national required flags) and then kept as its v1
projection; the v2-only properties it carried are named in the push answer's ``note``
("not kept"), never dropped silently. The national adapter and the validation API work on
v2 records directly.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

import schemas

# v2 keys that hold a v1 property under another name (v2 key -> v1 key).
RENAMED = {"complaint": {"category": "kind"}}
# v2 keys whose v1 namesake means something else: never copied as they are.
OTHER_MEANING = {"complaint": {"kind"}}


@lru_cache(maxsize=None)
def _v1_props(entity: str) -> dict[str, dict]:
    return schemas.load_schema("1", entity)["properties"]


def _fit(value: Any, prop: dict) -> Any:
    """``value`` with the members v1's ``prop`` does not know taken out (objects, arrays of them)."""
    if prop.get("type") == "object" and isinstance(value, dict) and "properties" in prop:
        return {k: _fit(v, prop["properties"][k]) for k, v in value.items() if k in prop["properties"]}
    if prop.get("type") == "array" and isinstance(value, list) and isinstance(prop.get("items"), dict):
        return [_fit(v, prop["items"]) for v in value]
    return copy.deepcopy(value)


def _dropped(value: Any, prop: dict, where: str) -> list[str]:
    if prop.get("type") == "object" and isinstance(value, dict) and "properties" in prop:
        out = []
        for k, v in value.items():
            out += ([f"{where}.{k}"] if k not in prop["properties"]
                    else _dropped(v, prop["properties"][k], f"{where}.{k}"))
        return out
    if prop.get("type") == "array" and isinstance(value, list) and isinstance(prop.get("items"), dict):
        found: list[str] = []
        for v in value:
            found += [d for d in _dropped(v, prop["items"], f"{where}[]") if d not in found]
        return found
    return []


def v1_projection(entity: str, record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The v1 form of a v2 ``record`` and the v2 properties it cannot keep (dotted keys)."""
    props = _v1_props(entity)
    renamed = RENAMED.get(entity, {})
    other = OTHER_MEANING.get(entity, set())
    out: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in record.items():
        target = renamed.get(key, key if key not in other else None)
        if target in props:
            out[target] = _fit(value, props[target])
            dropped += _dropped(value, props[target], key)
        else:
            dropped.append(key)
    if entity == "project" and "service_category" not in out and record.get("service_categories"):
        out["service_category"] = record["service_categories"][0]
    return out, dropped
