"""The semantic rules: each accepts a good record and rejects a bad one with its id and pointer.

The clock is fixed (conftest): now = 2026-11-29T10:00:00+08:00, minimum age 6, adult at 18.
"""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from stdnum.cn import uscc

from gateway.standard.issues import Issue
from gateway.standard.rules import RuleContext, load_rules, rules_for
from gateway.standard.rules.common import age_on, parse_date, parse_local_datetime
from tests import factories

RULES = load_rules()
TZ = ZoneInfo("Asia/Shanghai")

EXPECTED_RULES = {
    "datetime.real", "region.current",
    "citizen_id.format", "citizen_id.checksum", "citizen_id.birth_date", "citizen_id.region",
    "volunteer.gender_matches_id", "volunteer.birth_date_matches_id",
    "volunteer.birth_date_real", "volunteer.service_area_level", "volunteer.min_age",
    "volunteer.guardian_required", "volunteer.hk_mo_tw_document", "volunteer.consent_required",
    "uscc.checksum", "team.uscc_required", "team.approving_unit_required",
    "team.unit_type_allowed",
    "project.end_after_start", "project.post_window",
    "service_record.end_after_start", "service_record.same_day",
    "service_record.not_future", "service_record.hours_match",
    "service_record.hours_within_duration",
}


# --- helpers ----------------------------------------------------------------------------------

def make_id(prefix: str = "110105", birth: str = "19900101", seq: str = "123") -> str:
    """A citizen ID number (or residence permit number) with a correct check character."""
    return factories.citizen_id(int(seq), area=prefix, born=birth)


def bad_check(number: str) -> str:
    """The same number with a wrong check character."""
    right = number[17]
    return number[:17] + ("1" if right != "1" else "2")


def make_uscc(body17: str) -> str:
    return body17 + uscc.calc_check_digit(body17)


def run(rule_id: str, record, ctx: RuleContext) -> list[Issue]:
    return list(RULES[rule_id].fn(record, ctx))


def with_policy(ctx: RuleContext, **policy) -> RuleContext:
    """``ctx`` with other policies (hours_policy, same_day)."""
    return dataclasses.replace(ctx, **policy)


def found(rule_id: str, record, ctx: RuleContext) -> list[tuple[str, str]]:
    """(rule, pointer) of every issue ``rule_id`` finds."""
    return [(i.rule, i.pointer) for i in run(rule_id, record, ctx)]


def all_issues(entity: str, record, ctx: RuleContext) -> list[Issue]:
    return [issue for r in rules_for(entity) for issue in r.fn(record, ctx)]


def birth_years_ago(ctx: RuleContext, years: int, days: int = 0) -> str:
    """The birth date (YYYYMMDD) of someone turning ``years`` on today + ``days``."""
    day = ctx.today + timedelta(days=days)
    return f"{day.year - years:04d}{day.month:02d}{day.day:02d}"


GUARDIAN = {"name": "张父", "relation": "父亲", "mobile": "13900139000",
            "consent_at": "2026-11-01T09:00:00"}


def volunteer(**fields) -> dict:
    record = {"name": "张三", "id_type": "01", "id_number": make_id(), "gender": "1",
              "mobile": "13800138000", "birth_date": "1990-01-01",
              "residence_area": "110105", "service_area": "110101001",
              "registration_area": "110000000000000000",
              "source_updated_at": "2026-11-28T08:00:00+08:00"}
    record.update(fields)
    return {k: v for k, v in record.items() if v is not ...}


def team(**fields) -> dict:
    record = {"name": "阳光志愿服务队", "team_type": "2", "unit_type": "13",
              "uscc": make_uscc("51110000MJ0000000"), "contact_mobile": "13800138000",
              "area": "110105"}
    record.update(fields)
    return {k: v for k, v in record.items() if v is not ...}


def project(**fields) -> dict:
    record = {"name": "社区助老", "team_no": "T1", "starts_on": "2026-01-01",
              "ends_on": "2026-12-31", "service_category": "01", "area": "110105",
              "posts": [{"name": "陪伴", "headcount": 3, "starts_at": "2026-03-01T09:00:00",
                         "ends_at": "2026-03-01T11:00:00"}]}
    record.update(fields)
    return {k: v for k, v in record.items() if v is not ...}


def service_record(**fields) -> dict:
    record = {"volunteer_no": "V1100002201000004V", "project_no": "P1",
              "started_at": "2026-11-28T09:00:00", "ended_at": "2026-11-28T12:30:00",
              "hours": 3.5, "status": "2"}
    record.update(fields)
    return {k: v for k, v in record.items() if v is not ...}


# --- registry ---------------------------------------------------------------------------------

def test_every_rule_is_registered_with_a_summary():
    assert set(RULES) == EXPECTED_RULES
    for r in RULES.values():
        assert r.summary, r.rule_id
        assert r.entities, r.rule_id


def test_rules_for_entities():
    assert {r.rule_id for r in rules_for("service_record")} == {
        "datetime.real", "service_record.end_after_start", "service_record.same_day",
        "service_record.not_future", "service_record.hours_match",
        "service_record.hours_within_duration"}
    assert "region.current" in {r.rule_id for r in rules_for("team")}
    assert {r.rule_id for r in rules_for("batch")} == {"datetime.real"}


@pytest.mark.parametrize("entity,record", [
    ("volunteer", volunteer()), ("team", team()), ("project", project()),
    ("service_record", service_record()),
])
def test_good_records_have_no_issues(entity, record, ctx):
    assert all_issues(entity, record, ctx) == []


# --- helpers in common ------------------------------------------------------------------------

