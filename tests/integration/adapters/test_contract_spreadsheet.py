"""The spreadsheet adapter against the adapter contract suite: xlsx and csv, several entities.

A spreadsheet holds what its columns hold: lists of objects (a project's posts) have no
cell, and an empty list reads back as absent, so the samples leave those out.
"""

from __future__ import annotations

import copy

import openpyxl
import pytest

import schemas
from adapters.spreadsheet import SpreadsheetAdapter
from gateway.adapter_contract import AdapterContract, example_records

VOLUNTEER_COLUMNS = {
    "志愿者编号": "volunteer_no", "姓名": "name", "证件类型": "id_type", "证件号码": "id_number",
    "性别": "gender", "出生日期": "birth_date", "国籍": "nationality", "民族": "ethnicity",
    "政治面貌": "political_status", "学历": "education", "从业状况": "employment_status",
    "手机号码": "mobile", "邮箱": "email", "地址": "address", "居住区域": "residence_area",
    "服务区域": "service_area", "服务类别": "service_categories", "特长": "skills",
    "可服务时间": "availability", "语言": "languages", "注册日期": "registered_at",
    "注册区域": "registration_area", "实名认证": "real_name_status", "星级": "star_level",
    "累计时长": "total_hours", "监护人姓名": "guardian.name", "监护人关系": "guardian.relation",
    "监护人手机": "guardian.mobile", "监护人同意时间": "guardian.consent_at",
    "来源编号": "source_id", "来源更新时间": "source_updated_at",
}


def _columns_from_titles(entity: str) -> dict[str, str]:
    """Header = the schema's Chinese title (nested members prefixed by their object's)."""
    columns = {}
    for key, prop in schemas.load_schema("1", entity)["properties"].items():
        if prop.get("type") == "object":
            for sub, subprop in prop["properties"].items():
                columns[f"{prop['title']}-{subprop['title']}"] = f"{key}.{sub}"
        elif not (prop.get("type") == "array" and prop["items"].get("type") == "object"):
            columns[prop["title"]] = key
    return columns


def _sheet_samples(entity: str) -> list[dict]:
    records = []
    for record in example_records(entity)[entity]:
        record = {k: v for k, v in record.items()
                  if k not in ("posts", "checkin_points") and v != [] and v != {}}
        records.append(record)
    return records


def _write_xlsx(path, header, rows):
    workbook = openpyxl.Workbook()
    ws = workbook.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    workbook.save(path)


class _SheetContract(AdapterContract):
    entity = ""
    columns: dict[str, str] = {}
    extra: dict = {}

    def make_adapter(self):
        folder = self.tmp_path / "drop"
        folder.mkdir(exist_ok=True)
        return SpreadsheetAdapter({"folder": str(folder), "entity": self.entity,
                                   "columns": self.columns, **self.extra})

    def seed(self, adapter, entity, native_records):
        header = list(adapter.fields)
        _write_xlsx(adapter.folder / "seed.xlsx", header,
                    [[n.get(h) for h in header] for n in native_records])


class TestVolunteerXlsxContract(_SheetContract):
    entity = "volunteer"
    columns = VOLUNTEER_COLUMNS
    extra = {"values": {"gender": {"男": "1", "女": "2"}}}
    sample_records = {"volunteer": _sheet_samples("volunteer")}
    bad_settings = [
        ({}, "/folder"),
        ({"folder": "x", "entity": "volunteer"}, "/columns"),
        ({"folder": "x", "entity": "nobody", "columns": {"姓名": "name"}}, "/entity"),
        ({"folder": "x", "entity": "volunteer", "columns": {"姓名": "nom"}}, "/columns/姓名"),
        ({"folder": "x", "entity": "volunteer", "columns": {"姓名": "name", "名字": "name"}},
         "/columns/名字"),
        ({"folder": "x", "entity": "project", "columns": {"岗位": "posts"}}, "/columns/岗位"),
        ({"folder": "x", "entity": "volunteer", "columns": {"姓名": "name"},
          "values": {"gender": {"男": "1"}}}, "/values/gender"),
        ({"folder": "x", "entity": "volunteer", "columns": {"性别": "gender"},
          "values": {"gender": {"男": "M"}}}, "/values/gender/男"),
        ({"folder": "x", "entity": "volunteer", "columns": {"姓名": "name"}, "header_row": 0},
         "/header_row"),
        ({"folder": "x", "entity": "volunteer", "columns": {"姓名": "name"}, "key": "mobile"}, "/key"),
    ]

    def invalid_native_record(self, entity):
        native = SpreadsheetAdapter({"folder": "x", "entity": "volunteer", "columns": self.columns}
                                    ).from_standard("volunteer", copy.deepcopy(self.sample_records["volunteer"][0]))
        native["证件类型"] = "护照X"
        native["来源编号"] = "bad-row"
        return native


