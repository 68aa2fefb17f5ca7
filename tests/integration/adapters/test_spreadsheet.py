"""The spreadsheet adapter on files as teams make them: Chinese headers and labels, title
rows, Excel's number and date cells, GB18030 csv, damaged uploads, new files later."""

from __future__ import annotations

import csv
import json
import re
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from adapters.spreadsheet import SpreadsheetAdapter
from gateway.adapter import AdapterError, MappingError
from gateway.adapter_contract import contract_engine, read_all

COLUMNS = {"姓名": "name", "证件类型": "id_type", "证件号码": "id_number", "性别": "gender",
           "出生日期": "birth_date", "民族": "ethnicity", "手机号码": "mobile",
           "服务类别": "service_categories", "监护人姓名": "guardian.name",
           "监护人关系": "guardian.relation", "监护人手机": "guardian.mobile",
           "注册日期": "registered_at", "编号": "source_id"}
HEADER = ["序号", "姓名", "证件号码", "证件类型", "性别", "出生日期", "民族", "手机号码",
          "服务类别", "注册日期", "编号"]
ADULT_ID = "11010519491231002X"


def _xlsx(path, rows, title=None, sheet="志愿者"):
    workbook = openpyxl.Workbook()
    ws = workbook.active
    ws.title = sheet
    if title:
        ws.append([title])
    for row in rows:
        ws.append(row)
    workbook.save(path)


def _good_row(n, **over):
    row = {"序号": n, "姓名": "王淑兰", "证件号码": ADULT_ID, "证件类型": "内地居民身份证", "性别": "女",
           "出生日期": "1949-12-31", "民族": "汉族", "手机号码": "13800138000",
           "服务类别": "社区服务、关爱特殊群体", "注册日期": "2024-03-15", "编号": f"s-{n}"}
    row.update(over)
    return [row[h] for h in HEADER]


def _adapter(folder, **settings):
    return SpreadsheetAdapter({"folder": str(folder), "entity": "volunteer", "columns": COLUMNS,
                               **settings})


def test_an_xlsx_with_a_title_row_chinese_labels_and_excel_cells(tmp_path):
    rows = [HEADER,
            _good_row(1, 证件类型="身份证"),                              # a configured alias
            _good_row(2, 证件类型="01", 性别=2, 民族=1,                   # codes, zeros lost
                      出生日期=datetime(1949, 12, 31), 注册日期=date(2024, 3, 15),
                      手机号码=13800138000),                              # a number cell
            [None] * len(HEADER),                                        # a blank row
            _good_row(4, 服务类别="0001,0017", 注册日期="2024年3月15日", 出生日期="1949/12/31")]
    _xlsx(tmp_path / "志愿者名单.xlsx", rows, title="2024年朝阳区志愿者名单")
    adapter = _adapter(tmp_path, sheet="志愿者", header_row=2,
                       values={"id_type": {"身份证": "01"}})
    items, cursor, _ = read_all(adapter, "volunteer", page_size=10)
    assert [i.location for i in items] == ["row 3", "row 4", "row 6"]
    assert [i.source_id for i in items] == ["s-1", "s-2", "s-4"]
    engine = contract_engine()
    expected = {"name": "王淑兰", "id_type": "01", "id_number": ADULT_ID, "gender": "2",
                "birth_date": "1949-12-31", "ethnicity": "01", "mobile": "13800138000",
                "service_categories": ["0001", "0017"], "registered_at": "2024-03-15"}
    for item in items:
        record = adapter.to_standard("volunteer", item.native)
        assert record == dict(expected, source_id=item.source_id)
        assert engine.validate("volunteer", record).valid
        json.dumps(item.native, ensure_ascii=False)
    assert items[0].native["序号"] == 1                 # unmapped columns are kept in the native
    assert items[0].native["_columns"]["证件号码"] == "C"
    adapter.close()