def test_parse_local_datetime():
    naive = parse_local_datetime("2026-11-28T09:00:00", TZ)
    assert naive == datetime(2026, 11, 28, 9, tzinfo=TZ) and naive.tzinfo is TZ
    utc = parse_local_datetime("2026-11-28T01:00:00Z", TZ)
    assert utc == naive and utc.utcoffset() == timedelta(0)
    assert parse_local_datetime("2026-11-28T09:00:00+08:00", TZ) == naive
    for bad in ("2026-02-30T09:00:00", "2026-11-28T25:00:00", "2026-11-28T09:00:00+24:00",
                "2026-11-28", "2026-11-28 09:00:00", "2026-11-28T09:00", "2026-11-28T09:00:00.5",
                "２０２６-11-28T09:00:00", None, 20261128, ["2026-11-28T09:00:00"], "",
                "2026-11-28T09:00:00\n"):
        assert parse_local_datetime(bad, TZ) is None, bad


def test_parse_date():
    assert parse_date("2000-02-29").isoformat() == "2000-02-29"
    for bad in ("2001-02-29", "2026-13-01", "20260101", "2026-W01-1", None, 1, "", "2026-1-1"):
        assert parse_date(bad) is None, bad


@pytest.mark.parametrize("birth,day,age", [
    ("2008-11-29", "2026-11-29", 18), ("2008-11-30", "2026-11-29", 17),
    ("2008-02-29", "2026-02-28", 17), ("2008-02-29", "2026-03-01", 18),
    ("2008-02-29", "2028-02-29", 20), ("2020-01-01", "2026-11-29", 6),
])
def test_age_on(birth, day, age):
    assert age_on(parse_date(birth), parse_date(day)) == age


# --- datetime.real ----------------------------------------------------------------------------

@pytest.mark.parametrize("record,pointer", [
    (service_record(started_at="2026-02-30T09:00:00"), "/started_at"),
    (service_record(ended_at="2026-11-28T25:00:00"), "/ended_at"),
    (service_record(applied_at="2026-11-28T10:61:00"), "/applied_at"),
    (service_record(source_updated_at="2026-11-28T10:00:60"), "/source_updated_at"),
    (volunteer(guardian={**GUARDIAN, "consent_at": "2025-02-29T10:00:00"}), "/guardian/consent_at"),
    (project(posts=[{"name": "a", "headcount": 1},
                    {"name": "b", "headcount": 1, "starts_at": "2026-04-31T09:00:00"}]),
     "/posts/1/starts_at"),
    (project(posts=[{"name": "a", "headcount": 1, "ends_at": "2026-04-30T24:00:00"}]),
     "/posts/0/ends_at"),
    ({"enrollment_no": "E1", "decided_at": "2026-00-10T10:00:00"}, "/decided_at"),
    ({"complaint_no": "C1", "submitted_at": "2026-11-28T10:00:00+25:00"}, "/submitted_at"),
    ({"evaluation_no": "E1", "evaluated_at": "2026-11-31T10:00:00Z"}, "/evaluated_at"),
    ({"schema_version": "1", "generated_at": "2026-11-28T99:00:00"}, "/generated_at"),
])
def test_datetime_real_rejects_unreal_instants(record, pointer, ctx):
    assert found("datetime.real", record, ctx) == [("datetime.real", pointer)]


def test_datetime_real_accepts_real_instants_and_ignores_other_shapes(ctx):
    record = service_record(started_at="2024-02-29T09:00:00+08:00", ended_at="2024-02-29T10:00:00Z",
                            applied_at="not a date", source_updated_at=12)
    assert found("datetime.real", record, ctx) == []


def test_datetime_real_reports_every_field(ctx):
    record = service_record(started_at="2026-02-30T09:00:00", ended_at="2026-02-30T10:00:00")
    assert found("datetime.real", record, ctx) == [("datetime.real", "/started_at"),
                                                    ("datetime.real", "/ended_at")]


# --- region.current ---------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["110105", "110101001", "110101001001", "110101000000000000",
                                  "110000", "110100", "440305"])
def test_region_current_accepts_current_codes(code, ctx):
    assert found("region.current", volunteer(residence_area=code), ctx) == []


def test_region_current_rejects_abolished_code(ctx):
    issues = run("region.current", volunteer(residence_area="110103"), ctx)  # 崇文区, merged 2010
    assert [(i.rule, i.pointer) for i in issues] == [("region.current", "/residence_area")]
    assert "110103" in issues[0].message_zh and "abolished" in issues[0].message_en


@pytest.mark.parametrize("entity,record,pointer", [
    ("volunteer", volunteer(service_area="999999"), "/service_area"),
    ("volunteer", volunteer(registration_area="110101999"), "/registration_area"),
    ("team", team(area="110105999000000000"), "/area"),
    ("project", project(area="123456"), "/area"),
])
def test_region_current_rejects_unknown_codes(entity, record, pointer, ctx):
    assert found("region.current", record, ctx) == [("region.current", pointer)]


def test_region_current_never_echoes_an_id_number_in_a_region_field(ctx):
    number = make_id("110105", "19900101", "123")
    issues = run("region.current", volunteer(residence_area=number), ctx)
    assert [i.pointer for i in issues] == ["/residence_area"]
    assert number not in issues[0].message_zh + issues[0].message_en
    assert "19900101" not in issues[0].message_zh + issues[0].message_en


def test_region_current_skips_wrong_shapes(ctx):
    for value in (None, 110105, "11010", "110105 ", "11", "1101", "ABCDEF", ["110103"]):
        assert found("region.current", volunteer(residence_area=value), ctx) == [], value


