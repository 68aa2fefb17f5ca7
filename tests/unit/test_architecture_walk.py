"""docs/architecture.md's "Life of a record" names functions that exist: every dotted name
in the section is imported (module, then attributes), so the walk cannot drift from the code."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
ROOTS = ("gateway", "sync_jobs", "adapters", "schemas")


def walk_names(text: str) -> list[str]:
    """The dotted names in backticks of the "## Life of a record" section, in order."""
    section = text.split("\n## Life of a record\n", 1)[1].split("\n## ", 1)[0]
    names = re.findall(r"`((?:%s)(?:\.\w+)+)`" % "|".join(ROOTS), section)
    return list(dict.fromkeys(names))


def resolve(name: str):
    """The object a dotted path names: the longest importable module, then attributes."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)  # AttributeError: the walk names something that is not there
        return obj
    raise ModuleNotFoundError(name)


NAMES = walk_names(DOC.read_text(encoding="utf-8"))


def test_the_walk_names_the_path_from_wire_to_feed():
    assert len(NAMES) > 50
    for must in ("gateway.exchange.push.receive", "gateway.exchange.upserts.apply_records",
                 "sync_jobs.engine.run_source", "gateway.exchange.feed.read_changes"):
        assert must in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_name_in_the_walk_exists(name):
    assert resolve(name) is not None


def test_a_name_that_is_not_there_is_caught():
    with pytest.raises(AttributeError):
        resolve("gateway.exchange.push.recieve")  # seeded typo
    with pytest.raises(AttributeError):
        resolve("gateway.ingestion.apply")  # no such module: gateway has no such attribute
    assert walk_names("x\n## Life of a record\n`gateway.a.b` `os.path`\n## Next\n`gateway.c`") == [
        "gateway.a.b"]
