"""The published schemas the suite ships, by version: ``data/schemas/v1`` and ``data/schemas/v2``
(copies of the repository's ``schemas/v1`` and ``schemas/v2``; a test keeps them equal).

The suite never imports the gateway, so it checks records against these copies with the
``jsonschema`` library (JSON Schema 2020-12), the same library the gateway's engine uses.
For what a system *sends* (its change feed) the national required flags of v2 are taken out
first (``x-national-required`` members of ``required`` lists and ``allOf`` conditions), as
docs/protocol.md ("Schema version 2 in the feed") says a feed checks its v2 records: records
kept before, or pushed in v1, may lack what only the national forms require.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

#: The versions the suite ships schemas of.
VERSIONS = ("1", "2")


def schema(name: str, version: str = "1") -> dict[str, Any]:
    """The shipped schema ``name`` (an entity, or ``batch``) of ``version``; FileNotFoundError
    for a name the version does not publish."""
    if version not in VERSIONS:
        raise FileNotFoundError(f"no schema version {version!r}")
    shipped = resources.files("conformance_tests").joinpath("data", "schemas", f"v{version}")
    return json.loads(shipped.joinpath(f"{name}.schema.json").read_text("utf-8"))


@lru_cache(maxsize=64)
def validator(name: str, version: str = "1", *, as_sent: bool = False
              ) -> jsonschema.Draft202012Validator:
    """A validator of ``name`` in ``version``; ``as_sent``: without the national required flags
    (what a feed's records are held to)."""
    found = schema(name, version)
    if as_sent:
        found = _without_national_required(found)
    return jsonschema.Draft202012Validator(found)


def _without_national_required(schema_: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(schema_)

    def strip(node: dict[str, Any], top: bool) -> None:
        props = node.get("properties", {})
        if "required" in node:
            node["required"] = [k for k in node["required"]
                                if not props.get(k, {}).get("x-national-required")
                                and not (top and _holds_national_required(props.get(k, {})))]
        for prop in props.values() if top else ():
            if prop.get("type") == "object":
                strip(prop, False)
            elif prop.get("type") == "array" and isinstance(prop.get("items"), dict):
                strip(prop["items"], False)

    strip(out, True)
    if "allOf" in out:
        kept = [c for c in out["allOf"] if not c.get("x-national-required")]
        if kept:
            out["allOf"] = kept
        else:
            del out["allOf"]
    return out


def _holds_national_required(prop: dict[str, Any]) -> bool:
    """A member (object, or array of objects) some of whose own members are nationally required:
    the member itself is then only nationally required too."""
    inner = prop.get("items") if prop.get("type") == "array" else prop
    return isinstance(inner, dict) and any(
        p.get("x-national-required") for p in inner.get("properties", {}).values())


def issues(name: str, record: Any, version: str = "1", *, as_sent: bool = False,
           prefix: str = "") -> list[dict[str, str]]:
    """Every schema issue of ``record``: JSON Pointer, ``schema.<keyword>`` rule, message."""
    return [{"pointer": prefix + "".join(f"/{p}" for p in e.absolute_path),
             "rule": f"schema.{e.validator}", "message_en": e.message}
            for e in validator(name, version, as_sent=as_sent).iter_errors(record)]