def test_errors_name_the_row_and_the_column(tmp_path):
    rows = [HEADER] + [_good_row(n) for n in range(1, 11)]
    rows.append(_good_row(11, 证件号码=110105194912310020, 性别="未知", 姓名=None,
                          出生日期="1949-13-45"))
    _xlsx(tmp_path / "a.xlsx", rows)
    adapter = _adapter(tmp_path)
    items, _, _ = read_all(adapter, "volunteer", page_size=5)
    bad = items[-1]
    assert bad.location == "row 12"
    with pytest.raises(MappingError) as info:
        adapter.to_standard("volunteer", bad.native)
    by_pointer = {i.pointer: i for i in info.value.issues}
    assert set(by_pointer) == {"/证件号码", "/性别", "/姓名", "/出生日期"}
    assert by_pointer["/证件号码"].message_zh.startswith("第12行 C列（证件号码）：")
    assert by_pointer["/证件号码"].message_en.startswith("row 12, column C (证件号码): ")
    assert by_pointer["/证件号码"].rule == "mapping.invalid"          # Excel lost digits
    assert by_pointer["/性别"].rule == "mapping.unknown_code"
    assert by_pointer["/性别"].message_zh.startswith("第12行 E列（性别）")
    assert by_pointer["/姓名"].rule == "mapping.missing"
    assert by_pointer["/出生日期"].rule == "mapping.invalid"
    for issue in info.value.issues:
        assert "110105194912310020" not in issue.message_zh + issue.message_en
    for item in items[:-1]:
        adapter.to_standard("volunteer", item.native)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings_are_detected(tmp_path, encoding):
    with (tmp_path / "v.csv").open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerow(_good_row(1, 姓名="欧阳·娜娜"))
    adapter = _adapter(tmp_path)
    [item] = adapter.read("volunteer", None, 5).items
    record = adapter.to_standard("volunteer", item.native)
    assert record["name"] == "欧阳·娜娜" and record["gender"] == "2"


def test_forced_encoding(tmp_path):
    (tmp_path / "v.csv").write_bytes(",".join(HEADER).encode("gb18030") + b"\r\n" +
                                     ",".join(str(v) for v in _good_row(1)).encode("gb18030"))
    adapter = _adapter(tmp_path, encoding="gb18030")
    [item] = adapter.read("volunteer", None, 5).items
    assert item.native["姓名"] == "王淑兰"


def test_processed_files_are_not_read_again_and_new_ones_are(tmp_path):
    _xlsx(tmp_path / "b.xlsx", [HEADER, _good_row(1), _good_row(2)])
    adapter = _adapter(tmp_path)
    items, cursor, _ = read_all(adapter, "volunteer")
    assert [i.source_id for i in items] == ["s-1", "s-2"]
    assert adapter.read("volunteer", cursor, 5).items == []
    # a new file whose name sorts first, and Excel's lock file, which is ignored
    _xlsx(tmp_path / "a.xlsx", [HEADER, _good_row(3)])
    (tmp_path / "~$b.xlsx").write_bytes(b"lock")
    (tmp_path / ".hidden.csv").write_text("x")
    (tmp_path / "notes.txt").write_text("x")
    fresh = _adapter(tmp_path)                           # a restart: only the cursor is kept
    items, cursor, _ = read_all(fresh, "volunteer", cursor)
    assert [i.source_id for i in items] == ["s-3"]
    # a file replaced by a new version is read again; an identical copy is not
    _xlsx(tmp_path / "b.xlsx", [HEADER, _good_row(1), _good_row(2), _good_row(5)])
    items, cursor, _ = read_all(fresh, "volunteer", cursor)
    assert [i.source_id for i in items] == ["s-1", "s-2", "s-5"]
    assert read_all(fresh, "volunteer", cursor)[0] == []