# --- citizen_id.* -----------------------------------------------------------------------------

def test_real_id_with_x_check_character_is_valid(ctx):
    record = volunteer(id_number="11010519491231002X", gender="2", birth_date="1949-12-31")
    assert all_issues("volunteer", record, ctx) == []


def test_lowercase_x_is_a_format_issue_only(ctx):
    record = volunteer(id_number="11010519491231002x", gender="2", birth_date="1949-12-31")
    issues = all_issues("volunteer", record, ctx)
    assert [(i.rule, i.pointer) for i in issues] == [("citizen_id.format", "/id_number")]
    assert "大写" in issues[0].message_zh and "upper-case X" in issues[0].message_en


@pytest.mark.parametrize("number", [
    "11010519491231002", "1101051949123100200", "01010519491231002X", "110105174912310021",
    "110105194913310021", "110105194912320021", "11010519491231002Y", "11010519491231002 ",
    "１１０１０５１９４９１２３１００２Ｘ", "", "110105-19491231-002X",
])
def test_citizen_id_format_rejects_malformed_numbers(number, ctx):
    issues = run("citizen_id.format", volunteer(id_number=number), ctx)
    assert [(i.rule, i.pointer) for i in issues] == [("citizen_id.format", "/id_number")]
    assert "18" in issues[0].message_zh
    # a malformed number is judged by no other ID rule
    for rule_id in ("citizen_id.checksum", "citizen_id.birth_date", "citizen_id.region",
                    "volunteer.gender_matches_id", "volunteer.birth_date_matches_id"):
        assert run(rule_id, volunteer(id_number=number), ctx) == []


def test_citizen_id_rules_only_apply_to_mainland_ids(ctx):
    record = volunteer(id_type="05", id_number="E12345678")
    for rule_id in ("citizen_id.format", "citizen_id.checksum", "citizen_id.birth_date",
                    "citizen_id.region", "volunteer.gender_matches_id",
                    "volunteer.birth_date_matches_id"):
        assert run(rule_id, record, ctx) == []


def test_citizen_id_checksum(ctx):
    good = make_id()
    assert found("citizen_id.checksum", volunteer(id_number=good), ctx) == []
    assert found("citizen_id.checksum", volunteer(id_number=bad_check(good)), ctx) == [
        ("citizen_id.checksum", "/id_number")]
    assert found("citizen_id.checksum", volunteer(id_number="110105194912310021"), ctx) == [
        ("citizen_id.checksum", "/id_number")]


def test_citizen_id_checksum_of_lowercase_x_is_judged_as_uppercase(ctx):
    # 110105194912310029 has check 9; with a (lowercase) x the checksum rule still reports it
    assert found("citizen_id.checksum", volunteer(id_number="11010519491231002x"), ctx) == []
    assert found("citizen_id.checksum", volunteer(id_number="11010519491231003x"), ctx) == [
        ("citizen_id.checksum", "/id_number")]


@pytest.mark.parametrize("birth", ["20000229", "19491231", "18991231", "20261129"])
def test_citizen_id_birth_date_accepts_real_dates(birth, ctx):
    assert found("citizen_id.birth_date", volunteer(id_number=make_id(birth=birth)), ctx) == []


@pytest.mark.parametrize("birth", ["20010229", "19900230", "19900431", "20261130", "20990101"])
def test_citizen_id_birth_date_rejects_unreal_or_future_dates(birth, ctx):
    record = volunteer(id_number=make_id(birth=birth), birth_date=...)
    assert found("citizen_id.birth_date", record, ctx) == [("citizen_id.birth_date", "/id_number")]


@pytest.mark.parametrize("prefix", ["110105", "110103", "110104", "810000", "820000", "830000",
                                    "110000"])
def test_citizen_id_region_accepts_codes_that_ever_existed(prefix, ctx):
    # 110103 崇文区 / 110104 宣武区 no longer exist but IDs issued there stay valid;
    # 81/82/83 0000 are Hong Kong / Macau / Taiwan residence permits.
    assert found("citizen_id.region", volunteer(id_number=make_id(prefix)), ctx) == []


def test_residence_permits_pass_every_volunteer_rule(ctx):
    for prefix in ("810000", "820000", "830000"):
        record = volunteer(id_number=make_id(prefix, "19900101", "124"), gender="2")
        assert all_issues("volunteer", record, ctx) == [], prefix


@pytest.mark.parametrize("prefix", ["999999", "840000", "110199", "123456"])
def test_citizen_id_region_rejects_codes_that_never_existed(prefix, ctx):
    assert found("citizen_id.region", volunteer(id_number=make_id(prefix)), ctx) == [
        ("citizen_id.region", "/id_number")]


# --- volunteer.* ------------------------------------------------------------------------------

def test_gender_matches_id(ctx):
    male = make_id(seq="123")
    female = make_id(seq="124")
    assert found("volunteer.gender_matches_id", volunteer(id_number=male, gender="1"), ctx) == []
    assert found("volunteer.gender_matches_id", volunteer(id_number=female, gender="2"), ctx) == []
    issues = run("volunteer.gender_matches_id", volunteer(id_number=female, gender="1"), ctx)
    assert [(i.rule, i.pointer) for i in issues] == [("volunteer.gender_matches_id", "/gender")]
    assert "expected 2" in issues[0].message_en
    assert found("volunteer.gender_matches_id", volunteer(id_number=male, gender="2"), ctx) == [
        ("volunteer.gender_matches_id", "/gender")]
    # unknown gender codes are the schema's
    assert found("volunteer.gender_matches_id", volunteer(id_number=male, gender="9"), ctx) == []


