"""Values the console shows from the data, on both stores: the overview's records-per-hour
charts label their hours in TIMEZONE, like every other time the console shows
(docs/operations.md, "How times are shown"), with the offset in the caption; a run's direction
and trigger are words of the console's language, not the stored codes."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import update

from gateway.store.models import SyncRun
from tests.integration.console.helpers import logged_in
from tests.integration.console.test_operations import _sheet_source
from tests.integration.sync_jobs.helpers import run

_CHART = re.compile(r'<figcaption>([^<]*)</figcaption>\s*<canvas id="(chart-day|chart-week)"[^>]*></canvas>\s*'
                    r'<script type="application/json" id="\2-data">(.*?)</script>', re.S)


def _charts(page: str) -> dict[str, tuple[str, dict]]:
    return {chart_id: (html.unescape(caption), json.loads(html.unescape(body)))
            for caption, chart_id, body in _CHART.findall(page)}


def test_the_hourly_charts_label_hours_in_the_display_zone(store_app, tmp_path):
    _sheet_source(store_app, tmp_path / "drop", region="")
    run(store_app, "sheet")
    # the run started five hours ago (UTC, as stored); shown, that is 5 hours before now in +08:00
    started = datetime.now(timezone.utc) - timedelta(hours=5)
    with store_app.extensions["store.sessionmaker"]() as session:
        session.execute(update(SyncRun).values(started_at=started, finished_at=started))
        session.commit()
    client = logged_in(store_app, "viewer", "viewer")
    page = client.get("/console/").get_data(as_text=True)
    charts = _charts(page)
    assert set(charts) == {"chart-day", "chart-week"}, page[:2000]
    shanghai = ZoneInfo("Asia/Shanghai")  # the TIMEZONE default
    now_shown = datetime.now(shanghai)
    for caption, data in charts.values():
        assert caption.endswith("(+08:00)"), caption
        assert data["labels"][-1] == now_shown.strftime("%m-%d %H:00"), data["labels"][-3:]
    caption, day = charts["chart-day"]
    run_hour = started.astimezone(shanghai).strftime("%m-%d %H:00")
    assert day["in"][day["labels"].index(run_hour)] == 3, (run_hour, day)
    assert sum(day["in"]) == 3


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_a_runs_direction_and_trigger_are_shown_in_the_consoles_language(store_app, tmp_path):
    _sheet_source(store_app, tmp_path / "drop", region="")
    run(store_app, "sheet")  # a manual pull run
    client = logged_in(store_app, "viewer", "viewer")
    source = _text(client.get("/console/sources/sheet").get_data(as_text=True))
    assert "#1 拉取" in source and " 手动 " in source, source
    assert "方向 拉取" in source, source
    overview = _text(client.get("/console/").get_data(as_text=True))
    assert "spreadsheet · 拉取" in overview, overview
    client.get("/console/lang/en")
    english = _text(client.get("/console/sources/sheet").get_data(as_text=True))
    assert "#1 pull" in english and " manual " in english and "Direction pull" in english, english


def test_records_today_are_counted_from_midnight_in_the_display_zone(store_app):
    """The overview's "records today" / "rejected today" start at midnight in TIMEZONE (the day
    every shown time is in), not at midnight UTC, which is 08:00 in Shanghai."""
    from sqlalchemy import select

    from gateway.store.models import MessageLog
    from tests.conftest import make_caller
    from tests.integration.console.test_quality import _push_with_rejections

    headers = make_caller(store_app, "q-city", region="11", perms={"*": ["read", "write"]})
    _push_with_rejections(store_app, headers, 100)   # 3 records, 2 rejected: before midnight
    _push_with_rejections(store_app, headers, 200)   # 3 records, 2 rejected: after midnight
    shanghai = ZoneInfo("Asia/Shanghai")
    midnight = datetime.now(shanghai).replace(hour=0, minute=0, second=0, microsecond=0)
    with store_app.extensions["store.sessionmaker"]() as session:
        first, second = session.execute(select(MessageLog.id).where(MessageLog.client_id == "q-city")
                                        .order_by(MessageLog.id)).scalars()
        for entry, at in ((first, midnight - timedelta(seconds=30)), (second, midnight + timedelta(seconds=1))):
            session.execute(update(MessageLog).where(MessageLog.id == entry)
                            .values(received_at=at.astimezone(timezone.utc)))
        session.commit()
    client = logged_in(store_app, "viewer", "viewer")
    overview = _text(client.get("/console/").get_data(as_text=True))
    row = re.search(r"q-city .*? (\d+) (\d+) ", overview)
    assert row and row.groups() == ("3", "2"), overview
