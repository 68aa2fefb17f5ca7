"""Team (志愿服务组织·团体) rules: credit codes and what each team type must carry.

Team types (codes/team_type.csv): 1 志愿服务团体 (not registered; approved by a community or
unit), 2 志愿服务组织 (registered with civil affairs), 3 other legal-person organisation.
"""

from __future__ import annotations

import re
from typing import Iterator

from stdnum.cn import uscc

from gateway.standard.issues import Issue
from gateway.standard.rules import RuleContext, rule

# The schema's USCC shape (GB 32100 alphabet: no I, O, S, V, Z).
_USCC_ALPHABET = "0-9A-HJ-NPQRTUWXY"
_USCC_MATCH = re.compile(
    rf"[{_USCC_ALPHABET}]{{2}}\d{{6}}[{_USCC_ALPHABET}]{{10}}", re.ASCII).fullmatch

TYPES_NEEDING_USCC = frozenset({"2", "3"})
_TYPE_EN = {"2": "registered volunteer organisation", "3": "other legal-person organisation"}
ORGANISATION_UNIT_TYPES = ("13", "14", "15")  # 社会团体, 社会服务机构, 基金会

# Approving unit of a type 1 team: the spec lists name / USCC / contact / phone and says
# "required for type 1". Name, contact and phone are required; the USCC is optional (the
# approving community committee or unit may not know or have one) but checked when given.
# "Missing" means absent: a value that is present (null and "" included) is the schema's.
APPROVING_UNIT_REQUIRED = (("name", "名称"), ("contact", "联系人"), ("phone", "联系电话"))


def _uscc_wrong(value: object) -> bool:
    return (isinstance(value, str) and _USCC_MATCH(value) is not None
            and uscc.calc_check_digit(value[:17]) != value[17])


@rule("uscc.checksum", "team")
def uscc_checksum(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """A unified social credit code (team uscc, approving_unit.uscc) has the right GB 32100 check character."""
    if not isinstance(record, dict):
        return
    if _uscc_wrong(record.get("uscc")):
        yield Issue("/uscc", "uscc.checksum",
                    "统一社会信用代码校验码（第 18 位）不正确，请核对代码是否录入有误",
                    "the unified social credit code's check character (18th) is wrong; check "
                    "the code for typing errors")
    unit = record.get("approving_unit")
    if isinstance(unit, dict) and _uscc_wrong(unit.get("uscc")):
        yield Issue("/approving_unit/uscc", "uscc.checksum",
                    "批准单位的统一社会信用代码校验码（第 18 位）不正确，请核对代码是否录入有误",
                    "the approving unit's unified social credit code has a wrong check "
                    "character (18th); check the code for typing errors")


@rule("team.uscc_required", "team")
def uscc_required(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """A team of type 2 (registered organisation) or 3 (legal person) has a unified social credit code."""
    if not isinstance(record, dict):
        return
    team_type = record.get("team_type")
    # absent only: a present value (null, "" included) is judged by the schema
    if isinstance(team_type, str) and team_type in TYPES_NEEDING_USCC and "uscc" not in record:
        yield Issue("/uscc", "team.uscc_required",
                    "志愿服务组织和其他法人组织（队伍类型 2、3）须填写统一社会信用代码",
                    f"a team of type {team_type} ({_TYPE_EN[team_type]}) needs a unified social "
                    "credit code (uscc)")


@rule("team.approving_unit_required", "team")
def approving_unit_required(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """A team of type 1 (unregistered group) names its approving unit: name, contact and phone."""
    if not isinstance(record, dict) or record.get("team_type") != "1":
        return
    if "approving_unit" not in record:
        yield Issue("/approving_unit", "team.approving_unit_required",
                    "志愿服务团体（队伍类型 1）须填写批准单位（名称、联系人、联系电话）",
                    "a team of type 1 (volunteer group) needs an approving_unit with name, "
                    "contact and phone")
        return
    unit = record["approving_unit"]
    if not isinstance(unit, dict):
        return  # the schema reports the type
    for key, label in APPROVING_UNIT_REQUIRED:
        if key not in unit:
            yield Issue("/approving_unit/" + key, "team.approving_unit_required",
                        f"志愿服务团体（队伍类型 1）须填写批准单位{label}（approving_unit.{key}）",
                        f"a team of type 1 (volunteer group) needs approving_unit.{key}")


@rule("team.unit_type_allowed", "team")
def unit_type_allowed(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """A team of type 2 (registered organisation) has unit_type 13, 14 or 15 when it has one."""
    if not isinstance(record, dict) or record.get("team_type") != "2":
        return
    unit_type = record.get("unit_type")
    if isinstance(unit_type, str) and unit_type not in ORGANISATION_UNIT_TYPES:
        yield Issue("/unit_type", "team.unit_type_allowed",
                    "志愿服务组织（队伍类型 2）的组织类型只能是 13 社会团体、14 社会服务机构或 15 基金会",
                    "a team of type 2 (registered organisation) must have unit_type 13 (social "
                    "group), 14 (social service institution) or 15 (foundation)")