def test_birth_date_matches_id(ctx):
    number = make_id(birth="19900101")
    assert found("volunteer.birth_date_matches_id", volunteer(id_number=number), ctx) == []
    assert found("volunteer.birth_date_matches_id",
                 volunteer(id_number=number, birth_date=...), ctx) == []
    issues = run("volunteer.birth_date_matches_id",
                 volunteer(id_number=number, birth_date="1990-01-02"), ctx)
    assert [(i.rule, i.pointer) for i in issues] == [
        ("volunteer.birth_date_matches_id", "/birth_date")]
    assert "19900101" not in issues[0].message_zh + issues[0].message_en


def test_birth_date_real(ctx):
    assert found("volunteer.birth_date_real", volunteer(birth_date="2026-11-29",
                                                        id_type="05", id_number="E1"), ctx) == []
    assert found("volunteer.birth_date_real", volunteer(birth_date="2026-11-30"), ctx) == [
        ("volunteer.birth_date_real", "/birth_date")]


def test_leap_day_birth_dates(ctx):
    leap = volunteer(id_number=make_id(birth="20000229"), birth_date="2000-02-29")
    assert all_issues("volunteer", leap, ctx) == []
    not_leap = volunteer(id_number=make_id(birth="20010229"), birth_date="2001-02-29")
    rules = {(i.rule, i.pointer) for i in all_issues("volunteer", not_leap, ctx)}
    # 2001-02-29 in birth_date itself is the schema's (format: date); no rule raises on it
    assert rules == {("citizen_id.birth_date", "/id_number")}


@pytest.mark.parametrize("code", ["110105", "110101001", "110101001001", "110101000000000000"])
def test_service_area_level_accepts_county_or_deeper(code, ctx):
    assert found("volunteer.service_area_level", volunteer(service_area=code), ctx) == []


@pytest.mark.parametrize("code,level", [("110000", "province"), ("110100", "city"),
                                        ("440300", "city"), ("110000000000000000", "province")])
def test_service_area_level_rejects_province_and_city(code, level, ctx):
    issues = run("volunteer.service_area_level", volunteer(service_area=code), ctx)
    assert [(i.rule, i.pointer) for i in issues] == [("volunteer.service_area_level",
                                                      "/service_area")]
    assert level in issues[0].message_en


def test_service_area_level_leaves_unknown_codes_to_region_current(ctx):
    assert found("volunteer.service_area_level", volunteer(service_area="110103"), ctx) == []


def test_min_age(ctx):
    six_today = birth_years_ago(ctx, 6)
    five = birth_years_ago(ctx, 6, days=1)  # turns 6 tomorrow
    ok = volunteer(id_number=make_id(birth=six_today), birth_date=..., guardian=GUARDIAN)
    assert found("volunteer.min_age", ok, ctx) == []
    too_young = volunteer(id_number=make_id(birth=five), birth_date=..., guardian=GUARDIAN)
    issues = run("volunteer.min_age", too_young, ctx)
    assert [(i.rule, i.pointer) for i in issues] == [("volunteer.min_age", "/id_number")]
    assert "6" in issues[0].message_en
    by_birth_date = volunteer(id_type="05", id_number="E12345678", birth_date="2024-01-01",
                              guardian=GUARDIAN)
    assert found("volunteer.min_age", by_birth_date, ctx) == [("volunteer.min_age", "/birth_date")]


def test_min_age_follows_the_context(ctx):
    strict = RuleContext(now=ctx.now, tz=ctx.tz, regions=ctx.regions, min_volunteer_age=14)
    record = volunteer(id_type="05", id_number="E12345678", birth_date="2014-01-01",
                       guardian=GUARDIAN)
    assert found("volunteer.min_age", record, ctx) == []
    assert found("volunteer.min_age", record, strict) == [("volunteer.min_age", "/birth_date")]


def test_turning_18_today_is_adult(ctx):
    birth = birth_years_ago(ctx, 18)
    record = volunteer(id_number=make_id(birth=birth), birth_date=...)
    assert all_issues("volunteer", record, ctx) == []


def test_turning_18_tomorrow_needs_a_guardian(ctx):
    birth = birth_years_ago(ctx, 18, days=1)
    record = volunteer(id_number=make_id(birth=birth), birth_date=...)
    assert [(i.rule, i.pointer) for i in all_issues("volunteer", record, ctx)] == [
        ("volunteer.guardian_required", "/guardian")]
    assert all_issues("volunteer", {**record, "guardian": GUARDIAN}, ctx) == []


def test_leap_day_birthday_counts_on_1_march(regions):
    birth = "2008-02-29"
    record = volunteer(id_type="05", id_number="E12345678", birth_date=birth)
    feb28 = RuleContext(now=datetime(2026, 2, 28, 23, 59, tzinfo=TZ), tz=TZ, regions=regions)
    mar1 = RuleContext(now=datetime(2026, 3, 1, 0, 0, tzinfo=TZ), tz=TZ, regions=regions)
    assert found("volunteer.guardian_required", record, feb28) == [
        ("volunteer.guardian_required", "/guardian")]
    assert found("volunteer.guardian_required", record, mar1) == []


def test_guardian_required_needs_consent_at(ctx):
    minor = volunteer(id_number=make_id(birth="20150101"), birth_date="2015-01-01")
    no_consent = {k: v for k, v in GUARDIAN.items() if k != "consent_at"}
    assert found("volunteer.guardian_required", {**minor, "guardian": no_consent}, ctx) == [
        ("volunteer.guardian_required", "/guardian/consent_at")]
    assert found("volunteer.guardian_required", {**minor, "guardian": GUARDIAN}, ctx) == []
    # an adult's guardian (optional) needs no consent time
    assert found("volunteer.guardian_required", volunteer(guardian=no_consent), ctx) == []


