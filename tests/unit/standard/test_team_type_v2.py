"""What the national team form requires by team type (schemas/build_v2.py BY_TYPE: an allOf of
if/then in v2's team schema), through the engine as the gateway runs it: refused with a
pointer under NATIONAL_REQUIRED = enforce, warnings under warn; v1 untouched."""

from __future__ import annotations

import copy
from zoneinfo import ZoneInfo

import pytest

from gateway.standard.engine import Engine
from gateway.standard.regions import Regions
from tests import factories

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def enforce():
    return Engine(Regions.load(), TZ)


@pytest.fixture(scope="module")
def warn():
    return Engine(Regions.load(), TZ, national_required="warn")


def _base(**fields) -> dict:
    """A v2 team with what every national team form asks (not by type)."""
    record = factories.team(team_no=factories.OMIT, registration_authority="110105000000000000",
                            leader={"name": "李主任", "mobile": "13911115555"})
    record.update(fields)
    return {k: v for k, v in record.items() if v is not factories.OMIT}


def organisation(**fields) -> dict:
    """Type 2 (registered organisation) with everything its form requires."""
    return _base(**{"supervisor_name": "北京市朝阳区民政局", "has_liaison": "0",
                    "uscc_scan": "/upload/t/1.pdf", **fields})


def group(**fields) -> dict:
    """Type 1 (unregistered group) with a direct parent: everything its form requires."""
    record = _base(team_type="1", has_direct_parent="1", application_scan="/upload/t/2.pdf",
                   links={"parent": "nid:8a8a0001"},
                   approving_unit={"name": "建外街道办事处", "contact": "李明", "phone": "010-65001234"})
    for key in ("uscc", "registration_dept", "unit_type", "registration_authority"):
        record.pop(key, None)
    record.update(fields)
    return record


def _missing(engine, record) -> set[tuple[str, str]]:
    report = engine.validate("team", record, "2")
    return {(i.pointer, i.rule) for i in report.issues}


def test_complete_records_of_each_type_are_valid(enforce):
    assert _missing(enforce, organisation()) == set()
    assert _missing(enforce, organisation(team_type="3", unit_type="99")) == set()
    assert _missing(enforce, group()) == set()


@pytest.mark.parametrize("key", ["supervisor_name", "has_liaison", "unit_type", "registration_dept",
                                 "registration_authority", "uscc", "uscc_scan"])
def test_a_registered_organisation_needs_what_its_form_asks(enforce, key):
    record = organisation()
    del record[key]
    assert (f"/{key}", "schema.required") in _missing(enforce, record)


def test_a_liaison_organisation_is_named_when_there_is_one(enforce):
    assert ("/links", "schema.required") in _missing(enforce, organisation(has_liaison="1"))
    assert _missing(enforce, organisation(has_liaison="1", links={"liaison": "nid:8a8a0009"})) == set()


def test_an_unregistered_group_needs_no_credit_code_but_its_own_fields(enforce):
    record = group()
    assert not {"uscc", "registration_dept", "registration_authority"} & set(record)
    for key in ("has_direct_parent", "application_scan"):
        broken = copy.deepcopy(record)
        del broken[key]
        assert (f"/{key}", "schema.required") in _missing(enforce, broken)
    no_parent = copy.deepcopy(record)
    del no_parent["links"]
    assert ("/links", "schema.required") in _missing(enforce, no_parent)


def test_a_group_without_parent_or_liaison_gives_the_approving_units_details(enforce):
    record = group(has_direct_parent="0", has_liaison="0", unit_type="10")
    del record["links"]
    assert _missing(enforce, record) == {("/registration_authority", "schema.required"),
                                         ("/approving_unit/uscc", "schema.required")}
    record["registration_authority"] = "110105000000000000"
    record["approving_unit"]["uscc"] = "91110105MA00ABCD1X"
    assert ("/approving_unit/uscc", "schema.required") not in _missing(enforce, record)
    with_liaison = group(has_direct_parent="0", has_liaison="1", unit_type="10")
    del with_liaison["links"]
    assert ("/links", "schema.required") in _missing(enforce, with_liaison)


def test_under_warn_the_type_requirements_are_warnings(warn):
    record = organisation()
    del record["supervisor_name"], record["uscc_scan"]
    report = warn.validate("team", record, "2")
    assert report.valid, report.issues
    assert {(w.pointer, w.rule) for w in report.warnings} >= {
        ("/supervisor_name", "national.required"), ("/uscc_scan", "national.required")}
    nested = group()
    del nested["links"]
    report = warn.validate("team", nested, "2")
    assert report.valid and ("/links", "national.required") in {
        (w.pointer, w.rule) for w in report.warnings}


def test_v1_does_not_ask_them(enforce):
    record = factories.team(team_no=factories.OMIT)
    record = {k: v for k, v in record.items() if v is not factories.OMIT}
    assert enforce.validate("team", record).valid
