"""Every rule id the code raises is classified in docs/rules.md (issue 15, "Done when": the
page traces every rule id to a text, an observed behaviour or a policy).

test_rules_provenance.py checks the engine's registered rules; the store's, the interface's
and the adapters' rule ids are string literals in the code. This test reads them from the
source (the ``ast`` of gateway/, adapters/ and sync_jobs/): the rule of every ``Issue`` and of
the helpers that make one (``_issue``, ``_conflict``, ``_unknown``, the engine's ``@rule``,
``_HoursPolicy``), every ``rule=`` keyword, every value assigned to a variable ``rule``,
every ``{"rule": …}`` of a dead letter's reason; an f-string ``f"schema.{keyword}"`` is the
family ``schema.*``. Each must have a row — in a table of docs/rules.md whose header has
``rule id`` and ``source`` — whose source names its kind (text / national / policy /
integrity). Not collected: a sync run's error kind (``run.error``) and the skipped-reason key
``adapter.cannot_delete``, which are no issue of a record.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Iterable, Iterator

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "rules.md"
SOURCES = ("gateway", "adapters", "sync_jobs")
RULE_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_-]*$")
#: calls whose first two arguments hold the rule id (Issue(pointer, rule, …), rule(id, …), …)
RULE_CALLS = {"Issue", "_issue", "rule", "_conflict", "_unknown", "_HoursPolicy"}
KIND = re.compile(r"\b(text|national|policy|integrity):")


def _ids_in(node: ast.AST) -> Iterator[str]:
    for n in ast.walk(node):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and RULE_ID.match(n.value):
            yield n.value
        elif (isinstance(n, ast.JoinedStr) and n.values and isinstance(n.values[0], ast.Constant)
              and re.fullmatch(r"[a-z][a-z0-9_]*\.", str(n.values[0].value))):
            yield f"{n.values[0].value}*"


def rule_ids_in_source(text: str) -> set[str]:
    """The rule ids one module's source raises."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else ""
            places: list[ast.AST] = [k.value for k in node.keywords if k.arg == "rule"]
            if name in RULE_CALLS:
                places += node.args[:2]
            for place in places:
                found.update(_ids_in(place))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "rule" for t in targets):
                found.update(_ids_in(node.value))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "rule" and value is not None:
                    found.update(_ids_in(value))
    return found


def rule_ids_in_code(roots: Iterable[str] = SOURCES) -> dict[str, set[str]]:
    """``{rule id: the files that raise it}`` over the product's code."""
    out: dict[str, set[str]] = {}
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
            for rule_id in rule_ids_in_source(path.read_text("utf-8")):
                out.setdefault(rule_id, set()).add(str(path.relative_to(ROOT)))
    return out


def classified(doc: str) -> dict[str, str]:
    """``{rule id: source cell}`` of every table of ``doc`` with a ``rule id`` and a
    ``source`` column (``x.*`` names a family)."""
    rows: dict[str, str] = {}
    header: list[str] | None = None
    for line in doc.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if cells and cells[0] == "rule id":
            header = cells if "source" in cells else None
            continue
        if header is None or set(cells[0]) <= {"-", " "} or len(cells) != len(header):
            continue
        for rule_id in re.findall(r"`([a-z][a-z0-9_]*\.(?:\*|[a-z][a-z0-9_-]*))`", cells[0]):
            rows[rule_id] = cells[header.index("source")]
    return rows


def unclassified(found: Iterable[str], rows: dict[str, str]) -> list[str]:
    """The ids of ``found`` without a row whose source names its kind."""
    def row_of(rule_id: str) -> str | None:
        return rows.get(rule_id) or rows.get(rule_id.split(".", 1)[0] + ".*")
    return sorted(r for r in found if not KIND.search(row_of(r) or ""))


def test_every_rule_id_raised_in_the_code_is_classified_in_the_rules_page():
    found = rule_ids_in_code()
    assert len(found) > 90  # the collector finds the code's rules (102 when written)
    missing = unclassified(found, classified(DOC.read_text("utf-8")))
    assert not missing, "rule ids raised in the code without a classified row in docs/rules.md: " + \
        ", ".join(f"{r} ({', '.join(sorted(found[r]))})" for r in missing)


def test_the_collector_finds_the_kinds_of_places_a_rule_id_is_raised_in():
    seeded = '''
def check(ctx):
    yield Issue("/x", "seeded.by_issue", "中", "en")
    raise Invalid("x", [_issue("/y", "seeded.by_helper", "中", "en")])
    rule = "seeded.by_assignment" if ctx else f"seeded_family.{ctx}"
    letter = {"pointer": "", "rule": "seeded.in_reason"}
    other = Problem(400, "x", "y", rule="seeded.by_keyword")
    logger = getLogger("gateway.not_a_rule")
'''
    assert rule_ids_in_source(seeded) == {"seeded.by_issue", "seeded.by_helper", "seeded.by_assignment",
                                          "seeded_family.*", "seeded.in_reason", "seeded.by_keyword"}


def test_an_unclassified_rule_id_is_caught():
    rows = classified(DOC.read_text("utf-8"))
    found = {"service_record.recorded_late", "schema.maxLength", "seeded.unclassified"}
    assert unclassified(found, rows) == ["seeded.unclassified"]
    # a row without a kind of source does not classify
    assert unclassified({"seeded.x"}, classified(
        "| rule id | source |\n|---|---|\n| `seeded.x` | because |\n")) == ["seeded.x"]
    assert unclassified({"seeded.x"}, classified(
        "| rule id | source |\n|---|---|\n| `seeded.x` | policy: `SOME_SETTING` |\n")) == []
