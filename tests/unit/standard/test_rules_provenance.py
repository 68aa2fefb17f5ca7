"""docs/rules.md traces every rule id to its source: a text, the national system's behaviour,
the product's policy (a setting) or the data's integrity ("Where each rule comes from")."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.settings import SETTINGS_BY_NAME
from gateway.standard.rules import load_rules

DOC = Path(__file__).resolve().parents[3] / "docs" / "rules.md"
KINDS = ("text", "national", "policy", "integrity")
RULE_TABLES = ("## Rules", "## Rules across records (store)")


def _rows() -> dict[str, str]:
    """{rule id: source cell} of every row of the two rule tables."""
    rows: dict[str, str] = {}
    section, header = None, None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section, header = line.strip(), None
            continue
        if section not in RULE_TABLES or not line.startswith("|"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if cells[0] == "rule id":
            header = cells
            continue
        if header is None or set(cells[0]) <= {"-"}:
            continue
        assert len(cells) == len(header), f"row has {len(cells)} cells, header {len(header)}: {line}"
        for rule_id in re.findall(r"`([a-z_]+\.[a-z_]+)`", cells[0]):
            rows[rule_id] = cells[header.index("source")]
    return rows


def test_every_registered_rule_has_a_source():
    rows = _rows()
    missing = sorted(set(load_rules()) - set(rows))
    assert not missing, f"rules without a row (and source) in docs/rules.md: {missing}"


def test_every_source_names_its_kind():
    for rule_id, source in _rows().items():
        kinds = re.findall(r"\b(text|national|policy|integrity):", source)
        assert kinds, f"{rule_id}: source {source!r} names none of {KINDS}"


def test_a_policy_names_a_declared_setting():
    for rule_id, source in _rows().items():
        if "policy:" not in source:
            continue
        names = re.findall(r"`([A-Z_]+)", source.split("policy:", 1)[1])
        assert names, f"{rule_id}: a policy names its setting"
        for name in names:
            assert name in SETTINGS_BY_NAME, f"{rule_id}: {name} is not a setting"


def test_service_time_rules_are_not_presented_as_the_standard():
    rows = _rows()
    for rule_id in ("service_record.hours_match", "service_record.same_day"):
        assert rows[rule_id].startswith("national"), rule_id
        assert "policy:" in rows[rule_id], rule_id
    assert "SERVICE_HOURS_POLICY" in rows["service_record.hours_within_duration"]
