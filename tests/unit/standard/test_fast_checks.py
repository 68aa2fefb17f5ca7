"""The rules' fast checks never pass a record that any rule would fault.

``fast_check`` functions see schema-valid records and may answer False whenever unsure, but
True must imply that every rule reports nothing. Checked here over many mutations of good
records; also checked: the fast checks do pass ordinary good records (else they are useless).
"""

import dataclasses
import itertools
import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from stdnum.cn import ric

from gateway.standard.engine import Engine
from gateway.standard.regions import Regions
from gateway.standard.rules import fast_check_for, rules_for
from tests import factories

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=TZ)


@pytest.fixture(scope="module")
def engine():
    return Engine(Regions.load(), TZ)


def _id(region: str, born: str, seq: str, good_check: bool = True) -> str:
    body = region + born + seq
    check = ric.calc_check_digit(body + "0")
    if not good_check:
        check = "0" if check != "0" else "1"
    return body + check


VOLUNTEER_VARIANTS = {
    "id_number": [_id("110105", "19491231", "002"), _id("110105", "19900101", "123"),
                  _id("110105", "19900101", "123", good_check=False), _id("110103", "19800101", "011"),
                  _id("999999", "19800101", "011"), _id("810000", "19800101", "011"),
                  _id("110105", "20100101", "011"), _id("110105", "20081129", "011"),
                  _id("110105", "20081130", "011"), _id("110105", "20300101", "011"),
                  "11010519491231002x", "A1234567(8)", "H12345678", "12345678", "E12345678"],
    "id_type": ["01", "02", "03", "04", "05", "9", "99"],
    "gender": ["1", "2"],
    "birth_date": [factories.OMIT, "1949-12-31", "1990-01-01", "1980-01-01", "2008-11-29",
                   "2008-11-30", "2020-01-01", "2030-01-01", "2000-02-29"],
    "service_area": [factories.OMIT, "110105", "110000", "110100", "441900", "110103",
                     "110105001", "110105001000000000", "999999"],
    "residence_area": [factories.OMIT, "110105", "110103", "999999"],
    "source_updated_at": [factories.OMIT, "2024-05-01T09:00:00", "2024-02-30T09:00:00"],
    "guardian": [factories.OMIT, factories.guardian()],
}


def _volunteer_cases(count: int):
    rng = random.Random(7)
    keys = list(VOLUNTEER_VARIANTS)
    for _ in range(count):
        yield factories.volunteer(**{k: rng.choice(VOLUNTEER_VARIANTS[k]) for k in keys
                                     if rng.random() < 0.6})


def _service_record_cases():
    starts = ["2024-05-01T09:00:00", "2024-05-01T23:00:00", "2024-05-01T09:00:00+00:00",
              "2026-11-29T09:00:00", "2024-02-30T09:00:00"]
    ends = ["2024-05-01T12:30:00", "2024-05-02T00:00:00", "2024-05-02T01:00:00",
            "2024-05-01T08:00:00", "2026-11-29T11:00:00", "2024-05-01T12:30:00+00:00"]
    hours = [3.5, 3.49, 3.51, 1, 2, 1.0, 0.5, 4.5]
    for start, end, h in itertools.product(starts, ends, hours):
        yield factories.service_record(started_at=start, ended_at=end, hours=h)


def _check_contract(engine, entity, records, **policy):
    fast = fast_check_for(entity)
    compiled = engine._get(entity, "1")
    ctx = dataclasses.replace(engine.context(NOW), **policy)
    passed = 0
    for record in records:
        if not compiled.fast.is_valid(record):
            continue
        if fast(record, ctx):
            passed += 1
            issues = [i for r in rules_for(entity) for i in r.fn(record, ctx)]
            assert issues == [], (record, issues)
    return passed


def test_volunteer_fast_check_never_passes_a_faulty_record(engine):
    assert _check_contract(engine, "volunteer", _volunteer_cases(4000)) > 100


@pytest.mark.parametrize("hours_policy", ["within_duration", "equal_duration"])
@pytest.mark.parametrize("same_day", [False, True])
def test_service_record_fast_check_never_passes_a_faulty_record(engine, hours_policy, same_day):
    """Under every combination of the policies (SERVICE_HOURS_POLICY, SERVICE_RECORD_SAME_DAY)."""
    assert _check_contract(engine, "service_record", _service_record_cases(),
                           hours_policy=hours_policy, same_day=same_day) >= 2


def test_fast_checks_pass_good_records(engine):
    ctx = engine.context(NOW)
    assert fast_check_for("volunteer")(factories.volunteer(), ctx)
    assert fast_check_for("service_record")(factories.service_record(), ctx)