def test_guardian_required_leaves_what_the_schema_reports(ctx):
    minor = volunteer(id_number=make_id(birth="20150101"), birth_date="2015-01-01")
    # name / relation / mobile of a given guardian are required by the schema, and a value of
    # the wrong type (null included) is the schema's: the rule does not repeat those errors
    for guardian in ({"consent_at": "2026-11-01T09:00:00"}, None, "张父", [],
                     {**GUARDIAN, "consent_at": None}, {**GUARDIAN, "consent_at": ""}):
        assert found("volunteer.guardian_required", {**minor, "guardian": guardian}, ctx) == [], guardian


def test_guardian_required_uses_birth_date_first(ctx):
    # birth_date says minor, ID says adult: the birth date decides (and the mismatch is reported)
    record = volunteer(id_number=make_id(birth="19900101"), birth_date="2015-01-01")
    assert {(i.rule, i.pointer) for i in all_issues("volunteer", record, ctx)} == {
        ("volunteer.guardian_required", "/guardian"),
        ("volunteer.birth_date_matches_id", "/birth_date")}


def test_no_age_rules_without_a_known_birth_date(ctx):
    record = volunteer(id_type="05", id_number="E12345678", birth_date=...)
    assert run("volunteer.min_age", record, ctx) == []
    assert run("volunteer.guardian_required", record, ctx) == []
    future = volunteer(birth_date="2027-01-01", id_type="05", id_number="E12345678")
    assert run("volunteer.min_age", future, ctx) == []
    assert run("volunteer.guardian_required", future, ctx) == []


@pytest.mark.parametrize("id_type,number", [
    ("02", "A123456(7)"), ("02", "A1234567"), ("02", "AB987654(A)"), ("02", "H12345678"),
    ("02", "H1234567801"), ("02", make_id("810000")), ("02", "M12345678"),
    ("03", "1234567(8)"), ("03", "51234568"), ("03", "M12345678"), ("03", make_id("820000")),
    ("04", "12345678"), ("04", "1234567890"), ("04", "1234567890(B)"), ("04", "A123456789"),
    ("04", make_id("830000")),
])
def test_hk_mo_tw_document_accepts_known_shapes(id_type, number, ctx):
    record = volunteer(id_type=id_type, id_number=number)
    assert found("volunteer.hk_mo_tw_document", record, ctx) == []
    assert all_issues("volunteer", record, ctx) == []


@pytest.mark.parametrize("id_type,number", [
    ("02", "123"), ("02", "h12345678"), ("02", "A 123456(7)"), ("02", "X"), ("02", "张三"),
    ("02", make_id("830000")), ("02", "810000199001011231x"), ("03", "1234"),
    ("03", "M123456"), ("04", "1234567"), ("04", "987654321"), ("04", "H12345678"),
    ("04", "a123456789"), ("04", "A323456789"), ("04", make_id("810000")), ("04", ""),
])
def test_hk_mo_tw_document_rejects_garbage(id_type, number, ctx):
    issues = run("volunteer.hk_mo_tw_document", volunteer(id_type=id_type, id_number=number), ctx)
    assert [(i.rule, i.pointer) for i in issues] == [("volunteer.hk_mo_tw_document", "/id_number")]
    if len(number) >= 8:  # (short ones may occur in the examples the message gives)
        assert number not in issues[0].message_zh + issues[0].message_en


def test_hk_mo_tw_residence_permit_check_character(ctx):
    for id_type, prefix in (("02", "810000"), ("03", "820000"), ("04", "830000")):
        issues = run("volunteer.hk_mo_tw_document",
                     volunteer(id_type=id_type, id_number=bad_check(make_id(prefix))), ctx)
        assert [(i.rule, i.pointer) for i in issues] == [
            ("volunteer.hk_mo_tw_document", "/id_number")]
        assert "check character" in issues[0].message_en


def test_hk_mo_tw_document_ignores_other_types(ctx):
    for id_type in ("01", "05", "06", "99", "6", None, 2, ["02"]):
        assert found("volunteer.hk_mo_tw_document",
                     volunteer(id_type=id_type, id_number="garbage"), ctx) == []


def test_a_bad_volunteer_gets_every_issue(ctx):
    number = bad_check(make_id("110105", birth_years_ago(ctx, 10), "124"))
    record = volunteer(id_number=number, gender="1", birth_date="2016-01-01",
                       service_area="110000", residence_area="110103",
                       source_updated_at="2026-02-30T00:00:00")
    assert sorted((i.rule, i.pointer) for i in all_issues("volunteer", record, ctx)) == sorted([
        ("citizen_id.checksum", "/id_number"),
        ("volunteer.gender_matches_id", "/gender"),
        ("volunteer.birth_date_matches_id", "/birth_date"),
        ("volunteer.service_area_level", "/service_area"),
        ("volunteer.guardian_required", "/guardian"),
        ("region.current", "/residence_area"),
        ("datetime.real", "/source_updated_at"),
    ])


