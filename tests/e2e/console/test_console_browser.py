"""The administrators' console in a real browser (issue 10, item 5), on SQLite and PostgreSQL.

A real gateway (gunicorn) and, where alerts are needed, a real ``vgw scheduler`` run as
processes on 127.0.0.1; the zyh365-style simulator serves the local system; Playwright drives
Debian's chromium. No page may log a console error.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
from sqlalchemy import select

from gateway import store
from gateway.exchange.client import GatewayClient, GatewayClientError
from gateway.services import admins
from gateway.signing import verify_with_jwks
from gateway.store.models import DeadLetter, SyncRun, SyncSource
from tests.integration.console.test_alerts import webhook_receiver
from tests.integration.exchange import helpers as exchange_helpers
from tests.integration.exchange_push import helpers as push_helpers
from tests.integration.sync_jobs.helpers import add_source, run
from tests.simulators import zyh365 as sim

pytestmark = pytest.mark.slow
PASSWORD = "browser test password"


def add_admin(app, username, *roles, region=""):
    with store.session_scope(app) as session:
        admins.add(session, username, PASSWORD, roles=roles, region_prefix=region,
                   display_name=username)


def log_in(page, username):
    page.goto("/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/")


def last_run(app, name):
    with app.extensions["store.sessionmaker"]() as session:
        return session.execute(select(SyncRun).join(SyncSource).where(SyncSource.name == name)
                               .order_by(SyncRun.id.desc()).limit(1)).scalar_one_or_none()


def wait_for_new_run(app, name, after_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = last_run(app, name)
        if r is not None and r.id > after_id and r.finished_at is not None:
            return r
        time.sleep(0.3)
    raise AssertionError(f"no finished run of {name} after #{after_id} within {timeout}s")


def click_run_now(page, app, name):
    before = last_run(app, name)
    page.goto(f"/console/sources/{name}")
    page.get_by_role("button", name="立即运行").click()
    page.wait_for_selector(".flash")
    return wait_for_new_run(app, name, before.id if before else 0)


def pending(app, source):
    with app.extensions["store.sessionmaker"]() as session:
        return list(session.execute(select(DeadLetter.id).join(SyncSource).where(
            SyncSource.name == source, DeadLetter.status == "pending").order_by(DeadLetter.id)).scalars())


def test_an_operator_sees_failures_replays_revokes_and_no_page_errs(console_app, pages):
    app = console_app
    add_admin(app, "ops", "operator", "key_manager")
    platform = sim.Zyh365Platform(step_seconds=3600).seed(volunteers=6)
    page = pages.new()
    log_in(page, "ops")
    with sim.running(platform) as base_url:
        add_source(app, "zyh-city", base_url, entities=["volunteer"])
        add_source(app, "zyh-narrow", base_url, entities=["volunteer"], scope={"region_prefix": "65"})
        run(app, "zyh-narrow")                          # every record outside Xinjiang: dead letters
        assert click_run_now(page, app, "zyh-city").status == "succeeded"
    # the simulator is stopped: the next runs fail, and after two the source is flagged
    assert click_run_now(page, app, "zyh-city").status == "failed"
    assert click_run_now(page, app, "zyh-city").status == "failed"
    page.goto("/console/sources/zyh-city")
    assert page.locator("h1 .badge").inner_text() == "已标记"
    pages.shot(page, "source-flagged")
    page.goto("/console/")
    first = page.locator("#sources tbody tr").first
    assert first.get_attribute("data-source") == "zyh-city" and "已标记" in first.inner_text()
    pages.shot(page, "overview")

    # a form post without its CSRF token is refused and changes nothing
    answer = page.request.post("/console/sources/zyh-city/resume", form={"x": "1"})
    assert answer.status == 400
    page.goto("/console/sources/zyh-city")
    assert page.locator("h1 .badge").inner_text() == "已标记"

    # replay a dead letter after widening the source's scope, and see it gone
    letters = pending(app, "zyh-narrow")
    assert len(letters) == 6
    page.goto("/console/dead-letters?source=zyh-narrow")
    pages.shot(page, "dead-letters")
    result = app.test_cli_runner().invoke(args=["sources", "update", "zyh-narrow", "--region", ""])
    assert result.exit_code == 0, result.output
    page.check(f"#dead-letters tr[data-id='{letters[0]}'] input[type=checkbox]")
    page.get_by_role("button", name="重放所选").click()
    page.wait_for_selector(".flash.ok")
    assert page.locator(f"#dead-letters tr[data-id='{letters[0]}']").count() == 0
    assert pending(app, "zyh-narrow") == letters[1:]
    page.goto(f"/console/dead-letters/{letters[1]}")
    pages.shot(page, "dead-letter")

    # revoke a key; that client's next signed push is refused
    keys = exchange_helpers.register_client(app, "city-portal")
    client = GatewayClient(pages.base_url, keys.client_id, keys.key_id, keys.private_pem)
    assert client.push([push_helpers.volunteer(1)], entity="volunteer").summary["created"] == 1
    page.goto("/console/clients")
    row = page.locator(f"tr[data-key='{keys.key_id}']")
    assert "从未" not in row.inner_text()                # its last use is shown
    pages.shot(page, "clients")
    row.get_by_role("button", name="吊销").click()
    page.wait_for_selector(".flash")
    assert "已吊销" in page.locator(f"tr[data-key='{keys.key_id}']").inner_text()
    with pytest.raises(GatewayClientError) as refused:
        client.push([push_helpers.volunteer(2)], entity="volunteer")
    assert "401" in str(refused.value)

    # every page, without a console error; the message log's evidence verified on screen
    for path, label in [("/console/messages", "messages"), ("/console/quality", "quality"),
                        ("/console/alerts", "alerts"), ("/console/audit", "audit")]:
        page.goto(path)
        pages.shot(page, label)
    page.goto("/console/messages?sender=city-portal")
    # the button is htmx's: wait until the message's page (and htmx with it) has loaded, or a
    # click on a loaded machine can come before htmx has bound it and do nothing
    with page.expect_navigation(wait_until="load"):
        page.locator("#messages tbody a").first.click()
    page.get_by_role("button", name="重新验证证据").click()
    page.wait_for_selector("#verdict")
    assert "验证通过" in page.locator("#verdict").inner_text()
    pages.shot(page, "message-verified")
    audit = page.goto("/console/audit") and page.locator("#audit").inner_text()
    for action in ("source.run", "dead_letters.replay", "client.revoke-key", "refused:csrf"):
        assert action in audit
    page.goto("/console/lang/en?next=/console/")
    assert "Dead letters" in page.locator("nav").inner_text()
    pages.shot(page, "overview-en")
    phone = pages.new(mobile=True)
    log_in(phone, "ops")
    pages.shot(phone, "overview-phone")
    phone.goto("/console/sources/zyh-city")
    pages.shot(phone, "source-phone")
    assert pages.errors == []


def test_a_viewer_cannot_replay_and_a_province_sees_nothing_of_another(console_app, pages, tmp_path):
    app = console_app
    add_admin(app, "look", "viewer")
    add_admin(app, "jiangsu", "operator", "key_manager", region="32")
    add_source(app, "zyh-jiangsu", "http://127.0.0.1:9", entities=["volunteer"],
               scope={"region_prefix": "32"})
    exchange_helpers.register_client(app, "beijing-portal")      # region 11
    platform = sim.Zyh365Platform(step_seconds=3600).seed(volunteers=2)
    with sim.running(platform) as base_url:
        add_source(app, "zyh-beijing", base_url, entities=["volunteer"], scope={"region_prefix": "1101"})
        run(app, "zyh-beijing")
    letters = pending(app, "zyh-beijing")
    assert letters

    viewer = pages.new()
    log_in(viewer, "look")
    viewer.goto("/console/dead-letters?source=zyh-beijing")
    assert viewer.locator("#dead-letters tbody tr").count() == len(letters)
    assert viewer.get_by_role("button", name="重放所选").count() == 0
    token = viewer.locator("input[name=csrf_token]").first.get_attribute("value")
    answer = viewer.request.post("/console/dead-letters/replay",
                                 form={"csrf_token": token, "id": str(letters[0])})
    assert answer.status == 403
    assert pending(app, "zyh-beijing") == letters
    pages.shot(viewer, "viewer-dead-letters")

    province = pages.new()
    log_in(province, "jiangsu")
    overview = province.locator("main").inner_text()
    assert "zyh-jiangsu" in overview
    assert "zyh-beijing" not in overview and "beijing-portal" not in overview
    pages.shot(province, "province-overview")
    for path in ("/console/dead-letters", "/console/clients", "/console/messages", "/console/quality",
                 "/console/alerts", "/console/audit"):
        province.goto(path)
        text = province.locator("main").inner_text()
        assert "zyh-beijing" not in text and "beijing-portal" not in text, path
    assert province.goto("/console/sources/zyh-beijing").status == 404
    assert province.goto(f"/console/dead-letters/{letters[0]}").status == 404
    # the 404 page itself logs a failed resource load; that is the expected refusal
    errors = [e for e in pages.errors if "404" not in e]
    assert errors == []


def test_a_stale_source_alert_reaches_a_webhook(console_app, pages, scheduler):
    app = console_app
    add_admin(app, "ops", "operator")
    add_source(app, "zyh-quiet", "http://127.0.0.1:9", entities=["volunteer"])
    with webhook_receiver() as (url, received):
        scheduler()
        page = pages.new()
        log_in(page, "ops")
        page.goto("/console/alerts")
        form = page.locator("#add-rule")
        form.locator("input[name=name]").fill("安静超过0秒")
        form.locator("select[name=kind]").select_option("stale")
        form.locator("input[name=threshold]").fill("0")
        form.locator("input[name=webhook]").fill(url)
        form.get_by_role("button", name="添加规则").click()
        page.wait_for_selector(".flash")
        deadline = time.monotonic() + 30
        while not received and time.monotonic() < deadline:
            time.sleep(0.2)
        assert received, "the scheduler delivered nothing to the webhook"
    body, headers = received[0]
    assert json.loads(body)["subject"] == "zyh-quiet"
    signature = base64.urlsafe_b64decode(headers["X-Gateway-Signature"] + "==")
    assert verify_with_jwks(app.extensions["signing.keyring"].jwks(), headers["X-Gateway-Key-Id"],
                            body, signature)
    # the scheduler delivers before it commits the alert: on a loaded machine the page may be
    # asked in between, so look again for a few seconds
    deadline = time.monotonic() + 15
    while True:
        page.goto("/console/alerts")
        if "zyh-quiet" in page.locator("#alerts").inner_text() or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "zyh-quiet" in page.locator("#alerts").inner_text()
    pages.shot(page, "alert-firing")
    page.get_by_role("button", name="确认").first.click()
    page.wait_for_selector(".flash")
    assert "已确认" in page.locator("#alerts").inner_text()
    page.goto("/console/")
    pages.shot(page, "overview-alert")
    assert pages.errors == []
