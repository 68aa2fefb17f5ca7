"""The published contract as data: JSON Schemas, code tables and region tables.

Only a tiny loader lives here; the rules that use the data are in ``gateway.standard``.
"""

from __future__ import annotations

import csv
import json
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).parent
SUPPORTED_VERSIONS = ("1", "2")


def schema_path(version: str, name: str) -> Path:
    return ROOT / f"v{version}" / f"{name}.schema.json"


def schema_names(version: str) -> list[str]:
    """Names of the schemas published for ``version`` (file stems without ``.schema``)."""
    return sorted(p.name[: -len(".schema.json")] for p in (ROOT / f"v{version}").glob("*.schema.json"))


def load_schema(version: str, name: str) -> dict:
    with schema_path(version, name).open(encoding="utf-8") as fh:
        return json.load(fh)


def read_table(folder: str, name: str) -> list[dict[str, str]]:
    """Rows of ``schemas/<folder>/<name>.csv`` as dicts, header row as keys."""
    with (ROOT / folder / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=None)
def code_table(name: str) -> dict[str, str]:
    """A code table as ``{code: Chinese label}``.

    Most tables are ``code,label_zh``; country.csv is GB/T 2659 (``numeric`` code, ``name_zh``).
    """
    rows = read_table("codes", name)
    if rows and "numeric" in rows[0]:
        return {row["numeric"]: row["name_zh"] for row in rows}
    return {row["code"]: row["label_zh"] for row in rows}