def test_messages_never_contain_id_or_mobile_numbers(ctx):
    numbers = [bad_check(make_id("999999", "20010229", "124")), "11010519491231002x",
               make_id("110105", "20200101", "123")]
    for number in numbers:
        record = volunteer(id_number=number, gender="1", birth_date="2021-03-04",
                           mobile="13812345678", residence_area=number, service_area=number,
                           guardian={"name": "x", "relation": "y", "mobile": "13987654321"})
        issues = all_issues("volunteer", record, ctx)
        assert issues
        for issue in issues:
            text = issue.message_zh + issue.message_en
            assert number.upper() not in text.upper()
            assert number[6:14] not in text
            assert "13812345678" not in text and "13987654321" not in text
    for number in ("A1234567890", "H1234567", "810000199001011235"):
        for issue in all_issues("volunteer", volunteer(id_type="02", id_number=number), ctx):
            assert number not in issue.message_zh + issue.message_en


# --- team -------------------------------------------------------------------------------------

def test_uscc_checksum(ctx):
    good = make_uscc("51110000MJ0000000")
    assert found("uscc.checksum", team(uscc="91110000600037341L"), ctx) == []
    assert found("uscc.checksum", team(uscc=good), ctx) == []
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    assert found("uscc.checksum", team(uscc=wrong), ctx) == [("uscc.checksum", "/uscc")]
    assert found("uscc.checksum", team(uscc="91110000600037341M"), ctx) == [
        ("uscc.checksum", "/uscc")]


def test_uscc_checksum_of_approving_unit(ctx):
    record = team(team_type="1", unit_type=..., uscc=...,
                  approving_unit={"name": "某社区居委会", "contact": "李四", "phone": "010-12345678",
                                  "uscc": "91110000600037341M"})
    assert found("uscc.checksum", record, ctx) == [("uscc.checksum", "/approving_unit/uscc")]
    record["approving_unit"]["uscc"] = "91110000600037341L"
    assert found("uscc.checksum", record, ctx) == []


def test_uscc_checksum_leaves_malformed_codes_to_the_schema(ctx):
    for value in ("91110000600037341l", "9111000060003734", "I1110000600037341L", 911100006,
                  None, "", "9" * 1000):
        assert found("uscc.checksum", team(uscc=value), ctx) == [], value


@pytest.mark.parametrize("team_type", ["2", "3"])
def test_uscc_required(team_type, ctx):
    assert found("team.uscc_required", team(team_type=team_type), ctx) == []
    assert found("team.uscc_required", team(team_type=team_type, uscc=...), ctx) == [
        ("team.uscc_required", "/uscc")]
    # a present value of the wrong type or shape is the schema's (type / minLength / pattern)
    for present in (None, "", "  "):
        assert found("team.uscc_required", team(team_type=team_type, uscc=present), ctx) == []
    assert found("team.uscc_required", team(team_type="1", uscc=...), ctx) == []


def test_approving_unit_required(ctx):
    unit = {"name": "某社区居委会", "contact": "李四", "phone": "13800138000"}
    ok = team(team_type="1", unit_type="09", uscc=..., approving_unit=unit)
    assert all_issues("team", ok, ctx) == []
    assert found("team.approving_unit_required", team(team_type="1", uscc=...), ctx) == [
        ("team.approving_unit_required", "/approving_unit")]
    partial = team(team_type="1", uscc=..., approving_unit={"name": "某单位"})
    assert found("team.approving_unit_required", partial, ctx) == [
        ("team.approving_unit_required", "/approving_unit/contact"),
        ("team.approving_unit_required", "/approving_unit/phone")]
    # present values (null, "" included) and a non-object are the schema's
    present = team(team_type="1", uscc=..., approving_unit={"name": "", "contact": None, "phone": 1})
    assert found("team.approving_unit_required", present, ctx) == []
    for unit in (None, "某单位", []):
        assert found("team.approving_unit_required", team(team_type="1", approving_unit=unit),
                     ctx) == []
    assert found("team.approving_unit_required", team(team_type="2"), ctx) == []


@pytest.mark.parametrize("unit_type", ["13", "14", "15"])
def test_unit_type_allowed_accepts_organisation_types(unit_type, ctx):
    assert found("team.unit_type_allowed", team(unit_type=unit_type), ctx) == []


@pytest.mark.parametrize("unit_type", ["01", "09", "16", "99"])
def test_unit_type_allowed_rejects_other_types_for_type_2(unit_type, ctx):
    assert found("team.unit_type_allowed", team(unit_type=unit_type), ctx) == [
        ("team.unit_type_allowed", "/unit_type")]
    assert found("team.unit_type_allowed", team(team_type="3", unit_type=unit_type), ctx) == []


# --- project ----------------------------------------------------------------------------------

def test_project_end_after_start(ctx):
    assert found("project.end_after_start", project(ends_on="2026-01-01"), ctx) == []
    assert found("project.end_after_start", project(ends_on="2025-12-31"), ctx) == [
        ("project.end_after_start", "/ends_on")]
    assert found("project.end_after_start", project(ends_on="2025-02-30"), ctx) == []


def test_project_post_window(ctx):
    posts = [{"name": "a", "headcount": 1, "starts_at": "2026-03-01T09:00:00",
              "ends_at": "2026-03-01T09:00:00"},
             {"name": "b", "headcount": 1, "starts_at": "2026-03-01T09:00:00"},
             {"name": "c", "headcount": 1, "starts_at": "2026-03-01T09:00:00+08:00",
              "ends_at": "2026-03-01T00:30:00Z"},
             {"name": "d", "headcount": 1, "starts_at": "2026-03-01T09:00:00+08:00",
              "ends_at": "2026-03-01T02:00:00Z"},
             "not a post"]
    assert found("project.post_window", project(posts=posts), ctx) == [
        ("project.post_window", "/posts/0/ends_at"), ("project.post_window", "/posts/2/ends_at")]