class TestServiceRecordCsvContract(_SheetContract):
    entity = "service_record"
    columns = _columns_from_titles("service_record")
    extra = {"write_file": "hours.csv", "write_labels": False}
    sample_records = {"service_record": _sheet_samples("service_record")}

    def seed(self, adapter, entity, native_records):
        import csv
        header = list(adapter.fields)
        with (adapter.folder / "seed.csv").open("w", encoding="gb18030", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for n in native_records:
                writer.writerow(["" if n.get(h) is None else n.get(h) for h in header])

    def invalid_native_record(self, entity):
        native = {h: None for h in self.columns}
        native.update({"志愿者编号": "V1100002201000004V", "项目编号": "P1", "开始时间": "明天上午",
                       "结束时间": "2024-05-01 10:00", "服务时长": "一小时", "时长状态": "2"})
        return native


class TestTeamXlsxContract(_SheetContract):
    entity = "team"
    columns = _columns_from_titles("team")
    extra = {"sheet": "队伍", "header_row": 3}
    sample_records = {"team": _sheet_samples("team")}

    def seed(self, adapter, entity, native_records):
        workbook = openpyxl.Workbook()
        ws = workbook.active
        ws.title = "队伍"
        ws.append(["队伍名单"])
        ws.append([])
        header = list(adapter.fields)
        ws.append(header)
        for n in native_records:
            ws.append([n.get(h) for h in header])
        workbook.save(adapter.folder / "seed.xlsx")

    def invalid_native_record(self, entity):
        return {"队伍编号": "T9", "队伍名称": "某队", "队伍类型": "民间团体", "联系人手机号码": "13911112222",
                "所属区域": "110105", "成立日期": "去年"}


class TestProjectCsvContract(_SheetContract):
    entity = "project"
    columns = _columns_from_titles("project")
    extra = {"write_file": "projects.csv", "key": "project_no"}
    sample_records = {"project": _sheet_samples("project")}

    def invalid_native_record(self, entity):
        return {"项目编号": "P9", "项目名称": "某项目", "发起队伍编号": "T1", "项目开始日期": "2024-04-01",
                "项目结束日期": "2024-04-31", "服务类别": "0001", "项目区域": "110105",
                "项目联系方式-联系人是否公开": "也许"}


def test_samples_keep_fields_for_each_kind():
    """The spreadsheet samples still exercise nested members, lists of codes and numbers."""
    volunteers = _sheet_samples("volunteer")
    assert any("guardian" in v for v in volunteers)
    assert any(len(v.get("service_categories", [])) > 1 for v in volunteers)
    assert any("total_hours" in v for v in volunteers)
    projects = _sheet_samples("project")
    assert any("contact" in p and p["contact"].get("name_public") is True for p in projects)


@pytest.mark.parametrize("entity", ["volunteer", "team", "project", "service_record"])
def test_title_columns_cover_the_samples(entity):
    columns = set(_columns_from_titles(entity).values())
    for record in _sheet_samples(entity):
        for key, value in record.items():
            if isinstance(value, dict):
                assert {f"{key}.{sub}" for sub in value} <= columns
            else:
                assert key in columns
