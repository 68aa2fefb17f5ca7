"""Good example records, one function per published entity (schemas/v1/<entity>.schema.json).

Each function returns a *fresh* dict that is valid against its schema and is meant to pass the
semantic rules as well (real checksums, current region codes, consistent dates). Keyword
arguments override top-level keys; pass ``OMIT`` to drop a key::

    from tests import factories
    factories.volunteer()                                  # a valid adult volunteer
    factories.volunteer(mobile="23800138000")              # one bad field
    factories.volunteer(birth_date=factories.OMIT)         # without a key
    factories.service_record(hours=4)                      # inconsistent with the times

The records refer to each other: the volunteer ``VOLUNTEER_NO`` is in team ``TEAM_NO``, enrolled
in project ``PROJECT_NO`` (post ``POST_NO``), where the service record, evaluation and
certificate place them. All dates are in 2024, inside the project's dates.
"""

from __future__ import annotations

import datetime as _dt
import itertools as _itertools
from typing import Any

__all__ = [
    "OMIT", "VOLUNTEER_NO", "TEAM_NO", "PROJECT_NO", "POST_NO", "ENTITIES",
    "volunteer", "minor_volunteer", "guardian", "team", "project", "enrollment", "service_record", "training",
    "commendation", "evaluation", "complaint", "certificate", "batch",
    "citizen_id", "mobile", "GENERATED",
]


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()
"""Pass as an override value to remove that key from the record."""

# The sample unified volunteer number seen in the national system.
VOLUNTEER_NO = "V1100002201000004V"
TEAM_NO = "T1101050001"
PROJECT_NO = "P110105202404001"
POST_NO = "P110105202404001-01"

# A checksum-valid citizen ID (GB 11643): region 110105 (北京市朝阳区), born 1949-12-31, female.
CITIZEN_ID = "11010519491231002X"
# A checksum-valid citizen ID of a boy born 2014-09-01 in 110105 (a minor until 2032).
MINOR_CITIZEN_ID = "110105201409010137"
# A checksum-valid unified social credit code (GB 32100): 5 civil affairs, 2 social service
# organisation, region 110105, organisation code MJ0012342 (GB 11714 check digit 2), check 2.
TEAM_USCC = "52110105MJ00123422"