# --- service_record ---------------------------------------------------------------------------

def test_service_record_end_after_start(ctx):
    for ended in ("2026-11-28T09:00:00", "2026-11-28T08:59:59"):
        assert found("service_record.end_after_start", service_record(ended_at=ended), ctx) == [
            ("service_record.end_after_start", "/ended_at")]
    # 09:00+08:00 to 01:30Z is 09:00 to 09:30 local
    record = service_record(started_at="2026-11-28T09:00:00+08:00",
                            ended_at="2026-11-28T01:30:00Z", hours=0.5)
    assert all_issues("service_record", record, ctx) == []


def test_end_before_start_reports_only_that(ctx):
    record = service_record(started_at="2026-11-28T12:00:00", ended_at="2026-11-28T09:00:00")
    assert [(i.rule, i.pointer) for i in all_issues("service_record", record, ctx)] == [
        ("service_record.end_after_start", "/ended_at")]


@pytest.mark.parametrize("started,ended,hours", [
    ("2026-11-27T22:00:00", "2026-11-28T01:00:00", 3),
    ("2026-11-27T09:00:00", "2026-11-28T09:30:00", 24.5),
    ("2026-11-27T23:59:59", "2026-11-28T00:00:01", 0),
    # 15:00Z-17:00Z is 23:00-01:00 in Beijing: naive start → gateway zone
    ("2026-11-27T23:00:00", "2026-11-27T17:00:00Z", 2),
])
def test_service_record_spanning_midnight(started, ended, hours, ctx):
    record = service_record(started_at=started, ended_at=ended, hours=hours)
    strict = with_policy(ctx, same_day=True)
    assert ("service_record.same_day", "/ended_at") in [
        (i.rule, i.pointer) for i in all_issues("service_record", record, strict)]
    # Off (the default): spanning midnight is no issue of its own.
    assert "service_record.same_day" not in {i.rule for i in all_issues("service_record", record, ctx)}


@pytest.mark.parametrize("started,ended,hours", [
    ("2026-11-27T20:00:00", "2026-11-28T00:00:00", 4),   # ending at midnight is allowed
    ("2026-11-27T00:00:00", "2026-11-27T23:59:59", 24),
    ("2026-11-27T15:00:00Z", "2026-11-27T17:00:00Z", 2),  # same UTC day, as written
    ("2026-11-27T23:00:00+08:00", "2026-11-27T15:30:00Z", 0.5),  # 23:00-23:30 local
])
def test_service_record_same_day_accepts(started, ended, hours, ctx):
    record = service_record(started_at=started, ended_at=ended, hours=hours)
    assert all_issues("service_record", record, with_policy(ctx, same_day=True)) == []
    assert all_issues("service_record", record, ctx) == []


def test_service_record_not_future(ctx):
    at_now = service_record(started_at="2026-11-29T07:00:00", ended_at="2026-11-29T10:00:00",
                            hours=3)
    assert all_issues("service_record", at_now, ctx) == []
    later = service_record(started_at="2026-11-29T07:00:00", ended_at="2026-11-29T10:00:01",
                           hours=3)
    assert found("service_record.not_future", later, ctx) == [
        ("service_record.not_future", "/ended_at")]
    future = service_record(started_at="2026-12-01T09:00:00", ended_at="2026-12-01T12:30:00")
    assert [(i.rule, i.pointer) for i in all_issues("service_record", future, ctx)] == [
        ("service_record.not_future", "/ended_at")]
    in_utc = service_record(started_at="2026-11-29T01:00:00Z", ended_at="2026-11-29T02:00:01Z",
                            hours=1)
    assert found("service_record.not_future", in_utc, ctx) == [
        ("service_record.not_future", "/ended_at")]


@pytest.mark.parametrize("hours", [3.5, 3.504, 3.496, 3.505, 3.495, 7 / 2])
def test_service_record_hours_match_accepts(hours, ctx):
    equal = with_policy(ctx, hours_policy="equal_duration")
    assert found("service_record.hours_match", service_record(hours=hours), equal) == []


@pytest.mark.parametrize("hours", [3.49, 3.51, 3.4, 4, 0.5, 35])
def test_service_record_hours_match_rejects(hours, ctx):
    equal = with_policy(ctx, hours_policy="equal_duration")
    issues = run("service_record.hours_match", service_record(hours=hours), equal)
    assert [(i.rule, i.pointer) for i in issues] == [("service_record.hours_match", "/hours")]
    assert "expected 3.50" in issues[0].message_en and "3.50" in issues[0].message_zh


@pytest.mark.parametrize("ended,hours,expected", [
    ("2026-11-28T10:20:00", 1.34, "1.33"),   # 1 h 20 min = 1.333…
    ("2026-11-28T09:00:54", 0.02, None),     # 54 s = 0.015 h: half-up 0.02 passes …
    ("2026-11-28T09:00:54", 0.01, None),     # … and so does 0.01 (half to even)
    ("2026-11-28T10:00:18", 1.01, None),     # 1.005 h
    ("2026-11-28T10:00:18", 1.02, "1.01"),
    ("2026-11-28T09:00:01", 0, None),        # 0.0003 h rounds to 0 (hours > 0 is the schema's)
])
def test_service_record_hours_rounding(ended, hours, expected, ctx):
    issues = run("service_record.hours_match", service_record(ended_at=ended, hours=hours),
                 with_policy(ctx, hours_policy="equal_duration"))
    if expected is None:
        assert issues == []
    else:
        assert [i.pointer for i in issues] == ["/hours"]
        assert f"expected {expected}" in issues[0].message_en


