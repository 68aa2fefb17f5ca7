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
        if "enum" in prop["items"]:     # codes v1's table lacks (local ones) stay with v2
            return [v for v in value if v in prop["items"]["enum"]]
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


# -- what the store keeps beside the v1 form (migration 0013_national2) ----------------------
#
# A v2 record's members that its v1 projection cannot hold (the "remainder") are kept with
# the record, so that a v2 record read back in v2 is the one pushed. The remainder mirrors
# the record: a member v1 does not know is kept whole; a v1 object member (``contact``)
# holds a nested remainder; a v1 array of objects holds ``{"$items": [...]}`` (one remainder
# per item, in order) or, for items with a number of their own (a project's posts, kept by
# ``post_no``), ``{"$by": "post_no", "$items": {post_no: remainder}}``.

#: v1 arrays whose items are matched by a key of their own, not by position.
ITEM_KEYS = {("project", "posts"): "post_no"}
ITEMS, BY = "$items", "$by"


@lru_cache(maxsize=None)
def _v2_props(entity: str) -> dict[str, dict]:
    return schemas.load_schema("2", entity)["properties"]


def _v1_key(entity: str, key: str) -> str | None:
    """The v1 property a v2 top-level ``key`` lands on (None: v2 only)."""
    if key in OTHER_MEANING.get(entity, set()):
        return None
    target = RENAMED.get(entity, {}).get(key, key)
    return target if target in _v1_props(entity) else None


def _rest(value: Any, v1_prop: dict, item_key: str | None = None) -> Any:
    """The part of ``value`` that v1's ``v1_prop`` cannot hold (None: nothing; a list: the
    whole value, for a list of codes some of which v1's table lacks)."""
    items = v1_prop.get("items")
    if (v1_prop.get("type") == "array" and isinstance(value, list) and isinstance(items, dict)
            and "enum" in items):
        return copy.deepcopy(value) if any(v not in items["enum"] for v in value) else None
    if v1_prop.get("type") == "object" and isinstance(value, dict) and "properties" in v1_prop:
        inner = v1_prop["properties"]
        out = {}
        for k, v in value.items():
            if k not in inner:
                out[k] = copy.deepcopy(v)
            else:
                sub = _rest(v, inner[k])
                if sub is not None:
                    out[k] = sub
        return out or None
    if (v1_prop.get("type") == "array" and isinstance(value, list)
            and isinstance(v1_prop.get("items"), dict) and "properties" in v1_prop["items"]):
        rests = [_rest(v, v1_prop["items"]) for v in value]
        if not any(r is not None for r in rests):
            return None
        if item_key:
            return {BY: item_key, ITEMS: {v[item_key]: r for v, r in zip(value, rests)
                                          if r is not None and isinstance(v, dict)
                                          and isinstance(v.get(item_key), str)}}
        return {ITEMS: [r or {} for r in rests]}
    return None


def v2_remainder(entity: str, record: dict[str, Any]) -> dict[str, Any]:
    """What of the v2 ``record`` its v1 projection (:func:`v1_projection`) does not hold."""
    v1 = _v1_props(entity)
    out: dict[str, Any] = {}
    for key, value in record.items():
        target = _v1_key(entity, key)
        if target is None:
            out[key] = copy.deepcopy(value)
        else:
            rest = _rest(value, v1[target], ITEM_KEYS.get((entity, target)))
            if rest is not None:
                out[key] = rest
    return out


def _personal(prop: dict) -> bool:
    """Whether ``prop`` is or holds an ``x-personal`` member."""
    if prop.get("x-personal"):
        return True
    inner = prop.get("items") if prop.get("type") == "array" else prop
    return isinstance(inner, dict) and any(_personal(p) for p in inner.get("properties", {}).values())


def _split(rest: Any, prop: dict) -> tuple[Any, Any]:
    if prop.get("x-personal"):
        return None, rest
    if isinstance(rest, dict) and (ITEMS in rest or prop.get("type") == "array"):
        return (None, rest) if _personal(prop) else (rest, None)   # an array goes whole
    if isinstance(rest, dict) and prop.get("type") == "object":
        inner = prop.get("properties", {})
        plain, sealed = {}, {}
        for k, v in rest.items():
            p, s = _split(v, inner.get(k, {"x-personal": True}))
            if p is not None:
                plain[k] = p
            if s is not None:
                sealed[k] = s
        return plain or None, sealed or None
    return (None, rest) if _personal(prop) else (rest, None)


def split_personal(entity: str, remainder: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``remainder`` as (what may be kept in clear, what is personal and kept encrypted), by
    the v2 schema's ``x-personal`` marks; a member the schema does not describe is personal."""
    props = _v2_props(entity)
    plain, sealed = _split(remainder, {"type": "object", "properties": props})
    return plain or {}, sealed or {}


def _deep_merge(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict) and ITEMS not in a and ITEMS not in b:
        out = dict(a)
        for k, v in b.items():
            out[k] = _deep_merge(out[k], v) if k in out else v
        return out
    return b if b is not None else a


def join_parts(plain: dict[str, Any] | None, sealed: dict[str, Any] | None) -> dict[str, Any]:
    """The remainder from its two kept parts (:func:`split_personal`'s inverse)."""
    return _deep_merge(plain or {}, sealed or {})


def _put_back(value: Any, rest: Any) -> Any:
    if isinstance(rest, dict) and ITEMS in rest:
        if not isinstance(value, list):
            return value
        items = rest[ITEMS]
        if BY in rest:
            key = rest[BY]
            return [_put_back(v, items.get(v.get(key))) if isinstance(v, dict) else v
                    for v in value]
        if len(items) != len(value):   # the array changed since (a v1 write): its extras lapse
            return value
        return [_put_back(v, r) for v, r in zip(value, items)]
    if isinstance(rest, dict) and isinstance(value, dict):
        out = dict(value)
        for k, v in rest.items():
            out[k] = _put_back(out[k], v) if k in out else copy.deepcopy(v)
        return out
    if isinstance(rest, list):                       # the whole list of codes, as sent
        return copy.deepcopy(rest)
    return value


def to_v2(entity: str, record: dict[str, Any], remainder: dict[str, Any] | None = None
          ) -> dict[str, Any]:
    """A v1 ``record`` in v2's form: v1 keys renamed where v2 gives the key another meaning
    (complaint.kind → category) and the kept ``remainder`` put back (v2 wins)."""
    back = {v1: v2 for v2, v1 in RENAMED.get(entity, {}).items()}
    out = {back.get(k, k): copy.deepcopy(v) for k, v in record.items()}
    for key, rest in (remainder or {}).items():
        if _v1_key(entity, key) is not None and key in out:
            out[key] = _put_back(out[key], rest)
        elif not (isinstance(rest, dict) and ITEMS in rest):  # items without their array: lapse
            out[key] = copy.deepcopy(rest)
    return out
