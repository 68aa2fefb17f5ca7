"""``vgw sync status``'s table on both stores: every cell starts under its heading, however long
a source's name or its last run's text (the demo's `demo-chaoyang-sheet` / `spreadsheet` pushed
the rest of its row under the next headings)."""

from __future__ import annotations

import json

from tests.integration.sync_jobs.helpers import run, zyh_settings

LONG = "a-source-with-a-rather-long-name"


def test_every_cell_starts_under_its_heading(store_app):
    runner = store_app.test_cli_runner()
    for name in (LONG, "zyh"):
        added = runner.invoke(args=["sources", "add", name, "--adapter", "zyh365", "--entity", "volunteer",
                                    "--settings", json.dumps(zyh_settings("http://127.0.0.1:9"))])
        assert added.exit_code == 0, added.output
    run(store_app, LONG)  # fails: nothing listens on port 9; its LAST RUN reads "failed <time>"
    table = runner.invoke(args=["sync", "status"])
    assert table.exit_code == 0, table.output
    header, *rows = [line for line in table.output.splitlines() if not line.startswith("    ")]
    assert header.startswith("SOURCE ") and len(rows) == 2, table.output
    starts = [header.index(h) for h in ("ADAPTER", "DIR", "STATE", "LAST RUN", "LAST SUCCESS")]
    for row in rows:
        for at in starts:
            assert row[at - 1] == " " and row[at] != " ", (at, header, row)
    assert rows[0].startswith(LONG + " ") and " failed " in rows[0], rows[0]
    # the numbers end where their headings end
    for heading in ("FAILS", "DEAD"):
        end = header.index(heading) + len(heading)
        for row in rows:
            assert row[end - 1].isdigit() and (len(row) == end or row[end] == " "), (heading, header, row)
