"""Volunteer rules: the citizen ID number (GB 11643), other documents, age and guardian.

Messages never repeat the ID number, any part of it or the mobile number: they are
personal data, and a message may end up in logs or in a reply to another system.

How the volunteer's birth date is found (for ``volunteer.min_age`` and
``volunteer.guardian_required``): ``birth_date`` when it is a real date, otherwise, for a
mainland ID (``01``) of the right shape, digits 7-14 of the ID number. A future birth date
gives no age (the date rules report it). A birthday counts on the day itself, so a volunteer
born 18 years ago today is an adult today; a 29 February birthday counts on 1 March in a
common year.

``volunteer.birth_date_required`` does not exist: the schema says it (``birth_date`` is
required unless ``id_type`` is ``01``, with if/then), so a rule would only repeat it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Iterator

from stdnum.cn import ric

from gateway.standard.issues import Issue
from gateway.standard.regions import COUNTY, LEVEL_NAMES
from gateway.standard.rules import RuleContext, rule
from gateway.standard.rules.common import age_on, is_region_shape, parse_date

MAINLAND_ID = "01"

# GB 11643 as the standard writes it (README "Identifiers and regions"), ASCII digits only.
_RIC_MATCH = re.compile(
    r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dX]",
    re.ASCII).fullmatch

# Residence permits for Hong Kong, Macau and Taiwan residents (2018) carry these prefixes.
# The shipped GB/T 2260 history has 810000 and 820000 but not 830000, so all three are
# accepted here whatever the table says.
RESIDENCE_PERMIT_PREFIXES = frozenset({"810000", "820000", "830000"})

_ZH_LEVEL = {1: "省级", 2: "市级", 3: "区县级", 4: "乡镇级"}
_ABSENT = object()


def mainland_id(record: dict) -> str | None:
    """The id_number of an ``01`` record if it has the standard's shape, else None.

    A lowercase final ``x`` is upper-cased here so that the checksum, date and region rules
    still judge the number; ``citizen_id.format`` reports the lowercase letter itself.
    """
    if record.get("id_type") != MAINLAND_ID:
        return None
    number = record.get("id_number")
    if not isinstance(number, str) or len(number) != 18:
        return None
    if number[17] == "x":
        number = number[:17] + "X"
    return number if _RIC_MATCH(number) is not None else None


def id_birth_date(number: str) -> date | None:
    """The birth date in digits 7-14 of a shape-checked ID number, or None if not a real date."""
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def birth_date_of(record: dict, ctx: RuleContext) -> tuple[date, str] | None:
    """The volunteer's birth date and the pointer of the field it came from, or None.

    ``birth_date`` first; for a mainland ID, the ID number's digits when ``birth_date`` is
    absent or not a real date. None when unknown or in the future.
    """
    birth = parse_date(record.get("birth_date"))
    source = "/birth_date"
    if birth is None:
        number = mainland_id(record)
        if number is None:
            return None
        birth = id_birth_date(number)
        source = "/id_number"
        if birth is None:
            return None
    if birth > ctx.today:
        return None
    return birth, source


# --- citizen_id.* ---------------------------------------------------------------------------

@rule("citizen_id.format", "volunteer")
def citizen_id_format(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """A mainland ID number (id_type 01) has 18 characters of the GB 11643 shape, X in upper case."""
    if not isinstance(record, dict) or record.get("id_type") != MAINLAND_ID:
        return
    number = record.get("id_number")
    if not isinstance(number, str) or (len(number) == 18 and _RIC_MATCH(number)):
        return
    if len(number) == 18 and number[17] == "x" and _RIC_MATCH(number[:17] + "X"):
        yield Issue("/id_number", "citizen_id.format",
                    "居民身份证号码最后一位校验码应为大写字母 X，不能是小写 x",
                    "the check character of a citizen ID number must be an upper-case X, "
                    "not a lower-case x")
        return
    yield Issue("/id_number", "citizen_id.format",
                "居民身份证号码格式不正确：应为 18 位，依次为 6 位地区码（首位非 0）、8 位出生日期"
                "（1800–2099 年）、3 位顺序码和 1 位校验码（数字或大写 X）",
                "the citizen ID number is malformed: expected 18 characters - a 6-digit region "
                "code not starting with 0, an 8-digit birth date (years 1800-2099), a 3-digit "
                "sequence number and a check character (a digit or upper-case X)")


@rule("citizen_id.checksum", "volunteer")
def citizen_id_checksum(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """The 18th character of a mainland ID number is its GB 11643 (ISO 7064 MOD 11-2) check character."""
    if not isinstance(record, dict):
        return
    number = mainland_id(record)
    if number is not None and ric.calc_check_digit(number) != number[17]:
        yield Issue("/id_number", "citizen_id.checksum",
                    "居民身份证号码校验码不正确，请核对号码是否录入有误",
                    "the citizen ID number's check character is wrong; check the number for "
                    "typing errors")


@rule("citizen_id.birth_date", "volunteer")
def citizen_id_birth_date(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """Digits 7-14 of a mainland ID number are a real date, not in the future."""
    if not isinstance(record, dict):
        return
    number = mainland_id(record)
    if number is None:
        return
    birth = id_birth_date(number)
    if birth is None:
        yield Issue("/id_number", "citizen_id.birth_date",
                    "居民身份证号码第 7–14 位不是真实存在的日期",
                    "digits 7-14 of the citizen ID number are not a real date")
    elif birth > ctx.today:
        yield Issue("/id_number", "citizen_id.birth_date",
                    "居民身份证号码第 7–14 位的出生日期晚于今天",
                    "the birth date in digits 7-14 of the citizen ID number is in the future")


@rule("citizen_id.region", "volunteer")
def citizen_id_region(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """Digits 1-6 of a mainland ID number are a GB/T 2260 code that ever existed (or 81/82/83 0000)."""
    if not isinstance(record, dict):
        return
    number = mainland_id(record)
    if number is None:
        return
    code6 = number[:6]
    if code6 not in RESIDENCE_PERMIT_PREFIXES and not ctx.regions.existed(code6):
        yield Issue("/id_number", "citizen_id.region",
                    "居民身份证号码前 6 位不是任何时期的行政区划代码（GB/T 2260），"
                    "也不是港澳台居民居住证的 810000/820000/830000",
                    "digits 1-6 of the citizen ID number are not a GB/T 2260 region code of "
                    "any period, nor 810000/820000/830000 of a Hong Kong, Macau or Taiwan "
                    "residence permit")


# --- volunteer.* ----------------------------------------------------------------------------

@rule("volunteer.gender_matches_id", "volunteer")
def gender_matches_id(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """For a mainland ID, gender agrees with the 17th digit (odd = 1 male, even = 2 female)."""
    if not isinstance(record, dict):
        return
    gender = record.get("gender")
    if gender != "1" and gender != "2":
        return
    number = mainland_id(record)
    if number is None:
        return
    expected = "1" if int(number[16]) % 2 else "2"
    if gender != expected:
        label_zh, label_en = ("男", "male") if expected == "1" else ("女", "female")
        yield Issue("/gender", "volunteer.gender_matches_id",
                    f"性别与居民身份证号码第 17 位不符：按证件号码应为 {expected}（{label_zh}）",
                    f"gender does not match the 17th digit of the citizen ID number: expected "
                    f"{expected} ({label_en})")


@rule("volunteer.birth_date_matches_id", "volunteer")
def birth_date_matches_id(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """For a mainland ID, birth_date (when given) equals digits 7-14 of the ID number."""
    if not isinstance(record, dict):
        return
    birth_date = record.get("birth_date")
    if not isinstance(birth_date, str) or len(birth_date) != 10 or parse_date(birth_date) is None:
        return
    number = mainland_id(record)
    if number is not None and birth_date.replace("-", "") != number[6:14]:
        yield Issue("/birth_date", "volunteer.birth_date_matches_id",
                    "出生日期与居民身份证号码第 7–14 位不一致",
                    "birth_date does not match digits 7-14 of the citizen ID number")


@rule("volunteer.birth_date_real", "volunteer")
def birth_date_real(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """birth_date is not in the future (whether it is a real date is the schema's format: date)."""
    if not isinstance(record, dict):
        return
    birth = parse_date(record.get("birth_date"))
    if birth is not None and birth > ctx.today:
        yield Issue("/birth_date", "volunteer.birth_date_real",
                    "出生日期不能晚于今天", "birth_date must not be in the future")


@rule("volunteer.service_area_level", "volunteer")
def service_area_level(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """service_area names a county-level division or a deeper one (town, community)."""
    if not isinstance(record, dict):
        return
    code = record.get("service_area")
    if not is_region_shape(code):
        return
    region = ctx.regions.lookup(code)  # None: region.current reports it
    if region is not None and region.level < COUNTY:
        yield Issue("/service_area", "volunteer.service_area_level",
                    f"服务区域应至少精确到区县级，{region.code}（{region.name}）是{_ZH_LEVEL[region.level]}区划",
                    f"service_area must be a county-level division or deeper; {region.code} "
                    f"({region.name}) is a {LEVEL_NAMES[region.level]}-level division")


@rule("volunteer.min_age", "volunteer")
def min_age(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """A volunteer is at least ctx.min_volunteer_age years old today."""
    if not isinstance(record, dict):
        return
    found = birth_date_of(record, ctx)
    if found is not None and age_on(found[0], ctx.today) < ctx.min_volunteer_age:
        yield Issue(found[1], "volunteer.min_age",
                    f"未满 {ctx.min_volunteer_age} 周岁，不能注册为志愿者",
                    f"a volunteer must be at least {ctx.min_volunteer_age} years old")


@rule("volunteer.guardian_required", "volunteer")
def guardian_required(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """A volunteer under ctx.adult_age has a guardian with name, relation, mobile and consent_at.

    The schema requires name, relation and mobile of any guardian given, so this rule reports
    a missing guardian and a missing consent_at. A guardian or consent_at of the wrong type
    (null included) is the schema's to report.
    """
    if not isinstance(record, dict):
        return
    found = birth_date_of(record, ctx)
    if found is None or age_on(found[0], ctx.today) >= ctx.adult_age:
        return
    adult = ctx.adult_age
    guardian = record.get("guardian", _ABSENT)
    if guardian is _ABSENT:
        yield Issue("/guardian", "volunteer.guardian_required",
                    f"未满 {adult} 周岁的志愿者须登记监护人（姓名、关系、手机号码、同意时间）",
                    f"a volunteer under {adult} needs a guardian (name, relation, mobile and "
                    "consent_at)")
    elif isinstance(guardian, dict) and "consent_at" not in guardian:
        yield Issue("/guardian/consent_at", "volunteer.guardian_required",
                    f"未满 {adult} 周岁的志愿者须登记监护人同意时间（guardian.consent_at）",
                    f"a volunteer under {adult} needs the guardian's consent time "
                    "(guardian.consent_at)")


# --- volunteer.hk_mo_tw_document ------------------------------------------------------------

# Hong Kong / Macau (02, 03). Accepted for either code, because many source systems have a
# single "港澳" document type and map it to one of the two:
#   HKID  A123456(7) / AB1234567 (check character 0-9 or A, brackets optional)
#   Macau BIR  1234567(8) / 12345678
#   Mainland Travel Permit (回乡证)  H12345678 / M12345678, older booklets with 9-10 digits
#   residence permit  810000… / 820000… (18 characters, GB 11643 check character)
_HK_MO_MATCH = re.compile(
    r"[A-Z]{1,2}\d{6}(?:\([0-9A]\)|[0-9A])"
    r"|\d{7}(?:\(\d\)|\d)"
    r"|[HM]\d{8,10}"
    r"|8[12]0000\d{11}[\dX]", re.ASCII).fullmatch
# Taiwan (04):
#   Mainland Travel Permit (台胞证)  8 digits (card) or 10 digits, old booklets with a letter
#   suffix such as 1234567890(B)
#   Taiwan ID card  A123456789 (letter, 1 or 2, 8 digits)
#   residence permit  830000… (18 characters)
_TW_MATCH = re.compile(
    r"\d{8}|\d{10}(?:\(?[A-Z]\)?)?"
    r"|[A-Z][12]\d{8}"
    r"|830000\d{11}[\dX]", re.ASCII).fullmatch

_DOC_MATCH = {"02": _HK_MO_MATCH, "03": _HK_MO_MATCH, "04": _TW_MATCH}
_DOC_EXPECTED = {
    "02": ("香港身份证（如 A123456(7)）、港澳居民来往内地通行证（H 或 M 加 8–10 位数字）或港澳居民居住证号码",
           "a Hong Kong identity card number (such as A123456(7)), a Mainland Travel Permit "
           "number (H or M and 8-10 digits) or a residence permit number"),
    "03": ("澳门身份证（如 1234567(8)）、港澳居民来往内地通行证（H 或 M 加 8–10 位数字）或港澳居民居住证号码",
           "a Macau identity card number (such as 1234567(8)), a Mainland Travel Permit "
           "number (H or M and 8-10 digits) or a residence permit number"),
    "04": ("台湾居民来往大陆通行证（8 位或 10 位数字）、台湾身份证（如 A123456789）或台湾居民居住证号码",
           "a Mainland Travel Permit for Taiwan residents (8 or 10 digits), a Taiwan "
           "identity card number (such as A123456789) or a residence permit number"),
}


@rule("volunteer.hk_mo_tw_document", "volunteer")
def hk_mo_tw_document(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """A Hong Kong, Macau or Taiwan document number (id_type 02/03/04) has a known shape.

    Lenient on purpose: the number is checked against the shapes of every document such a
    resident commonly shows (identity card, Mainland Travel Permit, residence permit), with
    letters in upper case and no spaces; 02 and 03 accept each other's shapes. Check
    characters are verified only for residence permits (GB 11643, like a citizen ID); the
    other documents' check digits are not verified.
    """
    if not isinstance(record, dict):
        return
    id_type = record.get("id_type")
    match = _DOC_MATCH.get(id_type) if isinstance(id_type, str) else None
    number = record.get("id_number")
    if match is None or not isinstance(number, str):
        return
    if match(number) is None:
        zh, en = _DOC_EXPECTED[id_type]
        yield Issue("/id_number", "volunteer.hk_mo_tw_document",
                    f"证件号码格式不正确：应为{zh}，字母大写、不含空格",
                    f"the document number is malformed: expected {en}, letters in upper case "
                    "and no spaces")
    elif len(number) == 18 and ric.calc_check_digit(number) != number[17]:
        yield Issue("/id_number", "volunteer.hk_mo_tw_document",
                    "港澳台居民居住证号码校验码不正确，请核对号码是否录入有误",
                    "the residence permit number's check character is wrong; check the number "
                    "for typing errors")


@rule("volunteer.consent_required", "volunteer")
def consent_required(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """With VOLUNTEER_CONSENT = require, a volunteer record carries the volunteer's consent
    (``consent``: when it was given and what it covers), 办法 (2020) Art. 6.

    Only an absent ``consent`` is reported; one of the wrong shape is the schema's.
    """
    if not ctx.consent_required or not isinstance(record, dict) or "consent" in record:
        return
    yield Issue("/consent", "volunteer.consent_required",
                "录入志愿者个人信息须征得本人同意：请提供同意时间和同意范围（consent）",
                "entering a volunteer's information needs their consent: give consent "
                "(given_at and what it covers)")
