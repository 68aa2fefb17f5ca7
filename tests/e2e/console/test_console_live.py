"""A running run updates its source's page live (htmx polling), in a real browser, on SQLite and
PostgreSQL: "run now" against a slow zyh365-style simulator (each request waits), and the
page's counters move and the final status appears without a reload."""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.console.test_console_browser import add_admin, last_run, log_in
from tests.integration.sync_jobs.helpers import add_source
from tests.simulators import zyh365 as sim

pytestmark = pytest.mark.slow


def _latest(page) -> dict[str, str]:
    row = page.locator("#runs tbody tr").first
    cells = row.locator("td")
    return {"status": cells.nth(1).inner_text().strip(), "pages": cells.nth(5).inner_text().strip(),
            "read": cells.nth(6).inner_text().strip(), "written": cells.nth(7).inner_text().strip()}


def test_a_running_run_updates_its_page_without_a_reload(console_app, pages):
    app = console_app
    add_admin(app, "ops", "operator")
    # 10 volunteers, 2 a page, 1.5 s a request: 6 pages in 9 s or more. A run commits the
    # pages in hand when the next one is over 1 s late (SYNC_PAGES_PER_TRANSACTION), so a
    # platform this slow shows its progress page by page.
    platform = sim.Zyh365Platform(step_seconds=3600, delay_seconds=1.5).seed(volunteers=10)
    page = pages.new()
    log_in(page, "ops")
    with sim.running(platform) as base_url:
        add_source(app, "zyh-slow", base_url, entities=["volunteer"], page_size=2)
        page.goto("/console/sources/zyh-slow")
        assert page.locator("#runs [hx-get]").count() == 0          # nothing running: no polling
        assert "从未" in page.locator("#facts").inner_text()          # never succeeded yet
        page.get_by_role("button", name="立即运行").click()
        page.wait_for_selector(".flash")
        page.evaluate("window.__notReloaded = true")                # gone if the page reloads
        page.wait_for_function("() => /运行中/.test(document.querySelector('#runs tbody tr')"
                               "?.innerText || '')", timeout=30000)
        seen = [_latest(page)]
        pages.shot(page, "running")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = _latest(page)
            if now != seen[-1]:
                seen.append(now)
            if now["status"] != "运行中":
                break
            time.sleep(0.2)
        pages.shot(page, "finished")
        # the facts above the timeline came along: the last success is no longer "never"
        facts = page.locator("#facts").inner_text()
        assert "从未" not in facts and "最近成功" in facts, facts
        assert page.evaluate("window.__notReloaded") is True
    finished = last_run(app, "zyh-slow")
    assert finished.status == "succeeded" and finished.read == 10
    assert seen[-1] == {"status": "成功", "pages": str(finished.pages), "read": "10",
                        "written": str(finished.written)}
    running = [s for s in seen if s["status"] == "运行中"]
    # the counters were seen moving while it ran: more than one distinct reading, increasing
    reads = [int(s["read"]) for s in running]
    assert len(set(reads)) >= 2 and reads == sorted(reads) and any(0 < r < 10 for r in reads), seen
    assert re.fullmatch(r"\d+", seen[-1]["written"]) and int(seen[-1]["written"]) == 10
    assert pages.errors == []
