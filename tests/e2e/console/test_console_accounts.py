"""Accounts in a real browser, on SQLite and PostgreSQL: a province's key manager adds an
account (its password shown once), the new person logs in, changes the password and enrols a
TOTP second factor, which the next login asks for; a form without its CSRF token is refused;
no page logs a console error."""

from __future__ import annotations

import pyotp
import pytest

from tests.e2e.console.test_console_browser import PASSWORD, add_admin, log_in

pytestmark = pytest.mark.slow


def test_a_key_manager_adds_an_account_that_enrols_its_totp(console_app, pages):
    add_admin(console_app, "js-keys", "key_manager", "operator", region="32")
    add_admin(console_app, "zj-ops", "operator", region="33")
    page = pages.new()
    log_in(page, "js-keys")
    page.get_by_role("link", name="账号管理").click()
    assert page.locator("#accounts [data-account]").all_inner_texts()[0].startswith("js-keys")
    assert page.locator("[data-account='zj-ops']").count() == 0          # another province's
    page.fill("#add-account input[name=username]", "nj-ops")
    page.fill("#add-account input[name=display_name]", "南京操作员")
    page.fill("#add-account input[name=region]", "3201")
    page.check("#add-account input[value=operator]")
    page.click("#add-account button[type=submit]")
    password = page.locator("#once-password").inner_text()
    assert "南京操作员" in page.locator("[data-account='nj-ops']").inner_text()
    pages.shot(page, "accounts")
    # a wider region than its own is refused
    page.wait_for_selector("#once-password")
    page.fill("#add-account input[name=username]", "national")
    page.fill("#add-account input[name=region]", "")
    page.click("#add-account button[type=submit]")
    assert "outside your region" in page.locator(".flash.error").inner_text()
    answer = page.request.post("/console/accounts/nj-ops/disable", form={"x": "1"})
    assert answer.status == 400                                          # no CSRF token

    newcomer = pages.new()
    newcomer.goto("/console/login")
    newcomer.fill("input[name=username]", "nj-ops")
    newcomer.fill("input[name=password]", password)
    newcomer.click("button[type=submit]")
    newcomer.wait_for_url("**/console/")
    newcomer.locator("a.me").click()
    newcomer.fill("#password-form input[name=current]", password)
    newcomer.fill("#password-form input[name=new]", PASSWORD)
    newcomer.fill("#password-form input[name=repeat]", PASSWORD)
    newcomer.click("#password-form button[type=submit]")
    assert "密码已修改" in newcomer.locator(".flash.ok").inner_text()
    newcomer.get_by_role("button", name="设置第二因素").click()
    assert newcomer.locator("#totp-qr").is_visible()
    secret = newcomer.locator("#totp-secret").inner_text()
    pages.shot(newcomer, "totp-enrol")
    newcomer.fill("#totp input[name=code]", pyotp.TOTP(secret).now())
    newcomer.get_by_role("button", name="启用").click()
    assert "第二因素已启用" in newcomer.locator(".flash.ok").inner_text()
    pages.shot(newcomer, "me")

    again = pages.new()
    again.goto("/console/login")
    again.fill("input[name=username]", "nj-ops")
    again.fill("input[name=password]", PASSWORD)
    again.click("button[type=submit]")
    again.wait_for_selector(".flash.error")                              # no code: refused
    assert again.locator(".flash.error").count() == 1
    # the refused login answers 401 on purpose, which Chromium reports as a failed load: that
    # one entry is expected, any other is a fault
    refusals = [e for e in pages.errors if e.endswith("/console/login: Failed to load resource: "
                                                      "the server responded with a status of 401 "
                                                      "(UNAUTHORIZED)")]
    assert len(refusals) == 1
    pages.errors.remove(refusals[0])
    again.fill("input[name=username]", "nj-ops")
    again.fill("input[name=password]", PASSWORD)
    again.fill("input[name=code]", pyotp.TOTP(secret).now())
    again.click("button[type=submit]")
    again.wait_for_url("**/console/")
    assert again.locator("nav").get_by_text("账号管理").count() == 0       # an operator: no accounts page

    page.goto("/console/audit")
    trail = page.locator("#audit").inner_text()
    for action in ("account.add", "me.password", "me.totp-enrol", "refused:csrf"):
        assert action in trail
    pages.shot(page, "audit-accounts")
    assert pages.errors == []