@pytest.mark.parametrize("rule_id,policy", [("service_record.hours_match", "equal_duration"),
                                            ("service_record.hours_within_duration",
                                             "within_duration")])
def test_service_record_hours_rules_skip_what_they_cannot_judge(rule_id, policy, ctx):
    ctx = with_policy(ctx, hours_policy=policy)
    for hours in (True, "3.5", None, [3.5], 10 ** 400, float("nan"), float("inf")):
        assert found(rule_id, service_record(hours=hours, ended_at="2026-11-28T09:30:00"),
                     ctx) == [], hours
    assert found(rule_id, service_record(ended_at="2026-02-30T00:00:00"), ctx) == []


# Hours against the duration, policy by policy (SERVICE_HOURS_POLICY). 09:00-12:30 = 3.5 h.
@pytest.mark.parametrize("hours", [3.5, 3.505, 3.49, 3.0, 0.5, 0.01, 7 / 2])
def test_hours_within_duration_accepts_up_to_the_duration(hours, ctx):
    """The default: the organisation may credit less than the stretch (办法 Art. 7)."""
    assert all_issues("service_record", service_record(hours=hours), ctx) == []


@pytest.mark.parametrize("hours", [3.51, 4, 24])
def test_hours_within_duration_rejects_more_than_the_duration(hours, ctx):
    issues = all_issues("service_record", service_record(hours=hours), ctx)
    assert [(i.rule, i.pointer) for i in issues] == [("service_record.hours_within_duration",
                                                     "/hours")]
    assert "at most 3.50" in issues[0].message_en and "3.50" in issues[0].message_zh


@pytest.mark.parametrize("hours,within,equal", [
    (3.5, [], []),
    (3.0, [], ["service_record.hours_match"]),
    (4.0, ["service_record.hours_within_duration"], ["service_record.hours_match"]),
])
def test_hours_policy_both_values(hours, within, equal, ctx):
    record = service_record(hours=hours)
    assert [i.rule for i in all_issues("service_record", record, ctx)] == within
    assert [i.rule for i in all_issues(
        "service_record", record, with_policy(ctx, hours_policy="within_duration"))] == within
    assert [i.rule for i in all_issues(
        "service_record", record, with_policy(ctx, hours_policy="equal_duration"))] == equal


def test_service_record_integer_hours(ctx):
    record = service_record(started_at="2026-11-28T09:00:00", ended_at="2026-11-28T12:00:00",
                            hours=3)
    assert all_issues("service_record", record, ctx) == []


# --- robustness -------------------------------------------------------------------------------

GARBAGE = [None, True, False, 0, -1, 3.5, 10 ** 400, float("nan"), "", " ", "x", "0" * 18,
           "1" * 100_000, "110105" + "9" * 100_000, "2026-02-30T25:61:61", "2026-11-28T09:00:00",
           "2026-11-28", "２０２６-１１-２８", "11010519491231002x", "\x00", "\n",
           [], [None], ["01"], [{}], {}, {"a": 1}, {"name": None}, [[[]]]]

KEYS = ["id_type", "id_number", "gender", "birth_date", "mobile", "residence_area",
        "service_area", "registration_area", "area", "guardian", "team_type", "unit_type", "uscc",
        "approving_unit", "starts_on", "ends_on", "posts", "started_at", "ended_at", "hours",
        "applied_at", "decided_at", "source_updated_at", "submitted_at", "evaluated_at",
        "generated_at"]

BASES = [{}, volunteer(), volunteer(id_type="02"), volunteer(id_type="04"),
         volunteer(birth_date="2015-01-01"), team(), team(team_type="1"), project(),
         service_record()]


def _call_all(record, ctx):
    _call_all_once(record, ctx)
    _call_all_once(record, with_policy(ctx, hours_policy="equal_duration", same_day=True))


def _call_all_once(record, ctx):
    for r in RULES.values():
        for issue in r.fn(record, ctx):
            assert isinstance(issue, Issue)
            assert isinstance(issue.pointer, str) and issue.pointer.startswith("/")
            assert issue.rule == r.rule_id and issue.message_zh and issue.message_en
            assert len(issue.message_zh) + len(issue.message_en) < 1000


@pytest.mark.parametrize("record", [None, [], "volunteer", 42, 1.5, True, [{"id_type": "01"}]])
def test_rules_ignore_non_object_records(record, ctx):
    for r in RULES.values():
        assert list(r.fn(record, ctx)) == []


def test_rules_never_raise_on_garbage_values(ctx):
    for base in BASES:
        _call_all(base, ctx)
        for key in KEYS:
            for value in GARBAGE:
                _call_all({**base, key: value}, ctx)


def test_rules_never_raise_on_garbage_nested_values(ctx):
    for value in GARBAGE:
        nested = {"guardian": {"name": value, "relation": value, "mobile": value,
                               "consent_at": value},
                  "approving_unit": {"name": value, "uscc": value, "contact": value,
                                     "phone": value},
                  "posts": [value, {"starts_at": value, "ends_at": value}],
                  "team_type": "1", "id_type": "01", "birth_date": "2015-01-01"}
        _call_all(nested, ctx)


def test_rules_never_raise_on_random_records(ctx):
    rng = random.Random(20261129)
    for _ in range(2000):
        record = {key: rng.choice(GARBAGE) for key in rng.sample(KEYS, rng.randint(1, len(KEYS)))}
        _call_all(record, ctx)


def test_issues_serialise(ctx):
    record = volunteer(id_number="11010519491231002x")
    json.dumps([i.as_dict() for i in all_issues("volunteer", record, ctx)], ensure_ascii=False)
