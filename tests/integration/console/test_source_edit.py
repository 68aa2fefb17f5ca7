"""Editing a source in the console, on both stores: schedule, entities, scope and the adapter's
settings; secrets never shown and kept when their field is left empty; validated by the
adapter's own settings schema (a pointer to the field, nothing changed); an account never
widens a source past its own region; operator only; audited without secret values."""

from __future__ import annotations

import re

from gateway import store
from gateway.store.models import SyncSource
from sqlalchemy import select
from sync_jobs import sources
from tests.integration.console.helpers import audit_rows, logged_in, post
from tests.integration.sync_jobs.helpers import add_source

SECRET = "the-old-secret-value-1234"


def _source(app, name="zyh"):
    with store.session_scope(app) as session:
        row = session.execute(select(SyncSource).where(SyncSource.name == name)).scalar_one()
        return {"schedule": row.schedule, "entities": list(row.entities), "scope": dict(row.scope),
                "settings": sources.settings_of(app.extensions["privacy.vault"], row)}


def _form(page: str) -> dict[str, str]:
    """The edit form's fields as the browser would send them back unchanged."""
    data: dict = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page):
        if name not in ("csrf_token", "entity"):
            data[name] = value
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S):
        data[name] = body.replace("&#34;", '"').replace("&quot;", '"')
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', options)
        data[name] = chosen.group(1) if chosen else ""
    data["entity"] = re.findall(r'name="entity" value="([^"]+)" checked', page)
    return data


def test_an_operator_edits_schedule_scope_and_settings_keeping_the_secret(store_app):
    add_source(store_app, "zyh", "http://127.0.0.1:21999", entities=["volunteer"],
               scope={"region_prefix": "32"}, access_key_secret=SECRET)
    operator = logged_in(store_app, "ops", "operator", region="32")
    page = operator.get("/console/sources/zyh/edit").data.decode()
    assert SECRET not in page and 'name="s.access_key_secret" value=""' in page
    assert 'name="s.base_url" value="http://127.0.0.1:21999"' in page
    form = _form(page)
    form.update({"schedule": "every 10m", "region_prefix": "3201", "s.page_size": "20",
                 "s.base_url": "http://127.0.0.1:21998", "s.access_key_secret": ""})
    form["entity"] = ["volunteer", "team"]
    answer = post(operator, "/console/sources/zyh/edit", form, page="/console/sources/zyh/edit")
    assert answer.status_code == 302, answer.data.decode()
    after = _source(store_app)
    assert after["schedule"] == "every 10m" and after["entities"] == ["volunteer", "team"]
    assert after["scope"]["region_prefix"] == "3201"
    assert after["settings"]["access_key_secret"] == SECRET                   # kept
    assert after["settings"]["page_size"] == 20 and after["settings"]["base_url"].endswith(":21998")
    # a new secret replaces it
    form = _form(operator.get("/console/sources/zyh/edit").data.decode())
    form["s.access_key_secret"] = "a-brand-new-secret"
    post(operator, "/console/sources/zyh/edit", form, page="/console/sources/zyh/edit")
    assert _source(store_app)["settings"]["access_key_secret"] == "a-brand-new-secret"
    trail = [(act, o, d) for _a, act, _t, o, d in audit_rows(store_app) if act == "source.update"]
    assert [o for _a, o, _d in trail] == ["updated", "updated"]
    assert "settings.page_size" in trail[0][2]["changed"] and "schedule" in trail[0][2]["changed"]
    assert trail[1][2]["changed"] == ["settings.access_key_secret"]
    assert not any(SECRET in str(d) or "a-brand-new-secret" in str(d) for *_r, d in audit_rows(store_app))


def test_bad_settings_are_refused_by_the_adapter_schema_and_change_nothing(store_app):
    add_source(store_app, "zyh", "http://127.0.0.1:21999", entities=["volunteer"],
               access_key_secret=SECRET)
    before = _source(store_app)
    operator = logged_in(store_app, "ops", "operator")
    for change, field in [({"s.page_size": "500"}, "/settings/page_size"),     # maximum 80
                          ({"s.page_size": "many"}, "/settings/page_size"),
                          ({"s.base_url": "ftp://x"}, "/settings/base_url"),
                          ({"s.history": "maybe"}, "/settings/history"),
                          ({"schedule": "now and then"}, "/schedule"),
                          ({"region_prefix": "3x"}, "/scope/region_prefix"),
                          ({"entity": []}, "/entities")]:
        form = {**_form(operator.get("/console/sources/zyh/edit").data.decode()), **change}
        answer = post(operator, "/console/sources/zyh/edit", form, page="/console/sources/zyh/edit")
        body = answer.data.decode()
        assert answer.status_code == 422, (change, body[:300])
        assert f"<code>{field}</code>" in body, change
        assert SECRET not in body
    assert _source(store_app) == before
    refused = [d["field"] for _a, act, _t, o, d in audit_rows(store_app)
               if act == "source.update" and o == "refused"]
    assert refused == ["/settings/page_size", "/settings/page_size", "/settings/base_url",
                       "/settings/history", "/schedule", "/scope/region_prefix", "/entities"]


def test_no_wider_region_than_the_account_and_only_operators(store_app):
    add_source(store_app, "zyh", "http://127.0.0.1:21999", entities=["volunteer"],
               scope={"region_prefix": "3201"})
    nanjing = logged_in(store_app, "nj", "operator", region="3201")
    for region in ("32", "", "33"):
        form = {**_form(nanjing.get("/console/sources/zyh/edit").data.decode()), "region_prefix": region}
        answer = post(nanjing, "/console/sources/zyh/edit", form, page="/console/sources/zyh/edit")
        assert answer.status_code == 422 and "outside your region" in answer.data.decode()
    assert _source(store_app)["scope"]["region_prefix"] == "3201"
    viewer = logged_in(store_app, "look", "key_manager")
    assert viewer.get("/console/sources/zyh/edit").status_code == 403
    assert post(viewer, "/console/sources/zyh/edit", {"schedule": "every 1m"}).status_code == 403
    other = logged_in(store_app, "zj", "operator", region="33")
    assert other.get("/console/sources/zyh/edit").status_code == 404
    assert _source(store_app)["schedule"] == ""
    # without its CSRF token
    answer = nanjing.post("/console/sources/zyh/edit", data={"schedule": "every 1m", "entity": "volunteer"})
    assert answer.status_code == 400 and _source(store_app)["schedule"] == ""


def test_json_settings_keep_masked_secrets(store_app, tmp_path):
    """A spreadsheet's columns are edited as JSON; an unchanged form changes nothing."""
    from tests.integration.console.test_operations import COLUMNS, _sheet_source

    _sheet_source(store_app, tmp_path / "drop", region="11")
    operator = logged_in(store_app, "ops", "operator")
    page = operator.get("/console/sources/sheet/edit").data.decode()
    form = _form(page)
    assert '"姓名": "name"' in form["s.columns"]
    answer = post(operator, "/console/sources/sheet/edit", form, page="/console/sources/sheet/edit")
    assert answer.status_code == 302
    assert [o for _a, act, _t, o, _d in audit_rows(store_app) if act == "source.update"] == ["unchanged"]
    form["s.columns"] = '{"姓名": "name", "证件号码": "id_number"'             # broken JSON
    answer = post(operator, "/console/sources/sheet/edit", form, page="/console/sources/sheet/edit")
    assert answer.status_code == 422 and "<code>/settings/columns</code>" in answer.data.decode()
    assert _source(store_app, "sheet")["settings"]["columns"] == COLUMNS