def test_a_damaged_upload_does_not_block_the_others(tmp_path):
    (tmp_path / "a-broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    _xlsx(tmp_path / "b-wrong-sheet.xlsx", [HEADER, _good_row(1)], sheet="Sheet9")
    _xlsx(tmp_path / "c-no-headers.xlsx", [["甲", "乙"], [1, 2]], sheet="志愿者")
    _xlsx(tmp_path / "d-good.xlsx", [HEADER, _good_row(4)], sheet="志愿者")
    adapter = _adapter(tmp_path, sheet="志愿者")
    for page_size in (1, 2, 10):
        items, _, _ = read_all(adapter, "volunteer", page_size=page_size)
        assert [i.location for i in items] == ["a-broken.xlsx", "b-wrong-sheet.xlsx",
                                               "c-no-headers.xlsx", "row 2"]
    for item in items[:3]:
        with pytest.raises(MappingError) as info:
            adapter.to_standard("volunteer", item.native)
        [issue] = info.value.issues
        assert issue.pointer == "/_file" and issue.rule == "mapping.unreadable_file"
        assert item.native["_file"] in issue.message_zh
    assert adapter.to_standard("volunteer", items[3].native)["source_id"] == "s-4"


def test_sequential_pages_of_a_large_file_read_every_row_once(tmp_path):
    with (tmp_path / "big.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for n in range(1, 3001):
            writer.writerow(_good_row(n))
    adapter = _adapter(tmp_path)
    items, cursor, pages = read_all(adapter, "volunteer", page_size=250)
    assert len(pages) == 12
    assert [i.source_id for i in items] == [f"s-{n}" for n in range(1, 3001)]
    # any page's cursor resumes there, also without the open file
    middle = pages[5].next_cursor
    rest, _, _ = read_all(_adapter(tmp_path), "volunteer", middle, page_size=1000)
    assert [i.source_id for i in rest] == [f"s-{n}" for n in range(1501, 3001)]
    adapter.close()


def test_write_keeps_one_row_per_record_and_the_sheet_human(tmp_path):
    adapter = _adapter(tmp_path, write_file="out.xlsx", key="source_id")
    record = {"name": "王淑兰", "id_type": "01", "id_number": ADULT_ID, "gender": "2",
              "birth_date": "1949-12-31", "ethnicity": "01", "mobile": "13800138000",
              "service_categories": ["0001", "0017"], "source_id": "=HYPERLINK(\"x\")"}
    assert adapter.write("volunteer", [record])[0].native_id == record["source_id"]
    workbook = openpyxl.load_workbook(tmp_path / "out.xlsx")
    ws = workbook.active
    header = [c.value for c in ws[1]]
    row = {h: c for h, c in zip(header, ws[2])}
    assert row["性别"].value == "女" and row["民族"].value == "汉族"
    assert row["证件类型"].value == "内地居民身份证"
    assert row["服务类别"].value == "社区服务,关爱特殊群体"
    assert row["编号"].data_type == "s"                  # text, not a formula
    workbook.close()
    stat = (tmp_path / "out.xlsx").stat().st_mtime_ns
    adapter.write("volunteer", [record])
    assert (tmp_path / "out.xlsx").stat().st_mtime_ns == stat    # unchanged: not rewritten
    adapter.write("volunteer", [dict(record, mobile="13800138001")])
    items, _, _ = read_all(_adapter(tmp_path, key="source_id"), "volunteer")
    assert len(items) == 1
    assert adapter.to_standard("volunteer", items[0].native)["mobile"] == "13800138001"


def test_write_preserves_title_rows_and_columns_it_does_not_map(tmp_path):
    _xlsx(tmp_path / "volunteer.xlsx", [HEADER, _good_row(1, 序号=99)], title="名单（勿删）")
    adapter = _adapter(tmp_path, header_row=2, sheet="志愿者")
    record = adapter.to_standard("volunteer", read_all(adapter, "volunteer")[0][0].native)
    results = adapter.write("volunteer", [dict(record, mobile="13900000000"),
                                          dict(record, source_id="s-2")])
    assert all(r.ok for r in results)
    ws = openpyxl.load_workbook(tmp_path / "volunteer.xlsx").active
    values = list(ws.iter_rows(values_only=True))
    assert values[0][0] == "名单（勿删）"
    header = list(values[1])
    assert header[: len(HEADER)] == HEADER
    rows = [dict(zip(header, v)) for v in values[2:]]
    assert rows[0]["序号"] == 99 and rows[0]["手机号码"] == "13900000000"
    assert rows[1]["编号"] == "s-2" and rows[1]["序号"] is None


def test_write_refuses_records_per_record_and_needs_a_key(tmp_path):
    adapter = _adapter(tmp_path)
    good = {"name": "王淑兰", "id_type": "01", "id_number": ADULT_ID, "gender": "2",
            "mobile": "13800138000", "source_id": "s-1"}
    results = adapter.write("volunteer", [good, dict(good, gender="9", source_id="s-2"),
                                          {k: v for k, v in good.items() if k != "source_id"}])
    assert [r.ok for r in results] == [True, False, False]
    assert results[1].errors[0].pointer == "/gender"
    assert results[2].errors[0].pointer == "/source_id"
    keyless = SpreadsheetAdapter({"folder": str(tmp_path), "entity": "volunteer",
                                  "columns": {"姓名": "name", "性别": "gender"}})
    with pytest.raises(AdapterError):
        keyless.write("volunteer", [good])
    # without a key, rows are known by file and row
    _xlsx(tmp_path / "x.xlsx", [["姓名", "性别"], ["李四", "男"]])
    [item] = [i for i in read_all(keyless, "volunteer")[0] if i.native["_file"] == "x.xlsx"]
    assert item.source_id == "x.xlsx#2"


def test_id_numbers_as_keys_are_digested(tmp_path):
    _xlsx(tmp_path / "a.xlsx", [HEADER, _good_row(1)])
    adapter = _adapter(tmp_path, key="id_number")
    [item] = adapter.read("volunteer", None, 5).items
    assert item.source_id.startswith("id_number:") and ADULT_ID not in item.source_id


def test_value_mappings_both_ways(tmp_path):
    adapter = _adapter(tmp_path, values={"gender": {"M": "1", "F": "2", "男性": "1"}})
    assert adapter.from_standard("volunteer", {"gender": "1", "name": "李四", "id_type": "01",
                                               "id_number": "x", "mobile": "1"})["性别"] == "M"
    native = {"性别": "男性", "姓名": "李四", "证件类型": "01", "证件号码": "x", "手机号码": "1"}
    assert adapter.to_standard("volunteer", native)["gender"] == "1"
    assert adapter.to_standard("volunteer", dict(native, 性别="女"))["gender"] == "2"  # table label
    with pytest.raises(MappingError) as info:
        adapter.to_standard("volunteer", {"性别": "女", "姓名": "李四"})
    assert {i.pointer for i in info.value.issues} == {"/证件类型", "/证件号码", "/手机号码"}
    plain = _adapter(tmp_path, write_labels=False)
    assert plain.from_standard("volunteer", {"gender": "2", "ethnicity": "01", "name": "李四",
                                             "id_type": "01", "id_number": "x",
                                             "mobile": "1"})["民族"] == "01"


def test_other_entity_and_bad_cursor(tmp_path):
    adapter = _adapter(tmp_path)
    with pytest.raises(AdapterError):
        adapter.read("team", None, 5)
    with pytest.raises(AdapterError):
        adapter.read("volunteer", "row 12", 5)
    assert adapter.read("volunteer", None, 5).next_cursor is None     # nothing there yet
    assert not _adapter(tmp_path / "missing").check().ok
    assert adapter.check().ok


def test_the_settings_example_in_the_docs_is_valid():
    text = (Path(__file__).resolve().parents[3] / "docs" / "adapters.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```json\n(.*?)```", text, flags=re.S)
    adapter = SpreadsheetAdapter(json.loads(block))
    assert adapter.entities == ("volunteer",) and adapter.header_row == 2
    assert adapter.key == "source_id"


def test_a_required_column_missing_from_the_file(tmp_path):
    _xlsx(tmp_path / "a.xlsx", [["姓名", "证件类型", "证件号码", "性别"],
                                ["王淑兰", "01", ADULT_ID, "女"]])
    adapter = _adapter(tmp_path)
    [item] = adapter.read("volunteer", None, 5).items
    with pytest.raises(MappingError) as info:
        adapter.to_standard("volunteer", item.native)
    [issue] = info.value.issues
    assert issue.pointer == "/手机号码" and issue.rule == "mapping.missing"
    assert issue.message_zh == "第2行（手机号码）：必填，但文件中没有这一列"


def test_a_failed_file_replaced_by_a_good_one_is_read(tmp_path):
    (tmp_path / "a.xlsx").write_bytes(b"not a workbook")
    _xlsx(tmp_path / "b.xlsx", [HEADER, _good_row(2)])
    adapter = _adapter(tmp_path)
    first = adapter.read("volunteer", None, 1)
    assert [i.location for i in first.items] == ["a.xlsx"] and first.has_more
    _xlsx(tmp_path / "a.xlsx", [HEADER, _good_row(1)])      # the team uploads it again, fixed
    rest, _, _ = read_all(_adapter(tmp_path), "volunteer", first.next_cursor)
    assert [i.source_id for i in rest] == ["s-1", "s-2"]
