"""Editing a source in a real browser, on SQLite and PostgreSQL: the secret field is empty and
stays the stored secret, a bad setting is refused with the adapter schema's pointer, a good
change shows on the source's page; no page logs a console error."""

from __future__ import annotations

import pytest

from tests.e2e.console.test_console_browser import add_admin, log_in
from tests.integration.console.test_source_edit import SECRET, _source
from tests.integration.sync_jobs.helpers import add_source

pytestmark = pytest.mark.slow


def test_an_operator_edits_a_source_and_its_secret_stays(console_app, pages):
    app = console_app
    add_admin(app, "ops", "operator", region="32")
    add_source(app, "zyh-js", "http://127.0.0.1:21999", entities=["volunteer"],
               scope={"region_prefix": "32"}, access_key_secret=SECRET)
    page = pages.new()
    log_in(page, "ops")
    page.goto("/console/sources/zyh-js")
    page.click("#edit-source")
    secret = page.locator("input[name='s.access_key_secret']")
    assert secret.input_value() == "" and secret.get_attribute("type") == "password"
    assert SECRET not in page.content()
    page.fill("input[name='s.page_size']", "500")
    page.click("#source-form button[type=submit]")
    assert "/settings/page_size" in page.locator("#edit-error").inner_text()
    pages.shot(page, "refused")
    # the refused load answers 422 on purpose, which Chromium reports as a failed load: that
    # one entry is expected, any other is a fault
    expected = [e for e in pages.errors if "status of 422" in e and "/edit" in e]
    assert len(expected) == 1
    pages.errors.remove(expected[0])
    page.fill("input[name='s.page_size']", "40")
    page.fill("input[name=schedule]", "every 15m")
    page.fill("input[name=region_prefix]", "3201")
    page.click("#source-form button[type=submit]")
    page.wait_for_url("**/console/sources/zyh-js")
    assert "settings.page_size" in page.locator(".flash.ok").inner_text()
    facts = page.locator("#facts").inner_text()
    assert "every 15m" in facts and "3201" in facts
    pages.shot(page, "saved")
    stored = _source(app, "zyh-js")
    assert stored["settings"]["access_key_secret"] == SECRET and stored["settings"]["page_size"] == 40
    page.goto("/console/audit")
    assert "source.update" in page.locator("#audit").inner_text()
    assert pages.errors == []