def _build(record: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    record.update(overrides)
    return {key: value for key, value in record.items() if value is not OMIT}


def volunteer(**overrides: Any) -> dict[str, Any]:
    """An adult volunteer with a mainland ID card (so no birth_date is needed, but it agrees)."""
    return _build({
        "volunteer_no": VOLUNTEER_NO,
        "name": "王淑兰",
        "id_type": "01",
        "id_number": CITIZEN_ID,
        "gender": "2",
        "birth_date": "1949-12-31",
        "nationality": "156",
        "ethnicity": "01",
        "political_status": "01",
        "education": "40",
        "employment_status": "80",
        "mobile": "13800138000",
        "email": "wangshulan@example.com",
        "address": "北京市朝阳区建国路88号院3号楼",
        "residence_area": "110105",
        "service_area": "110105",
        "service_categories": ["0001", "0017"],
        "skills": ["19", "20"],
        "availability": ["01", "02", "16"],
        "languages": ["4887"],
        "registered_at": "2024-03-15",
        "registration_area": "110105",
        "real_name_status": "1",
        "source_id": "vol-000123",
        "source_updated_at": "2024-03-15T10:20:30",
    }, overrides)


def guardian(**overrides: Any) -> dict[str, Any]:
    """A guardian block for a volunteer under 18 (use with ``volunteer(guardian=guardian())``)."""
    return _build({
        "name": "李建国",
        "relation": "父亲",
        "mobile": "13700137000",
        "consent_at": "2024-03-14T20:00:00",
    }, overrides)


def minor_volunteer(**overrides: Any) -> dict[str, Any]:
    """A volunteer under 18 (born 2014-09-01, male) whose guardian consented; no volunteer_no yet."""
    return _build({
        "name": "李子轩",
        "id_type": "01",
        "id_number": MINOR_CITIZEN_ID,
        "gender": "1",
        "birth_date": "2014-09-01",
        "nationality": "156",
        "ethnicity": "01",
        "political_status": "13",
        "education": "80",
        "employment_status": "31",
        "mobile": "13911113333",
        "residence_area": "110105",
        "service_area": "110105",
        "service_categories": ["0006"],
        "registered_at": "2024-03-15",
        "registration_area": "110105",
        "real_name_status": "1",
        "guardian": guardian(),
    }, overrides)


def team(**overrides: Any) -> dict[str, Any]:
    """A social service organisation registered with civil affairs (team_type 2, unit_type 14)."""
    return _build({
        "team_no": TEAM_NO,
        "name": "北京市朝阳区建外街道社区志愿服务中心",
        "team_type": "2",
        "unit_type": "14",
        "registration_dept": "1",
        "registration_authority": "北京市朝阳区民政局",
        "uscc": TEAM_USCC,
        "contact_name": "张伟",
        "contact_mobile": "13911112222",
        "area": "110105",
        "address": "北京市朝阳区建国门外大街1号",
        "established_on": "2019-06-01",
        "status": "1",
        "join_policy": "1",
        "service_categories": ["0001", "0017"],
        "source_id": "team-0001",
        "source_updated_at": "2024-01-10T09:00:00",
    }, overrides)


def project(**overrides: Any) -> dict[str, Any]:
    """A community elderly-care project from 2024-04-01 to 2024-06-30 with one post."""
    return _build({
        "project_no": PROJECT_NO,
        "name": "建外街道社区助老志愿服务",
        "team_no": TEAM_NO,
        "starts_on": "2024-04-01",
        "ends_on": "2024-06-30",
        "service_category": "0001",
        "service_objects": ["03"],
        "guarantees": ["01", "05"],
        "area": "110105",
        "address": "北京市朝阳区建国门外大街1号社区服务站",
        "recruit_scope": "1",
        "status": "3",
        "funding_source": "1",
        "description": "为社区独居老人提供陪伴、代购和健康宣传服务。",
        "contact": {
            "name": "张伟",
            "mobile": "13911112222",
            "landline": "010-65001234",
            "name_public": True,
            "mobile_public": False,
            "landline_public": True,
        },
        "posts": [{
            "post_no": POST_NO,
            "name": "助老陪伴",
            "headcount": 10,
            "starts_at": "2024-04-01T08:00:00",
            "ends_at": "2024-06-30T18:00:00",
            "description": "上门陪伴独居老人聊天、读报。",
        }],
        "checkin_points": [{
            "name": "建外街道社区服务站",
            "lng": 116.4439,
            "lat": 39.9087,
            "radius_m": 200,
        }],
        "source_id": "proj-2024-001",
        "source_updated_at": "2024-03-20T16:45:00",
    }, overrides)


def enrollment(**overrides: Any) -> dict[str, Any]:
    """The volunteer's approved application to the project's post."""
    return _build({
        "enrollment_no": "E2024042000001",
        "volunteer_no": VOLUNTEER_NO,
        "project_no": PROJECT_NO,
        "post_no": POST_NO,
        "status": "2",
        "invited": False,
        "applied_at": "2024-04-20T19:30:00",
        "decided_at": "2024-04-21T09:15:00",
    }, overrides)


def service_record(**overrides: Any) -> dict[str, Any]:
    """3.5 effective hours on 2024-05-01 09:00-12:30, entered by the team."""
    return _build({
        "record_no": "R2024050100001",
        "volunteer_no": VOLUNTEER_NO,
        "project_no": PROJECT_NO,
        "team_no": TEAM_NO,
        "started_at": "2024-05-01T09:00:00",
        "ended_at": "2024-05-01T12:30:00",
        "hours": 3.5,
        "source": "1",
        "status": "2",
        "kind": "1",
        "recorded_at": "2024-05-01",
        "description": "陪伴独居老人并协助购买生活用品。",
    }, overrides)


def training(**overrides: Any) -> dict[str, Any]:
    """A two-hour face-to-face general training."""
    return _build({
        "training_no": "TR2024041000001",
        "volunteer_no": VOLUNTEER_NO,
        "team_no": TEAM_NO,
        "name": "志愿服务通用培训",
        "training_type": "1",
        "training_mode": "2",
        "hours": 2,
        "held_on": "2024-04-10",
    }, overrides)


def commendation(**overrides: Any) -> dict[str, Any]:
    """A district-level commendation of the volunteer."""
    return _build({
        "commendation_no": "C2024120500001",
        "subject": "volunteer",
        "volunteer_no": VOLUNTEER_NO,
        "team_no": TEAM_NO,
        "name": "2024年度朝阳区优秀志愿者",
        "awarded_on": "2024-12-05",
        "issuer": "北京市朝阳区民政局",
        "document_name": "关于表彰2024年度朝阳区优秀志愿者的决定",
        "document_no": "朝民发〔2024〕45号",
        "content": "长期坚持社区助老志愿服务，表现突出。",
        "level": "4",
    }, overrides)


def evaluation(**overrides: Any) -> dict[str, Any]:
    """The team's evaluation of the volunteer's service in the project."""
    return _build({
        "evaluation_no": "EV2024050200001",
        "volunteer_no": VOLUNTEER_NO,
        "project_no": PROJECT_NO,
        "team_no": TEAM_NO,
        "punctuality": 5,
        "attitude": 5,
        "professionalism": 4,
        "comment": "准时到岗，服务耐心细致。",
        "evaluated_at": "2024-05-02T10:00:00",
    }, overrides)


def complaint(**overrides: Any) -> dict[str, Any]:
    """An open complaint about the project."""
    return _build({
        "complaint_no": "CP2024050300001",
        "kind": "3",
        "reason": "3",
        "team_no": TEAM_NO,
        "project_no": PROJECT_NO,
        "content": "项目已招满但页面仍显示招募中。",
        "submitted_at": "2024-05-03T14:00:00",
        "status": "open",
    }, overrides)


def certificate(**overrides: Any) -> dict[str, Any]:
    """A certificate of the service record's 3.5 hours, issued by the team."""
    return _build({
        "certificate_no": "ZYZM-110105-2024-000001",
        "verification_code": "8F3K2Q7M",
        "volunteer": {
            "name": "王淑兰",
            "id_type": "01",
            "id_number": CITIZEN_ID,
            "volunteer_no": VOLUNTEER_NO,
        },
        "service": {
            "hours": 3.5,
            "kind": "1",
            "period_from": "2024-05-01",
            "period_to": "2024-05-01",
            "items": [{
                "project_no": PROJECT_NO,
                "project_name": "建外街道社区助老志愿服务",
                "team_name": "北京市朝阳区建外街道社区志愿服务中心",
                "hours": 3.5,
                "from": "2024-05-01",
                "to": "2024-05-01",
            }],
        },
        "issuer": {
            "name": "北京市朝阳区建外街道社区志愿服务中心",
            "team_no": TEAM_NO,
            "responsible_person": "刘强",
            "handler": "张伟",
            "contact": "010-65001234",
        },
        "issued_on": "2024-05-10",
        "notes": "本证明仅证明志愿服务记录，不作其他用途。",
        "status": "valid",
    }, overrides)


def batch(**overrides: Any) -> dict[str, Any]:
    """A batch envelope carrying the volunteer and the service record."""
    return _build({
        "schema_version": "1",
        "sender": "chaoyang-volunteer-platform",
        "batch_id": "20240501-0001",
        "generated_at": "2024-05-01T18:00:00+08:00",
        "records": [
            {"entity": "volunteer", "op": "upsert", "data": volunteer()},
            {"entity": "service_record", "op": "upsert", "data": service_record()},
        ],
    }, overrides)


ENTITIES = {
    "volunteer": volunteer,
    "team": team,
    "project": project,
    "enrollment": enrollment,
    "service_record": service_record,
    "training": training,
    "commendation": commendation,
    "evaluation": evaluation,
    "complaint": complaint,
    "certificate": certificate,
    "batch": batch,
}
"""Factory of the good example record of every published schema, by schema name."""


# -- generated personal numbers (one helper each; the log check knows every one) --------------

_SEQUENCE = _itertools.count(1)
#: Every citizen ID and mobile number made by the helpers below in this process; conftest.py
#: writes it next to the test logs at the end of the run and the personal-data check reads it.
GENERATED: set[str] = set()


def citizen_id(seq: int | None = None, *, area: str = "110105",
               born: str | _dt.date = "19800101") -> str:
    """A checksum-valid GB 11643 citizen ID of ``area``, born ``born``, sequence ``seq``.

    ``seq`` (0-999; odd: a man, even: a woman) defaults to a fresh number per call, so that
    two calls give two people. ``area`` may be any six digits (residence-permit prefixes
    810000 / 820000 / 830000 too). The number is remembered for the log check.
    """
    from stdnum.cn import ric

    if seq is None:
        seq = next(_SEQUENCE)
    day = born.strftime("%Y%m%d") if isinstance(born, _dt.date) else born
    body = f"{area}{day}{seq % 1000:03d}"
    number = body + ric.calc_check_digit(body + "0")  # stdnum reads the number with a check slot
    GENERATED.add(number)
    return number


def mobile(seq: int | None = None, *, prefix: str = "139") -> str:
    """A mainland mobile number ``<prefix><seq, 8 digits>``, remembered for the log check."""
    if seq is None:
        seq = next(_SEQUENCE)
    number = f"{prefix}{seq % 10 ** 8:08d}"
    GENERATED.add(number)
    return number
