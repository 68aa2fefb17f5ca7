"""Uploading a spreadsheet for a source over HTTP; the next run reads it."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from gateway.store.models import MessageLog, Volunteer
from sync_jobs import sources
from tests.integration.exchange_push import helpers as push_helpers
from tests.integration.sync_jobs.helpers import add_source, count, run

COLUMNS = {"姓名": "name", "证件类型": "id_type", "证件号码": "id_number", "性别": "gender",
           "手机号码": "mobile", "服务区域": "service_area"}


def _csv(people: list[dict]) -> bytes:
    lines = [",".join(COLUMNS)]
    for p in people:
        lines.append(",".join([p["name"], "内地居民身份证", p["id_number"], "男" if p["gender"] == "1" else "女",
                               p["mobile"], p["service_area"]]))
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


def _spreadsheet_source(app, folder, name="team-sheet", region=""):
    with app.app_context(), app.extensions["store.sessionmaker"]() as session:
        sources.add_or_update(session, app.extensions["privacy.vault"], sources.SourceSpec(
            name=name, adapter="spreadsheet", direction="pull",
            settings={"folder": str(folder), "entity": "volunteer", "columns": COLUMNS},
            scope={"region_prefix": region, "pii": "full"}))
        session.commit()


def test_an_uploaded_sheet_is_read_by_the_next_run(sync_app, tmp_path, caller):
    _spreadsheet_source(sync_app, tmp_path / "drop", region="1101")
    people = [push_helpers.volunteer(i) for i in range(3)]
    headers = caller(sync_app, "district-office", region="11", perms={"sync": ["write"]})
    http = sync_app.test_client()

    answer = http.put("/api/v1/sync/sources/team-sheet/files/朝阳区志愿者.csv", data=_csv(people),
                      headers={**headers, "Content-Type": "text/csv"})

    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["file"], body["bytes"]) == ("朝阳区志愿者.csv", len(_csv(people)))
    # Kept sealed under the personal-data keys (issue 11, finding 2), no temp file left.
    kept = tmp_path / "drop" / "朝阳区志愿者.csv.vgw-sealed"
    assert [p.name for p in (tmp_path / "drop").iterdir()] == [kept.name]
    assert sync_app.extensions["privacy.vault"].open(
        kept.read_bytes(), "vgw-upload:朝阳区志愿者.csv".encode()) == _csv(people)
    (result,) = run(sync_app, "team-sheet")
    assert (result.read, result.written) == (3, 3)
    assert count(sync_app, select(func.count()).select_from(Volunteer)) == 3
    with sync_app.extensions["store.sessionmaker"]() as session:
        logged = session.execute(select(MessageLog).where(MessageLog.batch_id == body["batch_id"])).scalar_one()
    assert (logged.client_id, logged.status, logged.body_bytes) == ("district-office", "done", body["bytes"])


def test_bad_uploads_are_refused_and_leave_nothing(sync_app, tmp_path, caller, platform, base_url):
    _spreadsheet_source(sync_app, tmp_path / "drop", region="1101")
    add_source(sync_app, "zyh", base_url, entities=["volunteer"])
    http = sync_app.test_client()
    writer = {**caller(sync_app, "office", region="11", perms={"sync": ["write"]}),
              "Content-Type": "text/csv"}
    data = _csv([push_helpers.volunteer(1)])

    def put(path, headers=writer):
        return http.put(path, data=data, headers=headers)

    bad_name = put("/api/v1/sync/sources/team-sheet/files/..%2Fescape.csv")
    assert bad_name.status_code in (404, 422)
    wrong_kind = put("/api/v1/sync/sources/team-sheet/files/volunteers.exe")
    assert wrong_kind.status_code == 422
    assert wrong_kind.get_json()["errors"][0]["pointer"] == "/filename"
    assert wrong_kind.get_json()["errors"][0]["rule"] == "upload.filename"
    hidden = put("/api/v1/sync/sources/team-sheet/files/.hidden.csv")
    assert hidden.status_code == 422
    national = {**caller(sync_app, "ministry", perms={"sync": ["write"]}), "Content-Type": "text/csv"}
    assert put("/api/v1/sync/sources/zyh/files/a.csv", national).status_code == 409
    assert put("/api/v1/sync/sources/nope/files/a.csv").status_code == 404
    elsewhere = {**caller(sync_app, "other-province", region="32", perms={"sync": ["write"]}),
                 "Content-Type": "text/csv"}
    assert put("/api/v1/sync/sources/team-sheet/files/a.csv", elsewhere).status_code == 403
    reader = {**caller(sync_app, "reader", perms={"sync": ["read"]}), "Content-Type": "text/csv"}
    assert put("/api/v1/sync/sources/team-sheet/files/a.csv", reader).status_code == 403
    assert http.put("/api/v1/sync/sources/team-sheet/files/a.csv", data=data).status_code == 401
    assert not (tmp_path / "drop").exists() or list((tmp_path / "drop").iterdir()) == []
    assert not (tmp_path / "escape.csv").exists()
    problem = json.loads(wrong_kind.get_data(as_text=True))
    assert problem["type"] == "/problems/invalid-upload"
