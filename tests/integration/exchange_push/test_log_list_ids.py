"""`vgw log list` prints whole batch ids (however long), and `vgw log show` finds what it lists;
its times follow the one display rule (gateway/timefmt.py)."""

import re

import orjson

from tests.integration.exchange_push import helpers as h

LONG_ID = "sync-demo-zyh365-pull-run-000123-page-0007-2026-12-03T10:40:00Z"


def test_listed_batch_ids_are_whole_and_show_finds_them(store_app, server, city):
    body = orjson.dumps(h.envelope([h.item("volunteer", h.volunteer(1))], batch_id=LONG_ID))
    answer = h.push(server, city, body, content_type="application/json", key="long-id-key")
    assert answer.status_code == 200, answer.text
    runner = store_app.test_cli_runner()

    listed = runner.invoke(args=["log", "list"])
    assert listed.exit_code == 0, listed.output
    header, row = listed.output.splitlines()[:2]
    assert LONG_ID in row.split()  # whole, not cut to 28 characters
    batch = row[header.index("batch"):].split()[0]
    shown = runner.invoke(args=["log", "show", batch])
    assert shown.exit_code == 0, shown.output
    assert "verification:    VERIFIED" in shown.output
    # Shown in TIMEZONE (Asia/Shanghai by default) with the offset written out.
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00", row)
    assert re.search(r"received:        \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00", shown.output)
