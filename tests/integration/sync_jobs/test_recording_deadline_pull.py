"""办法 (2020) Art. 11 for hours that come in through a sync pull: a spreadsheet of service
records uploaded over HTTP and read by the next run goes through the same service as a push
(apply_records → record_hours), so the same measurement applies — reported
(``late_working_days``) by default, dead-lettered with ``service_record.recorded_late`` under
RECORDING_DEADLINE = refuse. Dates as in tests/integration/exchange_push/
test_recording_deadline.py (2026 notice: 9 Oct → 23 Oct is the 11th working day; 30 Sep →
20 Oct the 10th). SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from gateway.store.models import DeadLetter, ServiceRecord
from sync_jobs import sources
from tests.integration.hours import helpers as hours_helpers
from tests.integration.sync_jobs.helpers import run

COLUMNS = {"记录编号": "record_no", "志愿者编号": "volunteer_no", "项目编号": "project_no",
           "队伍编号": "team_no", "开始时间": "started_at", "结束时间": "ended_at",
           "服务时长": "hours", "录入日期": "recorded_at"}


def _sheet(world, project_no, rows) -> bytes:
    lines = [",".join(COLUMNS)]
    for number, day, recorded in rows:
        lines.append(",".join([number, world.volunteer_no, project_no, world.team_no,
                               f"{day} 09:00:00", f"{day} 12:00:00", "3", recorded]))
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


def _upload_and_run(app, caller, tmp_path, rows):
    world = hours_helpers.seed(app)
    project_no = hours_helpers.add_project(app, world, starts_on=date(2026, 1, 1),
                                           ends_on=date(2026, 11, 30), recruit_scope="5")
    with app.app_context(), app.extensions["store.sessionmaker"]() as session:
        sources.add_or_update(session, app.extensions["privacy.vault"], sources.SourceSpec(
            name="hours-sheet", adapter="spreadsheet", direction="pull",
            settings={"folder": str(tmp_path / "drop"), "entity": "service_record",
                      "columns": COLUMNS},
            scope={"region_prefix": "11", "pii": "full"}))
        session.commit()
    headers = caller(app, "district-office", region="11", perms={"sync": ["write"]})
    answer = app.test_client().put("/api/v1/sync/sources/hours-sheet/files/服务时长.csv",
                                   data=_sheet(world, project_no, rows),
                                   headers={**headers, "Content-Type": "text/csv"})
    assert answer.status_code == 201, answer.get_json()
    (result,) = run(app, "hours-sheet")
    with app.extensions["store.sessionmaker"]() as session:
        marks = dict(session.execute(select(ServiceRecord.source_id, ServiceRecord.late_working_days)).all())
        letters = [(d.record_key, d.rule, [(r.get("pointer"), r.get("rule")) for r in d.reason])
                   for d in session.execute(select(DeadLetter)).scalars()]
    return result, marks, letters


ROWS = [("S-IN-TIME", "2026-09-30", "2026-10-20"), ("S-LATE", "2026-10-09", "2026-10-23")]


def test_a_late_record_pulled_from_a_spreadsheet_is_reported(sync_app, tmp_path, caller):
    result, marks, letters = _upload_and_run(sync_app, caller, tmp_path, ROWS)
    assert (result.read, result.written) == (2, 2), result
    assert marks == {"S-IN-TIME": None, "S-LATE": 11}
    assert letters == []


def test_a_late_record_pulled_from_a_spreadsheet_is_refused_under_refuse(sync_app, tmp_path, caller):
    sync_app.config["RECORDING_DEADLINE"] = "refuse"
    try:
        result, marks, letters = _upload_and_run(sync_app, caller, tmp_path, ROWS)
    finally:
        sync_app.config["RECORDING_DEADLINE"] = "report"
    assert (result.read, result.written, result.dead_lettered) == (2, 1, 1), result
    assert marks == {"S-IN-TIME": None}
    assert letters == [("S-LATE", "service_record.recorded_late",
                        [("/data/recorded_at", "service_record.recorded_late")])]
