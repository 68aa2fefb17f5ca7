"""Build ``schemas/v2`` from ``schemas/v1`` and the national field mapping below.

Run ``python -m schemas.build_v2`` after changing the mapping; ``tests/unit/schemas/
test_schemas_v2.py`` fails while the files in ``schemas/v2`` differ from what this writes.

Version 2 keeps every property of version 1 (same key, same meaning) and adds every field
code the national front-end uses for the ten entities, posts and check-in points
(``schemas/national/national_fields.tsv``, the product's copy). Differences from v1:

- the national numbers: ``team.team_no`` is albe0041 and ``project.project_no`` albx0013;
  albx0011 / albx0176 / albx0177 (and the other ``…id`` codes) are the national system's
  *internal record ids*: they travel in ``links`` as ``"nid:<id>"``, apart from the numbers;
- national meanings where v1 had another: ``complaint.kind`` is albx0346 (时长 / 新闻 / 动态;
  v1's albp2402 kind is ``complaint.category``), albx0357 is the complainant's ID number,
  not a commendation level (``commendation.level`` is the product's own);
- complete national code tables (project_status with 0, 5, 13; service categories with the
  local codes as a documented extension; 服务领域 albp0022; registration id types);
- ``x-national-required: true`` on what the national forms require; those keys are in
  ``required`` (the engine's ``NATIONAL_REQUIRED = "warn"`` setting relaxes them to warnings);
- ``x-product: true`` on the product's own properties (no national code);
- codes whose meaning the front-end does not show are carried verbatim under their code as
  key (``x-national-meaning-unknown: true``), so that nothing is lost.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import schemas

V2 = schemas.ROOT / "v2"
ID_BASE = "https://schemas.vgw.invalid/v2/"

DATE = r"^(?!0000)[0-9]{4}-[0-9]{2}-[0-9]{2}(?!\n)$"
LDT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})?(?!\n)$"
REGION = r"^[0-9]{6}([0-9]{3}([0-9]{3}([0-9]{6})?)?)?(?!\n)$"
MOBILE = r"^1[3-9][0-9]{9}(?!\n)$"
NID = r"^nid:[0-9A-Za-z_-]{1,64}(?!\n)$"

# What the national forms require (``rules: {code: [{required: true}]}`` in the front-end).
NATIONAL_REQUIRED = frozenset("""
albe0002 albe0003 albe0005 albe0006 albe0009 albe0012 albe0013 albe0017 albe0018 albe0019
albe0022 albe0024 albp0003 albp0005 albp0020 albp0028
albx0002 albx0003 albx0004 albx0005 albx0009 albx0014 albx0018 albx0019 albx0021 albx0024
albx0025 albx0026 albx0072 albx0074 albx0075 albx0077 albx0282 albx0284 albx0285 albx0287
albx0288 albx0289 albx0291 albx0292 albx0293 albx0296 albx0352 albx0353 albx0354 albx0355
albx0356 albx0362 albx0363 albx0463 albx0464 albx0465 albx0508 albx5604 albx5606
""".split())
# Required by the national forms only for some team types: BY_TYPE below.

# Personal or secret v2-only members (``x-personal: true``): the store keeps them encrypted
# (``national_enc``, see gateway/exchange/national.py) and the feed sends them only to a client
# with full personal-data access. Codes whose meaning the front-end does not show are counted
# here too: nothing says they are not personal.
PERSONAL = frozenset("""
albp0011 albp0012 albp0015 albp0019 albp0027 albp0030 albp0052 albp0064 albp0065 albp0066
albp0067 albp0068 albp0069 albp0071 albp0072 albp0083 albp0084 albp0098 albp0099
albe0021 albe0022 albe0023 albe0024 albe0025 albe0029 albe0042 albe0043 albe0044 albe0045
albe0049 albe0050 albe0051 albe0091
albx0017 albx0030 albx0041 albx0067 albx0071 albx0076 albx0084 albx0086 albx0289 albx0290
albx0295 albx0296 albx0313 albx0315 albx0316 albx0351 albx0355 albx0356 albx0357
""".split())
# What the national team form requires by team type (albe0003) — the front-end's
# formTeamTypeOwnRulesHook (src/.../teamTypeOwn hooks at b48b333) — as an ``allOf`` of
# ``if``/``then`` in v2's team schema, each marked ``x-national-required`` (NATIONAL_REQUIRED
# = warn turns them into warnings like the other national flags). v1's rules
# team.uscc_required / team.approving_unit_required keep asking what they ask of both
# versions. (description, if, then)
_T1 = {"required": ["team_type"], "properties": {"team_type": {"const": "1"}}}
_T23 = {"required": ["team_type"], "properties": {"team_type": {"enum": ["2", "3"]}}}
_NO_DIRECT = {"required": ["has_direct_parent"], "properties": {"has_direct_parent": {"const": "0"}}}


def _flag(key: str, value: str) -> dict[str, Any]:
    return {"required": [key], "properties": {key: {"const": value}}}


def _needs(*keys: str, **nested: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"required": list(keys) + sorted(nested)}
    if nested:
        out["properties"] = {k: {"required": v} for k, v in sorted(nested.items())}
    return out


BY_TYPE: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("type 1 (志愿服务团体): whether it has a direct parent (albe0065), the approving unit's "
     "name (albe0057) and the application scan (albe0044)",
     _T1, _needs("has_direct_parent", "application_scan", approving_unit=["name"])),
    ("type 1 with a direct parent (albe0065 = 1): the parent (albe0066)",
     {"allOf": [_T1, _flag("has_direct_parent", "1")]}, _needs(links=["parent"])),
    ("type 1 without a direct parent (albe0065 = 0): whether it has a liaison organisation "
     "(albe0063) and the approving unit's type (albe0005)",
     {"allOf": [_T1, _NO_DIRECT]}, _needs("has_liaison", "unit_type")),
    ("type 1 with a liaison organisation and no direct parent: the liaison organisation (albe0004)",
     {"allOf": [_T1, _NO_DIRECT, _flag("has_liaison", "1")]}, _needs(links=["liaison"])),
    ("type 1 with neither: the registration authority (albe0009) and the approving unit's "
     "credit code, contact and phone (albe0061, albe0058, albe0059)",
     {"allOf": [_T1, _NO_DIRECT, _flag("has_liaison", "0")]},
     _needs("registration_authority", approving_unit=["uscc", "contact", "phone"])),
    ("types 2 and 3 (registered organisation, legal person): the supervising unit (albe0011), "
     "whether it has a liaison organisation (albe0063), unit type (albe0005), registration "
     "department and authority (albe0006, albe0009), credit code and its scan (albe0008, albe0067)",
     _T23, _needs("supervisor_name", "has_liaison", "unit_type", "registration_dept",
                  "registration_authority", "uscc", "uscc_scan")),
    ("types 2 and 3 with a liaison organisation (albe0063 = 1): the liaison organisation (albe0004)",
     {"allOf": [_T23, _flag("has_liaison", "1")]}, _needs(links=["liaison"])),
]
# Required by the form only by team type, so not in NATIONAL_REQUIRED (BY_TYPE asks them).
BY_TYPE_CODES = frozenset("albe0005 albe0006 albe0009".split())


def prop(kind: str, title: str, description: str, code: str | None = None) -> dict[str, Any]:
    """One property of ``kind``: text[:N] date datetime region mobile phone int num lng lat
    flag nid code:<table> codes:<table>[:max] object/array (filled by the caller)."""
    p: dict[str, Any] = {"title": title, "description": description}
    if code:
        p["x-national-code"] = code
    name, _, arg = kind.partition(":")
    if name == "text":
        p.update(type="string", minLength=1, maxLength=int(arg or 200))
    elif name == "date":
        p.update(type="string", format="date", maxLength=10, pattern=DATE)
    elif name == "datetime":
        p.update(type="string", maxLength=25, pattern=LDT)
        p["x-format"] = "local-date-time"
    elif name == "region":
        p.update(type="string", maxLength=18, pattern=REGION)
        p["x-region"] = True
    elif name == "mobile":
        p.update(type="string", maxLength=11, pattern=MOBILE)
    elif name == "phone":
        p.update(type="string", minLength=1, maxLength=32)
    elif name == "int":
        p.update(type="integer", minimum=0)
    elif name == "num":
        p.update(type="number", minimum=0)
    elif name == "lng":
        p.update(type="number", minimum=-180, maximum=180)
    elif name == "lat":
        p.update(type="number", minimum=-90, maximum=90)
    elif name == "flag":
        p.update(type="string", enum=["0", "1"])
        p["x-code-table"] = "yes_no"
    elif name == "nid":
        p.update(type="string", maxLength=68, pattern=NID)
        p["x-national-internal-id"] = True
    elif name == "code":
        p.update(type="string", enum=list(schemas.code_table(arg)))
        p["x-code-table"] = arg
    elif name == "codes":
        table, _, most = arg.partition(":")
        items = {"type": "string", "x-code-table": table, "enum": list(schemas.code_table(table))}
        p.update(type="array", uniqueItems=True, items=items)
        if most:
            p["maxItems"] = int(most)
    else:
        raise ValueError(kind)
    if code and code in NATIONAL_REQUIRED - BY_TYPE_CODES:
        p["x-national-required"] = True
    if code and code in PERSONAL:
        p["x-personal"] = True
    return p


def unknown(code: str) -> tuple[str, str, str | None, str, str]:
    return (code, code, "text:2000", f"（{code}）",
            f"National field {code}: the front-end shows no label; carried verbatim as text.")


# -- per entity: (code, key, kind, 中文, description) for v2's additions -------------------
# A key "a.b" is a member of object a; "a[].b" a member of the objects of array a.

ADD: dict[str, list[tuple[str, str, str | None, str, str]]] = {
    "volunteer": [
        ("albp0009", "native_place", "text:100", "籍贯", "Native place."),
        ("albp0011", "landline", "phone", "固定电话", "Landline number."),
        unknown("albp0012"),
        ("albp0015", "wechat", "text:64", "微信", "WeChat id."),
        unknown("albp0019"),
        ("albp0022", "service_fields", "codes:service_field", "服务领域",
         "Service fields (领域类别), comma-separated nationally."),
        ("albp0024", "service_card", "text:200", "志愿者服务证", "Volunteer service card."),
        ("albp0025", "service_area_name", "text:200", "服务区域名称", "Service area as shown."),
        ("albp0027", "avatar", "text:500", "头像", "Portrait picture (a file reference)."),
        ("albp0030", "liaison_no", "text:64", "志愿者联络编号及学号", "Liaison or student number."),
        ("albp0047", "residence_area_name", "text:200", "居住区域名", "Residence area as shown."),
        ("albp0052", "username", "text:64", "用户名", "Account name in the national system."),
        ("albp0059", "age", "int", "年龄", "Age as shown by the national system (derived)."),
        ("albp0061", "registration_area_name", "text:200", "注册区域名称", "Registration area as shown."),
        ("albp0064", "registration.name", "text:20", "志愿者姓名（注册）", "Name given at registration."),
        ("albp0065", "registration.id_type", "code:registration_id_type", "证件类型（注册）",
         "Document type given at registration."),
        ("albp0066", "registration.id_number", "text:32", "证件号码（注册）",
         "Document number given at registration (sensitive)."),
        ("albp0067", "registration.gender", "code:gender", "性别（注册）", "Gender given at registration."),
        ("albp0068", "registration.mobile", "mobile", "注册手机", "Mobile given at registration (sensitive)."),
        ("albp0069", "real_name_photos.front", "text:500", "认证照片-证件正面照", "File reference."),
        ("albp0071", "real_name_photos.back", "text:500", "认证照片-证件反面照", "File reference."),
        ("albp0072", "real_name_photos.holding", "text:500", "认证照片-手持证件照", "File reference."),
        unknown("albp0083"),
        unknown("albp0084"),
        ("albp0087", "account_holder", "text:100", "账号主体", "Account holder."),
        ("albp0090", "account_status", "code:account_status", "停用/启用", "Account status."),
        ("albp0093", "hours_withdrawn", "num", "已支取总时长", "Hours already withdrawn (时间银行)."),
        ("albp0094", "hours_withdrawable", "num", "可支取总时长", "Hours that may be withdrawn."),
        ("albp0095", "no_shows", "int", "未到岗次数", "Times the volunteer did not turn up."),
        unknown("albp0098"),
        unknown("albp0099"),
    ],
    "team": [
        ("albe0041", "team_no", None, "", ""),      # v1 key, now with its national code
        ("albe0004", "links.liaison", "nid", "联络组织",
         "Internal id of the liaison organisation (a team), when has_liaison is 1."),
        ("albe0007", "registration_dept_name", "text:100", "登记部门名称", "Registration department as shown."),
        ("albe0011", "supervisor_name", "text:100", "主管单位名称", "Supervising unit."),
        ("albe0012", "area", None, "", ""),
        ("albe0013", "address", None, "", ""),
        ("albe0015", "established_on", None, "", ""),
        ("albe0017", "service_categories", None, "", ""),
        ("albe0020", "landline", "phone", "固定电话", "Landline number."),
        ("albe0021", "contact_qq", "text:20", "联系人QQ", "Contact's QQ number."),
        ("albe0022", "leader.name", "text:20", "负责人姓名", "Person in charge."),
        ("albe0023", "leader.id_number", "text:32", "负责人身份证", "Person in charge's ID number (sensitive)."),
        ("albe0024", "leader.mobile", "mobile", "负责人手机", "Person in charge's mobile (sensitive)."),
        unknown("albe0025"),
        ("albe0027", "public", "flag", "团体是否公开", "0 not public, 1 public."),
        ("albe0029", "join_password", "text:64", "免审密码", "Password that joins without review."),
        ("albe0032", "introduction", "text:5000", "队伍简介", "Introduction."),
        ("albe0036", "recommended", "flag", "是否推荐", "1 recommended, 0 not."),
        ("albe0038", "area_name", "text:200", "区域", "Area as shown."),
        ("albe0040", "website", "text:500", "队伍网站", "Web site."),
        unknown("albe0042"),
        unknown("albe0043"),
        ("albe0044", "application_scan", "text:500", "注册申请表扫描件", "File reference."),
        unknown("albe0045"),
        ("albe0046", "registered_at", "datetime", "注册时间", "When the team registered."),
        ("albe0047", "mobile_public", "flag", "手机是否公开", "0 / 1."),
        ("albe0048", "landline_public", "flag", "固定电话是否公开", "0 / 1."),
        ("albe0049", "contact_email", "text:100", "联系人邮箱", "Contact's e-mail."),
        unknown("albe0050"),
        unknown("albe0051"),
        ("albe0056", "member_count", "int", "队伍人数", "Number of members (derived nationally)."),
        ("albe0063", "has_liaison", "flag", "有无联络组织",
         "0 / 1: the team has a liaison organisation (links.liaison, albe0004)."),
        ("albe0065", "has_direct_parent", "flag", "是否有直属组织",
         "0 / 1: a type 1 team has a direct parent organisation (links.parent, albe0066)."),
        ("albe0066", "links.parent", "nid", "直属上级组织", "Internal id of the direct parent organisation."),
        ("albe0067", "uscc_scan", "text:500", "统一社会信用代码证", "File reference."),
        ("albe0069", "total_hours", "num", "队伍服务时长", "Team's service hours (derived nationally)."),
        unknown("albe0091"),
    ],
    "project": [
        ("albx0013", "project_no", None, "", ""),
        ("albx0009", "service_categories", "codes:service_category_v2:4", "服务类别",
         "Service categories of the project, 1-4 codes (comma-separated nationally); the "
         "product's service_category is the primary one (the first when it is absent)."),
        ("albx0011", "links.team", "nid", "组织团体（内部id）", "Internal id of the organising team."),
        ("albx0003", "address", None, "", ""),
        ("albx0006", "recruit_starts_on", "date", "项目招募开始时间", "Recruitment starts."),
        ("albx0007", "recruit_ends_on", "date", "项目招募日期", "Recruitment ends."),
        ("albx0012", "service_area_name", "text:200", "服务区域", "Service area as shown."),
        ("albx0016", "headcount", "int", "项目人数", "Volunteers wanted."),
        ("albx0017", "join_password", "text:64", "免审密码", "Password that joins without review."),
        ("albx0018", "description", None, "", ""),
        ("albx0020", "picture", "text:500", "项目图片对象", "Picture (a file reference)."),
        ("albx0022", "open_to_teams", "text:2000", "可报名团体编号", "Teams that may enrol (national list as text)."),
        ("albx0023", "exclusive_with", "text:2000", "不可同时报名项目编号", "Projects one may not enrol in at once."),
        ("albx0025", "contact.name", None, "", ""),
        ("albx0026", "contact.mobile", None, "", ""),
        ("albx0027", "contact.mobile_public", None, "", ""),
        ("albx0028", "contact.landline", None, "", ""),
        ("albx0029", "contact.landline_public", None, "", ""),
        ("albx0030", "contact.email", "text:100", "联系人邮箱", "Contact's e-mail."),
        ("albx0031", "published_on", "date", "项目发布日期", "Publication date."),
        ("albx0033", "min_hours_to_enrol", "num", "报名前服务时长要求", "Hours required before enrolling."),
        ("albx0035", "lng", "lng", "经度", "Longitude of the place."),
        ("albx0036", "lat", "lat", "纬度", "Latitude of the place."),
        unknown("albx0041"),
        ("albx0047", "late_entry_scan", "text:500", "补录项目扫描件", "File reference (补录)."),
        ("albx0062", "team_name", "text:100", "项目所属团体名称", "Organising team's name."),
        unknown("albx0067"),
        ("albx0070", "recruiting", "flag", "是否招募", "1 recruiting (default), 0 not."),
        unknown("albx0071"),
        ("albx0073", "review_failed", "flag", "是否是审核不通过项目", "0 / 1."),
        ("albx0072", "posts[].name", None, "", ""),
        ("albx0074", "posts[].description", None, "", ""),
        ("albx0075", "posts[].conditions", "text:2000", "岗位条件", "Conditions of the post."),
        ("albx0076", "posts[].albx0076", "text:200", "（albx0076）", "Post field without a label; carried verbatim."),
        ("albx0077", "posts[].headcount", None, "", ""),
        ("albx0079", "posts[].joined", "int", "已加入成员数", "Members who joined (derived nationally)."),
        ("albx0090", "posts[].list_name", "text:100", "岗位名称（列表）", "Post name as the lists show it."),
        ("albx5602", "checkin_points[].lng", None, "", ""),
        ("albx5603", "checkin_points[].lat", None, "", ""),
        ("albx5604", "checkin_points[].type", "text:8", "类型", "Kind of place (national radio value)."),
        ("albx5605", "checkin_points[].radius_m", None, "", ""),
        ("albx5606", "checkin_points[].address", "text:200", "打卡地址", "Address of the check-in point."),
    ],
    "enrollment": [
        ("albx0052", "links.post", "nid", "岗位id", "Internal id of the post."),
        ("albx0053", "volunteer_no", None, "", ""),
        ("albx0055", "joined_at", "datetime", "加入项目时间", "When the volunteer joined."),
        ("albx0056", "applied_at", None, "", ""),
        ("albx0057", "links.project", "nid", "项目id", "Internal id of the project."),
        ("albx0061", "has_hours", "flag", "有无时长", "0 / 1."),
        ("albx0083", "project_hours", "num", "项目服务时长", "Hours in the project."),
        unknown("albx0084"),
        ("albx0085", "invitation_status", "text:8", "邀请状态", "4 邀请中, 2 已加入, 7 邀请被拒绝."),
        ("albx0086", "volunteer_name", "text:20", "志愿者姓名", "Volunteer's name as shown."),
    ],
    "service_record": [
        ("albx0176", "links.project", "nid", "项目id", "Internal id of the project."),
        ("albx0177", "links.team", "nid", "队伍ID", "Internal id of the team."),
    ],
    "training": [
        ("albx0282", "name", None, "", ""),
        ("albx0283", "content", "text:5000", "培训内容", "What the training covered (办法 Art. 8)."),
        ("albx0284", "held_on", None, "", ""),
        ("albx0285", "ends_on", "date", "培训结束时间", "Last day of the training."),
        ("albx0286", "area", "region", "培训区域", "Region code."),
        ("albx0287", "address", "text:200", "详细地址", "Address."),
        ("albx0288", "hours", None, "", ""),
        ("albx0289", "contact_name", "text:20", "培训联系人", "Contact."),
        ("albx0290", "contact_mobile", "mobile", "联系人手机", "Contact's mobile."),
        ("albx0293", "organiser", "text:100", "培训组织者", "Organiser."),
        unknown("albx0295"),
        ("albx0296", "contact_phone", "phone", "联系人电话", "Contact's phone."),
        ("albx0297", "status", "code:training_status", "培训状态", "1 未开始, 2 进行中, 3 已结束."),
        ("albx0298", "lng", "lng", "经度", "Longitude."),
        ("albx0299", "lat", "lat", "纬度", "Latitude."),
        ("albx0301", "team_name", "text:100", "团体名称", "Organising team's name."),
        ("albx0313", "participants[].volunteer_no", "text:18", "志愿者编号", "Participant's volunteer number."),
        ("albx0315", "participants[].name", "text:20", "姓名", "Participant's name."),
        ("albx0316", "participants[].gender", "code:gender", "性别", "Participant's gender."),
    ],
    "commendation": [
        ("albx0352", "name", None, "", ""),
        ("albx0353", "awarded_on", None, "", ""),
        ("albx0354", "issuer", None, "", ""),
        ("albx0355", "document_name", None, "", ""),
        ("albx0356", "content", None, "", ""),
        ("albx0362", "subject_type", "code:commendation_subject", "表彰类型", "1 志愿者, 2 团体, 3 项目."),
        ("albx0363", "document_no", None, "", ""),
        ("albx0364", "links.team", "nid", "队伍id", "Internal id of the team."),
    ],
    "evaluation": [
        ("albx0462", "links.team", "nid", "团体id", "Internal id of the team."),
        ("albx0466", "evaluated_on", "date", "评价日期", "Evaluation date."),
        ("albx0468", "comment", None, "", ""),
        ("albx0469", "links.project", "nid", "项目id", "Internal id of the project."),
        ("albx0470", "volunteer_no", None, "", ""),
        ("albx0502", "of_project.links_team", "nid", "团体id", "Internal id of the team (project evaluation)."),
        ("albx0503", "of_project.training_quality", "int", "培训质量", "1–5."),
        ("albx0504", "of_project.teamwork", "int", "团队合作", "1–5."),
        ("albx0505", "of_project.execution", "int", "执行能力", "1–5."),
        ("albx0506", "of_project.evaluated_on", "date", "评价日期", "Evaluation date."),
        ("albx0508", "of_project.comment", "text:2000", "评价内容", "Comment."),
        ("albx0509", "of_project.links_project", "nid", "项目id", "Internal id of the project."),
        ("albx0510", "of_project.volunteer_no", "text:18", "志愿者编号", "Evaluating volunteer."),
    ],
    "complaint": [
        ("albx0338", "area", "region", "区域", "Region code."),
        ("albx0340", "links.hours", "nid", "举报时长", "Internal id of the service-time record complained of."),
        ("albx0344", "content", None, "", ""),
        ("albx0346", "kind", "code:complaint_subject_kind", "投诉类型", "1 时长, 2 新闻, 3 动态."),
        ("albx0347", "links.target", "nid", "投诉类型关联的id", "Internal id of what is complained of."),
        ("albx0348", "project_name", "text:100", "所属项目", "Project as named by the complainant."),
        ("albx0349", "complained_on", "date", "投诉日期", "Date of the complaint."),
        ("albx0350", "handled_at", "datetime", "处理时间", "When it was handled."),
        ("albx0351", "complainant.mobile", "mobile", "投诉人手机", "Complainant's mobile (sensitive)."),
        ("albx0355", "respondent", "text:100", "被投诉对象", "Who or what is complained of."),
        ("albx0356", "complainant.name", "text:20", "投诉人姓名", "Complainant's name."),
        ("albx0357", "complainant.id_number", "text:32", "投诉者身份证", "Complainant's ID number (sensitive)."),
    ],
    "certificate": [],
}

# v1 properties whose national code changes in v2 (None: the product's own, no code).
RECODE: dict[str, dict[str, str | None]] = {
    "project": {"team_no": None, "status": "albx0015", "service_category": None},
    "service_record": {"project_no": None, "team_no": None},
    "commendation": {"level": None},
    "complaint": {"kind": None},
}
# v1 properties whose code table widens in v2.
RETABLE = {("project", "status"): "project_status_v2",
           ("project", "service_category"): "service_category_v2",  # the primary of the list
           ("volunteer", "service_categories"): "service_category_v2",
           ("team", "service_categories"): "service_category_v2"}
# Renamed in v2 so that the national meaning can take the key (complaint.kind → category).
RENAME = {("complaint", "kind"): "category"}
# Keys v1 requires that the national system does not send (an anyOf with links instead).
NOT_REQUIRED = {"project": {"team_no", "service_category"}, "service_record": {"project_no"},
                "evaluation": {"punctuality", "attitude", "professionalism", "project_no", "of_project"},
                "complaint": {"submitted_at", "category", "complainant", "respondent"}, "training": {"volunteer_no"},
                "commendation": {"subject"}, "enrollment": {"project_no"}}
ANY_OF = {
    "project": [{"required": ["team_no"]}, {"required": ["links"],
                "properties": {"links": {"required": ["team"]}}}],
    "service_record": [{"required": ["project_no"]}, {"required": ["links"],
                       "properties": {"links": {"required": ["project"]}}}],
    "enrollment": [{"required": ["project_no"]}, {"required": ["links"],
                   "properties": {"links": {"required": ["project"]}}}],
    "evaluation": [{"required": ["punctuality", "attitude", "professionalism"]},
                   {"required": ["of_project"]}],
}
# The product's own additions in v2 (no national code).
EXTRA = {"commendation": [("project_no", "项目编号", "The project commended (subject 3).")]}


def _container(schema: dict, key: str) -> tuple[dict, str]:
    """The properties dict that holds ``key`` ("a.b", "a[].b") and the last step."""
    props = schema["properties"]
    if "[]." in key:
        outer, inner = key.split("[].")
        arr = props.setdefault(outer, {"title": outer, "description": "", "type": "array"})
        item = arr.setdefault("items", {"type": "object", "additionalProperties": False,
                                        "properties": {}})
        return item.setdefault("properties", {}), inner
    if "." in key:
        outer, inner = key.split(".", 1)
        obj = props.setdefault(outer, {"title": OBJECT_TITLES.get(outer, outer),
                                       "description": OBJECT_DESCRIPTIONS.get(outer, ""),
                                       "type": "object", "additionalProperties": False,
                                       "properties": {}})
        return obj.setdefault("properties", {}), inner
    return props, key


OBJECT_TITLES = {"links": "国家系统内部记录标识", "registration": "注册信息", "real_name_photos": "实名认证照片",
                 "leader": "负责人", "complainant": "投诉人", "of_project": "项目评价"}
OBJECT_DESCRIPTIONS = {
    "links": "The national system's internal record ids of related records, each as 'nid:<id>' "
             "(never the product's numbers).",
    "registration": "What the volunteer gave when registering nationally (albp0064–0068).",
    "real_name_photos": "Real-name verification pictures (file references).",
    "leader": "The team's person in charge.",
    "complainant": "Who complains (sensitive personal information).",
    "of_project": "A volunteer's evaluation of a project (albx0502–0510).",
}
ARRAY_FIX = {("training", "participants"): ("参训志愿者", "Volunteers who took part (albx0313–0316).")}


def build(entity: str) -> dict:
    schema = copy.deepcopy(schemas.load_schema("1", entity))
    schema["$id"] = ID_BASE + f"{entity}.schema.json"
    schema["x-schema-version"] = "2"
    props = schema["properties"]
    for (ent, old), new in RENAME.items():
        if ent == entity:
            props[new] = props.pop(old)
            props[new].pop("x-national-code", None)
            schema["required"] = [new if k == old else k for k in schema.get("required", [])]
    for key, code in RECODE.get(entity, {}).items():
        key = RENAME.get((entity, key), key)
        if code is None:
            props[key].pop("x-national-code", None)
        else:
            props[key]["x-national-code"] = code
    for (ent, key), table in RETABLE.items():
        if ent == entity:
            target = props[key]["items"] if props[key].get("type") == "array" else props[key]
            target["x-code-table"] = table
            target["enum"] = list(schemas.code_table(table))
    for code, key, kind, title, description in ADD[entity]:
        container, last = _container(schema, key)
        if kind is None:                              # a v1 property gains its national code
            container[last]["x-national-code"] = code
            if code in NATIONAL_REQUIRED - BY_TYPE_CODES:
                container[last]["x-national-required"] = True
        else:
            container[last] = prop(kind, title, description, code)
    for key, title, description in EXTRA.get(entity, ()):
        props[key] = prop("text:32", title, description)
    if entity == "team":                  # albe0009 is an 18-digit area id nationally
        ra = props["registration_authority"]
        ra.update(description="Registration authority as the national 18-digit area id of its "
                              "seat (100000000000000000 = 民政部).", maxLength=18,
                  pattern=r"^[0-9]{18}(?!\n)$")
        ra.pop("minLength", None)
        ra["x-national-area-id"] = True
    _mark_required(props)
    for (ent, key), (title, description) in ARRAY_FIX.items():
        if ent == entity:
            props[key]["title"], props[key]["description"] = title, description
            props[key]["items"]["title"] = title
            props[key]["items"]["description"] = description
    if entity == "project":                              # a radius of 0 means "anywhere"
        props["service_categories"]["minItems"] = 1
        props["checkin_points"]["items"]["properties"]["radius_m"]["minimum"] = 0
    # required: v1's minus what the national system cannot send, plus the national flags
    required = [k for k in schema.get("required", []) if k not in NOT_REQUIRED.get(entity, ())]
    for key, p in props.items():
        if (p.get("x-national-required") and key not in required
                and key not in NOT_REQUIRED.get(entity, ())):
            required.append(key)
        if p.get("type") in ("object", "array"):
            inner = p.get("items", p) if p.get("type") == "array" else p
            sub = inner.get("properties", {})
            req = list(inner.get("required", []))
            for k, sp in sub.items():
                if sp.get("x-national-required") and k not in req:
                    req.append(k)
            if req:
                inner["required"] = req
            if (p.get("type") == "object" and any(sp.get("x-national-required") for sp in sub.values())
                    and key not in required and key not in NOT_REQUIRED.get(entity, ())):
                required.append(key)
    schema["required"] = required
    if entity in ANY_OF:
        schema["anyOf"] = ANY_OF[entity]
    if entity == "team":
        schema["allOf"] = [{"description": why, "x-national-required": True, "if": when,
                            "then": then} for why, when, then in BY_TYPE]
    _mark_product(props)
    return schema


def _mark_required(props: dict) -> None:
    for p in props.values():
        if p.get("x-national-code") in NATIONAL_REQUIRED - BY_TYPE_CODES:
            p["x-national-required"] = True
        inner = p.get("items") if p.get("type") == "array" else p
        if isinstance(inner, dict) and "properties" in inner:
            _mark_required(inner["properties"])


def _mark_product(props: dict) -> None:
    for key, p in props.items():
        if p.get("type") == "object" and "properties" in p:
            if key != "links":
                _mark_product(p["properties"])
            coded = any("x-national-code" in sp for sp in p["properties"].values())
            if not coded:
                p["x-product"] = True
        elif p.get("type") == "array" and isinstance(p.get("items"), dict) and "properties" in p["items"]:
            _mark_product(p["items"]["properties"])
            if not any("x-national-code" in sp for sp in p["items"]["properties"].values()):
                p["x-product"] = True
        elif "x-national-code" not in p:
            p["x-product"] = True


def rendered() -> dict[str, str]:
    """``{file name: text}`` of every v2 schema (entities and the batch envelope)."""
    out = {}
    for name in schemas.schema_names("1"):
        if name == "batch":
            schema = copy.deepcopy(schemas.load_schema("1", "batch"))
            schema["$id"] = ID_BASE + "batch.schema.json"
            schema["x-schema-version"] = "2"
            schema["properties"]["schema_version"]["const"] = "2"
        else:
            schema = build(name)
        out[f"{name}.schema.json"] = json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
    return out


def main() -> None:
    V2.mkdir(exist_ok=True)
    for name, text in rendered().items():
        (V2 / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(rendered())} schemas to {V2}")


if __name__ == "__main__":
    main()
